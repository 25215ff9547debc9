/**
 * End-to-end messaging on a devnet of real node processes, through the
 * owner API: the latency from `POST /api/messages` on A's node to the
 * `message` event on B's `GET /api/events` (sequential messages between
 * two accounts that are already contacts), split at A's `sent` status
 * event, in several rounds, each next to its reference: onion stores of
 * 1 KiB through 3 relays, one at a time, sent by the bench's own process on
 * the same devnet just before the round's messages. Then a burst of
 * messages from A and how many per second reach `sent` (stored in B's
 * swarm through an onion path) and B's event stream, and several file
 * transfers from A to B.
 * @module
 */
import { type Devnet, startDevnet } from "../tools/devnet_lib.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { createAccount, EventLog, ownerApi } from "./owner_api.ts";
import { type FileTransferResult, measureFileTransfer } from "./file_phase.ts";
import { median, percentile, round } from "./stats.ts";
import { type LoadResult, runLoad } from "./store_load.ts";

/** Latency percentiles of one span, ms. */
export interface Span {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One round of sequential messages, next to its reference. */
export interface MessagingRound {
  /** POST on A to the `message` event on B. */
  endToEnd: Span;
  /** Onion stores of 1 KiB through 3 relays, 1 in flight, from the bench process, just before. */
  reference: LoadResult;
}

/** Result of {@link runMessagingPhase}. */
export interface MessagingResult {
  /** Node processes in the devnet. */
  nodes: number;
  /** Sequential messages timed in each round. */
  messages: number;
  /** The rounds of sequential messages. */
  rounds: MessagingRound[];
  /** POST on A to the `message` event on B, every round's messages together. */
  endToEnd: Span;
  /** POST on A until its answer (queued in A's client database). */
  post: Span;
  /** POST on A to A's `sent` status event (stored in B's swarm, W members). */
  toSent: Span;
  /** A's `sent` event to B's `message` event (long-poll wake-up, retrieve, processing). */
  sentToEvent: Span;
  /** Messages in the burst. */
  burst: number;
  /** Burst: first POST until the last `sent`, ms. */
  burstSentMs: number;
  /** Burst messages per second to `sent`. */
  burstSentPerSec: number;
  /** Burst: first POST until the last `message` event on B, ms. */
  burstReceivedMs: number;
  /** Burst messages per second to B's event stream. */
  burstReceivedPerSec: number;
  /** Files from A to B through onion paths, each next to the raw AEAD speed. */
  files: FileTransferResult[];
}

/** Options of {@link runMessagingPhase}. */
export interface MessagingPhaseOptions {
  /** Where the nodes' data folders go (removed by the caller). */
  baseDir: string;
  /** Node processes (default 7). */
  nodes?: number;
  /** Rounds of sequential messages (default 5). */
  rounds?: number;
  /** Sequential messages in each round (default 50). */
  messages?: number;
  /** Messages in the burst (default 100). */
  burst?: number;
  /** Size of each file sent, bytes (default 20 MB). */
  fileBytes?: number;
  /** Files sent, one after another (default 3). */
  files?: number;
  /** Called with each step's name as it starts. */
  onProgress?: (step: string) => void;
}

const PASS = "bench passphrase";
const WAIT_MS = 30_000;
const WARMUP = 5;
/** The reference run before each round: one onion store at a time for this long, ms. */
const REFERENCE_MS = 2_000;

function span(values: readonly number[]): Span {
  return {
    p50Ms: round(median(values)),
    p99Ms: round(percentile(values, 99)),
    maxMs: round(Math.max(...values)),
  };
}

async function directoryOf(addr: string): Promise<NodeRecord[]> {
  const res = await fetch(`http://${addr}/v1/directory`);
  if (!res.ok) throw new Error(`Directory request failed with ${res.status}`);
  return ((await res.json()) as { records: NodeRecord[] }).records;
}

async function post(devnetNode: Devnet["nodes"][number], to: string, text: string) {
  const res = await ownerApi(devnetNode, "POST", "/api/messages", { to, text });
  if (res.status !== 201) throw new Error(`POST /api/messages answered ${res.status}`);
  return res.json.id as string;
}

/**
 * Start the devnet, make two accounts contacts, time the messages and the
 * files, stop it.
 * @param options base folder and sizes
 * @throws {Error} when the devnet does not start, or a message does not arrive in time
 */
export async function runMessagingPhase(options: MessagingPhaseOptions): Promise<MessagingResult> {
  const count = options.nodes ?? 7;
  const total = options.messages ?? 50;
  const roundCount = options.rounds ?? 5;
  const fileCount = options.files ?? 3;
  const burst = options.burst ?? 100;
  const progress = options.onProgress ?? (() => {});
  progress(`starting ${count} node processes`);
  const devnet = await startDevnet(count, {
    baseDir: options.baseDir,
    powBits: 8,
    gossipIntervalMs: 500,
  });
  const logs: EventLog[] = [];
  try {
    await devnet.converge(count, 60_000);
    const [nodeA, nodeB] = [devnet.nodes[1]!, devnet.nodes[2]!];
    progress("two accounts become contacts");
    const alice = await createAccount(nodeA, { passphrase: PASS, displayName: "Alice" });
    const bob = await createAccount(nodeB, { passphrase: PASS, displayName: "Bob" });
    const eventsA = await EventLog.open(nodeA);
    const eventsB = await EventLog.open(nodeB);
    logs.push(eventsA, eventsB);
    const arrived = (log: EventLog, id: string) =>
      log.waitFor((e) => e.event === "message" && e.data.id === id, WAIT_MS);
    const sent = (id: string) =>
      eventsA.waitFor(
        (e) => e.event === "status" && e.data.id === id && e.data.status === "sent",
        WAIT_MS,
      );
    await arrived(eventsB, await post(nodeA, bob, "hello"));
    const accepted = await ownerApi(nodeB, "POST", `/api/requests/${alice}/accept`);
    if (accepted.status !== 200) throw new Error(`Accept answered ${accepted.status}`);
    await arrived(eventsA, await post(nodeB, alice, "hi"));

    const directory = await directoryOf(devnet.nodes[0]!.addr);
    const rounds: MessagingRound[] = [];
    const e2e: number[] = [];
    const posts: number[] = [];
    const toSent: number[] = [];
    const sentToEvent: number[] = [];
    for (let r = 0; r < roundCount; r++) {
      progress(`round ${r + 1}/${roundCount}: reference, onion stores 1 in flight`);
      const reference = await runLoad(directory, {
        relays: 3,
        itemBytes: 1_024,
        concurrency: 1,
        durationMs: REFERENCE_MS,
        warmupMs: 300,
      });
      progress(
        `round ${r + 1}/${roundCount}: ${total} sequential messages (after ${WARMUP} warm-up)`,
      );
      const roundE2e: number[] = [];
      for (let i = 0; i < WARMUP + total; i++) {
        const t0 = performance.now();
        const id = await post(nodeA, bob, `message ${r}.${i}`);
        const t1 = performance.now();
        const got = await arrived(eventsB, id);
        const ack = await sent(id);
        if (i < WARMUP) continue;
        roundE2e.push(got.at - t0);
        posts.push(t1 - t0);
        toSent.push(ack.at - t0);
        sentToEvent.push(got.at - ack.at);
      }
      e2e.push(...roundE2e);
      rounds.push({ endToEnd: span(roundE2e), reference });
    }

    progress(`a burst of ${burst} messages`);
    const b0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: burst }, (_, i) => post(nodeA, bob, `burst ${i}`)),
    );
    let lastSent = 0;
    let lastIn = 0;
    for (const id of ids) {
      lastSent = Math.max(lastSent, (await sent(id)).at);
      lastIn = Math.max(lastIn, (await arrived(eventsB, id)).at);
    }

    const fileBytes = options.fileBytes ?? 20_000_000;
    const files: FileTransferResult[] = [];
    for (let f = 0; f < fileCount; f++) {
      progress(`file ${f + 1}/${fileCount}: ${fileBytes / 1e6} MB`);
      files.push(await measureFileTransfer(nodeA, eventsA, nodeB, eventsB, bob, fileBytes));
    }
    return {
      nodes: count,
      messages: total,
      rounds,
      endToEnd: span(e2e),
      post: span(posts),
      toSent: span(toSent),
      sentToEvent: span(sentToEvent),
      burst,
      burstSentMs: round(lastSent - b0),
      burstSentPerSec: round(burst / ((lastSent - b0) / 1000)),
      burstReceivedMs: round(lastIn - b0),
      burstReceivedPerSec: round(burst / ((lastIn - b0) / 1000)),
      files,
    };
  } finally {
    for (const log of logs) await log.close();
    await devnet.stop();
  }
}
