/**
 * One simulated node, wired as `RelayNode.start` wires a real one, with
 * the simulated clock and transport: the real Directory, Gossip, directory
 * and replication routes behind the real relay app, PeerClient, Replicator
 * and AntiEntropy. What differs: items are held in memory
 * ({@link MemoryStore}), swarms come from {@link SwarmRanking} (exactly
 * `swarmFor` over the directory), and the simulation decides when gossip
 * rounds and anti-entropy run (the real timers are not started).
 * @module
 */
import type { Hono } from "hono";
import { Directory } from "../src/relay/directory/directory.ts";
import { directoryRoutes } from "../src/relay/directory/directory_routes.ts";
import { Gossip } from "../src/relay/directory/gossip.ts";
import type { verifyRecord } from "../src/relay/directory/record.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import { PeerClient } from "../src/relay/peer_client.ts";
import { AntiEntropy } from "../src/relay/replicate/anti_entropy.ts";
import { replicateRoutes } from "../src/relay/replicate/replicate_routes.ts";
import { Replicator } from "../src/relay/replicate/replicator.ts";
import { relayApp } from "../src/relay/rpc/relay_app.ts";
import type { SwarmView } from "../src/relay/swarm/swarm_view.ts";
import { silentLogger } from "../src/shared/log.ts";
import type { SimClock, SimEvent } from "./clock.ts";
import { MemoryStore } from "./memory_store.ts";
import type { SimRandom } from "./random.ts";
import type { SwarmRanking } from "./swarm_ranking.ts";
import type { SimEndpoint, SimTransport } from "./transport.ts";

/** What a {@link SimNode} needs. */
export interface SimNodeDeps {
  identity: NodeIdentity;
  /** Its public address. */
  addr: string;
  /** Seeds it joins through. */
  seeds: string[];
  /** Whether the sybil operator runs it. */
  sybil: boolean;
  clock: SimClock;
  transport: SimTransport;
  ranking: SwarmRanking;
  /** Its own seeded randomness (gossip peer picks). */
  random: SimRandom;
  /** Proof-of-work difficulty of the run's records. */
  powBits: number;
  /** The shared record check (memoized). */
  verify: typeof verifyRecord;
  /** Gossip period, ms. */
  gossipIntervalMs: number;
}

/** A node of the simulated network. */
export class SimNode {
  readonly index: number;
  readonly identity: NodeIdentity;
  readonly addr: string;
  readonly sybil: boolean;
  readonly seeds: string[];
  readonly directory: Directory;
  readonly peers: PeerClient;
  readonly gossip: Gossip;
  readonly store: MemoryStore;
  readonly view: SwarmView;
  readonly replicator: Replicator;
  readonly antiEntropy: AntiEntropy;
  readonly app: Hono;
  readonly endpoint: SimEndpoint;
  /** When it joined, ms. */
  joinedAt = NaN;
  /** When it left, ms, or NaN while up. */
  leftAt = NaN;
  /** Scheduled simulation events of this node, cancelled when it leaves. */
  readonly timers = new Set<SimEvent>();

  /**
   * Build a node and attach it to the network (answering at once).
   * @param index its place in the run's node list
   * @param deps identity, address, clock, transport and the shared parts
   */
  constructor(index: number, deps: SimNodeDeps) {
    this.index = index;
    this.identity = deps.identity;
    this.addr = deps.addr;
    this.sybil = deps.sybil;
    this.seeds = deps.seeds;
    const clock = deps.clock.fn;
    const log = silentLogger;
    this.directory = new Directory({
      identity: deps.identity,
      powBits: deps.powBits,
      clock,
      log,
      verify: deps.verify,
    });
    this.store = new MemoryStore(clock);
    this.view = deps.ranking.viewOf(deps.identity.id, this.directory);
    // The app answers through the endpoint, and its dial-backs go out through it.
    this.endpoint = deps.transport.attach(deps.addr, { fetch: (r) => this.app.fetch(r) });
    this.peers = new PeerClient(deps.identity, {
      clock,
      fetch: deps.transport.fetchFor(this.endpoint),
    });
    this.app = relayApp({
      log,
      rateLimit: null,
      clock,
      routes: [
        directoryRoutes({
          directory: this.directory,
          identity: deps.identity,
          peers: this.peers,
          clock,
          log,
          verify: deps.verify,
        }),
        replicateRoutes({ store: this.store, view: this.view, clock, log }),
      ],
    });
    this.gossip = new Gossip({
      directory: this.directory,
      identity: deps.identity,
      peers: this.peers,
      seeds: deps.seeds,
      publicAddr: deps.addr,
      clock,
      log,
      intervalMs: deps.gossipIntervalMs,
      random: deps.random.fn,
    });
    this.replicator = new Replicator({ selfId: deps.identity.id, peers: this.peers, log });
    this.antiEntropy = new AntiEntropy({
      store: this.store,
      view: this.view,
      peers: this.peers,
      clock,
      random: deps.random.fn,
      log,
    });
  }

  /** This node's ID. */
  get id(): string {
    return this.identity.id;
  }

  /** Whether it answers. */
  get up(): boolean {
    return this.endpoint.up;
  }
}
