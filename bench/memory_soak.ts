/**
 * A longer memory check, not part of `deno task bench`: a devnet of 7
 * nodes under onion store load in rounds, with every node's RSS after each
 * round and after a final idle period. Shows whether memory under load
 * levels off (heap growth) or keeps climbing (a leak). `t` is the time
 * since the first node was spawned: anti-entropy runs every 60 s.
 *
 * Usage: deno run -A bench/memory_soak.ts [itemBytes=1024] [rounds=16] [roundMs=8000]
 * V8 flags for the nodes go through the DENO_V8_FLAGS environment variable.
 * @module
 */
import { startDevnet } from "../tools/devnet_lib.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import { pidOfDataDir, rssMiB } from "./process_metrics.ts";
import { runLoad } from "./store_load.ts";

async function rssLine(pids: readonly number[]): Promise<string> {
  const values = await Promise.all(pids.map(rssMiB));
  return values.map((v) => v === undefined ? "?" : Math.round(v)).join(" ");
}

async function soak(args: string[]): Promise<void> {
  const itemBytes = Number(args[0] ?? 1_024);
  const rounds = Number(args[1] ?? 16);
  const roundMs = Number(args[2] ?? 8_000);
  const baseDir = await Deno.makeTempDir({ prefix: "hearth-soak-" });
  const started = performance.now();
  const devnet = await startDevnet(7, { baseDir, gossipIntervalMs: 500 });
  try {
    await devnet.converge(7);
    const res = await fetch(`http://${devnet.nodes[0]!.addr}/v1/directory`);
    const nodes = ((await res.json()) as { records: NodeRecord[] }).records;
    const pids: number[] = [];
    for (const node of devnet.nodes) {
      const pid = await pidOfDataDir(node.dataDir);
      if (pid === undefined) throw new Error("Could not find a node's process");
      pids.push(pid);
    }
    console.log(`RSS MiB of the 7 nodes; ${itemBytes} B items, 16 in flight, 3 relays`);
    console.log(`idle: ${await rssLine(pids)}`);
    for (let i = 1; i <= rounds; i++) {
      const r = await runLoad(nodes, {
        relays: 3,
        itemBytes,
        concurrency: 16,
        durationMs: roundMs,
        warmupMs: 0,
      });
      const t = Math.round((performance.now() - started) / 1000);
      console.log(`round ${i}, t=${t} s (${r.ok} stores): ${await rssLine(pids)}`);
    }
    await new Promise((r) => setTimeout(r, 15_000));
    console.log(`after 15 s idle: ${await rssLine(pids)}`);
  } finally {
    await devnet.stop();
    await Deno.remove(baseDir, { recursive: true });
  }
}

if (import.meta.main) await soak(Deno.args);
