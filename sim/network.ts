/**
 * The simulated network: the clock, the runtime, the transport and the
 * nodes, and what happens to nodes over time: they join through the
 * seeds (bootstrap, then a gossip round every interval ±20%, as
 * `Gossip.start` would run them) and leave (they stop answering).
 * @module
 */
import { SimClock } from "./clock.ts";
import { simAddress, simIdentity } from "./identities.ts";
import { SimNode } from "./node.ts";
import { SimRandom } from "./random.ts";
import { SimRuntime } from "./runtime.ts";
import { SwarmRanking } from "./swarm_ranking.ts";
import { SimTransport, type SimTransportOptions } from "./transport.ts";
import { memoVerify, type VerifyMemoStats } from "./verify_memo.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import type { verifyRecord } from "../src/relay/directory/record.ts";

/** Options of a {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Seed of every random choice. */
  seed: string;
  /** Proof-of-work difficulty of the run's identities and records. */
  powBits: number;
  /** Gossip period, ms (the node default is 10,000). */
  gossipIntervalMs: number;
  /** Latency and loss. */
  transport: SimTransportOptions;
  /** Simulated time at start, ms. */
  startMs: number;
}

/** A node not created yet: its identity and address, made up front. */
export interface PlannedNode {
  identity: NodeIdentity;
  addr: string;
  sybil: boolean;
}

/** Counters of the network. */
export interface NetworkCounters {
  joins: number;
  leaves: number;
  rounds: number;
  roundErrors: number;
  bootstrapErrors: number;
}

/** How many identities a run needs, made before it starts. */
export interface IdentityPlan {
  /** Honest nodes (the first three are the seeds). */
  honest: number;
  /** Sybil nodes, in `sybilGroups` /16 networks. */
  sybil: number;
  /** Address blocks of the sybil operator. */
  sybilGroups: number;
}

/** The nodes, clock, runtime and transport of one simulation. */
export class SimNetwork {
  readonly options: SimNetworkOptions;
  readonly clock: SimClock;
  readonly runtime: SimRuntime;
  readonly transport: SimTransport;
  readonly random: SimRandom;
  readonly verify: typeof verifyRecord;
  readonly verifyStats: VerifyMemoStats;
  readonly counters: NetworkCounters = {
    joins: 0,
    leaves: 0,
    rounds: 0,
    roundErrors: 0,
    bootstrapErrors: 0,
  };
  /** Every node created, in creation order. */
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<string, SimNode>();
  /** Honest identities not used yet, in order. */
  readonly honestPlan: PlannedNode[] = [];
  /** Sybil identities not used yet, in order. */
  readonly sybilPlan: PlannedNode[] = [];
  ranking!: SwarmRanking;
  seeds: string[] = [];
  /** Period of the gossip rounds the simulation runs, ms (may change between phases). */
  gossipIntervalMs: number;
  #nodeRandom: SimRandom;

  private constructor(options: SimNetworkOptions) {
    this.options = options;
    this.random = new SimRandom(options.seed);
    this.clock = new SimClock(options.startMs);
    this.runtime = new SimRuntime(this.clock, { windowMs: options.transport.minLatencyMs });
    this.transport = new SimTransport(this.clock, this.random.fork("net"), options.transport);
    const memo = memoVerify();
    this.verify = memo.verify;
    this.verifyStats = memo.stats;
    this.#nodeRandom = this.random.fork("nodes");
    this.gossipIntervalMs = options.gossipIntervalMs;
  }

  /**
   * Make every identity the run will use, so that swarms can be ranked over
   * all of them, and install the runtime.
   * @param options network options
   * @param plan how many honest and sybil nodes
   */
  static async create(options: SimNetworkOptions, plan: IdentityPlan): Promise<SimNetwork> {
    const net = new SimNetwork(options);
    net.runtime.install();
    try {
      const keys = net.random.fork("keys");
      const addrs = net.random.fork("addrs");
      const taken = new Set<string>();
      for (let i = 0; i < plan.honest; i++) {
        const identity = await simIdentity(keys, options.powBits);
        net.honestPlan.push({ identity, addr: simAddress(addrs, taken), sybil: false });
      }
      const groups: [number, number][] = [];
      for (let g = 0; g < plan.sybilGroups; g++) groups.push([1 + addrs.int(223), addrs.int(256)]);
      for (let i = 0; i < plan.sybil; i++) {
        const identity = await simIdentity(keys, options.powBits);
        net.sybilPlan.push({ identity, addr: simAddress(addrs, taken, groups), sybil: true });
      }
      await net.runtime.settle();
      net.ranking = new SwarmRanking(
        [...net.honestPlan, ...net.sybilPlan].map((p) => p.identity.id),
      );
    } catch (err) {
      net.runtime.uninstall();
      throw err;
    }
    return net;
  }

  /** Put back what the runtime redirected. */
  close(): void {
    this.runtime.uninstall();
  }

  /** Nodes that answer. */
  liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  /**
   * Create the next planned node and join it `delayMs` from now.
   * @param sybil whether to take a sybil identity
   * @param delayMs when it starts
   * @returns the node (not joined yet)
   */
  addNode(sybil: boolean, delayMs: number): SimNode {
    const planned = (sybil ? this.sybilPlan : this.honestPlan).shift();
    if (!planned) throw new RangeError("No planned identity left");
    const isSeed = !sybil && this.seeds.length < 3 && this.nodes.length === this.seeds.length;
    const node = new SimNode(this.nodes.length, {
      identity: planned.identity,
      addr: planned.addr,
      seeds: [...this.seeds],
      sybil,
      clock: this.clock,
      transport: this.transport,
      ranking: this.ranking,
      random: this.#nodeRandom.fork(planned.identity.id),
      powBits: this.options.powBits,
      verify: this.verify,
      gossipIntervalMs: this.gossipIntervalMs,
    });
    node.endpoint.up = false;
    if (isSeed) this.seeds.push(planned.addr);
    this.nodes.push(node);
    this.byId.set(node.id, node);
    this.#at(node, delayMs, () => this.#join(node));
    return node;
  }

  /**
   * Take a node off the network now: it stops answering and gossiping.
   * @param node the node
   */
  leave(node: SimNode): void {
    if (!node.up) return;
    node.endpoint.up = false;
    node.leftAt = this.clock.now;
    for (const timer of node.timers) this.clock.cancel(timer);
    node.timers.clear();
    this.counters.leaves++;
  }

  /**
   * Run `run` at `delayMs` from now while `node` is up (its timers end
   * when it leaves).
   */
  at(node: SimNode, delayMs: number, run: () => unknown): void {
    this.#at(node, delayMs, run);
  }

  #at(node: SimNode, delayMs: number, run: () => unknown): void {
    const event = this.clock.schedule(delayMs, () => {
      node.timers.delete(event);
      return run();
    });
    node.timers.add(event);
  }

  #join(node: SimNode): Promise<void> {
    node.endpoint.up = true;
    node.joinedAt = this.clock.now;
    this.counters.joins++;
    return node.gossip.bootstrap().then(
      () => {},
      () => {
        this.counters.bootstrapErrors++;
      },
    ).finally(() => this.#nextRound(node));
  }

  #nextRound(node: SimNode): void {
    if (!node.up) return;
    const interval = this.gossipIntervalMs;
    const delay = interval * (0.8 + 0.4 * this.#nodeRandom.next());
    this.#at(node, delay, () => {
      if (!node.up) return;
      this.counters.rounds++;
      return node.gossip.round().catch(() => {
        this.counters.roundErrors++;
      }).finally(() => this.#nextRound(node));
    });
  }
}
