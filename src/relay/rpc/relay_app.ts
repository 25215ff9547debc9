/**
 * The Hono app of the relay port: rate limits, the route groups under
 * /v1/, one error handler mapping HearthError codes to statuses, and a
 * JSON 404. Nothing here logs a request's origin or content.
 * @module
 */
import { Hono } from "hono";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { rateLimit } from "./rate_limit.ts";

/** Options of {@link relayApp}. */
export interface RelayAppOptions {
  /** Route groups to mount at "/". */
  routes: Hono[];
  log: Logger;
  /** Per-peer limit; null turns rate limiting off. */
  rateLimit: { ratePerSecond: number; burst: number } | null;
  /** Peer key of a request (its remote address); required when rate limiting. */
  peerOf?: (request: Request) => string | undefined;
  clock?: () => number;
}

/** Build the relay port's app. */
export function relayApp(options: RelayAppOptions): Hono {
  const app = new Hono();
  if (options.rateLimit) {
    app.use(
      "*",
      rateLimit({
        ...options.rateLimit,
        clock: options.clock,
        peerOf: options.peerOf ?? (() => undefined),
      }),
    );
  }
  for (const r of options.routes) app.route("/", r);
  app.notFound((c) => c.json(new HearthError("not_found", "No such route").toJSON(), 404));
  app.onError((err, c) => {
    if (err instanceof HearthError) {
      return c.json(err.toJSON(), err.status as 400);
    }
    options.log.error("request.internal-error");
    return c.json(new HearthError("internal", "Internal error").toJSON(), 500);
  });
  return app;
}
