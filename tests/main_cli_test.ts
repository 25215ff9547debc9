/**
 * The command line as a newcomer meets it: bad flags exit 2 with one line;
 * a fresh node with no seed starts the embedded local network; a second
 * node joins it with --seed; SIGTERM stops cleanly; a restart needs no seed.
 */
import { assert, assertEquals } from "./assert.ts";
import { freePort, infoOf, MAIN_PATH, NODE_RUN_FLAGS, waitFor } from "../tools/devnet_lib.ts";

async function runOnce(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...NODE_RUN_FLAGS, MAIN_PATH, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Running {
  output(): string;
  stop(): Promise<Deno.CommandStatus>;
}

function start(args: string[]): Running {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...NODE_RUN_FLAGS, MAIN_PATH, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", HEARTH_GOSSIP_INTERVAL_MS: "300" },
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const pump = (s: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const c of s) text += dec.decode(c, { stream: true });
    })();
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    output: () => text,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await pumps;
      return status;
    },
  };
}

Deno.test("deno task start and compile run a node as the tests and the benchmark do", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const task of ["start", "compile"]) {
    const words: string[] = config.tasks[task].split(/\s+/);
    for (const flag of NODE_RUN_FLAGS) assert(words.includes(flag), `${task} lacks ${flag}`);
    assertEquals(words.at(-1), "main.ts");
  }
});

Deno.test("a bad flag or value prints one line and exits with code 2", async () => {
  for (
    const args of [
      ["--bogus"],
      ["--listen", "nope"],
      ["--seed"],
      ["--pow-bits", "99"],
      ["--web", "0.0.0.0:0"],
      ["--web", "0.0.0.0:0", "--web-password-file", "/nonexistent/hearth-password"],
    ]
  ) {
    const r = await runOnce(args);
    assertEquals(r.code, 2, `exit code for ${args.join(" ")}`);
    assertEquals(
      r.stderr.trim().split("\n").length,
      1,
      `one line for ${args.join(" ")}: ${r.stderr}`,
    );
    assert(r.stderr.startsWith("hearth: "));
  }
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "hearth-busy-" });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const r = await runOnce([
      "--data-dir",
      dir,
      "--listen",
      `127.0.0.1:${port}`,
      "--pow-bits",
      "8",
      "--web",
      "127.0.0.1:0",
    ]);
    assertEquals(r.code, 1, "a port in use is a start failure");
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("hearth: "));
    assertEquals(errors.length, 1, r.stderr);
    assert(errors[0]!.includes("already in use"), r.stderr);
    assert(!/^\s+at /m.test(r.stderr), `no stack trace: ${r.stderr}`);
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
  const help = await runOnce(["--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("--public-addr"));
});

Deno.test({
  name:
    "a fresh node starts a local network, a second node joins with --seed, restarts need no seed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hearth-cli-" });
    const portA = freePort();
    const portB = freePort();
    const common = ["--pow-bits", "8", "--rate-limit", "off", "--web", "127.0.0.1:0"];
    const a = start(["--data-dir", `${dir}/a`, "--listen", `127.0.0.1:${portA}`, ...common]);
    let b: Running | undefined;
    try {
      await waitFor(
        () => a.output().includes("nodes known") || a.output().includes("client-only"),
        {
          timeoutMs: 60_000,
          what: "node A to start",
        },
      );
      assert(a.output().includes("starting a local network of helper relays"), a.output());
      await waitFor(async () => (await infoOf(`127.0.0.1:${portA}`))?.directorySize === 7, {
        timeoutMs: 60_000,
        what: "A and its 6 helpers to know each other",
      });

      b = start([
        "--data-dir",
        `${dir}/b`,
        "--listen",
        `127.0.0.1:${portB}`,
        "--seed",
        `127.0.0.1:${portA}`,
        ...common,
      ]);
      await waitFor(async () => (await infoOf(`127.0.0.1:${portB}`))?.directorySize === 8, {
        timeoutMs: 60_000,
        what: "B to join A's network",
      });
      assert(!b.output().includes("local network"), "B has a seed: no helpers");

      const statusB = await b.stop();
      assertEquals(statusB.code, 0);
      assert(b.output().includes("stopping"));
      assert(b.output().includes("node.stopped"));

      // B restarts without --seed: its saved directory names real peers, so
      // it starts no helpers and rejoins.
      b = start(["--data-dir", `${dir}/b`, "--listen", `127.0.0.1:${portB}`, ...common]);
      await waitFor(async () => (await infoOf(`127.0.0.1:${portB}`))?.directorySize === 8, {
        timeoutMs: 60_000,
        what: "B to rejoin from its saved directory",
      });
      assert(!b.output().includes("local network"), "B knows real peers: no helpers");
    } finally {
      await b?.stop();
      const statusA = await a.stop();
      assertEquals(statusA.code, 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
