/**
 * What the simulation measures: directory convergence, traffic per node,
 * swarm load balance, and what a sybil operator controls (onion paths
 * built by the real PathManager, swarms by the real swarmFor).
 * @module
 */
import { MemoryGuardStore } from "../src/client/network/guard_store.ts";
import { PathManager } from "../src/client/network/path_manager.ts";
import { SWARM_SIZE, WRITE_QUORUM } from "../src/shared/codec/limits.ts";
import { swarmFor } from "../src/shared/swarm_map.ts";
import type { NodeRecord } from "../src/relay/directory/record_types.ts";
import type { SimNode } from "./node.ts";
import type { SimRandom } from "./random.ts";

/** The routes of directory gossip (PROTOCOL §3). */
export const GOSSIP_ROUTES = ["/v1/directory", "/v1/announce", "/v1/info"];

/** Bytes and requests by route, summed over nodes. */
export type TrafficTotals = Record<string, { bytes: number; requests: number }>;

/**
 * Sum the traffic of nodes by route (bytes in + out, requests sent).
 * @param nodes the nodes
 */
export function trafficTotals(nodes: readonly SimNode[]): TrafficTotals {
  const out: TrafficTotals = {};
  for (const node of nodes) {
    for (const [route, t] of node.endpoint.traffic) {
      const row = out[route] ??= { bytes: 0, requests: 0 };
      row.bytes += t.bytesIn + t.bytesOut;
      row.requests += t.sent;
    }
  }
  return out;
}

/**
 * The difference of two totals.
 * @param after later totals
 * @param before earlier totals
 */
export function trafficDelta(after: TrafficTotals, before: TrafficTotals): TrafficTotals {
  const out: TrafficTotals = {};
  for (const [route, a] of Object.entries(after)) {
    const b = before[route] ?? { bytes: 0, requests: 0 };
    out[route] = { bytes: a.bytes - b.bytes, requests: a.requests - b.requests };
  }
  return out;
}

/**
 * Whether every live node is reachable and knows exactly the live nodes.
 * @param live the nodes that are up
 */
export function isConverged(live: readonly SimNode[]): boolean {
  const ids = new Set(live.map((n) => n.id));
  for (const node of live) {
    if (!node.gossip.status().reachable || node.directory.size() !== live.length) return false;
  }
  // Sizes agree; make sure the sets do too (a stale entry could offset a missing one).
  return live.every((node) => node.directory.liveNodes().every((r) => ids.has(r.id)));
}

/**
 * Share of (node, live node) pairs known, over the live nodes.
 * @param live the nodes that are up
 */
export function knownShare(live: readonly SimNode[]): number {
  let known = 0;
  for (const node of live) for (const other of live) if (node.directory.isKnown(other.id)) known++;
  return known / (live.length * live.length);
}

/** Load balance of swarms over a view. */
export interface BalanceResult {
  keys: number;
  nodes: number;
  meanPerNode: number;
  maxPerNode: number;
  minPerNode: number;
  maxOverMean: number;
  /** Variance over mean of the load (an ideal uniform placement gives about 1 − R/N). */
  dispersion: number;
  /**
   * Max over mean of an ideal placement (each key on R distinct nodes drawn
   * uniformly), same keys and nodes, mean of 10 seeded draws: what noise
   * alone gives at this load.
   */
  idealMaxOverMean: number;
}

/**
 * Swarm load balance: each of `keys` random keys is held by its swarm
 * (`swarmFor` over `view`); the items per node, max over mean.
 * @param view the live nodes of a converged directory
 * @param keys how many keys
 * @param random the seeded source of keys
 */
export function swarmBalance(
  view: readonly NodeRecord[],
  keys: number,
  random: SimRandom,
): BalanceResult {
  const load = new Map<string, number>();
  for (let k = 0; k < keys; k++) {
    for (const member of swarmFor(random.bytes(32), view)) {
      load.set(member.id, (load.get(member.id) ?? 0) + 1);
    }
  }
  return balanceOf(load, view.map((n) => n.id), keys, random);
}

/**
 * Max over mean of a load per node (nodes with no load count as 0).
 * @param load items per node ID
 * @param nodes every node ID of the view
 * @param keys how many keys were placed
 */
export function balanceOf(
  load: ReadonlyMap<string, number>,
  nodes: readonly string[],
  keys: number,
  random: SimRandom,
): BalanceResult {
  const counts = nodes.map((id) => load.get(id) ?? 0);
  const { mean, max, min, dispersion } = loadStats(counts);
  let ideal = 0;
  for (let trial = 0; trial < 10; trial++) ideal += idealMaxOverMean(nodes.length, keys, random);
  return {
    keys,
    nodes: counts.length,
    meanPerNode: mean,
    maxPerNode: max,
    minPerNode: min,
    maxOverMean: max / mean,
    dispersion,
    idealMaxOverMean: ideal / 10,
  };
}

function loadStats(counts: readonly number[]) {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length;
  return {
    mean,
    max: Math.max(...counts),
    min: Math.min(...counts),
    dispersion: mean > 0 ? variance / mean : 0,
  };
}

/** Max over mean when each of `keys` keys goes to R distinct nodes drawn uniformly. */
function idealMaxOverMean(nodes: number, keys: number, random: SimRandom): number {
  const counts = new Array<number>(nodes).fill(0);
  const size = Math.min(SWARM_SIZE, nodes);
  const picked = new Set<number>();
  for (let k = 0; k < keys; k++) {
    picked.clear();
    while (picked.size < size) picked.add(random.int(nodes));
    for (const i of picked) counts[i]!++;
  }
  const { mean, max } = loadStats(counts);
  return max / mean;
}

/** What a sybil operator controls. */
export interface SybilResult {
  /** Sybil nodes in the view, and their share. */
  sybilNodes: number;
  share: number;
  paths: {
    clients: number;
    total: number;
    /** Guard, middle and exit all sybil. */
    allSybil: number;
    /** Guard and exit sybil (the two ends of the relays). */
    guardAndExit: number;
    /** Clients whose pinned guard is sybil. */
    sybilGuards: number;
    allSybilShare: number;
    guardAndExitShare: number;
  };
  swarms: {
    keys: number;
    /** Swarms whose R members are all sybil. */
    allMembers: number;
    /** Swarms where the sybil holds at least W members. */
    atLeastQuorum: number;
    allMembersShare: number;
    atLeastQuorumShare: number;
    /** The same under independent draws: P(all R), P(at least W). */
    expectedAllMembers: number;
    expectedAtLeastQuorum: number;
  };
}

/**
 * Paths and swarms from honest clients' directories: each client pins its
 * own guard (a PathManager per client); swarms are taken over the first
 * client's view.
 * @param clients the live nodes of each client's directory
 * @param isSybil whether a node ID is the operator's
 * @param options paths per client, swarm keys, clock and randomness
 */
export function sybilControl(
  clients: readonly (readonly NodeRecord[])[],
  isSybil: (id: string) => boolean,
  options: {
    pathsPerClient: number;
    swarmKeys: number;
    clock: () => number;
    random: SimRandom;
    /** Also count the swarm load per node here (the load balance). */
    load?: Map<string, number>;
  },
): SybilResult {
  const view = clients[0]!;
  const sybilNodes = view.filter((n) => isSybil(n.id)).length;
  const share = sybilNodes / view.length;
  let total = 0;
  let allSybil = 0;
  let guardAndExit = 0;
  let sybilGuards = 0;
  for (const nodes of clients) {
    const paths = new PathManager({
      nodes: () => nodes as NodeRecord[],
      store: new MemoryGuardStore(),
      clock: options.clock,
      random: options.random.fn,
      diversity: "auto",
    });
    let guardSybil = false;
    for (let p = 0; p < options.pathsPerClient; p++) {
      const destination = nodes[options.random.int(nodes.length)]!;
      const hops = paths.pathFor(destination);
      const sybil = hops.map((h) => isSybil(h.id));
      total++;
      if (sybil.every(Boolean)) allSybil++;
      if (sybil[0] && sybil[sybil.length - 1]) guardAndExit++;
      guardSybil = sybil[0]!;
    }
    if (guardSybil) sybilGuards++;
  }
  let allMembers = 0;
  let atLeastQuorum = 0;
  for (let k = 0; k < options.swarmKeys; k++) {
    const members = swarmFor(options.random.bytes(32), view);
    if (options.load) {
      for (const m of members) options.load.set(m.id, (options.load.get(m.id) ?? 0) + 1);
    }
    const held = members.filter((m) => isSybil(m.id)).length;
    if (held === members.length) allMembers++;
    if (held >= WRITE_QUORUM) atLeastQuorum++;
  }
  return {
    sybilNodes,
    share,
    paths: {
      clients: clients.length,
      total,
      allSybil,
      guardAndExit,
      sybilGuards,
      allSybilShare: allSybil / total,
      guardAndExitShare: guardAndExit / total,
    },
    swarms: {
      keys: options.swarmKeys,
      allMembers,
      atLeastQuorum,
      allMembersShare: allMembers / options.swarmKeys,
      atLeastQuorumShare: atLeastQuorum / options.swarmKeys,
      expectedAllMembers: share ** SWARM_SIZE,
      expectedAtLeastQuorum: binomialTail(SWARM_SIZE, WRITE_QUORUM, share),
    },
  };
}

/** P(X ≥ k) for X ~ Binomial(n, p). */
function binomialTail(n: number, k: number, p: number): number {
  let sum = 0;
  for (let i = k; i <= n; i++) sum += choose(n, i) * p ** i * (1 - p) ** (n - i);
  return sum;
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}
