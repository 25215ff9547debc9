/**
 * The Hono app of the web port: the Host check on every route,
 * `Cache-Control: no-store` on every answer, the owner gate on every
 * `/api/*` route (the owner token, or a browser session with Origin and
 * CSRF token on state changes: session_auth.ts), sign-in (login_page.ts),
 * the UI's static files (ui_static.ts), the route groups, one error handler
 * mapping HearthError codes to statuses, and a JSON 404. It never serves
 * the relay's `/v1/` routes, and the relay port never serves these.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { accountRoutes } from "./account_routes.ts";
import { attachmentRoutes } from "./attachment_routes.ts";
import { hostCheck } from "./auth.ts";
import { contactRoutes } from "./contact_routes.ts";
import { eventRoutes } from "./event_routes.ts";
import { groupRoutes } from "./group_routes.ts";
import { loginRoutes } from "./login_page.ts";
import { messageRoutes } from "./message_routes.ts";
import { QrDecoder } from "./qr_decoder.ts";
import { qrRoutes } from "./qr_routes.ts";
import { ownerAuth, type OwnerPassword, SessionStore } from "./session_auth.ts";
import { settingsRoutes } from "./settings_routes.ts";
import { uiRoutes } from "./ui_static.ts";
import { UnlockLimiter } from "./unlock_limiter.ts";

/** What the web port shows of the relay node (a subset of the node's status). */
export interface NodeStatusView {
  /** The node ID, hex. */
  id: string;
  /** Whether peers could dial this node. */
  reachable: boolean;
  /** How many node records the directory holds. */
  directorySize: number;
  /** Relay counters (see RelayNode.stats); absent in tests that do not run a relay. */
  stats?: RelayStatsView;
}

/** The relay's counters `/api/status` shows. */
export interface RelayStatsView {
  /** Live nodes in the directory (this one included). */
  peers: number;
  /** Distinct swarms (account keys) this node holds items for. */
  swarmsServed: number;
  /** Items stored. */
  itemsStored: number;
  /** Onion bytes forwarded to the next hop since start. */
  bytesRelayed: number;
}

/** Options of {@link webApp}. */
export interface WebAppOptions {
  /** The owner's messenger. */
  messenger: Messenger;
  /** The owner token. */
  token: string;
  /** The relay node's status, read per request. */
  nodeStatus: () => NodeStatusView;
  /** The accepted Host header values, lower case (see allowedHostsFor). */
  hosts: () => readonly string[];
  /** Where events go (names and numbers only). */
  log: Logger;
  /** Current time, ms (default Date.now), for the unlock limiter and the sessions. */
  clock?: () => number;
  /** The browser sessions (default: a new store); the one-time link is issued on it. */
  sessions?: SessionStore;
  /** The owner password, when one is set (required beyond loopback). */
  password?: OwnerPassword;
}

/** How many hex digits of the node ID `/api/status` shows. */
export const NODE_ID_PREFIX_CHARS = 16;

/**
 * Build the web port's app.
 * @param options the messenger, token, node status, accepted hosts and logger
 * @returns the app; serve it with `Deno.serve` on the web port only
 */
export function webApp(options: WebAppOptions): Hono {
  const { messenger, log } = options;
  const app = new Hono();
  app.use("*", async function noStore(c, next) {
    c.header("Cache-Control", "no-store");
    c.header("X-Content-Type-Options", "nosniff");
    await next();
  });
  app.use("*", hostCheck({ hosts: options.hosts }));
  const clock = options.clock ? { clock: options.clock } : {};
  const sessions = options.sessions ?? new SessionStore(clock);
  app.use("/api/*", ownerAuth({ token: options.token, sessions, hosts: options.hosts }));

  app.get("/api/status", (c) => {
    const node = options.nodeStatus();
    return c.json({
      node: {
        id: node.id.slice(0, NODE_ID_PREFIX_CHARS),
        reachable: node.reachable,
        directorySize: node.directorySize,
        peers: node.stats?.peers ?? node.directorySize,
        swarmsServed: node.stats?.swarmsServed ?? 0,
        itemsStored: node.stats?.itemsStored ?? 0,
        bytesRelayed: node.stats?.bytesRelayed ?? 0,
      },
      account: messenger.state(),
    });
  });
  const limiter = new UnlockLimiter(clock);
  app.route(
    "/",
    loginRoutes({
      token: options.token,
      password: options.password,
      sessions,
      limiter: new UnlockLimiter(clock),
      hosts: options.hosts,
      log: log.child("login"),
    }),
  );
  app.route("/", uiRoutes({ sessions }));
  app.route("/", accountRoutes({ messenger, limiter, log: log.child("account") }));
  app.route("/", messageRoutes({ messenger, log: log.child("messages") }));
  app.route("/", attachmentRoutes({ messenger, log: log.child("files") }));
  app.route("/", contactRoutes({ messenger, log: log.child("contacts") }));
  app.route("/", settingsRoutes({ messenger, log: log.child("settings") }));
  app.route("/", eventRoutes({ messenger, log: log.child("events") }));
  app.route("/", groupRoutes({ messenger, log: log.child("groups") }));
  app.route("/", qrRoutes({ decoder: new QrDecoder(), log: log.child("qr") }));

  app.notFound((c) => c.json(new HearthError("not_found", "No such route").toJSON(), 404));
  app.onError((err, c) => {
    c.header("Cache-Control", "no-store");
    if (err instanceof HearthError) {
      const retry = err.details?.retryAfterMs;
      if (typeof retry === "number") c.header("Retry-After", String(Math.ceil(retry / 1000)));
      return c.json(err.toJSON(), err.status as 400);
    }
    log.error("request.internal-error");
    return c.json(new HearthError("internal", "Internal error").toJSON(), 500);
  });
  return app;
}
