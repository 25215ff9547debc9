/**
 * The relay network end to end, on real node processes on loopback:
 * onion store and retrieve, signatures, durability across kill -9, and a
 * joining node pulling the items of its new swarms.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { clientOf, directoryOf } from "./network_client.ts";
import { waitFor, withDevnet } from "../tools/devnet_lib.ts";
import { generateSigningKeyPair } from "../src/shared/crypto/sign.ts";
import { fromHex, randomBytes, toHex } from "../src/shared/crypto/bytes.ts";
import { openDatabase } from "../src/shared/db/open.ts";
import { type RelayDb, relayMigrations } from "../src/relay/store/schema.ts";
import { HearthError } from "../src/shared/errors.ts";
import { swarmFor, swarmKeyOf } from "../src/shared/swarm_map.ts";

const HOUR = 3_600_000;

const processTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

processTest("a message stored through a 3-hop path is retrieved through another path", async () => {
  await withDevnet(7, async (devnet) => {
    const { client } = await clientOf(devnet.nodes[0]!.addr);
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const data = randomBytes(1000);
    const stored = await client.store(key, 0, data, { ttlMs: HOUR });
    assertEquals(stored.hash.length, 64);

    const { client: other } = await clientOf(devnet.nodes[3]!.addr);
    const got = await other.retrieve(owner, 0);
    assertEquals(got.items.length, 1);
    assertEquals(got.items[0]!.data, data);
    assertEquals(got.items[0]!.hash, stored.hash);

    // Storing the same item again is idempotent.
    assertEquals((await client.store(key, 0, data, { ttlMs: HOUR })).hash, stored.hash);
    assertEquals((await other.retrieve(owner, 0)).items.length, 1);

    // A retrieve signed too long ago is refused; another account sees only its own swarm.
    const stranger = await generateSigningKeyPair();
    const { client: skewed } = await clientOf(devnet.nodes[1]!.addr, {
      clock: () => Date.now() - 120_000,
    });
    const stale = await assertRejects(() => skewed.retrieve(owner, 0), HearthError);
    assertEquals(stale.code, "bad_timestamp");
    assertEquals((await other.retrieve(stranger, 0)).items.length, 0);
  });
});

processTest("a retrieve with a forged signature is refused", async () => {
  await withDevnet(5, async (devnet) => {
    const nodes = await directoryOf(devnet.nodes[0]!.addr);
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const { rpcViaOnion } = await import("../src/client/network/onion_client.ts");
    const dest = swarmFor(key, nodes)[0]!;
    const relays = nodes.filter((n) => n.id !== dest.id).slice(0, 3);
    const err = await assertRejects(
      () =>
        rpcViaOnion([...relays, dest], {
          method: "retrieve",
          key: toHex(key),
          ns: 0,
          pubkey: toHex(owner.publicKey),
          ts: Date.now(),
          sig: toHex(randomBytes(64)),
        }),
      HearthError,
    );
    assertEquals(err.code, "bad_signature");
  });
});

processTest(
  "kill -9 of a swarm member right after an acknowledged store loses nothing",
  async () => {
    await withDevnet(5, async (devnet) => {
      const { client, nodes } = await clientOf(devnet.nodes[0]!.addr);
      const owner = await generateSigningKeyPair();
      const key = swarmKeyOf(owner.publicKey);
      const data = randomBytes(5000);
      // With 5 nodes every node is a swarm member. The store runs on the victim
      // itself, which writes before it acknowledges; kill it at once.
      const victim = 2;
      const victimAddr = devnet.nodes[victim]!.addr;
      const record = nodes().find((n) => n.addr === victimAddr)!;
      const stored = await client.store(key, 0, data, { ttlMs: HOUR, via: record });
      await devnet.nodes[victim]!.stop("SIGKILL");

      // The acknowledged item is on the dead node's disk.
      const db = await openDatabase<RelayDb>(
        `${devnet.nodes[victim]!.dataDir}/relay.db`,
        relayMigrations,
      );
      try {
        const row = await db.db.selectFrom("items").select(["data"]).where(
          "hash",
          "=",
          fromHex(stored.hash),
        )
          .executeTakeFirst();
        assert(row !== undefined, "the item survived kill -9 on the node that acknowledged it");
        assertEquals(new Uint8Array(row.data as unknown as ArrayBuffer), data);
      } finally {
        await db.close();
      }

      const restarted = await devnet.restart(victim);
      assertEquals(restarted.addr, victimAddr);
      const got = await client.retrieve(owner, 0, { via: record });
      assertEquals(got.items.map((i) => i.hash), [stored.hash]);
      assertEquals(got.items[0]!.data, data);
      // And at least W = 3 members hold it.
      let holders = 0;
      for (const n of nodes()) {
        const r = await client.retrieve(owner, 0, { via: n });
        if (r.items.some((i) => i.hash === stored.hash)) holders++;
      }
      assert(holders >= 3, `${holders} members hold the item`);
    });
  },
);

processTest("a new node joins and pulls the items of the swarms it now belongs to", async () => {
  await withDevnet(6, async (devnet) => {
    const { client } = await clientOf(devnet.nodes[0]!.addr);
    const owners = await Promise.all(Array.from({ length: 12 }, () => generateSigningKeyPair()));
    const hashes = new Map<string, string>();
    for (const owner of owners) {
      const stored = await client.store(swarmKeyOf(owner.publicKey), 0, randomBytes(300), {
        ttlMs: HOUR,
      });
      hashes.set(toHex(owner.publicKey), stored.hash);
    }
    const joined = await devnet.addNode();
    await devnet.converge(7, 90_000);
    const nodes = await directoryOf(joined.addr);
    const me = nodes.find((n) => n.addr === joined.addr)!;
    const mine = owners.filter((o) =>
      swarmFor(swarmKeyOf(o.publicKey), nodes).some((n) => n.id === me.id)
    );
    assert(mine.length > 0, "the new node belongs to some of the swarms");
    const { client: viaNew } = await clientOf(joined.addr);
    for (const owner of mine) {
      await waitFor(async () => {
        try {
          const got = await viaNew.retrieve(owner, 0, { via: me });
          return got.items.some((i) => i.hash === hashes.get(toHex(owner.publicKey)));
        } catch {
          return false;
        }
      }, { timeoutMs: 60_000, intervalMs: 500, what: "the new node to pull its swarms' items" });
    }
  });
});
