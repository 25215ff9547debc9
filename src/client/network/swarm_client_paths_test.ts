/**
 * A SwarmClient with a PathManager on real node processes: paths start at
 * the pinned guard; when a middle relay's process is killed the blame goes
 * to it, not to the guard; when the guard's process is killed, requests
 * keep succeeding because the guard is replaced after its failure limit.
 * Six nodes, so that four are left alive: a guard, two relays and a
 * destination.
 */
import { assert, assertEquals, assertNotEquals } from "../../../tests/assert.ts";
import { directoryOf } from "../../../tests/network_client.ts";
import { startDevnet, waitFor } from "../../../tools/devnet_lib.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { generateSigningKeyPair } from "../../shared/crypto/sign.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { FileGuardStore } from "./guard_store.ts";
import { PathManager } from "./path_manager.ts";
import { rpcViaOnion } from "./onion_client.ts";
import { judgePath, watchFirstHop } from "./path_verdict.ts";
import { SwarmClient } from "./swarm_client.ts";

const HOUR = 3_600_000;

Deno.test({
  name: "requests keep succeeding through paths when a middle relay, then the guard, is killed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const baseDir = await Deno.makeTempDir({ prefix: "hearth-paths-" });
    const devnet = await startDevnet(6, { baseDir, gossipIntervalMs: 300 });
    try {
      await devnet.converge(6, 90_000);
      const nodes = await directoryOf(devnet.nodes[0]!.addr);
      const store = new FileGuardStore(`${baseDir}/guard.json`);
      const paths = await PathManager.open({ nodes: () => nodes, store, guardFailureLimit: 3 });
      const client = new SwarmClient({ nodes: () => nodes, paths, timeoutMs: 30_000 });
      const owner = await generateSigningKeyPair();
      const key = swarmKeyOf(owner.publicKey);

      // Store and retrieve, until every member answers with the item.
      const storeAndFind = async () => {
        const stored = await client.store(key, 0, randomBytes(300), { ttlMs: HOUR });
        await waitFor(
          async () => (await client.retrieve(owner, 0)).items.some((i) => i.hash === stored.hash),
          { timeoutMs: 20_000, what: "the stored item to be retrievable" },
        );
      };
      await storeAndFind();
      const before = paths.status();
      const guard = before.guard!;
      assertEquals([before.diversity, before.diversityOffReason], ["off", "devnet"]);
      assertEquals(before.paths.length, 3);
      assert(before.paths.every((p) => p.hops[0]!.id === guard.id && p.healthy));
      await paths.flush();
      assertEquals((await store.load())?.id, guard.id);

      const processOf = (addr: string) => devnet.nodes.find((n) => n.addr === addr)!;

      // A middle relay dies: it is blamed and left out; the guard stays.
      const middle = before.paths[0]!.hops[1]!;
      await processOf(middle.addr).stop("SIGKILL");
      await waitFor(async () => {
        await storeAndFind();
        return paths.isAvoided(middle.id);
      }, { timeoutMs: 60_000, what: "a request through the dead middle" });
      for (let i = 0; i < 3; i++) await storeAndFind();
      assertEquals(paths.status().guard?.id, guard.id);
      // What the client makes of the dead node at each place of a path.
      const others = nodes.filter((n) => n.id !== middle.id && n.id !== guard.id);
      const verdictWith = async (deadAt: number) => {
        const path = [guard, ...others.slice(0, 3)].map((h) => nodes.find((n) => n.id === h.id)!);
        path.splice(deadAt, 0, nodes.find((n) => n.id === middle.id)!);
        const note = { sealed: false };
        const err = await rpcViaOnion(path.slice(0, 4), { method: "info" }, {
          fetch: watchFirstHop(note),
          timeoutMs: 30_000,
        }).then(() => undefined, (e) => e);
        return judgePath(err, { relays: 3, sealed: note.sealed });
      };
      assertEquals(await verdictWith(0), { kind: "failed", hop: 0 });
      assertEquals(await verdictWith(1), { kind: "failed", hop: 1 });
      assertEquals(await verdictWith(2), { kind: "failed", hop: 2 });
      assertEquals(await verdictWith(3), { kind: "carried", destinationFailed: true });
      assert(paths.status().paths.every((p) => p.hops.every((h) => h.id !== middle.id)));

      // The guard dies: after its failure limit it is replaced.
      await processOf(guard.addr).stop("SIGKILL");
      for (let i = 0; i < 5; i++) await storeAndFind();

      const after = paths.status();
      assertNotEquals(after.guard?.id, guard.id);
      assert(after.paths.every((p) => p.hops.every((h) => h.id !== guard.id)));
      assert(after.paths.every((p) => p.hops[0]!.id === after.guard?.id));
      await paths.flush();
      assertEquals((await store.load())?.id, after.guard?.id);
    } finally {
      await devnet.stop();
      await Deno.remove(baseDir, { recursive: true });
    }
  },
});
