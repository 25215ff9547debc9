/**
 * Real node processes on loopback: the devnet behind `deno task devnet`
 * and the multi-node tests. Each node is `main.ts` in its own process with
 * its own data folder; its stdout and stderr go to `<dataDir>/node.log`.
 * @module
 */

/** Path of the node's entry point. */
export const MAIN_PATH = new URL("../main.ts", import.meta.url).pathname;

/** The permissions a node process runs with (as `deno task start`). */
export const NODE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
];

/**
 * The V8 flags a node process runs with (as `deno task start`): a young
 * generation of at most 1 MiB per semi-space, which keeps an idle node under
 * 100 MB and a loaded one near 170 MiB instead of 250, for 10-15 % of store
 * throughput (docs/PERFORMANCE.md, run 5).
 */
export const NODE_V8_FLAGS = ["--v8-flags=--max-semi-space-size=1"];

/** Everything between `deno run` and `main.ts` for a node process: {@link NODE_PERMISSIONS} and {@link NODE_V8_FLAGS}. */
export const NODE_RUN_FLAGS: readonly string[] = [...NODE_PERMISSIONS, ...NODE_V8_FLAGS];

/** A node process of the devnet. */
export interface NodeProcess {
  /** Relay address, "127.0.0.1:port". */
  addr: string;
  /** Web port (owner API) address, "127.0.0.1:port". */
  webAddr: string;
  /** The owner token (from `<dataDir>/owner-token`), for `Authorization: Bearer`. */
  ownerToken: string;
  dataDir: string;
  /** The process id. */
  pid: number;
  /** Path of the file holding the node's stdout and stderr. */
  logPath: string;
  /** Send a signal (default SIGTERM) and wait for the process to end (killed after 30 s). */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Whether the process has ended. */
  readonly exited: boolean;
}

/** Options of {@link spawnNode}. */
export interface SpawnOptions {
  dataDir: string;
  port: number;
  /** The web port (default: a free port); never the default 7080, so nodes do not collide. */
  webPort?: number;
  seeds?: string[];
  powBits?: number;
  gossipIntervalMs?: number;
  logLevel?: string;
  extraArgs?: string[];
}

/** How long {@link NodeProcess.stop} waits for a node to end before it kills it, ms. */
const STOP_GRACE_MS = 30_000;

/** Find a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Start one node process and wait until its relay port and its web port answer. */
export async function spawnNode(options: SpawnOptions): Promise<NodeProcess> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  const addr = `127.0.0.1:${options.port}`;
  let webPort = options.webPort ?? freePort();
  // Two free ports picked one after the other can be the same one.
  while (options.webPort === undefined && webPort === options.port) webPort = freePort();
  const webAddr = `127.0.0.1:${webPort}`;
  const args = [
    "run",
    ...NODE_RUN_FLAGS,
    MAIN_PATH,
    "--data-dir",
    options.dataDir,
    "--listen",
    addr,
    "--web",
    webAddr,
    "--pow-bits",
    String(options.powBits ?? 8),
    "--rate-limit",
    "off",
    "--no-local-net",
    "--log-level",
    options.logLevel ?? "info",
    ...(options.seeds ?? []).flatMap((s) => ["--seed", s]),
    ...(options.extraArgs ?? []),
  ];
  const logPath = `${options.dataDir}/node.log`;
  const logFile = await Deno.open(logPath, { create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { HEARTH_GOSSIP_INTERVAL_MS: String(options.gossipIntervalMs ?? 500), NO_COLOR: "1" },
  }).spawn();
  const sink = new WritableStream<Uint8Array>({
    write: (chunk) => logFile.write(chunk).then(() => {}),
  });
  const merged = mergeStreams(child.stdout, child.stderr);
  const piping = merged.pipeTo(sink).catch(() => {}).finally(() => logFile.close());
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await piping;
    return s;
  });
  const node: NodeProcess = {
    addr,
    webAddr,
    ownerToken: "",
    dataDir: options.dataDir,
    pid: child.pid,
    logPath,
    get exited() {
      return exited;
    },
    stop: async (signal: Deno.Signal = "SIGTERM") => {
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      // A node that has not ended 30 s after the signal is killed, so no test waits forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_GRACE_MS));
      await Promise.race([status, late]);
      clearTimeout(timer);
      if (!exited) {
        await Deno.writeTextFile(logPath, "devnet: no exit 30 s after the signal; killed\n", {
          append: true,
        }).catch(() => {});
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
      return await status;
    },
  };
  const deadline = Date.now() + 120_000;
  while (true) {
    if (exited) {
      const log = await Deno.readTextFile(logPath).catch(() => "");
      throw new Error(`Node exited during start-up:\n${log.slice(-2000)}`);
    }
    if (await infoOf(addr) && await webAnswers(webAddr)) {
      node.ownerToken = (await Deno.readTextFile(`${options.dataDir}/owner-token`)).trim();
      return node;
    }
    if (Date.now() > deadline) {
      await node.stop("SIGKILL");
      throw new Error("Node did not start within 120 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether anything answers HTTP at `addr` (the web port answers 404 at "/"). */
async function webAnswers(addr: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function mergeStreams(a: ReadableStream<Uint8Array>, b: ReadableStream<Uint8Array>) {
  let open = 2;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const s of [a, b]) {
        (async () => {
          for await (const chunk of s) controller.enqueue(chunk);
          if (--open === 0) controller.close();
        })().catch(() => {});
      }
    },
  });
}

/** GET /v1/info of a node, or undefined when it does not answer. */
export async function infoOf(
  addr: string,
): Promise<{ id: string; x25519: string; directorySize: number } | undefined> {
  try {
    const res = await fetch(`http://${addr}/v1/info`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await res.json();
  } catch {
    return undefined;
  }
}

/** Poll `check` until it is true or `timeoutMs` passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${options.what ?? "a condition"}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** A devnet: N node processes that find each other through the first. */
export interface Devnet {
  nodes: NodeProcess[];
  baseDir: string;
  /** Start one more node joining through the first. */
  addNode(): Promise<NodeProcess>;
  /** Restart node i with its data folder and ports. */
  restart(i: number): Promise<NodeProcess>;
  /** Wait until every running node knows `size` nodes. */
  converge(size: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Start N nodes on loopback, each with its own data folder under `baseDir`. */
export async function startDevnet(
  count: number,
  options: { baseDir: string; powBits?: number; gossipIntervalMs?: number; logLevel?: string },
): Promise<Devnet> {
  const nodes: NodeProcess[] = [];
  const ports: number[] = [];
  const webPorts: number[] = [];
  const spawnAt = (i: number) =>
    spawnNode({
      dataDir: `${options.baseDir}/node-${i + 1}`,
      port: ports[i]!,
      webPort: webPorts[i]!,
      seeds: i === 0 ? [] : [nodes[0]!.addr],
      powBits: options.powBits,
      gossipIntervalMs: options.gossipIntervalMs,
      logLevel: options.logLevel,
    });
  const devnet: Devnet = {
    nodes,
    baseDir: options.baseDir,
    addNode: async () => {
      ports.push(freePort());
      webPorts.push(freePort());
      const node = await spawnAt(ports.length - 1);
      nodes.push(node);
      return node;
    },
    restart: async (i) => {
      await nodes[i]!.stop();
      nodes[i] = await spawnAt(i);
      return nodes[i]!;
    },
    converge: (size, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const infos = await Promise.all(
            nodes.filter((n) => !n.exited).map((n) => infoOf(n.addr)),
          );
          return infos.every((i) => i !== undefined && i.directorySize === size);
        },
        { timeoutMs, intervalMs: 200, what: `every node to know ${size} nodes` },
      ),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  try {
    for (let i = 0; i < count; i++) await devnet.addNode();
  } catch (err) {
    await devnet.stop();
    throw err;
  }
  return devnet;
}

/** How long one owner API call may take, ms. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * One owner API call.
 * @returns the status and the JSON answer
 */
export async function ownerApi(
  node: NodeProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://${node.webAddr}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${node.ownerToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  return { status: res.status, json: await res.json() };
}

/**
 * Run `fn` on a converged devnet of `count` nodes in a temporary folder,
 * then stop the nodes and remove the folder, whatever `fn` did.
 * @param options.prefix the temporary folder's name prefix
 */
export async function withDevnet(
  count: number,
  fn: (devnet: Devnet) => Promise<void>,
  options: { prefix?: string } = {},
): Promise<void> {
  const baseDir = await Deno.makeTempDir({ prefix: options.prefix ?? "hearth-devnet-" });
  const devnet = await startDevnet(count, { baseDir, gossipIntervalMs: 300 });
  try {
    await devnet.converge(count, 90_000);
    await fn(devnet);
  } finally {
    await devnet.stop();
    await Deno.remove(baseDir, { recursive: true }).catch(() => {});
  }
}
