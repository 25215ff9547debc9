/**
 * Load on a devnet through onion paths: a fixed number of requests in
 * flight for a fixed time, each a storage RPC sent by the real onion
 * client (`rpcViaOnion`) to a member of a random key's swarm, through 0
 * or more relays. Throughput counts the requests that completed inside
 * the measurement window; latency is each one's send-to-answer time.
 * @module
 */
import { rpcViaOnion } from "../src/client/network/onion_client.ts";
import { chooseRelays } from "../src/client/network/path_select.ts";
import { randomBytes, toHex } from "../src/shared/crypto/bytes.ts";
import { HearthError } from "../src/shared/errors.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { swarmFor } from "../src/shared/swarm_map.ts";
import type { MachineCpu } from "./process_metrics.ts";
import { percentile, round } from "./stats.ts";
import { scheduleReadings } from "./timed_readings.ts";

/** The RPC each request runs: a 1-item store, or the cheap `swarm` lookup. */
export type LoadMethod = "store" | "swarm";

/** How to load the network. */
export interface LoadOptions {
  /** The RPC to run (default "store"). */
  method?: LoadMethod;
  /** Relays before the destination: 3 for an onion path, 0 for direct. */
  relays: number;
  /** Data bytes of each stored item (ignored by `swarm`). */
  itemBytes: number;
  /** Requests in flight at all times. */
  concurrency: number;
  /** Length of the measurement window, ms. */
  durationMs: number;
  /** Load before the window opens, not counted, ms. */
  warmupMs: number;
  /** Timeout of one request, ms (default 20,000). */
  timeoutMs?: number;
  /** Reads the CPU time used so far by the client and by the nodes, ms. */
  cpu?: () => Promise<CpuReading>;
}

/**
 * CPU time used so far: by this (client) process and by the node
 * processes together, ms, and the machine's counters, ticks.
 */
export interface CpuReading {
  /** CPU of this process, ms. */
  client: number;
  /** CPU of all node processes together, ms. */
  nodes: number;
  /** Machine-wide counters. */
  machine: MachineCpu;
}

/** What one load run measured. */
export interface LoadResult {
  /** The RPC that ran. */
  method: LoadMethod;
  /** Nodes on each path: relays plus the destination. */
  pathNodes: number;
  /** Data bytes of each stored item (0 for `swarm`). */
  itemBytes: number;
  /** Requests in flight. */
  concurrency: number;
  /** The measurement window, ms. */
  windowMs: number;
  /** Requests that succeeded inside the window. */
  ok: number;
  /** Requests that failed inside the window. */
  failed: number;
  /** Failures by error code. */
  errors: Record<string, number>;
  /** Successful requests per second. */
  perSec: number;
  /** Item data stored per second, MB (10^6 bytes); 0 for `swarm`. */
  mbPerSec: number;
  /** Median latency of the successful requests, ms. */
  p50Ms: number;
  /** 95th percentile latency, ms. */
  p95Ms: number;
  /** 99th percentile latency, ms. */
  p99Ms: number;
  /** CPU ms the client spent per successful request, in the window (when measured). */
  clientCpuMsPerReq?: number;
  /** CPU ms all nodes together spent per successful request, in the window. */
  nodesCpuMsPerReq?: number;
  /** Share of all the machine's cores used by the client and nodes in the window, 0 to 1. */
  cpuBusy?: number;
  /** Share of the machine's CPU time in interrupts and softirqs (loopback TCP), 0 to 1. */
  cpuIrq?: number;
  /**
   * Share of the machine's CPU time busy in anything else (other processes,
   * kernel threads such as the file system journal) in the window, 0 to 1:
   * other load that makes the run noisy.
   */
  cpuOthers?: number;
  /** Share of the machine's CPU time stolen by the hypervisor in the window, 0 to 1. */
  cpuSteal?: number;
  /** Share of the machine's CPU time idle waiting for the disk in the window, 0 to 1. */
  cpuIowait?: number;
}

const TTL_MS = 3_600_000;

function oneRequest(nodes: readonly NodeRecord[], options: LoadOptions): Promise<unknown> {
  // A fresh key each time spreads the load over every swarm and keeps clear of quotas.
  const key = randomBytes(32);
  const members = swarmFor(key, nodes);
  const dest = members[Math.floor(Math.random() * members.length)]!;
  const relays = options.relays === 0
    ? []
    : chooseRelays(nodes, { exclude: [dest.id], count: options.relays });
  const timeoutMs = options.timeoutMs ?? 20_000;
  if (options.method === "swarm") {
    return rpcViaOnion([...relays, dest], { method: "swarm", key: toHex(key) }, { timeoutMs });
  }
  return rpcViaOnion(
    [...relays, dest],
    { method: "store", key: toHex(key), ns: 0, ttl: TTL_MS },
    { blob: randomBytes(options.itemBytes), timeoutMs },
  );
}

/**
 * Keep `concurrency` requests in flight through the warm-up and the
 * window, then wait for the last ones to finish (bounded by their timeout).
 * @param nodes the live directory of the devnet
 * @param options path length, item size, concurrency and timing
 * @returns counts, rates and latency percentiles of the window
 */
export async function runLoad(
  nodes: readonly NodeRecord[],
  options: LoadOptions,
): Promise<LoadResult> {
  const method = options.method ?? "store";
  const opts = { ...options, method };
  const windowStart = performance.now() + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let failed = 0;

  async function worker(): Promise<void> {
    while (performance.now() < windowEnd) {
      const sent = performance.now();
      let error: string | undefined;
      try {
        await oneRequest(nodes, opts);
      } catch (err) {
        error = err instanceof HearthError ? err.code : String(err);
      }
      const done = performance.now();
      if (done < windowStart || done > windowEnd) continue;
      if (error === undefined) {
        latencies.push(done - sent);
      } else {
        failed++;
        errors[error] = (errors[error] ?? 0) + 1;
      }
    }
  }
  // The end reading is settled when the workers finish, even if its timer
  // has not fired yet: cancelling it instead left the run waiting forever.
  const timed = options.cpu ? scheduleReadings(options.cpu, [windowStart, windowEnd]) : undefined;
  const readings = timed?.readings ?? [];
  try {
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  } finally {
    timed?.settle();
  }
  const perSec = latencies.length / (options.durationMs / 1000);
  const result: LoadResult = {
    method,
    pathNodes: options.relays + 1,
    itemBytes: method === "store" ? options.itemBytes : 0,
    concurrency: options.concurrency,
    windowMs: options.durationMs,
    ok: latencies.length,
    failed,
    errors,
    perSec: round(perSec),
    mbPerSec: method === "store" ? round((perSec * options.itemBytes) / 1e6) : 0,
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    p99Ms: round(percentile(latencies, 99)),
  };
  if (readings.length === 2 && latencies.length > 0) {
    const [a, b] = await Promise.all(readings);
    const client = b!.client - a!.client;
    const nodes = b!.nodes - a!.nodes;
    result.clientCpuMsPerReq = round(client / latencies.length);
    result.nodesCpuMsPerReq = round(nodes / latencies.length);
    result.cpuBusy = round((client + nodes) / (options.durationMs * navigator.hardwareConcurrency));
    const ticks = b!.machine.total - a!.machine.total;
    if (ticks > 0) {
      const idle = b!.machine.idle - a!.machine.idle + b!.machine.iowait - a!.machine.iowait;
      const steal = b!.machine.steal - a!.machine.steal;
      const busy = (ticks - idle - steal) / ticks;
      const irq = (b!.machine.irq - a!.machine.irq) / ticks;
      result.cpuIrq = round(irq);
      result.cpuOthers = round(Math.max(0, busy - irq - result.cpuBusy));
      result.cpuSteal = round((b!.machine.steal - a!.machine.steal) / ticks);
      result.cpuIowait = round((b!.machine.iowait - a!.machine.iowait) / ticks);
    }
  }
  return result;
}
