/**
 * The prekey publisher against a real in-process relay network: it stores
 * the signed bundle in namespace 5 of the owner's swarm, leaves no other
 * item there, republishes when the keys change or the bundle is a week
 * old, and retries with backoff when the network fails.
 */
import type { Kysely } from "kysely";
import { assert, assertEquals, assertNotEquals } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { createLogger } from "../../shared/log.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { type AccountKeys, accountKeysFromSeed } from "../account/keys.ts";
import { createSeed } from "../account/seed.ts";
import type { ClientDb } from "../db/schema.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import { SwarmClient } from "../network/swarm_client.ts";
import { type TestRelayNet, withTestRelayNet } from "../network/test_relay_net.ts";
import { fetchBundle } from "./bundle_fetch.ts";
import { BUNDLE_NAMESPACE } from "./prekey_bundle.ts";
import {
  bundleDigest,
  MAX_RETRY_MS,
  MIN_RETRY_MS,
  PREKEY_REPUBLISH_MS,
  PrekeyPublisher,
  retryDelayMs,
} from "./prekey_publisher.ts";
import { consumeOpk, currentBundle, ensurePrekeys } from "./prekey_store.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The hashes in namespace 5 of the owner's swarm, as each node holds them. */
async function bundleItemsPerNode(net: TestRelayNet, keys: AccountKeys): Promise<string[][]> {
  const reader = net.client();
  const key = swarmKeyOf(keys.signing.publicKey);
  const out: string[][] = [];
  for (const via of net.directory()) {
    out.push(
      (await reader.retrievePublic(key, BUNDLE_NAMESPACE, { via })).items.map((i) => i.hash),
    );
  }
  return out;
}

async function publishState(db: Kysely<ClientDb>) {
  return await db.selectFrom("prekey_publish").selectAll().executeTakeFirst();
}

Deno.test("retry waits start at 30 s and double up to 10 min", () => {
  const waits = [1, 2, 3, 4, 5, 6, 7, 100].map((n) => retryDelayMs(n));
  assertEquals(waits, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  assertEquals([MIN_RETRY_MS, MAX_RETRY_MS], [30_000, 600_000]);
  assertEquals(retryDelayMs(3, { minMs: 10, maxMs: 25 }), 25);
});

Deno.test("the publisher keeps exactly the current bundle in namespace 5", async () => {
  await withTestRelayNet(async (net) => {
    await withClientDb(async (db) => {
      const keys = await accountKeysFromSeed(createSeed());
      const owner = net.client();
      const key = swarmKeyOf(keys.signing.publicKey);
      // Something stale the owner left there before.
      const stale = await owner.store(key, BUNDLE_NAMESPACE, randomBytes(500), {
        ttlMs: HOUR,
        owner: keys.signing,
      });
      const clock = { now: Date.now() };
      const publisher = new PrekeyPublisher({ db, keys, swarm: owner, clock: () => clock.now });
      const reader = net.client();
      const fetched = () => fetchBundle(reader, keys.accountId, { now: clock.now });
      const onlyOneItem = async () => {
        const perNode = await bundleItemsPerNode(net, keys);
        return perNode.every((hashes) => hashes.length === 1 && hashes[0] === perNode[0]![0]);
      };

      assertEquals(await publisher.runOnce(), true);
      await waitFor(onlyOneItem);
      assert(!(await bundleItemsPerNode(net, keys)).flat().includes(stale.hash), "stale is gone");
      const first = await currentBundle(db);
      assertEquals(await fetched(), { ...first, createdAt: clock.now });
      assertEquals(await publishState(db), {
        id: 1,
        published_at: clock.now,
        digest: bundleDigest(first),
      });
      const firstItem = (await bundleItemsPerNode(net, keys))[0]![0];

      // Nothing changed, nothing is due: no new item.
      assertEquals(await publisher.runOnce(), false);
      clock.now += 6 * DAY;
      assertEquals(await publisher.runOnce(), false);
      assertEquals((await bundleItemsPerNode(net, keys))[0], [firstItem]);

      // A one-time prekey was used: the bundle without it replaces the old one.
      await consumeOpk(db, first.opks[0]!.id);
      assertEquals(await publisher.runOnce(), true);
      await waitFor(async () =>
        (await onlyOneItem()) && !(await bundleItemsPerNode(net, keys))[0]!.includes(firstItem!)
      );
      const second = await fetched();
      assertEquals(second?.opks.length, first.opks.length - 1);
      assertEquals(second?.opks.some((o) => o.id === first.opks[0]!.id), false);
      assertEquals(second?.createdAt, clock.now);

      // A week after the first keys: a new SPK and KEM prekey are published.
      clock.now += DAY;
      assertEquals(await publisher.runOnce(), true);
      await waitFor(onlyOneItem);
      const third = await fetched();
      assertNotEquals(third?.spk.id, first.spk.id);
      assertNotEquals(third?.kem.id, first.kem.id);
      assertEquals(third, { ...(await currentBundle(db)), createdAt: clock.now });

      // An unchanged bundle published a week ago is published again.
      const before = (await bundleItemsPerNode(net, keys))[0]![0];
      clock.now += PREKEY_REPUBLISH_MS;
      // The rotation due by then is done ahead, and recorded as published, so only age is left.
      assertEquals(await ensurePrekeys(db, { now: clock.now }), true);
      const digest = bundleDigest(await currentBundle(db));
      const age = async (ms: number) =>
        await db.updateTable("prekey_publish").set({ digest, published_at: clock.now - ms })
          .execute();
      await age(PREKEY_REPUBLISH_MS - 1);
      assertEquals(await publisher.runOnce(), false);
      await age(PREKEY_REPUBLISH_MS);
      assertEquals(await publisher.runOnce(), true);
      await waitFor(async () =>
        (await onlyOneItem()) && (await bundleItemsPerNode(net, keys))[0]![0] !== before
      );
      assertEquals((await fetched())?.createdAt, clock.now);
    });
  });
});

Deno.test("concurrent passes do not overlap: the second sees the first's publication", async () => {
  await withTestRelayNet(async (net) => {
    await withClientDb(async (db) => {
      const keys = await accountKeysFromSeed(createSeed());
      const publisher = new PrekeyPublisher({ db, keys, swarm: net.client() });
      const results = await Promise.all([publisher.runOnce(), publisher.runOnce()]);
      assertEquals(results, [true, false]);
    });
  });
});

Deno.test("the loop publishes at start, retries failures with backoff, and republishes on kick", async () => {
  await withTestRelayNet(async (net) => {
    await withClientDb(async (db) => {
      const keys = await accountKeysFromSeed(createSeed());
      let offline = true;
      const swarm = new SwarmClient({
        nodes: () => offline ? [] : net.directory(),
        relays: 3,
      });
      const lines: string[] = [];
      const log = createLogger({ level: "debug", sink: (line) => lines.push(line) });
      const publisher = new PrekeyPublisher({
        db,
        keys,
        swarm,
        log,
        retry: { minMs: 20, maxMs: 80 },
      });
      publisher.start();
      const failures = () => lines.filter((l) => l.includes("prekeys_publish_failed")).length;
      await waitFor(() => failures() >= 3);
      assertEquals(await publishState(db), undefined);
      // The log says how often and how long, and nothing about the account.
      assert(lines.every((l) => !l.includes(keys.accountId)));
      assert(lines.some((l) => l.includes("retryMs=80")), lines.join("\n"));
      offline = false;
      await waitFor(async () => (await publishState(db)) !== undefined);
      const first = await fetchBundle(net.client(), keys.accountId);
      assertEquals(first?.opks.length, 100);
      // A used one-time prekey and a kick: the loop republishes without waiting 15 min.
      await consumeOpk(db, first!.opks[5]!.id);
      publisher.kick();
      await waitFor(async () =>
        (await fetchBundle(net.client(), keys.accountId))?.opks.length === 99
      );
      const started = Date.now();
      await publisher.stop();
      assert(Date.now() - started < 5_000, "stop ends the loop's sleep");
    });
  });
});
