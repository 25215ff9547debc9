/**
 * The shape of one bench run's results (written to bench/results.json)
 * and the targets they are checked against.
 * @module
 */
import type { SessionCost } from "./session_costs.ts";
import type { CryptoRate } from "./crypto_rates.ts";
import type { DevnetResult, NamedLoad } from "./devnet_phase.ts";
import type { HttpExchangeRate } from "./http_exchange.ts";
import type { MachineInfo } from "./machine.ts";
import type { MessagingResult } from "./messaging_phase.ts";
import type { GroupFanInResult } from "./group_fanin.ts";
import type { InProcessPathCost } from "./onion_in_process.ts";
import type { StartupResult } from "./startup.ts";
import type { StoreBatchingResult } from "./store_batching.ts";
import { round } from "./stats.ts";

/** Per-hop processing against the floor of any layered design. */
export interface HopResult {
  /** Iterations of each round. */
  iterations: number;
  /** Mean time to peel one forward layer of a 16 KiB packet, ms, each round. */
  peelMs: number[];
  /** Mean time of one X25519 and one AES-GCM over 16 KiB, ms, each round. */
  x25519AeadMs: number[];
  /** peelMs / x25519AeadMs, each round. */
  ratios: number[];
  /** Median of {@link ratios}. */
  ratio: number;
}

/** Onion (3 relays + destination) against direct (destination alone), one item size. */
export interface OnionVsDirect {
  /** Data bytes of each item. */
  itemBytes: number;
  /** Onion stores per second. */
  onionPerSec: number;
  /** Direct stores per second. */
  directPerSec: number;
  /** onionPerSec / directPerSec. */
  ratio: number;
}

/**
 * What one relay hop adds, from the 1-in-flight swarm lookups (3 relays
 * against none, divided by 3) and from the in-process path (4 nodes
 * against 1, divided by 3).
 */
export interface PerRelayHop {
  /** Added median latency on the devnet, ms. */
  p50Ms: number;
  /** Added CPU of the node processes, ms. */
  nodesCpuMs: number;
  /** Added CPU of the client (one more layer to build and open), ms. */
  clientCpuMs: number;
  /** Added CPU with every hop in one process (client included), ms. */
  inProcessCpuMs: number;
}

/** One target and whether this run met it. */
export interface TargetCheck {
  /** What is measured. */
  name: string;
  /** The target, as text. */
  target: string;
  /** What this run measured, as text. */
  measured: string;
  /** Whether the target was met. */
  met: boolean;
}

/** Everything one run measured. */
export interface BenchResults {
  /** When the run started, ISO 8601. */
  startedAt: string;
  /** Wall time of the whole run, ms. */
  totalMs: number;
  /** The machine and runtime. */
  machine: MachineInfo;
  /** /proc/loadavg before and after: shows other load on the machine. */
  loadavg: { start: string; end: string };
  /** Share of the machine's CPU busy in the second before the run (other load), 0 to 1. */
  busyBeforeStart?: number;
  /** Crypto primitives per second. */
  crypto: CryptoRate[];
  /** The session handshake and the double ratchet, per operation. */
  sessions: SessionCost[];
  /** Per-hop onion processing. */
  hop: HopResult;
  /** HTTP exchanges on loopback. */
  http: HttpExchangeRate[];
  /** The onion path with every hop in this process. */
  onionInProcess: InProcessPathCost[];
  /** MessageStore batched against sequential puts. */
  storeBatching: StoreBatchingResult;
  /** Node start-up and the Deno baseline. */
  startup: StartupResult;
  /** The devnet: memory and load runs. */
  devnet: DevnetResult;
  /** End-to-end messaging through the owner API on a devnet (and a file transfer). */
  messaging: MessagingResult;
  /** Group message fan-in, 100 in-process accounts on a devnet. */
  groupFanIn: GroupFanInResult;
  /** Onion against direct store throughput, per item size. */
  onionVsDirect: OnionVsDirect[];
  /** What one relay hop adds. */
  perRelayHop: PerRelayHop;
  /** The targets and whether they were met. */
  targets: TargetCheck[];
}

/** The targets, as stated in the performance brief. */
export const TARGETS = {
  /** Peel of one layer within this factor of X25519 + AES-GCM. */
  hopRatio: 2,
  /** Idle RSS of a node below this, bytes (100 MB). */
  idleRssBytes: 100e6,
  /** A restart (identity saved) answers /v1/info within this, ms. */
  restartMs: 1_000,
  /** Median message latency, POST on the sender's node to the recipient's event, below this, ms. */
  messageP50Ms: 100,
} as const;

/** Pair each 16-in-flight onion store run with the direct run of the same item size. */
export function compareOnionToDirect(loads: readonly NamedLoad[]): OnionVsDirect[] {
  const heavy = loads.filter((l) => l.method === "store" && l.concurrency > 1);
  const out: OnionVsDirect[] = [];
  for (const onion of heavy.filter((l) => l.pathNodes > 1)) {
    const direct = heavy.find((l) => l.pathNodes === 1 && l.itemBytes === onion.itemBytes);
    if (!direct) continue;
    out.push({
      itemBytes: onion.itemBytes,
      onionPerSec: onion.perSec,
      directPerSec: direct.perSec,
      ratio: round(onion.perSec / direct.perSec),
    });
  }
  return out;
}

/** Derive {@link PerRelayHop} from the swarm lookups and the in-process path. */
export function perRelayHopOf(
  loads: readonly NamedLoad[],
  inProcess: readonly InProcessPathCost[],
): PerRelayHop {
  const lookup = (nodes: number) =>
    loads.find((l) => l.method === "swarm" && l.concurrency === 1 && l.pathNodes === nodes);
  const direct = lookup(1);
  const onion = lookup(4);
  const relays = (onion?.pathNodes ?? 4) - 1;
  const diff = (pick: (l: NamedLoad) => number | undefined) => {
    const a = direct && pick(direct);
    const b = onion && pick(onion);
    return a === undefined || b === undefined ? NaN : round((b - a) / relays);
  };
  const one = inProcess.find((c) => c.pathNodes === 1);
  const four = inProcess.find((c) => c.pathNodes === 4);
  return {
    p50Ms: diff((l) => l.p50Ms),
    nodesCpuMs: diff((l) => l.nodesCpuMsPerReq),
    clientCpuMs: diff((l) => l.clientCpuMsPerReq),
    inProcessCpuMs: one && four ? round((four.cpuMsPerReq - one.cpuMsPerReq) / 3) : NaN,
  };
}

/** Check a run's numbers against {@link TARGETS}. */
export function checkTargets(
  parts: {
    hop: HopResult;
    startup: StartupResult;
    devnet: DevnetResult;
    messaging: MessagingResult;
  },
): TargetCheck[] {
  const idleMiB = parts.devnet.idleMemory.maxMiB;
  const idleMB = (idleMiB * 1_048_576) / 1e6;
  return [
    {
      name: "per-hop peel vs X25519 + AES-GCM (16 KiB)",
      target: `<= ${TARGETS.hopRatio}x`,
      measured: `${parts.hop.ratio}x`,
      met: parts.hop.ratio <= TARGETS.hopRatio,
    },
    {
      name: "idle node RSS (largest of the devnet)",
      target: `< ${TARGETS.idleRssBytes / 1e6} MB`,
      measured: `${round(idleMB)} MB (${idleMiB} MiB)`,
      met: idleMiB * 1_048_576 < TARGETS.idleRssBytes,
    },
    {
      name: "node start to first /v1/info (saved identity, median)",
      target: `< ${TARGETS.restartMs} ms`,
      measured: `${parts.startup.restartMedianMs} ms`,
      met: parts.startup.restartMedianMs < TARGETS.restartMs,
    },
    {
      name: "message latency, POST /api/messages to /api/events (p50)",
      target: `< ${TARGETS.messageP50Ms} ms`,
      measured: `${parts.messaging.endToEnd.p50Ms} ms`,
      met: parts.messaging.endToEnd.p50Ms < TARGETS.messageP50Ms,
    },
  ];
}
