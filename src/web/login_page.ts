/**
 * Signing a browser in and out: the sign-in page (`GET /login`, a plain
 * form, no script), `POST /login` with the owner token or the owner
 * password, the one-time sign-in link (`GET /login?token=…`),
 * `POST /logout`, and `GET /api/session` (the CSRF token the UI echoes).
 * Wrong secrets back off like wrong passphrases (unlock_limiter.ts).
 * @module
 */
import { type Context, Hono } from "hono";
import { readLimited } from "../shared/codec/read_limited.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import {
  clearedSessionCookie,
  csrfPasses,
  originAllowed,
  type OwnerPassword,
  secretDigest,
  secretMatches,
  sessionCookie,
  sessionIdOf,
  type SessionStore,
} from "./session_auth.ts";
import type { UnlockLimiter } from "./unlock_limiter.ts";

/** The largest `POST /login` body, bytes. */
export const MAX_LOGIN_BODY_BYTES = 4_096;

/** The Content-Security-Policy of every HTML answer of the web port. */
export const HTML_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The headers of every HTML (and other page-like) answer. */
export function pageHeaders(contentType: string): Record<string, string> {
  return {
    "Content-Type": contentType,
    "Content-Security-Policy": HTML_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
  };
}

/** The fixed messages the sign-in page may show. */
const MESSAGES = {
  wrong: "That is not the owner token or the owner password.",
  link: "This sign-in link was already used, has expired, or is wrong. Sign in below.",
  wait: "Too many wrong attempts. Wait a moment and try again.",
  origin: "This sign-in came from another site and was refused.",
  bad: "The form could not be read. Try again.",
} as const;

type Message = keyof typeof MESSAGES;

/**
 * The sign-in page. Every text in it is fixed: nothing from the request
 * is written into it.
 */
export function loginPageHtml(message?: Message, passwordEnabled = false): string {
  const what = passwordEnabled ? "the owner token or the owner password" : "the owner token";
  const error = message === undefined
    ? ""
    : `\n    <p class="error" role="alert" data-testid="login-error">${MESSAGES[message]}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · hearth</title>
  <link rel="stylesheet" href="/login.css">
</head>
<body>
  <main>
    <h1>hearth</h1>
    <p>Sign in with ${what}. The node prints the owner token and a one-time sign-in link when
    it starts; the token is also in the <code>owner-token</code> file of its data folder.</p>${error}
    <form method="post" action="/login">
      <label for="secret">Owner token${passwordEnabled ? " or password" : ""}</label>
      <input id="secret" name="secret" type="password" autocomplete="current-password"
        required autofocus data-testid="login-secret">
      <button type="submit" data-testid="login-submit">Sign in</button>
    </form>
  </main>
</body>
</html>
`;
}

/** The sign-in page's stylesheet (served as `/login.css`: the CSP forbids inline styles). */
export const LOGIN_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
main { width: min(26rem, calc(100vw - 2rem)); }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
p { line-height: 1.4; }
form { display: grid; gap: .6rem; margin-top: 1rem; }
input { font: inherit; padding: .6rem; border: 1px solid GrayText; border-radius: .4rem; }
button { font: inherit; padding: .6rem; border: 0; border-radius: .4rem; background: #2f6fdf; color: #fff; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 2px solid #2f6fdf; outline-offset: 2px; }
.error { color: #c62828; font-weight: 600; }
@media (prefers-color-scheme: dark) { .error { color: #ff8a80; } }
`;

/** What {@link loginRoutes} needs. */
export interface LoginRoutesDeps {
  /** The owner token. */
  token: string;
  /** The owner password, when one is set. */
  password: OwnerPassword | undefined;
  /** The browser sessions and the one-time link. */
  sessions: SessionStore;
  /** The backoff of wrong secrets. */
  limiter: UnlockLimiter;
  /** The accepted Host values, lower case. */
  hosts: () => readonly string[];
  /** Where events go (names and numbers only). */
  log: Logger;
}

/**
 * The routes `GET|POST /login`, `GET /login.css`, `POST /logout` and
 * `GET /api/session`. Sign-in attempts run one at a time (a password
 * check costs a scrypt run).
 * @param deps the secrets, sessions, limiter, hosts and logger
 * @returns a sub-app to mount at "/"
 */
export function loginRoutes(deps: LoginRoutesDeps): Hono {
  const { sessions, limiter, log } = deps;
  const tokenDigest = secretDigest(deps.token);
  const app = new Hono();
  let attempts: Promise<unknown> = Promise.resolve();

  const page = (c: Context, status: 200 | 400 | 401 | 429, message?: Message) =>
    c.body(loginPageHtml(message, deps.password !== undefined), status, {
      ...pageHeaders("text/html; charset=utf-8"),
    });

  const waitPage = (c: Context, waitMs: number) => {
    c.header("Retry-After", String(Math.max(1, Math.ceil(waitMs / 1000))));
    return page(c, 429, "wait");
  };

  const signIn = (c: Context) => {
    const { id } = sessions.create();
    c.header("Set-Cookie", sessionCookie(id));
    c.header("Location", "/");
    return c.body(null, 303);
  };

  /** Run one sign-in check at a time, under the backoff. */
  const attempt = (check: () => Promise<boolean>): Promise<boolean | { waitMs: number }> => {
    const run = attempts.then(async () => {
      try {
        limiter.check();
      } catch (err) {
        const waitMs = err instanceof HearthError ? err.details?.retryAfterMs : undefined;
        return { waitMs: typeof waitMs === "number" ? waitMs : 1_000 };
      }
      const ok = await check();
      if (ok) limiter.succeeded();
      else limiter.failed();
      return ok;
    });
    attempts = run.catch(() => {});
    return run;
  };

  app.get("/login.css", (c) => c.body(LOGIN_CSS, 200, pageHeaders("text/css; charset=utf-8")));

  app.get("/login", async (c) => {
    const link = c.req.query("token");
    if (link === undefined) return page(c, 200);
    const result = await attempt(() => Promise.resolve(sessions.redeemLoginLink(link)));
    if (typeof result === "object") return waitPage(c, result.waitMs);
    if (!result) {
      log.info("login.link-refused", { failures: limiter.failures });
      return page(c, 401, "link");
    }
    log.info("login.link-used");
    return signIn(c);
  });

  app.post("/login", async (c) => {
    if (c.req.header("origin") !== undefined && !originAllowed(c, deps.hosts())) {
      return page(c, 401, "origin");
    }
    let secret: string | null;
    try {
      const bytes = await readLimited(c.req.raw, MAX_LOGIN_BODY_BYTES, { timeoutMs: 30_000 });
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      secret = new URLSearchParams(text).get("secret");
    } catch {
      return page(c, 400, "bad");
    }
    if (secret === null || secret.length === 0 || secret.length > 1024) {
      return page(c, 400, "bad");
    }
    const presented = secret;
    const result = await attempt(async () =>
      secretMatches(tokenDigest, presented) ||
      (deps.password !== undefined && await deps.password.verify(presented))
    );
    if (typeof result === "object") return waitPage(c, result.waitMs);
    if (!result) {
      log.info("login.failed", { failures: limiter.failures });
      return page(c, 401, "wrong");
    }
    log.info("login.signed-in");
    return signIn(c);
  });

  app.post("/logout", (c) => {
    const id = sessionIdOf(c);
    if (!sessions.touch(id) || !csrfPasses(c, sessions, deps.hosts())) {
      throw new HearthError("unauthorized", "No session, or a cross-site request");
    }
    sessions.end(id);
    c.header("Set-Cookie", clearedSessionCookie());
    log.info("login.signed-out");
    return c.json({ ok: true });
  });

  app.get("/api/session", (c) => {
    const session = sessions.touch(sessionIdOf(c));
    if (!session || c.req.header("authorization") !== undefined) {
      throw new HearthError("not_found", "No browser session: signed in with the owner token");
    }
    return c.json({ csrfToken: session.csrfToken, expiresAt: session.expiresAt });
  });

  return app;
}
