/**
 * Start-up time of a node: from spawning `main.ts` to the first successful
 * `GET /v1/info`, polled every few milliseconds. The first start of a data
 * folder solves the proof of work; later starts load the saved identity.
 * The start of a bare Deno process is measured too, for context.
 * @module
 */
import { freePort, MAIN_PATH, NODE_RUN_FLAGS } from "../tools/devnet_lib.ts";
import { rssMiB } from "./process_metrics.ts";
import { median, round } from "./stats.ts";

const POLL_MS = 5;
const START_TIMEOUT_MS = 60_000;

/** Result of {@link measureStartup}. */
export interface StartupResult {
  /** `deno eval "0"`: spawn to exit, ms, each run (run i right before restart i). */
  denoEvalMs: number[];
  /** Median of {@link denoEvalMs}. */
  denoEvalMedianMs: number;
  /** RSS of a bare Deno process idling in a timer, MiB: the runtime's own floor. */
  denoIdleRssMiB: number;
  /** Proof-of-work bits of the first start. */
  firstStartPowBits: number;
  /** First starts of fresh data folders (identity and proof of work created), ms, each run. */
  firstStartMs: number[];
  /** Median of {@link firstStartMs}; the proof of work's time varies a lot from key to key. */
  firstStartMedianMs: number;
  /** Later starts of the same folder (identity loaded), ms, each run (paired with {@link denoEvalMs}). */
  restartMs: number[];
  /** Median of {@link restartMs}. */
  restartMedianMs: number;
}

async function answersInfo(addr: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/v1/info`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Start `main.ts` on a free loopback port with no seeds and no helper
 * relays, time it until `/v1/info` answers, then stop it with SIGTERM.
 * @param dataDir the node's data folder
 * @param options.powBits proof-of-work bits
 * @returns milliseconds from spawn to the first good answer
 * @throws {Error} when the node exits or does not answer within 60 s
 */
export async function timeNodeStart(
  dataDir: string,
  options: { powBits: number },
): Promise<number> {
  const addr = `127.0.0.1:${freePort()}`;
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...NODE_RUN_FLAGS,
      MAIN_PATH,
      "--data-dir",
      dataDir,
      "--listen",
      addr,
      "--web",
      "127.0.0.1:0",
      "--pow-bits",
      String(options.powBits),
      "--rate-limit",
      "off",
      "--no-local-net",
      "--log-level",
      "warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    while (!(await answersInfo(addr))) {
      if (exited) throw new Error("Node exited during start-up");
      if (performance.now() - start > START_TIMEOUT_MS) {
        throw new Error("Node did not answer within 60 s");
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return performance.now() - start;
  } finally {
    if (!exited) child.kill("SIGTERM");
    await status;
  }
}

async function timeDenoEval(): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "0"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error("deno eval failed");
  return performance.now() - start;
}

/** A bare Deno process idling in a timer: the runtime's own memory floor. */
export interface BareDeno {
  /** Its process ID. */
  pid: number;
  /** Stop it and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Spawn a Deno process that does nothing but wait. It exits by itself after
 * `lifetimeMs`, so it cannot outlive an interrupted run by long.
 * @param options.lifetimeMs how long it waits before it exits (default 30,000)
 */
export function startBareDeno(options: { lifetimeMs?: number } = {}): BareDeno {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", `await new Promise((r) => setTimeout(r, ${options.lifetimeMs ?? 30_000}))`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
    },
  };
}

async function bareDenoRss(): Promise<number> {
  const bare = startBareDeno();
  try {
    await new Promise((r) => setTimeout(r, 1_500));
    const rss = await rssMiB(bare.pid);
    if (rss === undefined) throw new Error("Could not read the bare Deno process's memory");
    return rss;
  } finally {
    await bare.stop();
  }
}

/**
 * Measure a few first starts, then several restarts, each right after a
 * `deno eval "0"` (its reference, measured in the same run), and the RSS of
 * a bare Deno process.
 * @param options.tmpDir where to make the node's temporary data folder
 * @param options.firstStartPowBits proof-of-work bits (default 20, the flag's default)
 * @param options.firstStarts how many fresh folders to start (default 3)
 * @param options.restarts how many restarts of the first folder to time, each paired with a
 *   `deno eval "0"` (default 5)
 */
export async function measureStartup(
  options: {
    tmpDir?: string;
    firstStartPowBits?: number;
    firstStarts?: number;
    restarts?: number;
  } = {},
): Promise<StartupResult> {
  const powBits = options.firstStartPowBits ?? 20;
  const denoIdleRssMiB = round(await bareDenoRss());
  const dir = await Deno.makeTempDir({ prefix: "hearth-bench-start-", dir: options.tmpDir });
  try {
    const firstStartMs: number[] = [];
    for (let i = 0; i < (options.firstStarts ?? 3); i++) {
      firstStartMs.push(round(await timeNodeStart(`${dir}/node-${i}`, { powBits })));
    }
    const denoEvalMs: number[] = [];
    const restartMs: number[] = [];
    for (let i = 0; i < (options.restarts ?? 5); i++) {
      denoEvalMs.push(round(await timeDenoEval()));
      restartMs.push(round(await timeNodeStart(`${dir}/node-0`, { powBits })));
    }
    return {
      denoEvalMs,
      denoEvalMedianMs: median(denoEvalMs),
      denoIdleRssMiB,
      firstStartPowBits: powBits,
      firstStartMs,
      firstStartMedianMs: median(firstStartMs),
      restartMs,
      restartMedianMs: median(restartMs),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
