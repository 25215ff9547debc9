import { labeledHash } from "../../shared/crypto/hash.ts";
import {
  assert,
  assertEquals,
  assertFalse,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../tests/assert.ts";
import { fromHex, randomBytes, toBase64, toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { deriveKeyFromPassphrase, SCRYPT_DEFAULTS } from "../../shared/crypto/scrypt.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { HearthError } from "../../shared/errors.ts";
import { KEY_FILE_NAME } from "./key_file.ts";
import { type ClientDb, clientMigrations } from "./schema.ts";
import { ClientVault } from "./vault.ts";
import {
  createInChildProcess,
  createWithData as createWithDataIn,
  fileContaining,
  TEST_KDF,
  TEST_PASS,
} from "./_test_helpers.ts";

const KDF = TEST_KDF;
const PASS = TEST_PASS;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-vault-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await assertRejects(() => p, HearthError);
  assertEquals(err.code, code);
}

/** Every file of `dir` with its bytes, to show that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const info = await Deno.stat(`${dir}/${entry.name}`);
    out[entry.name] = `${info.mtime?.getTime()} ${
      toHex(await Deno.readFile(`${dir}/${entry.name}`))
    }`;
  }
  return out;
}

async function createWithData(dir: string, marker: string, seed: Uint8Array) {
  return await createWithDataIn(dir, { marker, seed });
}

async function readBack(vault: ClientVault) {
  const account = await vault.db.selectFrom("account").selectAll().executeTakeFirstOrThrow();
  const message = await vault.db.selectFrom("messages").selectAll().executeTakeFirstOrThrow();
  return { account, message, seed: new Uint8Array(account.seed) };
}

Deno.test("a locked vault's files hold neither the data nor the seed", async () => {
  await withDir(async (dir) => {
    const marker = `MARKER-${toHex(randomBytes(8))}`;
    const seed = randomBytes(32);
    const vault = await createWithData(dir, marker, seed);
    await vault.lock();
    assertEquals(vault.state, "locked");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert(names.includes("client.db"), names.join());
    assertEquals(await fileContaining(dir, utf8(marker)), null);
    assertEquals(await fileContaining(dir, seed), null);
    await vault.close();

    // The search works: the same rows in a database without a key are found.
    const plain = `${dir}/plain`;
    await Deno.mkdir(plain);
    const open = await openDatabase<ClientDb>(`${plain}/client.db`, clientMigrations);
    await open.db.insertInto("account").values({ id: 1, seed, display_name: marker, created_at: 1 })
      .execute();
    await open.close();
    // The connection may still be checkpointing its log into the file when
    // close resolves (one CI run read the file before and the log after):
    // wait, bounded, for the bytes to land.
    const found = async (needle: Uint8Array) => {
      for (let i = 0; i < 100; i++) {
        const name = await fileContaining(plain, needle);
        if (name !== null) return name;
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    };
    assertNotEquals(await found(utf8(marker)), null);
    assertNotEquals(await found(seed), null);
  });
});

Deno.test("a wrong passphrase changes nothing; the right one reads the rows back", async () => {
  await withDir(async (dir) => {
    const marker = "hello from the vault";
    const seed = randomBytes(32);
    // Written by another process, as after a restart: no connection of this
    // process has the database open, so nothing else can touch the files.
    await createInChildProcess(dir, { marker, seed });
    const vault = await ClientVault.open(dir, { kdfParams: KDF });
    assertEquals(vault.state, "locked");
    const before = await snapshot(dir);
    assert(Object.keys(before).includes("client.db"));
    for (const wrong of ["wrong", PASS + " ", PASS.toUpperCase(), "", "x".repeat(5000)]) {
      await expectCode(vault.unlock(wrong), "wrong_passphrase");
      assertEquals(vault.state, "locked");
      assertEquals(assertThrows(() => vault.db, HearthError).code, "locked");
    }
    assertEquals(await snapshot(dir), before);
    await vault.unlock(PASS);
    assertEquals(vault.state, "unlocked");
    const back = await readBack(vault);
    assertEquals(back.account.display_name, marker);
    assertEquals(back.seed, seed);
    assertEquals(JSON.parse(back.message.body_json), { text: marker });
    await vault.close();
  });
});

Deno.test("client_key.json is mode 0600 and holds no key material", async () => {
  await withDir(async (dir) => {
    const vault = await ClientVault.open(dir, { kdfParams: KDF });
    await vault.create(PASS);
    await vault.close();
    const path = `${dir}/${KEY_FILE_NAME}`;
    if (Deno.build.os !== "windows") assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(path);
    const json = JSON.parse(text);
    assertEquals(Object.keys(json).sort(), ["check", "file", "kdf", "params", "salt", "version"]);
    assertEquals(json.kdf, "scrypt");
    assertEquals(json.params, KDF);
    assertEquals(json.file, "client.db");
    const salt = fromHex(json.salt, 16);
    const key = await deriveKeyFromPassphrase(PASS, salt, KDF);
    for (const form of [toHex(key), toHex(key).toUpperCase(), toBase64(key)]) {
      assertFalse(text.includes(form), "the key is in the key file");
    }
    assertEquals(json.check, toHex(labeledHash("hearth/client-key-check/v1", key)));
    assertFalse(text.includes(PASS));
    assertEquals(await fileContaining(dir, key), null);
  });
});

Deno.test("a vault opened again from disk is locked", async () => {
  await withDir(async (dir) => {
    const seed = randomBytes(32);
    const first = await createWithData(dir, "persisted", seed);
    await first.close();
    const again = await ClientVault.open(dir, { kdfParams: KDF });
    assertEquals(again.state, "locked");
    assertEquals(assertThrows(() => again.db, HearthError).code, "locked");
    await again.unlock(PASS);
    assertEquals((await readBack(again)).seed, seed);
    await again.close();
  });
});

Deno.test("concurrent unlocks open one connection", async () => {
  await withDir(async (dir) => {
    const vault = await createWithData(dir, "x", randomBytes(32));
    await vault.lock();
    const seen: unknown[] = [];
    await Promise.all([1, 2, 3].map(() => vault.unlock(PASS).then(() => seen.push(vault.db))));
    assertEquals(seen.length, 3);
    assert(seen.every((db) => db === seen[0]), "every unlock sees the same connection");
    // While unlocked, unlock only checks the passphrase.
    await expectCode(vault.unlock("wrong"), "wrong_passphrase");
    assertEquals(vault.state, "unlocked");
    assert(vault.db === seen[0]);
    await vault.lock();
    // A wrong and a right passphrase at once: one fails, one opens.
    const results = await Promise.allSettled([vault.unlock("wrong"), vault.unlock(PASS)]);
    assertEquals(results.map((r) => r.status), ["rejected", "fulfilled"]);
    assertEquals(vault.state, "unlocked");
    await vault.close();
  });
});

Deno.test("state errors: conflict, bad_request, too_large, unavailable", async () => {
  await withDir(async (dir) => {
    const vault = await ClientVault.open(dir, { kdfParams: KDF });
    assertEquals(assertThrows(() => vault.db, HearthError).code, "locked");
    await expectCode(vault.unlock(PASS), "conflict");
    await expectCode(vault.lock().then(() => vault.changePassphrase(PASS, "n")), "locked");
    await expectCode(vault.create(""), "bad_request");
    await expectCode(vault.create("x".repeat(1025)), "too_large");
    assertEquals(vault.state, "absent");
    await vault.create("x"); // one character is enough
    await expectCode(vault.create(PASS), "conflict");
    await vault.close();
    assertEquals(vault.state, "locked");
    await expectCode(vault.unlock("x"), "unavailable");
    await vault.close(); // idempotent
  });
});

Deno.test("the default KDF parameters are the strong ones", async () => {
  await withDir(async (dir) => {
    const vault = await ClientVault.open(dir);
    await vault.create(PASS);
    await vault.close();
    const json = JSON.parse(await Deno.readTextFile(`${dir}/${KEY_FILE_NAME}`));
    assertEquals(json.params, { N: 2 ** 17, r: 8, p: 1 });
    assertEquals(json.params, { ...SCRYPT_DEFAULTS });
  });
});

Deno.test("changePassphrase re-encrypts into a new file under a new salt", async () => {
  await withDir(async (dir) => {
    const marker = `MARKER-${toHex(randomBytes(8))}`;
    const seed = randomBytes(32);
    const vault = await createWithData(dir, marker, seed);
    const oldJson = JSON.parse(await Deno.readTextFile(`${dir}/${KEY_FILE_NAME}`));
    await expectCode(vault.changePassphrase("wrong", "new one"), "wrong_passphrase");
    await expectCode(vault.changePassphrase(PASS, ""), "bad_request");
    assertEquals(vault.state, "unlocked");
    assertEquals((await readBack(vault)).seed, seed);

    await vault.changePassphrase(PASS, "new one");
    assertEquals(vault.state, "unlocked");
    assertEquals((await readBack(vault)).account.display_name, marker);
    await vault.db.insertInto("settings").values({ key: "after", value_json: "1" }).execute();
    const json = JSON.parse(await Deno.readTextFile(`${dir}/${KEY_FILE_NAME}`));
    assertNotEquals(json.salt, oldJson.salt);
    assert(/^client-[0-9a-f]{16}\.db$/.test(json.file), json.file);
    assertFalse(await exists(`${dir}/client.db`), "the old file is removed");
    await vault.lock();
    assertEquals(await fileContaining(dir, utf8(marker)), null);
    assertEquals(await fileContaining(dir, seed), null);
    await expectCode(vault.unlock(PASS), "wrong_passphrase");
    await vault.close();

    const again = await ClientVault.open(dir, { kdfParams: KDF });
    await expectCode(again.unlock(PASS), "wrong_passphrase");
    await again.unlock("new one");
    assertEquals((await readBack(again)).seed, seed);
    const after = await again.db.selectFrom("settings").selectAll().execute();
    assertEquals(after, [{ key: "after", value_json: "1" }]);
    await again.close();
  });
});

Deno.test("open removes database files the key file does not name", async () => {
  await withDir(async (dir) => {
    const vault = await createWithData(dir, "kept", randomBytes(32));
    await vault.close();
    // What a crash before the key file's rewrite leaves behind: the new copy.
    const stray = "client-0123456789abcdef.db";
    await Deno.writeFile(`${dir}/${stray}`, randomBytes(4096));
    await Deno.writeFile(`${dir}/${stray}-wal`, randomBytes(100));
    await Deno.writeTextFile(`${dir}/notes.txt`, "not ours");
    const again = await ClientVault.open(dir, { kdfParams: KDF });
    assertFalse(await exists(`${dir}/${stray}`));
    assertFalse(await exists(`${dir}/${stray}-wal`));
    assert(await exists(`${dir}/notes.txt`), "other files stay");
    await again.unlock(PASS);
    assertEquals((await readBack(again)).account.display_name, "kept");
    await again.close();
  });
});

Deno.test("create replaces a database left without its key file", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/client.db`, randomBytes(8192));
    const vault = await ClientVault.open(dir, { kdfParams: KDF });
    assertEquals(vault.state, "absent");
    await vault.create(PASS);
    await vault.db.insertInto("settings").values({ key: "k", value_json: "true" }).execute();
    await vault.close();
  });
});

Deno.test("a malformed key file or a missing database is an error, not a new database", async () => {
  await withDir(async (dir) => {
    const vault = await ClientVault.open(dir, { kdfParams: KDF });
    await vault.create(PASS);
    await vault.close();
    const path = `${dir}/${KEY_FILE_NAME}`;
    const good = JSON.parse(await Deno.readTextFile(path));
    const bad = [
      "not json",
      JSON.stringify({ ...good, version: 2 }),
      JSON.stringify({ ...good, file: "../elsewhere.db" }),
      JSON.stringify({ ...good, kdf: "pbkdf2" }),
      JSON.stringify({ ...good, params: { N: 2 ** 30, r: 8, p: 1 } }),
      JSON.stringify({ ...good, salt: "00" }),
      " ".repeat(5000),
    ];
    for (const text of bad) {
      await Deno.writeTextFile(path, text);
      await expectCode(ClientVault.open(dir, { kdfParams: KDF }), "internal");
    }
    await Deno.writeTextFile(path, JSON.stringify(good));
    await Deno.remove(`${dir}/client.db`);
    const again = await ClientVault.open(dir, { kdfParams: KDF });
    await expectCode(again.unlock(PASS), "not_found");
    assertFalse(await exists(`${dir}/client.db`), "no empty database was created");
    await again.close();
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
