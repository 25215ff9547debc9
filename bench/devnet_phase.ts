/**
 * The measurements that need a live network, in rounds, each on a fresh
 * devnet of real node processes on loopback: their idle memory next to a
 * bare Deno process's, and load through onion paths (3 relays +
 * destination) against the same RPC with no relays, on the same devnet.
 * A fresh devnet per round keeps every load window inside the devnet's
 * first minute, before its first periodic anti-entropy round.
 * @module
 */
import { type Devnet, startDevnet } from "../tools/devnet_lib.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { cpuMs, type MachineCpu, machineCpu, pidOfDataDir, rssMiB } from "./process_metrics.ts";
import { type CpuReading, type LoadOptions, type LoadResult, runLoad } from "./store_load.ts";
import { median, round } from "./stats.ts";
import { startBareDeno } from "./startup.ts";

/** Memory of every node of the devnet at one moment. */
export interface DevnetMemory {
  /** RSS of each node, MiB, in devnet order. */
  rssMiB: number[];
  /** Median RSS of the nodes, MiB. */
  medianMiB: number;
  /** Largest RSS of the nodes, MiB. */
  maxMiB: number;
}

/** One named load run. */
export interface NamedLoad extends LoadResult {
  /** e.g. "store 1 KiB, 3 relays". */
  name: string;
  /** When the run began, ms after the first node was spawned. */
  fromMs: number;
  /** When the run ended, ms after the first node was spawned. */
  toMs: number;
}

/**
 * One devnet, started fresh: its idle memory next to a bare Deno process's,
 * and its load runs. Every node runs an anti-entropy round at start and
 * then every 60 s; a round's loads fit in its first minute, so the first
 * periodic round (which stalls a busy devnet for seconds) stays out of the
 * measurement windows. `fromMs`/`toMs` of each load show it did.
 */
export interface DevnetRound {
  /** From the first spawn until every node knows every other, ms. */
  startAndConvergeMs: number;
  /** Memory after joining and sitting idle for `idleMs`. */
  idleMemory: DevnetMemory;
  /** RSS of a bare Deno process started with the idle period and read with the nodes, MiB. */
  bareDenoRssMiB: number;
  /** CPU a node used while idle, as a share of one core (mean of the nodes). */
  idleCpuShare: number;
  /** Whether this round's 16-in-flight runs went onion, direct, direct, onion (else the reverse). */
  onionFirst: boolean;
  /** The load runs, in the order they ran. */
  loads: NamedLoad[];
  /** Memory right after the last load (first round only). */
  afterLoadMemory?: DevnetMemory;
  /** Memory after the load and another idle period of `idleMs` (first round only). */
  afterLoadIdleMemory?: DevnetMemory;
}

/** Result of {@link runDevnetPhase}: several rounds, each on a fresh devnet. */
export interface DevnetResult {
  /** Node processes in the devnet. */
  nodes: number;
  /** Proof-of-work bits of the nodes. */
  powBits: number;
  /** Gossip period of the nodes, ms. */
  gossipIntervalMs: number;
  /** How long each devnet sat idle before the memory reading, ms. */
  idleMs: number;
  /** Requests in flight in the throughput runs. */
  concurrency: number;
  /** The rounds; the first also has the 1-in-flight runs and the memory after the loads. */
  rounds: DevnetRound[];
}

/** Options of {@link runDevnetPhase}. */
export interface DevnetPhaseOptions {
  /** Where the nodes' data folders go (removed by the caller). */
  baseDir: string;
  /** Rounds, each on a fresh devnet (default 5). */
  rounds?: number;
  /** Node processes (default 7). */
  nodes?: number;
  /** Idle time before the memory reading, ms (default 5,000). */
  idleMs?: number;
  /** Concurrency of the throughput runs (default 16). */
  concurrency?: number;
  /** Window of the 1 KiB throughput runs of each path, in two halves, ms (default 6,000). */
  smallWindowMs?: number;
  /** Window of the 64 KiB throughput runs of each path, in two halves, ms (default 5,000). */
  largeWindowMs?: number;
  /** Called with each load's name as it starts. */
  onProgress?: (step: string) => void;
}

const POW_BITS = 8;
const GOSSIP_INTERVAL_MS = 500;

async function pidsOf(devnet: Devnet): Promise<number[]> {
  const pids: number[] = [];
  for (const node of devnet.nodes) {
    const pid = await pidOfDataDir(node.dataDir);
    if (pid === undefined) throw new Error("Could not find a node's process in /proc");
    pids.push(pid);
  }
  return pids;
}

async function cpuOf(pids: readonly number[]): Promise<CpuReading> {
  const [client, machine, ...nodes] = await Promise.all([
    cpuMs(Deno.pid),
    machineCpu(),
    ...pids.map(cpuMs),
  ]);
  if (client === undefined || machine === undefined || nodes.some((n) => n === undefined)) {
    throw new Error("Could not read CPU times from /proc");
  }
  return {
    client: client as number,
    machine: machine as MachineCpu,
    nodes: (nodes as number[]).reduce((a, b) => a + b, 0),
  };
}

async function memoryOf(pids: readonly number[]): Promise<DevnetMemory> {
  const rss: number[] = [];
  for (const pid of pids) {
    const value = await rssMiB(pid);
    if (value === undefined) throw new Error("Could not read a node's memory from /proc");
    rss.push(round(value));
  }
  return { rssMiB: rss, medianMiB: round(median(rss)), maxMiB: Math.max(...rss) };
}

async function directoryOf(addr: string): Promise<NodeRecord[]> {
  const res = await fetch(`http://${addr}/v1/directory`);
  if (!res.ok) throw new Error(`Directory request failed with ${res.status}`);
  return ((await res.json()) as { records: NodeRecord[] }).records;
}

/** The load runs of one round, in order. */
function planOf(
  index: number,
  options: DevnetPhaseOptions,
): { name: string; options: LoadOptions }[] {
  const concurrency = options.concurrency ?? 16;
  const plan: { name: string; options: LoadOptions }[] = [];
  if (index === 0) {
    const latencyRun = { concurrency: 1, durationMs: 2_000, warmupMs: 500, itemBytes: 1_024 };
    for (const [relays, label] of [[0, "direct"], [3, "3 relays"]] as const) {
      plan.push({
        name: `swarm lookup, 1 in flight, ${label}`,
        options: { ...latencyRun, method: "swarm", relays },
      });
    }
    for (const [relays, label] of [[0, "direct"], [3, "3 relays"]] as const) {
      plan.push({
        name: `store 1 KiB, 1 in flight, ${label}`,
        options: { ...latencyRun, relays },
      });
    }
  }
  const sizes = [
    [1_024, "1 KiB", options.smallWindowMs ?? 6_000],
    [65_536, "64 KiB", options.largeWindowMs ?? 5_000],
  ] as const;
  // Each path's window is split in two, in the order A B B A: other load that grows or
  // shrinks steadily through the four runs then weighs the same on both paths. Which path
  // is A alternates between rounds.
  const onion = [3, "3 relays"] as const;
  const direct = [0, "direct"] as const;
  const order = index % 2 === 0 ? [onion, direct, direct, onion] : [direct, onion, onion, direct];
  for (const [itemBytes, size, windowMs] of sizes) {
    for (const [relays, label] of order) {
      plan.push({
        name: `store ${size}, ${concurrency} in flight, ${label}`,
        options: { relays, itemBytes, concurrency, durationMs: windowMs / 2, warmupMs: 500 },
      });
    }
  }
  return plan;
}

async function runRound(
  index: number,
  baseDir: string,
  options: DevnetPhaseOptions,
): Promise<DevnetRound> {
  const count = options.nodes ?? 7;
  const idleMs = options.idleMs ?? 5_000;
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  progress(`starting ${count} node processes`);
  const devnet = await startDevnet(count, {
    baseDir,
    powBits: POW_BITS,
    gossipIntervalMs: GOSSIP_INTERVAL_MS,
  });
  try {
    await devnet.converge(count, 60_000);
    const startAndConvergeMs = round(performance.now() - started);
    progress(`idle ${idleMs / 1000} s, then memory`);
    const pids = await pidsOf(devnet);
    const bare = startBareDeno({ lifetimeMs: idleMs + 30_000 });
    let bareDenoRssMiB: number;
    let idleMemory: DevnetMemory;
    let idleCpuShare: number;
    try {
      const idleStart = await cpuOf(pids);
      const idleStarted = performance.now();
      await new Promise((r) => setTimeout(r, idleMs));
      const idleEnd = await cpuOf(pids);
      idleCpuShare = round(
        (idleEnd.nodes - idleStart.nodes) / (performance.now() - idleStarted) / count,
      );
      idleMemory = await memoryOf(pids);
      const bareRss = await rssMiB(bare.pid);
      if (bareRss === undefined) throw new Error("Could not read the bare Deno process's memory");
      bareDenoRssMiB = round(bareRss);
    } finally {
      await bare.stop();
    }

    const nodes = await directoryOf(devnet.nodes[0]!.addr);
    if (nodes.length !== count) throw new Error("The directory does not list every node");
    const loads: NamedLoad[] = [];
    for (const step of planOf(index, options)) {
      progress(step.name);
      const fromMs = round(performance.now() - started);
      const result = await runLoad(nodes, { ...step.options, cpu: () => cpuOf(pids) });
      loads.push({ name: step.name, ...result, fromMs, toMs: round(performance.now() - started) });
    }
    const result: DevnetRound = {
      startAndConvergeMs,
      idleMemory,
      bareDenoRssMiB,
      idleCpuShare,
      onionFirst: index % 2 === 0,
      loads,
    };
    if (index === 0) {
      result.afterLoadMemory = await memoryOf(pids);
      progress(`idle ${idleMs / 1000} s, then memory`);
      await new Promise((r) => setTimeout(r, idleMs));
      result.afterLoadIdleMemory = await memoryOf(pids);
    }
    return result;
  } finally {
    await devnet.stop();
  }
}

/**
 * Run the rounds one after another, each on a fresh devnet: start it, let
 * it idle, read its memory (and a bare Deno process's), run the loads, stop
 * it. The first round also runs the 1-in-flight latency runs and reads the
 * memory after the loads.
 * @param options base folder, rounds, sizes and durations
 * @throws {Error} when a devnet does not start or converge
 */
export async function runDevnetPhase(options: DevnetPhaseOptions): Promise<DevnetResult> {
  const rounds: DevnetRound[] = [];
  const total = options.rounds ?? 5;
  for (let r = 0; r < total; r++) {
    const progress = options.onProgress ?? (() => {});
    rounds.push(
      await runRound(r, `${options.baseDir}/round-${r + 1}`, {
        ...options,
        onProgress: (step) => progress(`round ${r + 1}/${total}: ${step}`),
      }),
    );
  }
  return {
    nodes: options.nodes ?? 7,
    powBits: POW_BITS,
    gossipIntervalMs: GOSSIP_INTERVAL_MS,
    idleMs: options.idleMs ?? 5_000,
    concurrency: options.concurrency ?? 16,
    rounds,
  };
}
