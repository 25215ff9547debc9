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
import type { Figures } from "./figures.ts";
import { median, perRunRatios, round } from "./stats.ts";

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
  /** Onion stores per second, each round (all its onion runs of this size together). */
  onionPerSec: number[];
  /** Direct stores per second, each round (the same devnet as the onion run). */
  directPerSec: number[];
  /** onionPerSec / directPerSec, each round. */
  ratios: number[];
  /** Median of {@link ratios}. */
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
  /** What one relay hop adds (the devnet's first round). */
  perRelayHop: PerRelayHop;
  /** The headline figures, each with its runs, its reference and its target. */
  figures: Figures;
}

/** The targets, as docs/PERFORMANCE.md states them. */
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

/**
 * Compare each round's 16-in-flight onion store runs with that round's
 * direct runs of the same item size. A path may run several times in a
 * round (split windows); its rate is then all its successes over all its
 * windows.
 * @param rounds each round's load runs
 * @returns one comparison per item size, with a ratio for every round that ran both paths
 */
export function compareOnionToDirect(
  rounds: readonly (readonly NamedLoad[])[],
): OnionVsDirect[] {
  const heavy = (loads: readonly NamedLoad[]) =>
    loads.filter((l) => l.method === "store" && l.concurrency > 1);
  const rate = (runs: readonly NamedLoad[]) => {
    const windowMs = runs.reduce((n, l) => n + l.windowMs, 0);
    return windowMs === 0 ? undefined : runs.reduce((n, l) => n + l.ok, 0) / (windowMs / 1000);
  };
  const sizes = [...new Set(rounds.flatMap((loads) => heavy(loads).map((l) => l.itemBytes)))];
  const out: OnionVsDirect[] = [];
  for (const itemBytes of sizes) {
    const onionPerSec: number[] = [];
    const directPerSec: number[] = [];
    for (const loads of rounds) {
      const ofSize = heavy(loads).filter((l) => l.itemBytes === itemBytes);
      const onion = rate(ofSize.filter((l) => l.pathNodes > 1));
      const direct = rate(ofSize.filter((l) => l.pathNodes === 1));
      if (onion === undefined || direct === undefined) continue;
      onionPerSec.push(round(onion));
      directPerSec.push(round(direct));
    }
    if (onionPerSec.length === 0) continue;
    const ratios = perRunRatios(onionPerSec, directPerSec).map((r) => round(r));
    out.push({ itemBytes, onionPerSec, directPerSec, ratios, ratio: median(ratios) });
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
