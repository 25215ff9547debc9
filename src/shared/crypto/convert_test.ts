/**
 * Ed25519 → X25519 conversion, cross-checked against a second
 * implementation: the X25519 public key WebCrypto derives from the
 * converted private key must equal the converted public key. The seed of
 * RFC 8032 §7.1 TEST 1 is used as a fixed input.
 */
import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { fromHex, randomBytes } from "./bytes.ts";
import { ed25519PublicToX25519, ed25519SeedToX25519Private } from "./convert.ts";
import { dhKeyPairFromPrivate, x25519 } from "./dh.ts";
import { CryptoError } from "./errors.ts";
import { signingKeyPairFromSeed } from "./sign.ts";

Deno.test("converted keys agree with WebCrypto's X25519 (RFC 8032 TEST 1 seed and random seeds)", async () => {
  const seeds = [
    fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
    ...Array.from({ length: 20 }, () => randomBytes(32)),
  ];
  for (const seed of seeds) {
    const ed = await signingKeyPairFromSeed(seed);
    const xPub = ed25519PublicToX25519(ed.publicKey);
    const pair = await dhKeyPairFromPrivate(ed25519SeedToX25519Private(seed));
    assertEquals(pair.publicKey, xPub);
  }
});

Deno.test("two accounts agree on a shared secret from Ed25519 keys alone", async () => {
  const a = await signingKeyPairFromSeed(randomBytes(32));
  const b = await signingKeyPairFromSeed(randomBytes(32));
  const aX = await dhKeyPairFromPrivate(ed25519SeedToX25519Private(a.seed));
  const bX = await dhKeyPairFromPrivate(ed25519SeedToX25519Private(b.seed));
  assertEquals(
    await x25519(aX, ed25519PublicToX25519(b.publicKey)),
    await x25519(bX, ed25519PublicToX25519(a.publicKey)),
  );
});

Deno.test("invalid Ed25519 public keys are refused", () => {
  assertThrows(() => ed25519PublicToX25519(new Uint8Array(31)), CryptoError);
  // y = 2 is not on the curve (no x satisfies the equation).
  const notOnCurve = new Uint8Array(32);
  notOnCurve[0] = 2;
  assertThrows(() => ed25519PublicToX25519(notOnCurve), CryptoError);
  assertThrows(() => ed25519SeedToX25519Private(new Uint8Array(16)), RangeError);
});
