/**
 * The web port: the owner's messenger (data in `<dataDir>/client/`), the
 * owner token, and the owner API served on its own listener, apart from
 * the relay port.
 * @module
 */
import { Messenger, type MessengerOptions } from "../client/messenger.ts";
import { formatHostPort, type HostPort, isUnspecifiedHost } from "../shared/host_port.ts";
import type { Logger } from "../shared/log.ts";
import { allowedHostsFor } from "./auth.ts";
import { loadOrCreateOwnerToken, OWNER_TOKEN_FILE } from "./owner_token.ts";
import { type OwnerPassword, SessionStore } from "./session_auth.ts";
import { type NodeStatusView, webApp } from "./web_app.ts";

/** Options of {@link startWebPort}. */
export interface WebPortOptions {
  /** The node's data directory. */
  dataDir: string;
  /** Where to listen (port 0 picks a free port). */
  listen: HostPort;
  /** The relay node's status. */
  nodeStatus: () => NodeStatusView;
  log: Logger;
  /** The live directory, for sending and receiving messages (none: local only). */
  nodes?: MessengerOptions["nodes"];
  /** scrypt's cost for new passphrase keys (tests). */
  kdfParams?: MessengerOptions["kdfParams"];
  /** The largest file the owner may send, bytes (default 100 MB). */
  maxFileBytes?: number;
  /** The owner password (sign-in with it besides the token); required beyond loopback. */
  password?: OwnerPassword;
}

/** A running web port. */
export interface WebPort {
  /** The bound address, with the real port. */
  addr: HostPort;
  /** The owner token. */
  token: string;
  /** The token file's path. */
  tokenPath: string;
  /**
   * The one-time sign-in link, made at this start: valid once, for 10
   * minutes. A secret like the token: print it on stdout only, never log it.
   */
  loginUrl: string;
  /** Stop serving (requests in flight finish), then lock and close the messenger. */
  stop(): Promise<void>;
}

/**
 * Open the messenger, load or create the owner token, and serve the owner
 * API.
 * @param options the data directory, listen address, node status and logger
 * @returns the running web port
 * @throws {Deno.errors.AddrInUse} and other listen errors; the messenger is closed again
 */
export async function startWebPort(options: WebPortOptions): Promise<WebPort> {
  const token = await loadOrCreateOwnerToken(options.dataDir);
  const messenger = await Messenger.open(options.dataDir, {
    ...(options.kdfParams ? { kdfParams: options.kdfParams } : {}),
    ...(options.nodes ? { nodes: options.nodes } : {}),
    ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}),
    log: options.log.child("messenger"),
  });
  let hosts: string[] = [];
  const sessions = new SessionStore();
  const app = webApp({
    messenger,
    token,
    sessions,
    ...(options.password ? { password: options.password } : {}),
    nodeStatus: options.nodeStatus,
    hosts: () => hosts,
    log: options.log.child("web"),
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.listen.host,
      port: options.listen.port,
      onListen() {},
    }, app.fetch);
  } catch (err) {
    await messenger.close();
    throw err;
  }
  const addr = { host: options.listen.host, port: server.addr.port };
  hosts = allowedHostsFor(addr);
  if (isUnspecifiedHost(addr.host)) hosts = [...new Set([...hosts, ...interfaceHosts(addr.port)])];
  const linkHost = isUnspecifiedHost(addr.host) ? { host: "127.0.0.1", port: addr.port } : addr;
  return {
    addr,
    token,
    loginUrl: `http://${formatHostPort(linkHost)}/login?token=${sessions.issueLoginLink()}`,
    tokenPath: `${options.dataDir}/${OWNER_TOKEN_FILE}`,
    stop: async () => {
      // The messenger first: closing it ends the open event streams
      // (GET /api/events), which the graceful shutdown would wait for.
      await messenger.close();
      await server.shutdown();
    },
  };
}

/**
 * The `host:port` of every address of this machine's interfaces, lower
 * case: what a browser on the LAN puts in Host when the web port listens on
 * 0.0.0.0 or [::]. Empty when the interfaces cannot be read.
 */
function interfaceHosts(port: number): string[] {
  try {
    return Deno.networkInterfaces().map((i) =>
      formatHostPort({ host: i.address.split("%")[0]!, port }).toLowerCase()
    );
  } catch {
    return [];
  }
}
