import { assert, assertEquals, assertNotEquals } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/mod.ts";
import { accountKeysFromSeed } from "../account/mod.ts";
import { ClientVault } from "../db/vault.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import {
  applyConfig,
  configDigest,
  markRestorePending,
  readConfig,
  readSyncState,
  writeSyncState,
} from "./config_rows.ts";

async function vaultWithAccount(name: string): Promise<{ vault: ClientVault; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-config-rows-" });
  const vault = await ClientVault.open(dir, { kdfParams: TEST_KDF });
  await vault.create(TEST_PASS);
  await vault.db.insertInto("account")
    .values({ id: 1, seed: randomBytes(32), display_name: name, created_at: 1 }).execute();
  return { vault, dir };
}

Deno.test("the config read from one database applies to a fresh one", async () => {
  const a = await vaultWithAccount("Ada");
  const b = await vaultWithAccount("");
  try {
    const [bob, carol, dave] = await Promise.all(
      [1, 2, 3].map(async () => (await accountKeysFromSeed(randomBytes(32))).accountId),
    ) as [string, string, string];
    const db = a.vault.db;
    await db.insertInto("contacts").values([
      { account_id: bob, display_name: "Bob", state: "contact", added_at: 1 },
      { account_id: carol, display_name: null, state: "blocked", added_at: 1 },
      { account_id: dave, display_name: "Dave", state: "request", added_at: 1 },
    ]).execute();
    await db.insertInto("conversations").values({
      id: bob,
      kind: "1:1",
      last_message_at: 5,
      disappearing_mode: "after_send",
      disappearing_seconds: 60,
      muted: 1,
    }).execute();
    await db.insertInto("settings").values({ key: "read_receipts", value_json: "true" }).execute();
    await writeSyncState(db, { version: 3, digest: "x", publishedAt: 9 });

    const config = await readConfig(db);
    // Pending requests and the publisher's own state are not part of it.
    assertEquals(config.contacts.map((c) => c.accountId).sort(), [bob, carol].sort());
    assertEquals(config.settings, { read_receipts: "true" });
    const digest = configDigest(config);
    assertEquals(configDigest({ ...config, version: 9, updatedAt: 9 }), digest);

    // Bob wrote first to the fresh node: his request becomes a contact again.
    await b.vault.db.insertInto("contacts")
      .values({ account_id: bob, display_name: null, state: "request", added_at: 2 }).execute();
    await applyConfig(b.vault.db, config, { now: 10 });
    assertEquals(configDigest(await readConfig(b.vault.db)), digest);

    await db.updateTable("contacts").set({ state: "declined" }).where("account_id", "=", bob)
      .execute();
    assertNotEquals(configDigest(await readConfig(db)), digest);

    await markRestorePending(b.vault.db, true);
    assertEquals((await readSyncState(b.vault.db)).restore, { keepDisplayName: true });
    await applyConfig(b.vault.db, { ...config, profile: { displayName: "Eve" } }, {
      now: 11,
      keepDisplayName: true,
    });
    const row = await b.vault.db.selectFrom("account").select("display_name").executeTakeFirst();
    assertEquals(row?.display_name, "Ada");
    assert((await readSyncState(a.vault.db)).restore === undefined);
  } finally {
    await a.vault.close();
    await b.vault.close();
    await Deno.remove(a.dir, { recursive: true });
    await Deno.remove(b.dir, { recursive: true });
  }
});
