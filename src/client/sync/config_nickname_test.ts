/**
 * Nicknames in the account config (PROTOCOL §11): the owner's nickname for
 * a contact rides in the encrypted config as `nick`, so a restore brings it
 * back; a config from before nicknames reads as "none", and a config with a
 * nickname the owner API would refuse is refused.
 */
import { assertEquals, assertNotEquals, assertRejects } from "../../../tests/assert.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { HearthError } from "../../shared/errors.ts";
import { accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import {
  type AccountConfig,
  openConfig,
  sealConfig,
  sealConfigFrame,
  serializeConfig,
} from "./config_codec.ts";
import { applyConfig, configDigest, readConfig } from "./config_rows.ts";

/** A config as it would have been before nicknames: the same, with `nick` taken out. */
function withoutNick(config: AccountConfig): AccountConfig {
  return { ...config, contacts: config.contacts.map(({ nickname: _, ...c }) => c) };
}

Deno.test("config: a contact's nickname survives publish and restore", async () => {
  const keys = await accountKeysFromSeed(createSeed());
  const [bob, carol] = await Promise.all(
    [1, 2].map(async () => (await accountKeysFromSeed(createSeed())).accountId),
  ) as [string, string];
  await withClientDb(async (db) => {
    await db.insertInto("account").values({ id: 1, seed: keys.seed, created_at: 1 }).execute();
    await db.insertInto("contacts").values([
      { account_id: bob, display_name: "Bob", nickname: "Uncle B", state: "contact", added_at: 1 },
      { account_id: carol, display_name: "Carol", state: "blocked", added_at: 1 },
    ]).execute();
    const config = await readConfig(db);
    const byId = new Map(config.contacts.map((c) => [c.accountId, c]));
    assertEquals(byId.get(bob)?.nickname, "Uncle B");
    assertEquals("nickname" in byId.get(carol)!, false, "absent when none is set");
    // Only a contact with a nickname carries `nick` (so a config without any is byte for
    // byte what it was before nicknames), and setting one is a change to publish.
    const plain = serializeConfig(config);
    assertEquals(JSON.stringify(decodeFrame(plain).header).match(/"nick"/g)?.length, 1);
    const before = withoutNick(config);
    assertNotEquals(configDigest(before), configDigest(config));

    const item = await sealConfig(config, keys.seed, keys.signing);
    const opened = await openConfig(item, keys.seed, keys.signing.publicKey);
    assertEquals(opened, config);
    await withClientDb(async (fresh) => {
      await fresh.insertInto("account").values({ id: 1, seed: keys.seed, created_at: 2 })
        .execute();
      // Bob wrote to the new node before the config came: the config's nickname wins.
      await fresh.insertInto("contacts")
        .values({ account_id: bob, display_name: null, state: "request", added_at: 2 }).execute();
      await applyConfig(fresh, opened, { now: 3 });
      const rows = await fresh.selectFrom("contacts").select(["account_id", "nickname", "state"])
        .orderBy("account_id").execute();
      assertEquals(
        rows,
        [
          { account_id: bob, nickname: "Uncle B", state: "contact" },
          { account_id: carol, nickname: null, state: "blocked" },
        ].sort((a, b) => a.account_id < b.account_id ? -1 : 1),
      );
      // A config from before nicknames restores contacts without one.
      await applyConfig(fresh, before, { now: 4 });
      const cleared = await fresh.selectFrom("contacts").select("nickname")
        .where("account_id", "=", bob).executeTakeFirstOrThrow();
      assertEquals(cleared.nickname, null);
    });
  });
});

Deno.test("config: a nickname the owner API would refuse makes the config malformed", async () => {
  const keys = await accountKeysFromSeed(createSeed());
  const bob = (await accountKeysFromSeed(createSeed())).accountId;
  const base: AccountConfig = {
    version: 1,
    updatedAt: 1,
    profile: { displayName: "Ada" },
    contacts: [{ accountId: bob, displayName: "Bob", state: "contact", nickname: "B" }],
    conversations: [],
    settings: {},
  };
  /** The config as a frame, its contact's `nick` set to `nick`, sealed as sealConfig does. */
  const withNick = async (nick: unknown) => {
    const { header, blob } = decodeFrame(serializeConfig(base));
    (header.contacts as Record<string, unknown>[])[0]!.nick = nick;
    return await sealConfigFrame(encodeFrame(header, blob), keys.seed, keys.signing);
  };
  for (const bad of ["", " ", "x".repeat(65), "a\u202Eb", 7, ["B"]]) {
    const item = await withNick(bad);
    const err = await assertRejects(
      () => openConfig(item, keys.seed, keys.signing.publicKey),
      HearthError,
    );
    assertEquals(err.code, "bad_request", JSON.stringify(bad));
  }
  for (const ok of [null, undefined]) {
    const opened = await openConfig(await withNick(ok), keys.seed, keys.signing.publicKey);
    assertEquals(opened.contacts[0]?.nickname, undefined);
  }
  const opened = await openConfig(await withNick("  Uncle B  "), keys.seed, keys.signing.publicKey);
  assertEquals(opened.contacts[0]?.nickname, "Uncle B", "trimmed as the owner API does");
});
