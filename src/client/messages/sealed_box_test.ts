/**
 * The sealed box, the envelope's encryption layer: it round-trips, only the
 * holder of the recipient's key opens it, every byte is authenticated, and
 * the version byte is checked first.
 */
import { assertEquals, assertNotEquals, assertRejects } from "../../../tests/assert.ts";
import {
  concatBytes,
  CryptoError,
  deriveKey,
  dhKeyPairFromPrivate,
  generateDhKeyPair,
  randomBytes,
  x25519,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { ENVELOPE_VERSION, openBox, sealBox, SEALED_BOX_OVERHEAD } from "./sealed_box.ts";

Deno.test("a sealed box opens with the recipient's key and is 73 bytes longer", async () => {
  const bob = await generateDhKeyPair();
  for (const length of [0, 1, 100, 5_000]) {
    const plaintext = randomBytes(length);
    const box = await sealBox(plaintext, bob.publicKey);
    assertEquals(box.length, length + SEALED_BOX_OVERHEAD);
    assertEquals(box[0], ENVELOPE_VERSION);
    assertEquals(await openBox(box, bob), plaintext);
  }
});

Deno.test("sealing twice gives unrelated bytes", async () => {
  const bob = await generateDhKeyPair();
  const plaintext = randomBytes(64);
  const a = await sealBox(plaintext, bob.publicKey);
  const b = await sealBox(plaintext, bob.publicKey);
  assertNotEquals(a.subarray(1, 33), b.subarray(1, 33));
  assertNotEquals(a.subarray(33, 57), b.subarray(33, 57));
  assertNotEquals(a.subarray(57), b.subarray(57));
});

Deno.test("a box built by hand from the spec's layout opens", async () => {
  // docs/PROTOCOL.md §10: key = KDF(X25519(e, B), E || B, "hearth/envelope/v1", 32).
  const bob = await generateDhKeyPair();
  const e = await dhKeyPairFromPrivate(randomBytes(32));
  const nonce = randomBytes(24);
  const key = deriveKey(await x25519(e, bob.publicKey), "hearth/envelope/v1", {
    salt: concatBytes(e.publicKey, bob.publicKey),
  });
  const header = concatBytes(new Uint8Array([1]), e.publicKey, nonce);
  const plaintext = randomBytes(40);
  const box = concatBytes(header, xchachaSeal(key, nonce, plaintext, header));
  assertEquals(await openBox(box, bob), plaintext);
  // The header is associated data: sealing without it does not open.
  const noAd = concatBytes(header, xchachaSeal(key, nonce, plaintext));
  await assertRejects(() => openBox(noAd, bob), CryptoError);
});

Deno.test("another key, a flipped bit anywhere, or a short box does not open", async () => {
  const bob = await generateDhKeyPair();
  const eve = await generateDhKeyPair();
  const box = await sealBox(randomBytes(30), bob.publicKey);
  await assertRejects(() => openBox(box, eve), CryptoError);
  for (let i = 1; i < box.length; i++) {
    const tampered = box.slice();
    tampered[i]! ^= 0x01;
    await assertRejects(() => openBox(tampered, bob), CryptoError);
  }
  await assertRejects(() => openBox(new Uint8Array(0), bob), CryptoError);
  await assertRejects(() => openBox(box.subarray(0, SEALED_BOX_OVERHEAD - 1), bob), CryptoError);
  await assertRejects(() => openBox(box.subarray(0, box.length - 1), bob), CryptoError);
});

Deno.test("an unknown version byte is bad_request, before any crypto", async () => {
  const bob = await generateDhKeyPair();
  const box = await sealBox(randomBytes(30), bob.publicKey);
  for (const version of [0, 2, 255]) {
    const other = box.slice();
    other[0] = version;
    const error = await assertRejects(() => openBox(other, bob), HearthError);
    assertEquals(error.code, "bad_request");
  }
  const error = await assertRejects(() => openBox(new Uint8Array([2]), bob), HearthError);
  assertEquals(error.code, "bad_request");
});

Deno.test("a small-order ephemeral key is refused", async () => {
  const bob = await generateDhKeyPair();
  const box = await sealBox(randomBytes(30), bob.publicKey);
  const lowOrder = box.slice();
  lowOrder.set(new Uint8Array(32), 1); // u = 0
  await assertRejects(() => openBox(lowOrder, bob), CryptoError);
  await assertRejects(() => sealBox(randomBytes(8), new Uint8Array(32)), CryptoError);
});
