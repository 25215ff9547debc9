import type { Kysely } from "kysely";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import { accountKeysFromSeed } from "../account/keys.ts";
import { createSeed } from "../account/seed.ts";
import type { ClientDb, PrekeyKind } from "../db/schema.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import { initiateHandshake, respondHandshake } from "./pqxdh.ts";
import { openBundle, signBundle } from "./prekey_bundle.ts";
import {
  consumeOpk,
  currentBundle,
  ensurePrekeys,
  OPK_LOW,
  OPK_TARGET,
  responderPrekeys,
  RETIRED_KEEP_MS,
  SPK_ROTATE_MS,
} from "./prekey_store.ts";

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;

async function rows(db: Kysely<ClientDb>, kind: PrekeyKind) {
  return await db.selectFrom("prekeys").selectAll().where("kind", "=", kind)
    .orderBy("created_at").orderBy("id").execute();
}

Deno.test("the first ensurePrekeys makes an SPK, a KEM prekey and 100 one-time prekeys", async () => {
  await withClientDb(async (db) => {
    const err = await assertRejects(() => currentBundle(db), HearthError);
    assertEquals((err as HearthError).code, "not_found");
    assertEquals(await ensurePrekeys(db, { now: T0 }), true);
    const spks = await rows(db, "spk");
    const kems = await rows(db, "kem");
    const opks = await rows(db, "opk");
    assertEquals([spks.length, kems.length, opks.length], [1, 1, OPK_TARGET]);
    assertEquals(
      [new Uint8Array(kems[0]!.public).length, new Uint8Array(kems[0]!.private).length],
      [
        1184,
        2400,
      ],
    );
    assert(opks.every((o) => o.id >= 1 && o.id <= 0xfffffffe && o.retired_at === null));
    assertEquals(new Set(opks.map((o) => o.id)).size, OPK_TARGET);
    const bundle = await currentBundle(db);
    assertEquals(bundle.createdAt, T0);
    assertEquals(bundle.spk.id, spks[0]!.id);
    assertEquals(bundle.kem.id, kems[0]!.id);
    assertEquals(bundle.opks.map((o) => o.id), opks.map((o) => o.id));
    // Nothing is due: nothing changes.
    assertEquals(await ensurePrekeys(db, { now: T0 + 1_000 }), false);
    assertEquals(await currentBundle(db), bundle);
    // The bundle signs and opens with the account's key.
    const keys = await accountKeysFromSeed(createSeed());
    const opened = await openBundle(await signBundle(keys, bundle), keys.signing.publicKey, {
      now: T0,
    });
    assertEquals(opened, bundle);
  });
});

Deno.test("SPK and KEM rotate weekly; retired ones answer for 30 days, then are gone", async () => {
  await withClientDb(async (db) => {
    await ensurePrekeys(db, { now: T0 });
    const first = await currentBundle(db);
    const firstIds = { spkId: first.spk.id, kemId: first.kem.id, opkId: 0 };
    assertEquals(await ensurePrekeys(db, { now: T0 + SPK_ROTATE_MS - 1 }), false);
    const t1 = T0 + SPK_ROTATE_MS;
    assertEquals(await ensurePrekeys(db, { now: t1 }), true);
    const second = await currentBundle(db);
    assertNotEquals(second.spk.id, first.spk.id);
    assertNotEquals(second.kem.id, first.kem.id);
    assertNotEquals(second.spk.key, first.spk.key);
    assertEquals(second.opks, first.opks);
    assertEquals(second.createdAt, t1);
    const retired = (await rows(db, "spk")).find((r) => r.id === first.spk.id)!;
    assertEquals(retired.retired_at, t1);
    // A handshake naming the retired keys is still answered...
    const old = await responderPrekeys(db, firstIds);
    assertEquals(old?.spk.publicKey, first.spk.key);
    // ...until 30 days after its retirement (later rotations happen meanwhile).
    await ensurePrekeys(db, { now: t1 + RETIRED_KEEP_MS - 1 });
    assert(await responderPrekeys(db, firstIds), "kept just before the keep time");
    await ensurePrekeys(db, { now: t1 + RETIRED_KEEP_MS });
    assertEquals(await responderPrekeys(db, firstIds), undefined);
    assertEquals((await rows(db, "spk")).some((r) => r.id === first.spk.id), false);
    assertEquals((await rows(db, "kem")).some((r) => r.id === first.kem.id), false);
    // One current SPK and KEM, the rest retired and all within their keep time.
    const now = t1 + RETIRED_KEEP_MS;
    for (const kind of ["spk", "kem"] as const) {
      const all = await rows(db, kind);
      assertEquals(all.filter((r) => r.retired_at === null).length, 1);
      assert(all.every((r) => r.retired_at === null || now - r.retired_at < RETIRED_KEEP_MS));
    }
  });
});

Deno.test("one-time prekeys are replenished to 100 once fewer than 25 are left", async () => {
  await withClientDb(async (db) => {
    await ensurePrekeys(db, { now: T0 });
    const opks = await rows(db, "opk");
    for (const o of opks.slice(0, OPK_TARGET - OPK_LOW)) await consumeOpk(db, o.id);
    assertEquals(await ensurePrekeys(db, { now: T0 + DAY }), false);
    assertEquals((await currentBundle(db)).opks.length, OPK_LOW);
    await consumeOpk(db, opks[OPK_TARGET - OPK_LOW]!.id);
    assertEquals(await ensurePrekeys(db, { now: T0 + DAY }), true);
    const after = await rows(db, "opk");
    assertEquals(after.length, OPK_TARGET);
    assertEquals(after.filter((r) => r.created_at === T0 + DAY).length, OPK_TARGET - OPK_LOW + 1);
    const bundle = await currentBundle(db);
    assertEquals(bundle.opks.length, OPK_TARGET);
    assertEquals(bundle.createdAt, T0 + DAY);
    // Oldest first: the remaining old keys lead.
    assertEquals(bundle.opks[0]!.id, opks[OPK_TARGET - OPK_LOW + 1]!.id);
  });
});

Deno.test("responderPrekeys answers a real handshake; a used one-time prekey is gone", async () => {
  await withClientDb(async (db) => {
    const alice = await accountKeysFromSeed(createSeed());
    const bob = await accountKeysFromSeed(createSeed());
    await ensurePrekeys(db, { now: T0 });
    const bundle = await openBundle(
      await signBundle(bob, await currentBundle(db)),
      bob.signing.publicKey,
      {
        now: T0,
      },
    );
    const opk = bundle.opks[17]!;
    const sent = await initiateHandshake(alice, {
      identityEd25519: bob.signing.publicKey,
      spk: bundle.spk,
      kem: bundle.kem,
      opk,
    });
    const prekeys = await responderPrekeys(db, sent.init);
    assert(prekeys?.opk, "the named one-time prekey is there");
    assertEquals(prekeys.opk.publicKey, opk.key);
    const got = await respondHandshake(bob, alice.signing.publicKey, sent.init, prekeys);
    assertEquals(got.sk, sent.sk);
    assertEquals(got.ad, sent.ad);
    // Consumed inside a transaction that fails: the key stays.
    await assertRejects(() =>
      db.transaction().execute(async (tx) => {
        await consumeOpk(tx, opk.id);
        throw new Error("the session could not be stored");
      })
    );
    assert(await responderPrekeys(db, sent.init), "a rolled-back consume keeps the key");
    await db.transaction().execute((tx) => consumeOpk(tx, opk.id));
    assertEquals(await responderPrekeys(db, sent.init), undefined);
    assertEquals((await currentBundle(db)).opks.some((o) => o.id === opk.id), false);
    // Without a one-time prekey, and with ids nobody has.
    const noOpk = { ...sent.init, opkId: 0 };
    assertEquals((await responderPrekeys(db, noOpk))?.opk, undefined);
    assertEquals(await responderPrekeys(db, { ...noOpk, spkId: bundle.kem.id }), undefined);
    assertEquals(await responderPrekeys(db, { ...noOpk, kemId: bundle.spk.id }), undefined);
  });
});

Deno.test("ensurePrekeys joins the caller's transaction", async () => {
  await withClientDb(async (db) => {
    await assertRejects(() =>
      db.transaction().execute(async (tx) => {
        assertEquals(await ensurePrekeys(tx, { now: T0 }), true);
        throw new Error("rolled back");
      })
    );
    assertEquals((await rows(db, "opk")).length, 0);
    await db.transaction().execute((tx) => ensurePrekeys(tx, { now: T0 }));
    assertEquals((await rows(db, "opk")).length, OPK_TARGET);
  });
});
