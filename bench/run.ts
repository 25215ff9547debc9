/**
 * `deno task bench`: measure hearth on this machine in one run, print a
 * table and write bench/results.json.
 *
 * 1. Crypto primitives, WebCrypto against noble (quiet machine), and the
 *    session handshake and double ratchet per message.
 * 2. Per-hop onion processing against one X25519 + AES-GCM; one HTTP
 *    exchange on loopback; an onion path of in-process hops.
 * 3. MessageStore puts, batched against sequential, on a libsql file.
 * 4. Node start-up (first start with proof of work, restarts) and the
 *    Deno baseline.
 * 5. A devnet of 7 real node processes: idle memory, then storage RPC
 *    load through 3 relays + destination and direct to the destination.
 * 6. A fresh devnet of 7: end-to-end message latency through the owner
 *    API (POST /api/messages to the recipient's /api/events) and a burst.
 * 7. On that devnet: a 20 MB file from A to B through onion paths, next to
 *    the raw AES-256-GCM speed on the same bytes.
 * 8. A fresh devnet of 7 and 100 in-process accounts in one group: the
 *    time from a send until all 99 other members have the message.
 *
 * Everything is bounded: a watchdog ends the run after 300 s, and every
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
import {
  type BenchResults,
  checkTargets,
  compareOnionToDirect,
  type HopResult,
  perRelayHopOf,
} from "./results.ts";
import { median, round } from "./stats.ts";
import { measureStartup } from "./startup.ts";
import { measureStoreBatching } from "./store_batching.ts";

const WATCHDOG_MS = 300_000;
const HOP_ROUNDS = 5;
const HOP_ITERATIONS = 600;
const RESULTS_PATH = new URL("./results.json", import.meta.url).pathname;

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
    onionVsDirect: compareOnionToDirect(devnet.loads),
    perRelayHop: perRelayHopOf(devnet.loads, onionInProcess),
    targets: checkTargets({ hop, startup, devnet, messaging }),
  };
}

async function main(): Promise<number> {
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
    await Deno.writeTextFile(RESULTS_PATH, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nresults written to ${RESULTS_PATH}`);
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
