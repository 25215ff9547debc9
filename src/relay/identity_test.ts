import {
  assert,
  assertEquals,
  assertFalse,
  assertRejects,
  assertThrows,
} from "../../tests/assert.ts";
import { fromHex, toHex } from "../shared/crypto/bytes.ts";
import { labeledHash } from "../shared/crypto/hash.ts";
import {
  checkPow,
  leadingZeroBits,
  loadOrCreateIdentity,
  NODE_KEY_FILE,
  powBitsOf,
  solvePow,
} from "./identity.ts";

Deno.test("leadingZeroBits counts zero bits before the first one", () => {
  assertEquals(leadingZeroBits(new Uint8Array([0x80, 0])), 0);
  assertEquals(leadingZeroBits(new Uint8Array([0x01, 0])), 7);
  assertEquals(leadingZeroBits(new Uint8Array([0, 0x10])), 11);
  assertEquals(leadingZeroBits(new Uint8Array([0, 0])), 16);
});

Deno.test("solvePow finds a nonce whose labeled hash meets the difficulty", () => {
  const id = fromHex("11".repeat(32));
  const x = fromHex("22".repeat(32));
  for (const bits of [0, 4, 12]) {
    const nonce = solvePow(id, x, bits);
    assertEquals(nonce.length, 8);
    const hash = labeledHash("hearth/node-pow/v1", id, x, nonce);
    assert(leadingZeroBits(hash) >= bits, `bits ${bits}`);
    assertEquals(powBitsOf(id, x, nonce), leadingZeroBits(hash));
    assert(checkPow({ id, x25519: x }, nonce, { bits }));
  }
  const nonce = solvePow(id, x, 12);
  const strength = powBitsOf(id, x, nonce);
  assertFalse(checkPow({ id, x25519: x }, nonce, { bits: strength + 1 }));
  assertFalse(checkPow({ id, x25519: x }, nonce.subarray(0, 7), { bits: 0 }));
  assertThrows(() => solvePow(id, x, 41), RangeError);
  assertThrows(() => solvePow(id.subarray(1), x, 1), RangeError);
});

Deno.test("loadOrCreateIdentity creates a 0600 key file and reloads the same keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await loadOrCreateIdentity(dir, { powBits: 8 });
    assertEquals(a.id, toHex(a.signing.publicKey));
    assert(checkPow({ id: a.signing.publicKey, x25519: a.dh.publicKey }, a.powNonce, { bits: 8 }));
    const info = await Deno.stat(`${dir}/${NODE_KEY_FILE}`);
    if (Deno.build.os !== "windows") assertEquals(info.mode! & 0o777, 0o600);
    const stored = JSON.parse(await Deno.readTextFile(`${dir}/${NODE_KEY_FILE}`));
    assertEquals(stored.id, a.id);
    assertEquals(stored.x25519, toHex(a.dh.publicKey));
    // No temp file is left behind.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, [NODE_KEY_FILE]);

    const b = await loadOrCreateIdentity(dir, { powBits: 8 });
    assertEquals(b.id, a.id);
    assertEquals(b.dh.publicKey, a.dh.publicKey);
    assertEquals(b.powNonce, a.powNonce);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity solves again when the difficulty was raised", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await loadOrCreateIdentity(dir, { powBits: 0 });
    // Find a difficulty the stored nonce does not meet.
    const have = powBitsOf(a.signing.publicKey, a.dh.publicKey, a.powNonce);
    const bits = Math.min(have + 1, 16);
    const b = await loadOrCreateIdentity(dir, { powBits: bits });
    assertEquals(b.id, a.id);
    assert(powBitsOf(b.signing.publicKey, b.dh.publicKey, b.powNonce) >= bits);
    const c = await loadOrCreateIdentity(dir, { powBits: bits });
    assertEquals(c.powNonce, b.powNonce);
    const info = await Deno.stat(`${dir}/${NODE_KEY_FILE}`);
    if (Deno.build.os !== "windows") assertEquals(info.mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity refuses a malformed key file instead of replacing it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/${NODE_KEY_FILE}`, '{"ed25519Seed": "zz"}');
    await assertRejects(() => loadOrCreateIdentity(dir, { powBits: 0 }), Error, "malformed");
    assertEquals(await Deno.readTextFile(`${dir}/${NODE_KEY_FILE}`), '{"ed25519Seed": "zz"}');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
