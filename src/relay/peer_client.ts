/**
 * Node-to-node HTTP: plain requests to another node's relay port, and
 * requests signed with this node's Ed25519 key for the routes that only
 * known nodes may call (replication, anti-entropy).
 *
 * Signed requests carry three headers:
 * - `x-hearth-node`: the caller's node ID (hex Ed25519 key)
 * - `x-hearth-ts`: ms since the epoch
 * - `x-hearth-sig`: hex Ed25519 signature over
 *   labeledHash("hearth/peer-request/v1", method, path, receiverId, ts, sha256(body))
 *
 * Naming the receiver stops a signed request from being replayed to
 * another node.
 * @module
 */
import { buf, fromHex, toHex, u64, utf8 } from "../shared/crypto/bytes.ts";
import { labeledHash, sha256 } from "../shared/crypto/hash.ts";
import { sign, verify } from "../shared/crypto/sign.ts";
import { HearthError, isErrorCode } from "../shared/errors.ts";
import { SIGNATURE_WINDOW_MS } from "../shared/codec/limits.ts";
import type { NodeIdentity } from "./directory/record_types.ts";
import { readLimited } from "../shared/codec/read_limited.ts";

/** Options of one peer request. */
export interface PeerRequestOptions {
  method?: "GET" | "POST";
  body?: Uint8Array;
  /**
   * Sign the request with this node's key for the receiver with this node
   * ID (hex), so it cannot be replayed to another node.
   */
  signedFor?: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Largest response accepted (default 2 MiB). */
  maxResponseBytes?: number;
  /** Content type of the body (default application/octet-stream). */
  contentType?: string;
}

/** A peer's answer: status and body bytes. */
export interface PeerResponse {
  status: number;
  body: Uint8Array;
}

function signingBytes(
  method: string,
  path: string,
  receiver: string,
  ts: number,
  body: Uint8Array,
): Uint8Array {
  return labeledHash(
    "hearth/peer-request/v1",
    utf8(method),
    utf8(path),
    fromHex(receiver, 32),
    u64(ts),
    sha256(body),
  );
}

/** Options of a {@link PeerClient}. */
export interface PeerClientOptions {
  /** Current time, ms, for signed requests (default Date.now). */
  clock?: () => number;
  /**
   * How requests go out (default the global `fetch`). The simulation
   * passes an in-memory transport; nodes never set it.
   */
  fetch?: typeof fetch;
}

/** Makes requests to other nodes' relay ports. */
export class PeerClient {
  #identity: NodeIdentity;
  #clock: () => number;
  #fetch: typeof fetch | undefined;
  #closed = new AbortController();

  /**
   * Create a client that signs as `identity`.
   * @param identity this node's keys
   * @param options clock and transport
   */
  constructor(identity: NodeIdentity, options: PeerClientOptions = {}) {
    this.#identity = identity;
    this.#clock = options.clock ?? Date.now;
    this.#fetch = options.fetch;
  }

  /**
   * Send a request to `addr` ("host:port") and read the whole answer.
   * @throws {HearthError} `timeout` or `hop_failed` when the peer can't be reached
   */
  async request(
    addr: string,
    path: string,
    options: PeerRequestOptions = {},
  ): Promise<PeerResponse> {
    const method = options.method ?? (options.body ? "POST" : "GET");
    const body = options.body ?? new Uint8Array(0);
    const headers: Record<string, string> = {};
    if (options.body) headers["content-type"] = options.contentType ?? "application/octet-stream";
    if (options.signedFor !== undefined) {
      const ts = this.#clock();
      const bytes = signingBytes(method, path, options.signedFor, ts, body);
      const sig = await sign(this.#identity.signing, bytes);
      headers["x-hearth-node"] = this.#identity.id;
      headers["x-hearth-ts"] = String(ts);
      headers["x-hearth-sig"] = toHex(sig);
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const signal = AbortSignal.any([timeout, this.#closed.signal]);
    let res: Response;
    try {
      // The global is looked up at each request, as before, unless a transport was given.
      res = await (this.#fetch ?? fetch)(`http://${addr}${path}`, {
        method,
        headers,
        body: options.body ? buf(body) : undefined,
        signal,
      });
    } catch {
      if (timeout.aborted) throw new HearthError("timeout", "Peer did not answer in time");
      throw new HearthError("hop_failed", "Peer could not be reached");
    }
    try {
      const bytes = await readLimited(res, options.maxResponseBytes ?? 2 * 1024 * 1024);
      return { status: res.status, body: bytes };
    } catch (err) {
      if (err instanceof RangeError) {
        throw new HearthError("hop_failed", "Peer answer is too large");
      }
      if (timeout.aborted) throw new HearthError("timeout", "Peer did not answer in time");
      throw new HearthError("hop_failed", "Peer answer could not be read");
    }
  }

  /**
   * Send a JSON request and parse a JSON answer; a 4xx/5xx answer with a
   * known error code is thrown as that HearthError.
   */
  async json(
    addr: string,
    path: string,
    payload?: unknown,
    options: PeerRequestOptions = {},
  ): Promise<unknown> {
    const res = await this.request(addr, path, {
      ...options,
      body: payload === undefined ? undefined : utf8(JSON.stringify(payload)),
      contentType: "application/json",
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(res.body));
    } catch {
      throw new HearthError("hop_failed", "Peer answer is not JSON");
    }
    if (res.status >= 400) throw errorFromBody(parsed);
    return parsed;
  }

  /** Abort every request in flight (at shutdown). */
  close(): void {
    this.#closed.abort();
  }
}

/** Turn an error body `{"error": code, "message"}` back into a HearthError. */
export function errorFromBody(body: unknown): HearthError {
  const o = body as Record<string, unknown> | null;
  const code = o && typeof o === "object" ? o.error : undefined;
  const { error: _e, message, ...details } = (o ?? {}) as Record<string, unknown>;
  if (isErrorCode(code)) {
    return new HearthError(code, typeof message === "string" ? message : "Peer error", details);
  }
  return new HearthError("hop_failed", "Peer gave an unexpected answer");
}

/**
 * Check the signature headers of a signed peer request.
 * @param receiver this node's ID (the signature must name it), whether a
 *   claimed node ID is a live directory node, and the time now
 * @returns the caller's node ID
 * @throws {HearthError} `unknown_node`, `bad_timestamp` or `bad_signature`
 */
export async function verifyPeerRequest(
  request: Request,
  body: Uint8Array,
  receiver: { selfId: string; isKnownNode: (id: string) => boolean; now: number },
): Promise<string> {
  const { selfId, isKnownNode, now } = receiver;
  const id = request.headers.get("x-hearth-node") ?? "";
  const tsText = request.headers.get("x-hearth-ts") ?? "";
  const sigText = request.headers.get("x-hearth-sig") ?? "";
  if (!/^[0-9a-f]{64}$/.test(id) || !isKnownNode(id)) {
    throw new HearthError("unknown_node", "Caller is not a known node");
  }
  const ts = Number(tsText);
  if (!/^[0-9]{1,16}$/.test(tsText) || Math.abs(now - ts) > SIGNATURE_WINDOW_MS) {
    throw new HearthError("bad_timestamp", "Request timestamp is outside the window");
  }
  if (!/^[0-9a-f]{128}$/.test(sigText)) throw new HearthError("bad_signature", "Bad signature");
  const path = new URL(request.url).pathname;
  const ok = await verify(
    fromHex(id),
    signingBytes(request.method, path, selfId, ts, body),
    fromHex(sigText),
  );
  if (!ok) throw new HearthError("bad_signature", "Bad signature");
  return id;
}
