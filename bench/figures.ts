/**
 * The bench's headline figures: each the median of several runs with its
 * min and max, next to a reference measured in the same runs, the ratio of
 * the two (the median of the per-run ratios: a ratio taken within one run
 * cancels what slowed both of its measurements on a noisy machine, which a
 * ratio of two medians would not), what bounds it, and its target where
 * docs/PERFORMANCE.md states one (judged on the median).
 * @module
 */
import type { DevnetResult } from "./devnet_phase.ts";
import type { GroupFanInResult } from "./group_fanin.ts";
import type { MessagingResult } from "./messaging_phase.ts";
import type { HopResult, OnionVsDirect } from "./results.ts";
import { TARGETS } from "./results.ts";
import { perRunRatios, round, type Spread, spreadOf } from "./stats.ts";
import type { StartupResult } from "./startup.ts";
import type { StoreBatchingResult } from "./store_batching.ts";

/** A target as docs/PERFORMANCE.md states it, checked against a figure's median. */
export interface FigureTarget {
  /** Which median is checked: the figure's own, or its ratio's. */
  on: "value" | "ratio";
  /** The comparison. */
  op: "<" | "<=";
  /** The limit, in the figure's unit (or as a ratio). */
  limit: number;
  /** The target as text, e.g. "< 100 MB". */
  text: string;
  /** Whether the median met it. */
  met: boolean;
}

/** What a figure is compared with, measured in the same runs. */
export interface FigureReference {
  /** What the reference is. */
  name: string;
  /** Its unit. */
  unit: string;
  /** Its median, min and max over the runs. */
  value: Spread;
  /** Its value in each run, in the order of the figure's runs. */
  perRun: number[];
}

/** One headline figure. */
export interface Figure {
  /** What is measured. */
  name: string;
  /** The unit of {@link value}. */
  unit: string;
  /** Median, min and max over the runs, and the number of runs. */
  value: Spread;
  /** The value of each run. */
  perRun: number[];
  /** The reference, measured in the same runs. */
  reference: FigureReference;
  /** value / reference: the median, min and max of the per-run ratios. */
  ratio: Spread;
  /** What limits the figure, in one line. */
  bound: string;
  /** The target, where there is one. */
  target?: FigureTarget;
}

/** The headline figures, by key (stable names for scripts reading the JSON). */
export type Figures = Record<string, Figure>;

/** What {@link figureOf} needs: the runs of a figure and of its reference. */
export interface FigureSpec {
  /** What is measured. */
  name: string;
  /** The unit of the values. */
  unit: string;
  /** One value per run. */
  values: readonly number[];
  /** The reference: what it is, its unit, and its value in each run (same order). */
  reference: { name: string; unit: string; values: readonly number[] };
  /** What limits the figure, in one line. */
  bound: string;
  /** The target, where there is one. */
  target?: Omit<FigureTarget, "met">;
}

/**
 * Summarise one figure: spreads of the runs and of the reference, the
 * per-run ratios, and the target check on the median.
 * @param spec the runs, the reference's runs (same count, same order), the bound and the target
 * @returns the figure
 * @throws {RangeError} when the runs and the reference's runs differ in count
 */
export function figureOf(spec: FigureSpec): Figure {
  const ratio = spreadOf(perRunRatios(spec.values, spec.reference.values));
  const value = spreadOf(spec.values);
  const figure: Figure = {
    name: spec.name,
    unit: spec.unit,
    value,
    perRun: spec.values.map((v) => round(v)),
    reference: {
      name: spec.reference.name,
      unit: spec.reference.unit,
      value: spreadOf(spec.reference.values),
      perRun: spec.reference.values.map((v) => round(v)),
    },
    ratio,
    bound: spec.bound,
  };
  if (spec.target) {
    const checked = spec.target.on === "value" ? value.median : ratio.median;
    const met = spec.target.op === "<" ? checked < spec.target.limit : checked <= spec.target.limit;
    figure.target = { ...spec.target, met };
  }
  return figure;
}

/** The parts of a run the figures are drawn from. */
export interface FigureInputs {
  /** Per-hop peel against X25519 + AES-GCM, each round. */
  hop: HopResult;
  /** MessageStore puts and the raw insert, each round. */
  storeBatching: StoreBatchingResult;
  /** Restarts, each after a `deno eval "0"`. */
  startup: StartupResult;
  /** The devnet rounds: idle memory and loads. */
  devnet: DevnetResult;
  /** Onion against direct throughput, each round. */
  onionVsDirect: OnionVsDirect[];
  /** Message latency rounds and file transfers. */
  messaging: MessagingResult;
  /** Group fan-in, each send. */
  groupFanIn: GroupFanInResult;
}

const MIB = 1_048_576;

/**
 * Draw the headline figures from a run's results.
 * @param r the results of every section
 * @returns the figures, in the order the report prints them
 */
export function buildFigures(r: FigureInputs): Figures {
  const figures: Figures = {};
  const c = r.devnet.concurrency;
  for (const o of r.onionVsDirect) {
    const size = `${o.itemBytes / 1024} KiB`;
    figures[`onion_store_${o.itemBytes / 1024}kib`] = figureOf({
      name: `onion store ${size}, 3 relays + destination, ${c} in flight`,
      unit: "stores/s",
      values: o.onionPerSec,
      reference: { name: "direct to the destination", unit: "stores/s", values: o.directPerSec },
      bound: "CPU: the client and 7 nodes share 2 cores, so throughput is 2 cores / CPU per " +
        "request; each relay adds a fixed CPU cost per request (about 1.3 ms of node CPU)",
    });
  }
  figures.hop = figureOf({
    name: "peel one onion layer, 16 KiB packet",
    unit: "ms",
    values: r.hop.peelMs,
    reference: { name: "one X25519 + AES-GCM seal", unit: "ms", values: r.hop.x25519AeadMs },
    bound: "the floor (X25519 + AEAD) plus a key derivation, the routing slot's AES-GCM and an " +
      "AES-CTR pass over the packet: the count of WebCrypto calls, each with a fixed cost",
    target: {
      on: "ratio",
      op: "<=",
      limit: TARGETS.hopRatio,
      text: `ratio <= ${TARGETS.hopRatio}`,
    },
  });
  const rounds = r.messaging.rounds;
  figures.message_p50 = figureOf({
    name: "message latency p50, POST /api/messages to the recipient's event",
    unit: "ms",
    values: rounds.map((x) => x.endToEnd.p50Ms),
    reference: {
      name: "onion store 1 KiB, 3 relays, p50",
      unit: "ms",
      values: rounds.map((x) => x.reference.p50Ms),
    },
    bound: "one onion store acknowledged by W = 3 swarm members (fsync each), then the " +
      "recipient's long-poll answer through its own 3 relays; two fsync'd client transactions",
    target: {
      on: "value",
      op: "<",
      limit: TARGETS.messageP50Ms,
      text: `< ${TARGETS.messageP50Ms} ms`,
    },
  });
  figures.message_p99 = figureOf({
    name: `message latency p99 (of ${r.messaging.messages} per run)`,
    unit: "ms",
    values: rounds.map((x) => x.endToEnd.p99Ms),
    reference: {
      name: "onion store 1 KiB, 3 relays, p99",
      unit: "ms",
      values: rounds.map((x) => x.reference.p99Ms),
    },
    bound: "scheduling: 7 node processes and the bench on 2 shared cores; the slowest message " +
      "of a run",
  });
  const b = r.storeBatching;
  const perSec = (ms: number) => b.items / (ms / 1000);
  figures.store_puts = figureOf({
    name: `MessageStore, ${b.items} puts of ${b.itemBytes / 1024} KiB at once`,
    unit: "items/s",
    values: b.concurrent.roundsMs.map(perSec),
    reference: {
      name: "raw libsql insert, same rows, one transaction",
      unit: "items/s",
      values: b.raw.roundsMs.map(perSec),
    },
    bound: "fsync'd commits of up to 512 items; beyond the raw insert, kysely, the expired-copy " +
      "and tombstone checks and RETURNING",
  });
  const files = r.messaging.files;
  const fileMB = files[0] ? `${round(files[0].bytes / 1e6)} MB` : "file";
  const raw = {
    name: "raw AES-256-GCM, same bytes",
    unit: "MB/s",
    values: files.map((f) => f.rawAeadMBps),
  };
  figures.file_upload = figureOf({
    name: `${fileMB} file upload through onion paths, POST to uploaded`,
    unit: "MB/s",
    values: files.map((f) => f.uploadMBps),
    reference: raw,
    bound: "each 64 KiB chunk is an onion store through 3 relays, fsync'd and replicated to 5 " +
      "members, 4 in flight, every process on the same 2 cores: not the cipher",
  });
  figures.file_download = figureOf({
    name: `${fileMB} file download through onion paths, GET to the last byte`,
    unit: "MB/s",
    values: files.map((f) => f.downloadMBps),
    reference: raw,
    bound: "one onion retrieve per chunk from one member (no replication, no fsync), 6 in " +
      "flight, then verify and store in the client database",
  });
  const mb = (mib: number) => (mib * MIB) / 1e6;
  figures.idle_rss = figureOf({
    name: `idle RSS of a node, largest of ${r.devnet.nodes}, after ${r.devnet.idleMs / 1000} s`,
    unit: "MB",
    values: r.devnet.rounds.map((x) => mb(x.idleMemory.maxMiB)),
    reference: {
      name: "bare Deno process",
      unit: "MB",
      values: r.devnet.rounds.map((x) => mb(x.bareDenoRssMiB)),
    },
    bound: "the runtime (bare Deno), libsql's native library (about 20 MiB), the JS libraries " +
      "(about 10 MiB) and the node's heap (young generation capped at 1 MiB per semi-space)",
    target: {
      on: "value",
      op: "<",
      limit: TARGETS.idleRssBytes / 1e6,
      text: `< ${TARGETS.idleRssBytes / 1e6} MB`,
    },
  });
  figures.restart = figureOf({
    name: "node restart (saved identity) to first /v1/info",
    unit: "ms",
    values: r.startup.restartMs,
    reference: { name: 'deno eval "0", spawn to exit', unit: "ms", values: r.startup.denoEvalMs },
    bound: "loading the module graph and libsql, opening the database, binding the ports",
    target: {
      on: "value",
      op: "<",
      limit: TARGETS.restartMs,
      text: `< ${TARGETS.restartMs} ms`,
    },
  });
  const g = r.groupFanIn;
  figures.group_fanin = figureOf({
    name: `group of ${g.members}: send until all ${g.members - 1} others have it`,
    unit: "ms",
    values: g.fanInMs,
    reference: { name: "the first member has it", unit: "ms", values: g.firstArrivalMs },
    bound: `the ${g.members - 1} recipients share the bench's one JS thread: each opens, ` +
      "verifies and stores the message in turn; the first arrives after one message latency",
  });
  return figures;
}
