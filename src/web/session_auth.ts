/**
 * Browser sessions of the web port, and the gate of `/api/*`.
 *
 * A browser signs in once (`/login`, see login_page.ts) and then holds a
 * session cookie, `hearth_session`: HttpOnly, SameSite=Strict, Path=/.
 * Sessions live in memory only (a restart signs every browser out), have
 * random 32-byte ids, expire after {@link SESSION_IDLE_MS} without use,
 * and at most {@link MAX_SESSIONS} exist (the least recently used goes).
 *
 * Other ports of 127.0.0.1 are the same *site* as the web port, so
 * SameSite alone does not stop a page served there from sending the
 * cookie. The cookie therefore never authorizes a state-changing request
 * alone: every method but GET and HEAD also needs an `Origin` naming the
 * web port itself and an `X-CSRF-Token` header equal to the session's
 * CSRF token (which only a page of the web port can read, through
 * `GET /api/session`). The owner token (`Authorization: Bearer`) works as
 * before and needs neither.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import {
  bytesEqual,
  deriveKeyFromPassphrase,
  labeledHash,
  randomBytes,
  SCRYPT_DEFAULTS,
  type ScryptParams,
  toHex,
  utf8,
} from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";

/** The session cookie's name. */
export const SESSION_COOKIE = "hearth_session";
/** The header carrying the session's CSRF token on state-changing requests. */
export const CSRF_HEADER = "X-CSRF-Token";
/** A session ends after this long without a request, ms (12 h). */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;
/** The most sessions held at once; a new one past this drops the least recently used. */
export const MAX_SESSIONS = 32;
/** How long the one-time sign-in link is valid, ms (10 min). */
export const LOGIN_LINK_TTL_MS = 10 * 60_000;

const SECRET_LABEL = "hearth/web-secret/v1";

/** Hash a presented secret for a constant-time comparison (length and content hidden). */
export function secretDigest(secret: string): Uint8Array {
  return labeledHash(SECRET_LABEL, utf8(secret));
}

/** Whether `presented` equals the secret whose digest is `expected`, in constant time. */
export function secretMatches(expected: Uint8Array, presented: string): boolean {
  return bytesEqual(secretDigest(presented), expected);
}

/** A signed-in browser. */
export interface Session {
  /** The CSRF token the browser must echo in {@link CSRF_HEADER}. */
  csrfToken: string;
  /** When the session ends unless used before, ms. */
  expiresAt: number;
}

interface HeldSession extends Session {
  /** The digest of the CSRF token. */
  csrfDigest: Uint8Array;
}

/** The sessions and the one-time sign-in link of one web port, in memory. */
export class SessionStore {
  readonly #clock: () => number;
  /** By the hex digest of the session id, least recently used first. */
  readonly #sessions = new Map<string, HeldSession>();
  #link: { digest: Uint8Array; expiresAt: number } | undefined;

  /** @param options.clock current time, ms (default Date.now) */
  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** How many sessions are held (expired ones included until looked at). */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Start a session.
   * @returns its id (the cookie's value, 64 hex digits) and the session
   */
  create(): { id: string; session: Session } {
    const id = toHex(randomBytes(32));
    const csrfToken = toHex(randomBytes(32));
    const held: HeldSession = {
      csrfToken,
      csrfDigest: secretDigest(csrfToken),
      expiresAt: this.#clock() + SESSION_IDLE_MS,
    };
    this.#sessions.set(idKey(id), held);
    while (this.#sessions.size > MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    return { id, session: { csrfToken, expiresAt: held.expiresAt } };
  }

  /**
   * The live session of a cookie value, its idle expiry pushed back.
   * @param id the cookie's value
   * @returns the session, or undefined when unknown or expired
   */
  touch(id: string | undefined): Session | undefined {
    const held = this.#held(id);
    if (!held) return undefined;
    const key = idKey(id!);
    held.expiresAt = this.#clock() + SESSION_IDLE_MS;
    this.#sessions.delete(key);
    this.#sessions.set(key, held);
    return { csrfToken: held.csrfToken, expiresAt: held.expiresAt };
  }

  /** Whether `presented` is the CSRF token of the session `id` (constant time). */
  csrfMatches(id: string | undefined, presented: string | undefined): boolean {
    const held = this.#held(id);
    if (!held) return false;
    return bytesEqual(secretDigest(presented ?? ""), held.csrfDigest);
  }

  /** End a session (no-op when unknown). */
  end(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(idKey(id));
  }

  /**
   * Make a new one-time sign-in token, valid for {@link LOGIN_LINK_TTL_MS};
   * any earlier one stops working.
   * @returns the token (64 hex digits)
   */
  issueLoginLink(): string {
    const token = toHex(randomBytes(32));
    this.#link = { digest: secretDigest(token), expiresAt: this.#clock() + LOGIN_LINK_TTL_MS };
    return token;
  }

  /**
   * Use the one-time sign-in token: true once, for the right token within
   * its lifetime; false afterwards and for anything else.
   */
  redeemLoginLink(token: string): boolean {
    const link = this.#link;
    if (!link || this.#clock() > link.expiresAt) {
      this.#link = undefined;
      return false;
    }
    if (!secretMatches(link.digest, token)) return false;
    this.#link = undefined;
    return true;
  }

  #held(id: string | undefined): HeldSession | undefined {
    if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) return undefined;
    const key = idKey(id);
    const held = this.#sessions.get(key);
    if (!held) return undefined;
    if (this.#clock() >= held.expiresAt) {
      this.#sessions.delete(key);
      return undefined;
    }
    return held;
  }
}

/** The map key of a session id: its digest, so lookups do not compare secrets directly. */
function idKey(id: string): string {
  return toHex(labeledHash("hearth/session-id/v1", utf8(id)));
}

/**
 * The owner password of a web port bound beyond loopback, held only as a
 * scrypt hash under a random salt.
 */
export class OwnerPassword {
  readonly #salt: Uint8Array;
  readonly #hash: Uint8Array;
  readonly #params: ScryptParams;

  private constructor(salt: Uint8Array, hash: Uint8Array, params: ScryptParams) {
    this.#salt = salt;
    this.#hash = hash;
    this.#params = params;
  }

  /**
   * Hash a password.
   * @param password the password (1 to 1024 characters)
   * @param params scrypt's cost (default SCRYPT_DEFAULTS; tests pass small ones)
   * @throws {RangeError} for an empty or overlong password
   */
  static async create(
    password: string,
    params: ScryptParams = SCRYPT_DEFAULTS,
  ): Promise<OwnerPassword> {
    if (password.length === 0 || password.length > 1024) {
      throw new RangeError("The owner password must be 1 to 1024 characters");
    }
    const salt = randomBytes(16);
    return new OwnerPassword(salt, await deriveKeyFromPassphrase(password, salt, params), params);
  }

  /** Whether `candidate` is the password (one scrypt run; constant-time compare). */
  async verify(candidate: string): Promise<boolean> {
    if (candidate.length === 0 || candidate.length > 1024) return false;
    const hash = await deriveKeyFromPassphrase(candidate, this.#salt, this.#params);
    return bytesEqual(hash, this.#hash);
  }
}

/**
 * One cookie's value from a Cookie header.
 * @param header the Cookie header (or undefined)
 * @param name the cookie's name
 * @returns the first value of that name, or undefined
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that starts a session. */
export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/`;
}

/** The Set-Cookie value that clears the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** The session cookie's value of a request. */
export function sessionIdOf(c: Context): string | undefined {
  return cookieValue(c.req.header("cookie"), SESSION_COOKIE);
}

/** Whether the request's Origin header is `http://` and one of `hosts`. */
export function originAllowed(c: Context, hosts: readonly string[]): boolean {
  const origin = c.req.header("origin")?.toLowerCase();
  if (!origin || !origin.startsWith("http://")) return false;
  return hosts.includes(origin.slice("http://".length));
}

/**
 * Whether a cookie-authenticated request may change state: GET and HEAD
 * always; anything else needs an allowed Origin and the session's CSRF token.
 */
export function csrfPasses(
  c: Context,
  sessions: SessionStore,
  hosts: readonly string[],
): boolean {
  const method = c.req.method.toUpperCase();
  if (method === "GET" || method === "HEAD") return true;
  return originAllowed(c, hosts) &&
    sessions.csrfMatches(sessionIdOf(c), c.req.header(CSRF_HEADER));
}

/** Options of {@link ownerAuth}. */
export interface OwnerAuthOptions {
  /** The owner token. */
  token: string;
  /** The browser sessions. */
  sessions: SessionStore;
  /** The accepted Host values, lower case (the accepted Origins are `http://` + these). */
  hosts: () => readonly string[];
}

/**
 * The gate of `/api/*`: `Authorization: Bearer <owner token>`, or (with no
 * Authorization header) a live session cookie, plus Origin and CSRF token
 * on every method but GET and HEAD. Every refusal is 401 `unauthorized`.
 * @param options the owner token, the sessions and the accepted hosts
 */
export function ownerAuth(options: OwnerAuthOptions): MiddlewareHandler {
  const expected = secretDigest(options.token);
  return async function ownerAuthMiddleware(c, next) {
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const match = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header);
      if (!match || !secretMatches(expected, match[1]!)) {
        c.header("WWW-Authenticate", 'Bearer realm="hearth"');
        throw new HearthError("unauthorized", "Missing or wrong owner token");
      }
      return await next();
    }
    const session = options.sessions.touch(sessionIdOf(c));
    if (!session) {
      c.header("WWW-Authenticate", 'Bearer realm="hearth"');
      throw new HearthError("unauthorized", "Missing or wrong owner token");
    }
    if (!csrfPasses(c, options.sessions, options.hosts())) {
      throw new HearthError("unauthorized", "Cross-site request refused");
    }
    await next();
  };
}
