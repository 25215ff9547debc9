import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { accountKeysFromSeed, createSeed, parseAccountId } from "./account/mod.ts";
import { randomBytes } from "../shared/crypto/mod.ts";
import { ClientVault } from "./db/vault.ts";
import { parseContent } from "./messages/content.ts";
import { openEnvelope } from "./messages/envelope.ts";
import { TEST_KDF } from "./db/_test_helpers.ts";
import { HISTORY_NOTICE, Messenger } from "./messenger.ts";
import { HearthError } from "../shared/errors.ts";

const PASS = "a good passphrase";

async function codeOf(fn: () => unknown): Promise<string> {
  const err = await assertRejects(async () => await fn(), HearthError);
  return err.code;
}

Deno.test("Messenger creates, locks, unlocks and reopens an account in <dataDir>/client", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-messenger-" });
  try {
    const m = await Messenger.open(dir, { kdfParams: TEST_KDF });
    assertEquals(m.state(), "absent");
    assertEquals(assertThrows(() => m.account(), HearthError).code, "not_found");
    const created = await m.createAccount({ passphrase: PASS, displayName: "  Ada " });
    assertEquals(parseAccountId(created.accountId).length, 32);
    assertEquals(created.recoveryPhrase?.split(" ").length, 24);
    assertEquals(m.state(), "unlocked");
    const view = m.account();
    assertEquals(view.accountId, created.accountId);
    assertEquals(view.displayName, "Ada");
    assert(view.qrSvg.startsWith("<svg"));
    assert((await Deno.stat(`${dir}/client/client_key.json`)).isFile);

    assertEquals(await codeOf(() => m.createAccount({ passphrase: PASS })), "conflict");
    await m.lock();
    assertEquals(m.state(), "locked");
    assertEquals(assertThrows(() => m.account(), HearthError).code, "locked");
    assertEquals(await codeOf(() => m.unlock("wrong")), "wrong_passphrase");
    assertEquals(m.state(), "locked");
    await m.unlock(PASS);
    assertEquals(m.account().accountId, created.accountId);
    await m.close();

    const again = await Messenger.open(dir, { kdfParams: TEST_KDF });
    assertEquals(again.state(), "locked");
    await again.unlock(PASS);
    assertEquals(again.account().displayName, "Ada");
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Messenger restores the same account from its phrase and returns no phrase", async () => {
  const a = await Deno.makeTempDir({ prefix: "hearth-messenger-a-" });
  const b = await Deno.makeTempDir({ prefix: "hearth-messenger-b-" });
  try {
    const first = await Messenger.open(a, { kdfParams: TEST_KDF });
    const created = await first.createAccount({ passphrase: PASS });
    assertEquals(first.account().displayName, "");
    await first.close();
    const second = await Messenger.open(b, { kdfParams: TEST_KDF });
    const restored = await second.createAccount({
      passphrase: "another one",
      recoveryPhrase: created.recoveryPhrase!.toUpperCase(),
    });
    assertEquals(restored, { accountId: created.accountId, historyNotice: HISTORY_NOTICE });
    assert(HISTORY_NOTICE.includes("not restored"));
    assertEquals(created.historyNotice, undefined);
    await second.close();
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("Messenger checks every input before writing anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-messenger-bad-" });
  try {
    const m = await Messenger.open(dir, { kdfParams: TEST_KDF });
    assertEquals(await codeOf(() => m.unlock(PASS)), "not_found");
    assertEquals(await codeOf(() => m.createAccount({ passphrase: "" })), "bad_request");
    assertEquals(
      await codeOf(() => m.createAccount({ passphrase: "x".repeat(1025) })),
      "too_large",
    );
    assertEquals(
      await codeOf(() => m.createAccount({ passphrase: PASS, displayName: "x".repeat(65) })),
      "bad_request",
    );
    assertEquals(
      await codeOf(() =>
        m.createAccount({ passphrase: PASS, recoveryPhrase: "abandon ".repeat(24) })
      ),
      "bad_request",
    );
    assertEquals(m.state(), "absent");
    await m.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a create that stopped before writing the account is finished by the next create", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The state a crash between making the vault and writing the account leaves.
    const { ClientVault } = await import("./db/vault.ts");
    const { CLIENT_DIR } = await import("./messenger.ts");
    const vault = await ClientVault.open(`${dir}/${CLIENT_DIR}`, { kdfParams: TEST_KDF });
    await vault.create("pass one");
    await vault.close();

    const m = await Messenger.open(dir, { kdfParams: TEST_KDF });
    try {
      await m.unlock("pass one");
      assertEquals(await codeOf(() => m.account()), "not_found");
      assertEquals(
        await codeOf(() => m.createAccount({ passphrase: "wrong", displayName: "Ann" })),
        "wrong_passphrase",
      );
      const created = await m.createAccount({ passphrase: "pass one", displayName: "Ann" });
      assert(created.recoveryPhrase !== undefined);
      assertEquals((await m.account()).accountId, created.accountId);
      assertEquals(
        await codeOf(() => m.createAccount({ passphrase: "pass one" })),
        "conflict",
      );
    } finally {
      await m.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a wrong passphrase never spoils the next unlock with the right one", async () => {
  // A wrong key used to reach libsql, after which the right key failed to
  // open the file in about one try of three.
  const dir = await Deno.makeTempDir({ prefix: "hearth-messenger-" });
  try {
    const m = await Messenger.open(dir, { kdfParams: TEST_KDF });
    try {
      const created = await m.createAccount({ passphrase: PASS, displayName: "Ada" });
      for (let round = 0; round < 15; round++) {
        await m.lock();
        assertEquals(await codeOf(() => m.unlock("wrong")), "wrong_passphrase");
        await m.unlock(PASS);
        assertEquals(m.account().accountId, created.accountId);
      }
    } finally {
      await m.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** An image of `size` bytes with the magic number of `type`. */
function image(type: "png" | "jpeg" | "webp", size = 300): Uint8Array {
  const bytes = randomBytes(size);
  if (type === "png") bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (type === "jpeg") bytes.set([0xff, 0xd8, 0xff]);
  if (type === "webp") {
    bytes.set([0x52, 0x49, 0x46, 0x46]);
    bytes.set([0x57, 0x45, 0x42, 0x50], 8);
  }
  return bytes;
}

Deno.test("updateProfile checks the name and the avatar, then counts the profile version up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-messenger-profile-" });
  try {
    const m = await Messenger.open(dir, { kdfParams: TEST_KDF });
    assertEquals(await codeOf(() => m.updateProfile({ displayName: "Ada" })), "not_found");
    await m.createAccount({ passphrase: PASS, displayName: "Ada" });
    assertEquals(m.account().hasAvatar, false);
    assertEquals(await m.avatar(), null);
    const peer = await accountKeysFromSeed(createSeed());
    const chat = () => m.chat();
    await chat().send(peer.accountId, "one");

    const webp = image("webp", 8_192);
    // The sniffed type counts, not the declared one.
    const view = await m.updateProfile({ avatar: { type: "image/png", bytes: webp } });
    assertEquals([view.displayName, view.hasAvatar], ["Ada", true]);
    assertEquals(await m.avatar(), { type: "image/webp", bytes: webp });
    await chat().send(peer.accountId, "two");
    await chat().send(peer.accountId, "three");

    assertEquals((await m.updateProfile({ displayName: "  Ada L " })).displayName, "Ada L");
    assertEquals((await m.updateProfile({ displayName: "Ada L" })).displayName, "Ada L");
    await chat().send(peer.accountId, "four");
    assertEquals((await m.updateProfile({ avatar: null })).hasAvatar, false);
    assertEquals(await m.avatar(), null);
    await chat().send(peer.accountId, "five");

    // Bad input changes nothing, not even the valid half.
    for (
      const [input, code] of [
        [{ displayName: "" }, "bad_request"],
        [{ displayName: "x".repeat(65) }, "bad_request"],
        [
          { displayName: "Eve", avatar: { type: "image/png", bytes: randomBytes(100) } },
          "bad_request",
        ],
        [{ avatar: { type: "image/png", bytes: image("png", 8_193) } }, "too_large"],
        [{ avatar: "not bytes" }, "bad_request"],
      ] as const
    ) {
      // deno-lint-ignore no-explicit-any
      assertEquals(await codeOf(() => m.updateProfile(input as any)), code);
    }
    assertEquals(m.account().displayName, "Ada L");
    const jpeg = image("jpeg");
    await m.updateProfile({ displayName: "Ada", avatar: { type: "image/jpeg", bytes: jpeg } });
    await m.lock();
    assertEquals(await codeOf(() => m.updateProfile({ displayName: "Ada" })), "locked");
    assertEquals(await codeOf(() => m.avatar()), "locked");
    await m.unlock(PASS);
    assertEquals([m.account().displayName, m.account().hasAvatar], ["Ada", true]);
    assertEquals(await m.avatar(), { type: "image/jpeg", bytes: jpeg });
    await m.close();

    // What went out: the avatar once per version, zero bytes once it was removed.
    const vault = await ClientVault.open(`${dir}/client`, { kdfParams: TEST_KDF });
    await vault.unlock(PASS);
    try {
      const account = await vault.db.selectFrom("account")
        .select(["profile_version", "avatar_type"]).executeTakeFirstOrThrow();
      assertEquals([account.profile_version, account.avatar_type], [5, "image/jpeg"]);
      const rows = await vault.db.selectFrom("outbox").select("envelope")
        .orderBy("created_at").orderBy("id").execute();
      const profiles = [];
      for (const r of rows) {
        const opened = await openEnvelope(new Uint8Array(r.envelope), peer);
        profiles.push(parseContent(opened.content).profile);
      }
      assertEquals(profiles, [
        { displayName: "Ada", avatar: new Uint8Array(0) },
        { displayName: "Ada", avatar: webp },
        { displayName: "Ada" },
        { displayName: "Ada L", avatar: webp },
        { displayName: "Ada L", avatar: new Uint8Array(0) },
      ]);
    } finally {
      await vault.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
