/**
 * The owner API's two gates: the Host header must name the web port
 * itself (a defence against DNS rebinding, where a web page's own name
 * resolves to 127.0.0.1), and every `/api/*` request must carry the owner
 * token as `Authorization: Bearer <token>`, compared in constant time.
 * Both refusals are `unauthorized` (401): the closed set of error codes
 * has no 403 for a request from the wrong origin.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bytesEqual, labeledHash, utf8 } from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";
import { formatHostPort, type HostPort } from "../shared/host_port.ts";

const TOKEN_LABEL = "hearth/owner-token/v1";

/**
 * The Host header values accepted for a web port bound at `addr`: the bound
 * `host:port`, and `localhost`, `127.0.0.1` and `[::1]` with the same port.
 * Lower case.
 * @param addr the bound address (with its real port, not 0)
 * @returns the accepted values
 */
export function allowedHostsFor(addr: HostPort): string[] {
  const hosts = new Set([
    formatHostPort(addr),
    `localhost:${addr.port}`,
    `127.0.0.1:${addr.port}`,
    `[::1]:${addr.port}`,
  ]);
  return [...hosts].map((h) => h.toLowerCase());
}

/**
 * Middleware refusing a request whose Host header (or, without one, the
 * URL's host) is not one of `hosts()`.
 * @param options.hosts the accepted values, lower case (read per request: the port is
 *   known only once the listener is bound)
 */
export function hostCheck(options: { hosts: () => readonly string[] }): MiddlewareHandler {
  return async function hostCheckMiddleware(c, next) {
    const host = (c.req.header("host") ?? new URL(c.req.url).host).toLowerCase();
    if (!options.hosts().includes(host)) {
      throw new HearthError("unauthorized", "Host not allowed");
    }
    await next();
  };
}

/**
 * Middleware requiring `Authorization: Bearer <token>`. The presented and
 * the real token are hashed before comparing, so neither their content nor
 * their length shows in the time taken.
 * @param options.token the owner token
 */
export function bearerAuth(options: { token: string }): MiddlewareHandler {
  const expected = labeledHash(TOKEN_LABEL, utf8(options.token));
  return async function bearerAuthMiddleware(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header);
    const presented = labeledHash(TOKEN_LABEL, utf8(match?.[1] ?? ""));
    if (!match || !bytesEqual(presented, expected)) {
      c.header("WWW-Authenticate", 'Bearer realm="hearth"');
      throw new HearthError("unauthorized", "Missing or wrong owner token");
    }
    await next();
  };
}
