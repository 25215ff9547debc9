import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { parseAccountId } from "./account/mod.ts";
import { TEST_KDF } from "./db/_test_helpers.ts";
import { Messenger } from "./messenger.ts";
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
    assertEquals(restored, { accountId: created.accountId });
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
