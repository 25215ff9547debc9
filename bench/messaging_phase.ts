/**
 * End-to-end messaging on a devnet of real node processes, through the
 * owner API: the latency from `POST /api/messages` on A's node to the
 * `message` event on B's `GET /api/events` (sequential messages between
 * two accounts that are already contacts), split at A's `sent` status
 * event; then a burst of messages from A and how many per second reach
 * `sent` (stored in B's swarm through an onion path) and B's event stream.
 * @module
 */
import { type Devnet, startDevnet } from "../tools/devnet_lib.ts";
import { createAccount, EventLog, ownerApi } from "./owner_api.ts";
import { type FileTransferResult, measureFileTransfer } from "./file_phase.ts";
import { median, percentile, round } from "./stats.ts";

/** Latency percentiles of one span, ms. */
export interface Span {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Result of {@link runMessagingPhase}. */
export interface MessagingResult {
  /** Node processes in the devnet. */
  nodes: number;
  /** Sequential messages timed. */
  messages: number;
  /** POST on A to the `message` event on B. */
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
  /** A file from A to B through onion paths, next to the raw AEAD speed. */
  file: FileTransferResult;
}

/** Options of {@link runMessagingPhase}. */
export interface MessagingPhaseOptions {
  /** Where the nodes' data folders go (removed by the caller). */
  baseDir: string;
  /** Node processes (default 7). */
  nodes?: number;
  /** Sequential messages (default 50). */
  messages?: number;
  /** Messages in the burst (default 100). */
  burst?: number;
  /** Size of the file sent, bytes (default 20 MB). */
  fileBytes?: number;
  /** Called with each step's name as it starts. */
  onProgress?: (step: string) => void;
  /** Receives the devnet as soon as it exists, so the caller can stop it on abort. */
  onDevnet?: (devnet: Devnet) => void;
}

const PASS = "bench passphrase";
const WAIT_MS = 30_000;
const WARMUP = 5;

function span(values: readonly number[]): Span {
  return {
    p50Ms: round(median(values)),
    p99Ms: round(percentile(values, 99)),
    maxMs: round(Math.max(...values)),
  };
}

async function post(devnetNode: Devnet["nodes"][number], to: string, text: string) {
  const res = await ownerApi(devnetNode, "POST", "/api/messages", { to, text });
  if (res.status !== 201) throw new Error(`POST /api/messages answered ${res.status}`);
  return res.json.id as string;
}

/**
 * Start the devnet, make two accounts contacts, time the messages, stop it.
 * @param options base folder and sizes
 * @throws {Error} when the devnet does not start, or a message does not arrive in time
 */
export async function runMessagingPhase(options: MessagingPhaseOptions): Promise<MessagingResult> {
  const count = options.nodes ?? 7;
  const total = options.messages ?? 50;
  const burst = options.burst ?? 100;
  const progress = options.onProgress ?? (() => {});
  progress(`starting ${count} node processes`);
  const devnet = await startDevnet(count, {
    baseDir: options.baseDir,
    powBits: 8,
    gossipIntervalMs: 500,
  });
  options.onDevnet?.(devnet);
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

    progress(`${total} sequential messages (after ${WARMUP} warm-up)`);
    const e2e: number[] = [];
    const posts: number[] = [];
    const toSent: number[] = [];
    const sentToEvent: number[] = [];
    for (let i = 0; i < WARMUP + total; i++) {
      const t0 = performance.now();
      const id = await post(nodeA, bob, `message ${i}`);
      const t1 = performance.now();
      const got = await arrived(eventsB, id);
      const ack = await sent(id);
      if (i < WARMUP) continue;
      e2e.push(got.at - t0);
      posts.push(t1 - t0);
      toSent.push(ack.at - t0);
      sentToEvent.push(got.at - ack.at);
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
    progress(`a file of ${fileBytes / 1e6} MB`);
    const file = await measureFileTransfer(nodeA, eventsA, nodeB, eventsB, bob, fileBytes);
    return {
      nodes: count,
      messages: total,
      endToEnd: span(e2e),
      post: span(posts),
      toSent: span(toSent),
      sentToEvent: span(sentToEvent),
      burst,
      burstSentMs: round(lastSent - b0),
      burstSentPerSec: round(burst / ((lastSent - b0) / 1000)),
      burstReceivedMs: round(lastIn - b0),
      burstReceivedPerSec: round(burst / ((lastIn - b0) / 1000)),
      file,
    };
  } finally {
    for (const log of logs) await log.close();
    await devnet.stop();
  }
}
