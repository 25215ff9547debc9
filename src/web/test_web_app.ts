/**
 * The web app the route tests drive: over a fresh messenger in a temporary
 * folder, with the test owner token, a local Host and a silent log.
 * Requests go through `app.request()`, so no socket is opened. Not used
 * outside tests.
 * @module
 */
import type { Hono } from "hono";
import { TEST_KDF } from "../client/db/_test_helpers.ts";
import { Messenger } from "../client/messenger.ts";
import { createLogger, type Logger } from "../shared/log.ts";
import { allowedHostsFor } from "./auth.ts";
import type { OwnerPassword, SessionStore } from "./session_auth.ts";
import { webApp } from "./web_app.ts";

/** The owner token of the test app. */
export const TEST_TOKEN: string = "t".repeat(43);

/** The Host the test app is reached at. */
export const TEST_HOST = "127.0.0.1:7080";

/** A passphrase to create test accounts with. */
export const TEST_PASSPHRASE = "a long passphrase";

/** A logger that writes nothing. */
export const quietLog: Logger = createLogger({ level: "error", sink: () => {} });

/** A web app over its own messenger, and the folder holding the messenger's data. */
export interface TestWebApp {
  /** The app, answering through `app.request()`. */
  app: Hono;
  /** The messenger behind it. */
  messenger: Messenger;
  /** The messenger's data folder. */
  dir: string;
}

/**
 * Run `fn` over a web app on a fresh messenger (no account yet); close the
 * messenger and remove its folder after, whether `fn` threw or not.
 * @param fn the test body
 * @param options.clock the app's clock (default Date.now)
 * @param options.sessions the app's browser sessions (default: its own store)
 * @param options.password the app's owner password (default: none)
 * @returns when the messenger is closed and its folder removed
 */
export async function withWebApp(
  fn: (t: TestWebApp) => Promise<void>,
  options: { clock?: () => number; sessions?: SessionStore; password?: OwnerPassword } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-web-" });
  const messenger = await Messenger.open(dir, { kdfParams: TEST_KDF });
  const app = webApp({
    messenger,
    token: TEST_TOKEN,
    nodeStatus: () => ({
      id: "ab".repeat(32),
      reachable: true,
      directorySize: 7,
      stats: { peers: 7, swarmsServed: 2, itemsStored: 3, bytesRelayed: 4 },
    }),
    hosts: () => allowedHostsFor({ host: "127.0.0.1", port: 7080 }),
    log: quietLog,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.password ? { password: options.password } : {}),
  });
  try {
    await fn({ app, messenger, dir });
  } finally {
    await messenger.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Make a request to `app` as the owner: to {@link TEST_HOST}, with the
 * owner token; `init.headers` add to these or replace them.
 * @param app the app to ask
 * @param method the HTTP method
 * @param path the path and query
 * @param init the body and extra headers
 * @returns the app's response
 */
export async function ownerRequest(
  app: Hono,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return await app.request(`http://${TEST_HOST}${path}`, {
    method,
    headers: { host: TEST_HOST, authorization: `Bearer ${TEST_TOKEN}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}
