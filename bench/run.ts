/**
 * `deno task bench [--out <path> | <path>]`: measure hearth on this
 * machine, print a table and write the same figures as JSON
 * (bench/results.json unless a path is given). It starts what it needs
 * (node processes on loopback) and removes it after.
 *
 * The headline comes first: each figure the median of several runs with
 * its min and max, next to a reference measured in the same runs, their
 * ratio (the median of the per-run ratios), and its target, met or not.
 * Then the sections:
 *
 * 1. Crypto primitives, WebCrypto against noble (quiet machine), and the
 *    session handshake and double ratchet per message.
 * 2. Per-hop onion processing against one X25519 + AES-GCM (15 rounds); one
 *    HTTP exchange on loopback; an onion path of in-process hops.
 * 3. MessageStore puts, batched against sequential and against a raw
 *    libsql insert of the same rows, on a libsql file (5 rounds).
 * 4. Node start-up (first start with proof of work, 5 restarts each after a
 *    `deno eval "0"`) and the Deno baseline.
 * 5. 5 rounds, each on a fresh devnet of 7 real node processes: idle
 *    memory next to a bare Deno process, then storage RPC load through
 *    3 relays + destination and direct to the destination (the first round
 *    also one request at a time, and memory after the load).
 * 6. A fresh devnet of 7: end-to-end message latency through the owner
 *    API (POST /api/messages to the recipient's /api/events), 5 rounds of
 *    50, each after onion stores from the bench as reference; a burst.
 * 7. On that devnet: 3 files of 20 MB from A to B through onion paths, each
 *    next to the raw AES-256-GCM speed on the same bytes.
 * 8. A fresh devnet of 7 and 100 in-process accounts in one group: the
 *    time from a send until all 99 other members have the message, 5 sends.
 *
 * Everything is bounded: a watchdog ends the run after 720 s (it took
 * 5½–6 minutes on the shared 2-core development machine), and every
 * process and temporary folder is removed on any exit path.
 * @module
 */
import { measureHopCost } from "../src/relay/onion/bench_hop.ts";
import { measureCryptoRates } from "./crypto_rates.ts";
import { measureSessionCosts } from "./session_costs.ts";
import { runDevnetPhase } from "./devnet_phase.ts";
import { measureHttpExchange } from "./http_exchange.ts";
import { runMessagingPhase } from "./messaging_phase.ts";
import { measureGroupFanIn } from "./group_fanin.ts";
import { describeMachine } from "./machine.ts";
import { measureOnionInProcess } from "./onion_in_process.ts";
import { machineCpu, pidsUnder } from "./process_metrics.ts";
import { renderReport } from "./report.ts";
import { BENCH_USAGE, parseBenchArgs, resolvePath } from "./bench_args.ts";
import { buildFigures } from "./figures.ts";
import {
  type BenchResults,
  compareOnionToDirect,
  type HopResult,
  perRelayHopOf,
} from "./results.ts";
import { median, round } from "./stats.ts";
import { measureStartup } from "./startup.ts";
import { measureStoreBatching } from "./store_batching.ts";

const WATCHDOG_MS = 720_000;
// Short rounds: the peel and its reference run back to back within ~60 ms, so that both
// meet the same load from other processes and the round's ratio cancels it.
const HOP_ROUNDS = 15;
const HOP_ITERATIONS = 200;
const DEFAULT_RESULTS_PATH = new URL("./results.json", import.meta.url).pathname;

function progress(step: string): void {
  console.error(`bench: ${step}`);
}

/** Share of the machine's CPU busy over one second, before the run starts. */
async function busyBeforeStart(): Promise<number | undefined> {
  const a = await machineCpu();
  await new Promise((r) => setTimeout(r, 1_000));
  const b = await machineCpu();
  if (!a || !b || b.total === a.total) return undefined;
  const idle = b.idle - a.idle + b.iowait - a.iowait + b.steal - a.steal;
  return round(1 - idle / (b.total - a.total));
}

function loadavg(): string {
  return Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
}

/** Kill the node processes this run started (found by their data folders), then remove the folder. */
async function cleanUp(root: string): Promise<void> {
  for (const pid of await pidsUnder(root)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

async function measure(root: string): Promise<BenchResults> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const loadStart = loadavg();
  const busyBefore = await busyBeforeStart();

  progress("crypto primitives");
  const crypto = await measureCryptoRates({ budgetMs: 400 });

  progress("session handshake and ratchet");
  const sessions = await measureSessionCosts({ samples: 200 });

  progress("per-hop cost");
  const hop: HopResult = {
    iterations: HOP_ITERATIONS,
    peelMs: [],
    x25519AeadMs: [],
    ratios: [],
    ratio: 0,
  };
  for (let i = 0; i < HOP_ROUNDS; i++) {
    const cost = await measureHopCost(HOP_ITERATIONS);
    hop.peelMs.push(round(cost.peelMs));
    hop.x25519AeadMs.push(round(cost.x25519AeadMs));
    hop.ratios.push(round(cost.peelMs / cost.x25519AeadMs));
  }
  hop.ratio = median(hop.ratios);

  progress("HTTP exchange and in-process onion path");
  const http = await measureHttpExchange({ budgetMs: 1_000 });
  const onionInProcess = await measureOnionInProcess({ budgetMs: 2_000, tmpDir: root });

  progress("message store batching");
  const storeBatching = await measureStoreBatching({ tmpDir: root });

  progress("node start-up");
  const startup = await measureStartup({ tmpDir: root });

  const devnet = await runDevnetPhase({
    baseDir: `${root}/devnet`,
    onProgress: (step) => progress(`devnet: ${step}`),
  });

  const messaging = await runMessagingPhase({
    baseDir: `${root}/messaging`,
    onProgress: (step) => progress(`messaging: ${step}`),
  });

  const groupFanIn = await measureGroupFanIn({
    tmpDir: root,
    onProgress: (step) => progress(`group fan-in: ${step}`),
  });

  const onionVsDirect = compareOnionToDirect(devnet.rounds.map((x) => x.loads));
  return {
    startedAt,
    totalMs: round(performance.now() - started),
    machine,
    loadavg: { start: loadStart, end: loadavg() },
    busyBeforeStart: busyBefore,
    crypto,
    sessions,
    hop,
    http,
    onionInProcess,
    storeBatching,
    startup,
    devnet,
    messaging,
    groupFanIn,
    onionVsDirect,
    perRelayHop: perRelayHopOf(devnet.rounds[0]?.loads ?? [], onionInProcess),
    figures: buildFigures({
      hop,
      storeBatching,
      startup,
      devnet,
      onionVsDirect,
      messaging,
      groupFanIn,
    }),
  };
}

/** Why `path` cannot be written (checked before minutes of measuring), or undefined. */
async function unwritable(path: string): Promise<string | undefined> {
  const existed = await Deno.stat(path).then(() => true, () => false);
  try {
    await Deno.writeTextFile(path, "", { append: true });
    if (!existed) await Deno.remove(path);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function main(): Promise<number> {
  let outPath: string;
  try {
    const args = parseBenchArgs(Deno.args);
    if (args.help) {
      console.log(BENCH_USAGE);
      return 0;
    }
    // `deno task` runs in the project's folder; a relative path means the caller's folder.
    outPath = args.outPath === undefined
      ? DEFAULT_RESULTS_PATH
      : resolvePath(Deno.env.get("INIT_CWD") ?? Deno.cwd(), args.outPath);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${BENCH_USAGE}`);
    return 2;
  }
  const problem = await unwritable(outPath);
  if (problem) {
    console.error(`bench: cannot write the results to ${outPath}: ${problem}`);
    return 2;
  }
  const root = await Deno.makeTempDir({ prefix: "hearth-bench-" });
  let aborting = false;
  const abort = async (why: string, code: number) => {
    if (aborting) return;
    aborting = true;
    console.error(`bench: ${why}; stopping the node processes`);
    await cleanUp(root);
    Deno.exit(code);
  };
  const watchdog = setTimeout(() => abort(`over ${WATCHDOG_MS / 1000} s`, 1), WATCHDOG_MS);
  const onSignal = () => abort("interrupted", 130);
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const results = await measure(root);
    console.log(renderReport(results).join("\n"));
    await Deno.writeTextFile(outPath, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nresults written to ${outPath}`);
    // A missed target is a finding, not a failure of the run: the table says NO.
    return 0;
  } finally {
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanUp(root);
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
