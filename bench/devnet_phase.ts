/**
 * The measurements that need a live network: a devnet of real node
 * processes on loopback, their idle memory, and load through onion paths
 * (3 relays + destination) against the same RPC with no relays.
 * @module
 */
import { type Devnet, startDevnet } from "../tools/devnet_lib.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { cpuMs, type MachineCpu, machineCpu, pidOfDataDir, rssMiB } from "./process_metrics.ts";
import { type CpuReading, type LoadOptions, type LoadResult, runLoad } from "./store_load.ts";
import { median, round } from "./stats.ts";

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
 * Result of {@link runDevnetPhase}. Every node runs an anti-entropy round
 * at start and then every 60 s; the loads fit in the first minute, so the
 * first periodic round (which stalls a busy devnet for seconds) stays out
 * of the measurement windows. `fromMs`/`toMs` of each load show it did.
 */
export interface DevnetResult {
  /** Node processes in the devnet. */
  nodes: number;
  /** Proof-of-work bits of the nodes. */
  powBits: number;
  /** Gossip period of the nodes, ms. */
  gossipIntervalMs: number;
  /** From the first spawn until every node knows every other, ms. */
  startAndConvergeMs: number;
  /** How long the devnet sat idle before the memory reading, ms. */
  idleMs: number;
  /** Memory after joining and sitting idle for `idleMs`. */
  idleMemory: DevnetMemory;
  /** CPU a node used while idle, as a share of one core (mean of the nodes). */
  idleCpuShare: number;
  /** The load runs, in the order they ran. */
  loads: NamedLoad[];
  /** Memory right after the last load. */
  afterLoadMemory: DevnetMemory;
  /** Memory after the load and another idle period of `idleMs`. */
  afterLoadIdleMemory: DevnetMemory;
}

/** Options of {@link runDevnetPhase}. */
export interface DevnetPhaseOptions {
  /** Where the nodes' data folders go (removed by the caller). */
  baseDir: string;
  /** Node processes (default 7). */
  nodes?: number;
  /** Idle time before the memory reading, ms (default 5,000). */
  idleMs?: number;
  /** Concurrency of the throughput runs (default 16). */
  concurrency?: number;
  /** Window of the 1 KiB throughput runs, ms (default 10,000). */
  smallWindowMs?: number;
  /** Window of the 64 KiB throughput runs, ms (default 6,000). */
  largeWindowMs?: number;
  /** Called with each load's name as it starts. */
  onProgress?: (step: string) => void;
  /** Receives the devnet as soon as it exists, so the caller can stop it on abort. */
  onDevnet?: (devnet: Devnet) => void;
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

/**
 * Start the devnet, let it idle, read its memory, run the loads, read its
 * memory again, and stop it.
 * @param options base folder, sizes and durations
 * @throws {Error} when the devnet does not start or converge
 */
export async function runDevnetPhase(options: DevnetPhaseOptions): Promise<DevnetResult> {
  const count = options.nodes ?? 7;
  const idleMs = options.idleMs ?? 5_000;
  const concurrency = options.concurrency ?? 16;
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  progress(`starting ${count} node processes`);
  const devnet = await startDevnet(count, {
    baseDir: options.baseDir,
    powBits: POW_BITS,
    gossipIntervalMs: GOSSIP_INTERVAL_MS,
  });
  options.onDevnet?.(devnet);
  try {
    await devnet.converge(count, 60_000);
    const startAndConvergeMs = round(performance.now() - started);
    progress(`idle ${idleMs / 1000} s, then memory`);
    const pids = await pidsOf(devnet);
    const idleStart = await cpuOf(pids);
    const idleStarted = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const idleEnd = await cpuOf(pids);
    const idleCpuShare = round(
      (idleEnd.nodes - idleStart.nodes) / (performance.now() - idleStarted) / count,
    );
    const idleMemory = await memoryOf(pids);

    const nodes = await directoryOf(devnet.nodes[0]!.addr);
    if (nodes.length !== count) throw new Error("The directory does not list every node");
    const plan: { name: string; options: LoadOptions }[] = [];
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
    const sizes = [
      [1_024, "1 KiB", options.smallWindowMs ?? 10_000],
      [65_536, "64 KiB", options.largeWindowMs ?? 6_000],
    ] as const;
    for (const [itemBytes, size, durationMs] of sizes) {
      for (const [relays, label] of [[3, "3 relays"], [0, "direct"]] as const) {
        plan.push({
          name: `store ${size}, ${concurrency} in flight, ${label}`,
          options: { relays, itemBytes, concurrency, durationMs, warmupMs: 1_000 },
        });
      }
    }
    const loads: NamedLoad[] = [];
    for (const step of plan) {
      progress(step.name);
      const fromMs = round(performance.now() - started);
      const result = await runLoad(nodes, { ...step.options, cpu: () => cpuOf(pids) });
      loads.push({ name: step.name, ...result, fromMs, toMs: round(performance.now() - started) });
    }
    const afterLoadMemory = await memoryOf(pids);
    progress(`idle ${idleMs / 1000} s, then memory`);
    await new Promise((r) => setTimeout(r, idleMs));
    const afterLoadIdleMemory = await memoryOf(pids);
    return {
      nodes: count,
      powBits: POW_BITS,
      gossipIntervalMs: GOSSIP_INTERVAL_MS,
      startAndConvergeMs,
      idleMs,
      idleMemory,
      idleCpuShare,
      loads,
      afterLoadMemory,
      afterLoadIdleMemory,
    };
  } finally {
    await devnet.stop();
  }
}
