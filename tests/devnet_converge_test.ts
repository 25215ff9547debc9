/**
 * A devnet of 7 real node processes converges from one seed: every node
 * ends up knowing all 7 (itself included).
 */
import { assertEquals } from "./assert.ts";
import { infoOf, withDevnet } from "../tools/devnet_lib.ts";

Deno.test({
  name: "a devnet of 7 nodes converges from one seed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withDevnet(7, async (devnet) => {
      const ids = new Set<string>();
      for (const n of devnet.nodes) {
        const info = await infoOf(n.addr);
        assertEquals(info?.directorySize, 7);
        ids.add(info!.id);
        const res = await fetch(`http://${n.addr}/v1/directory`);
        const { records } = await res.json() as { records: { id: string }[] };
        assertEquals(records.length, 7);
      }
      assertEquals(ids.size, 7, "seven distinct node identities");
    }, { prefix: "hearth-converge-" });
  },
});
