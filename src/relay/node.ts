/**
 * A relay node: identity, directory and gossip, message store, storage
 * RPC, replication and anti-entropy, and onion routing, served on one
 * public port. `RelayNode.start` wires the parts; `stop` drains and closes
 * them in order.
 * @module
 */
import { type OpenDatabase, openDatabase } from "../shared/db/open.ts";
import { formatHostPort, type HostPort, isUnspecifiedHost } from "../shared/host_port.ts";
import type { Logger } from "../shared/log.ts";
import { Directory } from "./directory/directory.ts";
import { directoryRoutes } from "./directory/directory_routes.ts";
import { Gossip } from "./directory/gossip.ts";
import type { NodeIdentity } from "./directory/record_types.ts";
import { loadOrCreateIdentity } from "./identity.ts";
import { onionRoutes } from "./onion/onion_routes.ts";
import { PeerClient } from "./peer_client.ts";
import { AntiEntropy } from "./replicate/anti_entropy.ts";
import { replicateRoutes } from "./replicate/replicate_routes.ts";
import { Replicator } from "./replicate/replicator.ts";
import { relayApp } from "./rpc/relay_app.ts";
import { createStorageRpc } from "./rpc/storage_rpc.ts";
import { MessageStore } from "./store/message_store.ts";
import { type RelayDb, relayMigrations } from "./store/schema.ts";
import { swarmViewOf } from "./swarm/swarm_view.ts";

/** How to start a relay node. */
export interface RelayNodeOptions {
  /** Folder for keys, the relay database and the saved directory. */
  dataDir: string;
  /** Where the relay port listens; port 0 picks a free port. */
  listen: HostPort;
  /** What others dial (default: the listen address with the bound port). */
  publicAddr?: HostPort;
  /** Nodes to join through, "host:port". */
  seeds: string[];
  /** Proof-of-work bits for node records. */
  powBits: number;
  /** Per-peer rate limit, or null for none. */
  rateLimit: { ratePerSecond: number; burst: number } | null;
  log: Logger;
  /** Gossip period (default 10 s). */
  gossipIntervalMs?: number;
  /** Anti-entropy period (default 60 s). */
  antiEntropyIntervalMs?: number;
  /** Expired-item purge period (default 10 s). */
  purgeIntervalMs?: number;
  /**
   * How long `stop` waits for the relay port's connections to finish, ms
   * (default 10 s). A client that never finishes sending a body would
   * otherwise hold the shutdown forever.
   */
  shutdownGraceMs?: number;
}

/** What a node reports about itself (no accounts, no traffic). */
export interface RelayStatus {
  id: string;
  publicAddr: string;
  /** Whether peers could dial this node's public address. */
  reachable: boolean;
  /** Live nodes known, this one included. */
  directorySize: number;
}

/** The relay's counters (cheap to read: see {@link RelayNode.stats}). */
export interface RelayStats {
  /** Live nodes known, this one included. */
  peers: number;
  /** Distinct swarm keys this node holds items for. */
  swarmsServed: number;
  /** Items stored. */
  itemsStored: number;
  /** Onion bytes forwarded to next hops and back since start. */
  bytesRelayed: number;
}

/** How old the stored-item counts may be before a read refreshes them, ms. */
const COUNTS_MAX_AGE_MS = 10_000;

/** A running relay node. */
export class RelayNode {
  readonly identity: NodeIdentity;
  readonly directory: Directory;
  readonly publicAddr: string;
  readonly listenAddr: string;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #db: OpenDatabase<RelayDb>;
  #store: MessageStore;
  #gossip: Gossip;
  #antiEntropy: AntiEntropy;
  #replicator: Replicator;
  #rpc: { close(): void };
  #peers: PeerClient;
  #purge: Purge;
  #closing: AbortController;
  #shutdownGraceMs: number;
  #log: Logger;
  #stopping: Promise<void> | undefined;
  #traffic: { bytesRelayed: number };
  #counts = { items: 0, keys: 0, at: -Infinity, running: false };

  private constructor(parts: {
    identity: NodeIdentity;
    directory: Directory;
    publicAddr: string;
    listenAddr: string;
    server: Deno.HttpServer<Deno.NetAddr>;
    db: OpenDatabase<RelayDb>;
    store: MessageStore;
    gossip: Gossip;
    antiEntropy: AntiEntropy;
    replicator: Replicator;
    rpc: { close(): void };
    peers: PeerClient;
    purge: Purge;
    closing: AbortController;
    shutdownGraceMs: number;
    log: Logger;
    traffic: { bytesRelayed: number };
  }) {
    this.identity = parts.identity;
    this.directory = parts.directory;
    this.publicAddr = parts.publicAddr;
    this.listenAddr = parts.listenAddr;
    this.#server = parts.server;
    this.#db = parts.db;
    this.#store = parts.store;
    this.#gossip = parts.gossip;
    this.#antiEntropy = parts.antiEntropy;
    this.#replicator = parts.replicator;
    this.#rpc = parts.rpc;
    this.#peers = parts.peers;
    this.#purge = parts.purge;
    this.#closing = parts.closing;
    this.#shutdownGraceMs = parts.shutdownGraceMs;
    this.#log = parts.log;
    this.#traffic = parts.traffic;
  }

  /** Start a node: open its data, bind the relay port, join the network. */
  static async start(options: RelayNodeOptions): Promise<RelayNode> {
    const log = options.log;
    await Deno.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    const identity = await loadOrCreateIdentity(options.dataDir, { powBits: options.powBits });
    // What was opened so far is closed again if start-up fails half-way.
    const undo: (() => unknown)[] = [];
    try {
      const db = await openDatabase<RelayDb>(`${options.dataDir}/relay.db`, relayMigrations);
      undo.push(() => db.close());
      const directory = new Directory({
        identity,
        dataDir: options.dataDir,
        powBits: options.powBits,
        log: log.child("directory"),
      });
      undo.push(() => directory.close());
      await directory.load();
      const peers = new PeerClient(identity);
      const store = new MessageStore(db.db);
      undo.push(() => store.close());
      const view = swarmViewOf(identity.id, () => directory.liveNodes(), {
        subscribe: (listener) => directory.onChange(listener),
      });
      const replicator = new Replicator({
        selfId: identity.id,
        peers,
        log: log.child("replicate"),
      });
      const rpc = createStorageRpc({ store, view, replicator, log: log.child("rpc") });
      const closing = new AbortController();
      const remoteOf = new WeakMap<Request, string>();
      const traffic = { bytesRelayed: 0 };
      const app = relayApp({
        log,
        rateLimit: options.rateLimit,
        peerOf: (request) => remoteOf.get(request),
        routes: [
          directoryRoutes({ directory, identity, peers, log: log.child("directory") }),
          replicateRoutes({ store, view, log: log.child("replicate") }),
          onionRoutes({
            identity,
            resolveNode: (id) => directory.get(id),
            handleFinal: (request) => rpc.handle(request),
            log: log.child("onion"),
            signal: closing.signal,
            onForwarded: (bytes) => {
              traffic.bytesRelayed += bytes;
            },
          }),
        ],
      });
      const server = serve(options.listen, (request, info) => {
        remoteOf.set(request, info.remoteAddr.hostname);
        return app.fetch(request);
      });
      undo.push(() => server.shutdown());
      const bound = { host: options.listen.host, port: server.addr.port };
      const publicAddr = formatHostPort(
        options.publicAddr ?? {
          host: isUnspecifiedHost(bound.host) ? "127.0.0.1" : bound.host,
          port: bound.port,
        },
      );
      const gossip = new Gossip({
        directory,
        identity,
        peers,
        seeds: options.seeds,
        publicAddr,
        log: log.child("gossip"),
        intervalMs: options.gossipIntervalMs,
      });
      const antiEntropy = new AntiEntropy({ store, view, peers, log: log.child("sync") });
      const purge: Purge = { timer: undefined, running: undefined };
      purge.timer = setInterval(() => {
        // One purge at a time, and `stop` waits for the one in flight.
        purge.running ??= store.purgeExpired(Date.now())
          .then(() => {}, () => log.warn("store.purge-failed"))
          .finally(() => {
            purge.running = undefined;
          });
      }, options.purgeIntervalMs ?? 10_000);
      const node = new RelayNode({
        identity,
        directory,
        publicAddr,
        listenAddr: formatHostPort(bound),
        server,
        db,
        store,
        gossip,
        antiEntropy,
        replicator,
        rpc,
        peers,
        purge,
        closing,
        shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
        log,
        traffic,
      });
      // From here the node owns every part: stopping it undoes the start.
      undo.length = 0;
      undo.push(() => node.stop());
      await gossip.bootstrap();
      gossip.start();
      antiEntropy.start({ intervalMs: options.antiEntropyIntervalMs ?? 60_000 });
      log.info("node.started", {
        reachable: gossip.status().reachable,
        directorySize: directory.size(),
      });
      return node;
    } catch (err) {
      for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
      throw err;
    }
  }

  /** This node's ID (hex Ed25519 key). */
  get id(): string {
    return this.identity.id;
  }

  /** Reachability and directory size. */
  status(): RelayStatus {
    const s = this.#gossip.status();
    return {
      id: this.identity.id,
      publicAddr: this.publicAddr,
      reachable: s.reachable,
      directorySize: this.directory.size(),
    };
  }

  /**
   * The relay's counters. Peers and bytes are live; the stored-item counts
   * are at most {@link COUNTS_MAX_AGE_MS} old: a read finding them older
   * starts one count query in the background and answers the last result.
   */
  stats(): RelayStats {
    const counts = this.#counts;
    if (!counts.running && !this.#stopping && Date.now() - counts.at > COUNTS_MAX_AGE_MS) {
      counts.running = true;
      this.#store.counts().then((c) => {
        counts.items = c.items;
        counts.keys = c.keys;
        counts.at = Date.now();
      }, () => {}).finally(() => {
        counts.running = false;
      });
    }
    return {
      peers: this.directory.size(),
      swarmsServed: counts.keys,
      itemsStored: counts.items,
      bytesRelayed: this.#traffic.bytesRelayed,
    };
  }

  /** Join (again) through these seeds, e.g. once local helper relays are up. */
  async join(seeds: string[]): Promise<void> {
    await this.#gossip.bootstrap(seeds);
  }

  /** Stop: refuse new work, drain requests in flight, close the database. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#purge.timer);
    this.#rpc.close();
    // Forwards in flight answer `unavailable` now rather than after 40 s.
    this.#closing.abort();
    await this.#gossip.stop();
    await this.#antiEntropy.stop();
    await this.#shutdownServer();
    await this.#purge.running;
    await this.#replicator.close();
    this.#peers.close();
    await this.directory.close();
    await this.#store.close();
    await this.#db.close();
    this.#log.info("node.stopped");
  }

  /**
   * Shut the relay port down, waiting at most the grace period: requests in
   * flight have ended by then, and a connection whose client never finishes
   * its body (the server waits for it) is left to the client to close.
   */
  async #shutdownServer(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#shutdownGraceMs);
    });
    const done = await Promise.race([this.#server.shutdown().then(() => true), grace]);
    clearTimeout(timer);
    if (!done) this.#log.warn("node.shutdown-timeout");
  }
}

/** The expired-item purge: its timer and the purge in flight. */
interface Purge {
  timer: ReturnType<typeof setInterval> | undefined;
  running: Promise<void> | undefined;
}

function serve(
  listen: HostPort,
  handler: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  // Deno.serve binds synchronously: the address is known when it returns.
  return Deno.serve({ hostname: listen.host, port: listen.port, onListen: () => {} }, handler);
}
