/**
 * The scenarios: a network joins from three seeds, its gossip is measured
 * in steady state, a day of churn runs with messages stored and checked,
 * and a sybil operator joins. Each phase drives the real node code on the
 * simulated network and returns numbers, never estimates.
 * @module
 */
import { SimNetwork } from "./network.ts";
import type { SimNode } from "./node.ts";
import { SimStorage, type StorageCounters } from "./storage.ts";
import type { AntiEntropyStats } from "../src/relay/replicate/anti_entropy.ts";
import { DEFAULT_TRANSPORT, type SimTransportOptions } from "./transport.ts";
import {
  type BalanceResult,
  GOSSIP_ROUTES,
  isConverged,
  swarmBalance,
  sybilControl,
  type SybilResult,
  trafficDelta,
  type TrafficTotals,
  trafficTotals,
} from "./metrics.ts";

const HOUR = 3_600_000;

/** What to simulate. */
export interface ScenarioConfig {
  name: string;
  /** Honest nodes that join at the start (the first three are the seeds). */
  nodes: number;
  seed: string;
  /** Proof-of-work difficulty of the simulated identities. */
  powBits: number;
  /** Gossip period while joining and when gossip is measured, ms. */
  gossipIntervalMs: number;
  /** The nodes after the seeds join at uniform times within this, ms. */
  joinWindowMs: number;
  /** Longest wait for convergence after the last join, ms. */
  maxConvergeMs: number;
  /** Keys of the load-balance measurement (0: skip). */
  balanceKeys: number;
  /** Time after convergence before gossip is measured, ms. */
  settleMs: number;
  /** Length of the gossip measurement, ms (0: skip). */
  gossipWindowMs: number;
  churn: ChurnConfig | null;
  sybil: SybilConfig | null;
  transport: SimTransportOptions;
  /** Swarm cross-checks against swarmFor over the view, at the end. */
  crossChecks: number;
  /** Where progress lines go. */
  progress?: (line: string) => void;
}

/** The day of churn. */
export interface ChurnConfig {
  /** Share of the nodes that leave, and as many new ones join, over the day. */
  fraction: number;
  durationMs: number;
  /** Gossip period during the churn phase, ms. */
  gossipIntervalMs: number;
  /** Messages stored in the first 10 minutes. */
  startMessages: number;
  /** Messages stored at uniform times over the day. */
  dayMessages: number;
  /** How often retrievability is checked during the day, ms. */
  checkEveryMs: number;
}

/** The sybil operator. */
export interface SybilConfig {
  /** Its share of the network once joined. */
  share: number;
  /** Its /16 address blocks. */
  groups: number;
  /** Honest clients that build paths. */
  clients: number;
  pathsPerClient: number;
  /** Keys whose swarms are examined. */
  swarmKeys: number;
}

/** What a scenario measured. */
export interface ScenarioResult {
  name: string;
  nodes: number;
  seed: string;
  powBits: number;
  transport: SimTransportOptions;
  join: {
    windowS: number;
    converged: boolean;
    /** From the last join until every directory held every live node, s (simulated). */
    convergedAfterLastJoinS: number;
    /** From the first node's start until then, s. */
    convergedAfterStartS: number;
    wallS: number;
  };
  balance: BalanceResult | null;
  gossip: {
    intervalS: number;
    windowS: number;
    /** Directory gossip (/v1/directory, /v1/announce, /v1/info), bytes in + out per node per hour. */
    bytesPerNodePerHour: number;
    requestsPerNodePerHour: number;
    byRoute: TrafficTotals;
    wallS: number;
  } | null;
  churn: ChurnResult | null;
  sybil: (SybilResult & { converged: boolean; groups: number; wallS: number }) | null;
  checks: {
    swarmCrossChecks: number;
    swarmMismatches: number;
    swarmFallbacks: number;
    realVerifications: number;
    rememberedVerifications: number;
    eventErrors: number;
    roundErrors: number;
  };
  run: { events: number; requests: number; lost: number; simHours: number; wallS: number };
}

/** What the day of churn measured. */
export interface ChurnResult {
  fraction: number;
  hours: number;
  gossipIntervalS: number;
  left: number;
  joined: number;
  liveAtEnd: number;
  stored: number;
  acked: number;
  /** Acknowledged messages a client finds at the end (all within their 14-day TTL). */
  retrievable: number;
  retrievableShare: number;
  /** The same for the messages stored at the start of the day. */
  startCohort: { acked: number; retrievable: number; share: number };
  /** Retrievable share of the messages acknowledged so far, at each check. */
  checkpoints: { hour: number; share: number; acked: number }[];
  /** Live holders per acknowledged message at the end: min, mean. */
  holders: { min: number; mean: number };
  storage: StorageCounters;
  /** Directory gossip during the churn phase, bytes per node per hour. */
  gossipBytesPerNodePerHour: number;
  /** Anti-entropy counters of every node, summed (syncs, hand-offs). */
  antiEntropy: AntiEntropyStats;
  /** Anti-entropy syncs (digest, hashes, fetch), bytes in + out per node per hour. */
  syncBytesPerNodePerHour: number;
  /**
   * `/v1/replicate/store`, bytes in + out per node per hour: the stores'
   * fan-out and the hand-offs to new swarm members.
   */
  replicateBytesPerNodePerHour: number;
  wallS: number;
}

/** Defaults of a scenario of `nodes` nodes. */
export function scenarioDefaults(nodes: number): ScenarioConfig {
  return {
    name: `${nodes} nodes`,
    nodes,
    seed: `hearth-sim-${nodes}`,
    powBits: 8,
    gossipIntervalMs: 10_000,
    joinWindowMs: 300_000,
    maxConvergeMs: 1_800_000,
    balanceKeys: 0,
    settleMs: 600_000,
    // One re-signing period: every node re-signs once in it.
    gossipWindowMs: HOUR / 2,
    churn: null,
    sybil: null,
    transport: DEFAULT_TRANSPORT,
    crossChecks: 200,
  };
}

/**
 * Run a scenario on a fresh simulated network.
 * @param config what to simulate
 */
export async function runScenario(config: ScenarioConfig): Promise<ScenarioResult> {
  const wall0 = performance.now();
  const log = config.progress ?? (() => {});
  const joiners = config.churn ? Math.round(config.nodes * config.churn.fraction) : 0;
  const sybils = config.sybil
    ? Math.round((config.nodes * config.sybil.share) / (1 - config.sybil.share))
    : 0;
  const net = await SimNetwork.create({
    seed: config.seed,
    powBits: config.powBits,
    gossipIntervalMs: config.gossipIntervalMs,
    transport: config.transport,
    startMs: 100_000_000,
  }, { honest: config.nodes + joiners, sybil: sybils, sybilGroups: config.sybil?.groups ?? 1 });
  try {
    const start = net.clock.now;
    const join = await joinPhase(net, config, log);
    const balance = config.balanceKeys > 0
      ? swarmBalance(
        net.nodes[0]!.directory.liveNodes(),
        config.balanceKeys,
        net.random.fork("balance"),
      )
      : null;
    if (balance) {
      log(`balance: max/mean ${balance.maxOverMean.toFixed(3)} over ${balance.keys} keys`);
    }
    const gossip = config.gossipWindowMs > 0 ? await gossipPhase(net, config, log) : null;
    const churn = config.churn ? await churnPhase(net, config.churn, log) : null;
    const sybil = config.sybil ? await sybilPhase(net, config, config.sybil, log) : null;
    crossCheck(net, config.crossChecks);
    const r = net.ranking.stats;
    return {
      name: config.name,
      nodes: config.nodes,
      seed: config.seed,
      powBits: config.powBits,
      transport: config.transport,
      join,
      balance,
      gossip,
      churn,
      sybil,
      checks: {
        swarmCrossChecks: r.checks,
        swarmMismatches: r.mismatches,
        swarmFallbacks: r.fallbacks,
        realVerifications: net.verifyStats.verified,
        rememberedVerifications: net.verifyStats.remembered,
        eventErrors: net.runtime.stats.eventErrors,
        roundErrors: net.counters.roundErrors,
      },
      run: {
        events: net.runtime.stats.events,
        requests: net.transport.stats.requests,
        lost: net.transport.stats.lost,
        simHours: (net.clock.now - start) / HOUR,
        wallS: (performance.now() - wall0) / 1000,
      },
    };
  } finally {
    net.close();
  }
}

async function joinPhase(net: SimNetwork, config: ScenarioConfig, log: (l: string) => void) {
  const wall0 = performance.now();
  const start = net.clock.now;
  const random = net.random.fork("join");
  let lastJoin = 0;
  for (let i = 0; i < config.nodes; i++) {
    const delay = i < 3 ? i * 1_000 : 5_000 + random.next() * config.joinWindowMs;
    lastJoin = Math.max(lastJoin, delay);
    net.addNode(false, delay);
  }
  await net.runtime.runUntil(start + lastJoin);
  const lastJoinAt = net.clock.now;
  let convergedAt = NaN;
  for (let t = 0; t <= config.maxConvergeMs; t += 1_000) {
    if (isConverged(net.liveNodes())) {
      convergedAt = net.clock.now;
      break;
    }
    await net.runtime.runUntil(lastJoinAt + t + 1_000);
  }
  const converged = Number.isFinite(convergedAt);
  const result = {
    windowS: config.joinWindowMs / 1000,
    converged,
    convergedAfterLastJoinS: converged ? (convergedAt - lastJoinAt) / 1000 : NaN,
    convergedAfterStartS: converged ? (convergedAt - start) / 1000 : NaN,
    wallS: (performance.now() - wall0) / 1000,
  };
  log(
    `join: ${config.nodes} nodes, converged ${
      converged ? `${result.convergedAfterLastJoinS} s after the last join` : "not"
    } (${result.wallS.toFixed(0)} s wall)`,
  );
  return result;
}

async function gossipPhase(net: SimNetwork, config: ScenarioConfig, log: (l: string) => void) {
  const wall0 = performance.now();
  await net.runtime.runUntil(net.clock.now + config.settleMs);
  const before = trafficTotals(net.nodes);
  await net.runtime.runUntil(net.clock.now + config.gossipWindowMs);
  const delta = trafficDelta(trafficTotals(net.nodes), before);
  const live = net.liveNodes().length;
  const hours = config.gossipWindowMs / HOUR;
  const result = {
    intervalS: net.gossipIntervalMs / 1000,
    windowS: config.gossipWindowMs / 1000,
    bytesPerNodePerHour: sumRoutes(delta, "bytes") / live / hours,
    requestsPerNodePerHour: sumRoutes(delta, "requests") / live / hours,
    byRoute: delta,
    wallS: (performance.now() - wall0) / 1000,
  };
  log(
    `gossip: ${(result.bytesPerNodePerHour / 1e6).toFixed(2)} MB per node per hour (${
      result.wallS.toFixed(0)
    } s wall)`,
  );
  return result;
}

function sumRoutes(totals: TrafficTotals, field: "bytes" | "requests"): number {
  let sum = 0;
  for (const route of GOSSIP_ROUTES) sum += totals[route]?.[field] ?? 0;
  return sum;
}

async function churnPhase(
  net: SimNetwork,
  churn: ChurnConfig,
  log: (l: string) => void,
): Promise<ChurnResult> {
  const wall0 = performance.now();
  const random = net.random.fork("churn");
  const storage = new SimStorage(net);
  net.gossipIntervalMs = churn.gossipIntervalMs;
  const start = net.clock.now;
  const before = trafficTotals(net.nodes);
  const seeds = new Set(net.seeds);
  const honestLive = () => net.liveNodes().filter((n) => !n.sybil);
  for (const node of net.liveNodes()) storage.start(node);
  const pickClient = () => {
    const live = honestLive();
    return live[random.int(live.length)]!;
  };
  const schedule = (delay: number, run: () => unknown) => net.clock.schedule(delay, run);
  for (let i = 0; i < churn.startMessages; i++) {
    schedule(random.next() * 600_000, () => storage.storeMessage(pickClient(), "start"));
  }
  for (let i = 0; i < churn.dayMessages; i++) {
    schedule(random.next() * churn.durationMs, () => storage.storeMessage(pickClient(), "day"));
  }
  const changes = Math.round(honestLive().length * churn.fraction);
  let left = 0;
  let joined = 0;
  for (let i = 0; i < changes; i++) {
    schedule(random.next() * churn.durationMs, () => {
      const candidates = honestLive().filter((n) => !seeds.has(n.addr));
      if (candidates.length === 0) return;
      net.leave(candidates[random.int(candidates.length)]!);
      left++;
    });
    schedule(random.next() * churn.durationMs, () => {
      const node = net.addNode(false, 0);
      joined++;
      net.at(node, 2_000, () => storage.start(node));
    });
  }
  const checkpoints: ChurnResult["checkpoints"] = [];
  const liveCounts = [net.liveNodes().length];
  for (let t = churn.checkEveryMs; t <= churn.durationMs; t += churn.checkEveryMs) {
    await net.runtime.runUntil(start + t);
    liveCounts.push(net.liveNodes().length);
    const acked = storage.messages.filter((m) => m.acked);
    const found = acked.filter((m) => storage.retrievable(m, pickClient())).length;
    const share = acked.length > 0 ? found / acked.length : 1;
    checkpoints.push({ hour: t / HOUR, share, acked: acked.length });
    const hour = (t / HOUR).toFixed(1);
    const wall = ((performance.now() - wall0) / 1000).toFixed(0);
    log(
      `churn: hour ${hour}, ${net.liveNodes().length} live, left ${left}, joined ${joined}, ` +
        `${acked.length} acked, ${(share * 100).toFixed(3)}% retrievable (${wall} s wall)`,
    );
  }
  await net.runtime.runUntil(start + churn.durationMs);
  const delta = trafficDelta(trafficTotals(net.nodes), before);
  const acked = storage.messages.filter((m) => m.acked);
  const found = acked.filter((m) => storage.retrievable(m, pickClient()));
  const startAcked = acked.filter((m) => m.cohort === "start");
  const startFound = found.filter((m) => m.cohort === "start");
  const holders = acked.map((m) => storage.holders(m));
  const hours = churn.durationMs / HOUR;
  const meanLive = liveCounts.reduce((a, b) => a + b, 0) / liveCounts.length;
  const syncRoutes = ["/v1/sync/digest", "/v1/sync/hashes", "/v1/sync/fetch"];
  let syncBytes = 0;
  for (const route of syncRoutes) syncBytes += delta[route]?.bytes ?? 0;
  return {
    fraction: churn.fraction,
    hours,
    gossipIntervalS: churn.gossipIntervalMs / 1000,
    left,
    joined,
    liveAtEnd: net.liveNodes().length,
    stored: storage.messages.length,
    acked: acked.length,
    retrievable: found.length,
    retrievableShare: acked.length > 0 ? found.length / acked.length : 1,
    startCohort: {
      acked: startAcked.length,
      retrievable: startFound.length,
      share: startAcked.length > 0 ? startFound.length / startAcked.length : 1,
    },
    checkpoints,
    holders: {
      min: holders.length > 0 ? Math.min(...holders) : 0,
      mean: holders.reduce((a, b) => a + b, 0) / Math.max(1, holders.length),
    },
    storage: storage.counters,
    gossipBytesPerNodePerHour: sumRoutes(delta, "bytes") / meanLive / hours,
    antiEntropy: storage.antiEntropyStats(),
    syncBytesPerNodePerHour: syncBytes / meanLive / hours,
    replicateBytesPerNodePerHour: (delta["/v1/replicate/store"]?.bytes ?? 0) / meanLive / hours,
    wallS: (performance.now() - wall0) / 1000,
  };
}

async function sybilPhase(
  net: SimNetwork,
  config: ScenarioConfig,
  sybil: SybilConfig,
  log: (l: string) => void,
) {
  const wall0 = performance.now();
  net.gossipIntervalMs = config.gossipIntervalMs;
  const random = net.random.fork("sybil");
  const count = net.sybilPlan.length;
  let last = 0;
  for (let i = 0; i < count; i++) {
    const delay = random.next() * config.joinWindowMs;
    last = Math.max(last, delay);
    net.addNode(true, delay);
  }
  const lastAt = net.clock.now + last;
  await net.runtime.runUntil(lastAt);
  // Departed nodes may linger in directories until their records go stale:
  // converged here means every live node knows every sybil node.
  const sybilNodes = net.nodes.filter((n) => n.sybil);
  const knowsSybils = () =>
    net.liveNodes().every((node) => sybilNodes.every((s) => node.directory.isKnown(s.id)));
  let converged = false;
  for (let t = 0; t <= config.maxConvergeMs && !converged; t += 10_000) {
    converged = knowsSybils();
    if (!converged) await net.runtime.runUntil(lastAt + t + 10_000);
  }
  const honest = net.liveNodes().filter((n) => !n.sybil);
  const clients: SimNode[] = [];
  const pool = honest.slice();
  while (clients.length < Math.min(sybil.clients, honest.length)) {
    clients.push(pool.splice(random.int(pool.length), 1)[0]!);
  }
  const sybilIds = new Set(net.nodes.filter((n) => n.sybil).map((n) => n.id));
  const result = sybilControl(
    clients.map((c) => c.directory.liveNodes()),
    (id) => sybilIds.has(id),
    {
      pathsPerClient: sybil.pathsPerClient,
      swarmKeys: sybil.swarmKeys,
      clock: net.clock.fn,
      random,
    },
  );
  log(
    `sybil: ${(result.share * 100).toFixed(1)}% of nodes, ${
      (result.paths.allSybilShare * 100).toFixed(3)
    }% of paths all sybil, ` +
      `${(result.swarms.atLeastQuorumShare * 100).toFixed(3)}% of swarms ≥ W (${
        ((performance.now() - wall0) / 1000).toFixed(0)
      } s wall)`,
  );
  return { ...result, converged, groups: sybil.groups, wallS: (performance.now() - wall0) / 1000 };
}

/** Compare the ranked swarms with swarmFor over live nodes' views. */
function crossCheck(net: SimNetwork, checks: number): void {
  const random = net.random.fork("cross-check");
  const live = net.liveNodes();
  for (let i = 0; i < checks && live.length > 0; i++) {
    const node = live[random.int(live.length)]!;
    net.ranking.crossCheck(random.bytes(32), node.directory);
  }
}
