// Vector sources (see tests/vectors/README.md):
// - RFC 7748 §5.2: the two single-step X25519(k, u) test vectors.
// - RFC 7748 §6.1: Alice's and Bob's key pairs and their shared secret K.
// - RFC 7748 §6.1: an all-zero output (small-order input) must be rejected.
import { assert, assertEquals, assertNotEquals, assertRejects } from "../../../tests/assert.ts";
import { fromHex } from "./bytes.ts";
import { type DhKeyPair, dhKeyPairFromPrivate, generateDhKeyPair, x25519 } from "./dh.ts";
import { CryptoError } from "./errors.ts";

/** RFC 7748 §5.2: scalar k, input u-coordinate, output u-coordinate. */
const SINGLE_STEP = [
  {
    k: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    u: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    out: "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  },
  {
    // The top bit of u is set: implementations must mask it (RFC 7748 §5).
    k: "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    u: "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    out: "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  },
];

/** RFC 7748 §6.1. */
const ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

Deno.test("x25519 matches the RFC 7748 §5.2 single-step vectors", async () => {
  for (const [i, v] of SINGLE_STEP.entries()) {
    const ours = await dhKeyPairFromPrivate(fromHex(v.k, 32));
    assertEquals(await x25519(ours, fromHex(v.u, 32)), fromHex(v.out, 32), `vector ${i + 1}`);
  }
});

Deno.test("dhKeyPairFromPrivate derives the RFC 7748 §6.1 public keys", async () => {
  const alice = await dhKeyPairFromPrivate(fromHex(ALICE_PRIVATE, 32));
  const bob = await dhKeyPairFromPrivate(fromHex(BOB_PRIVATE, 32));
  assertEquals(alice.publicKey, fromHex(ALICE_PUBLIC, 32));
  assertEquals(bob.publicKey, fromHex(BOB_PUBLIC, 32));
  assertEquals(alice.privateKey, fromHex(ALICE_PRIVATE, 32));
});

Deno.test("x25519 gives both sides the RFC 7748 §6.1 shared secret", async () => {
  const alice = await dhKeyPairFromPrivate(fromHex(ALICE_PRIVATE, 32));
  const bob = await dhKeyPairFromPrivate(fromHex(BOB_PRIVATE, 32));
  assertEquals(await x25519(alice, fromHex(BOB_PUBLIC, 32)), fromHex(SHARED, 32));
  assertEquals(await x25519(bob, fromHex(ALICE_PUBLIC, 32)), fromHex(SHARED, 32));
});

Deno.test("x25519 imports the private key lazily when the pair has no CryptoKey", async () => {
  const alice: DhKeyPair = {
    privateKey: fromHex(ALICE_PRIVATE, 32),
    publicKey: fromHex(ALICE_PUBLIC, 32),
  };
  assertEquals(await x25519(alice, fromHex(BOB_PUBLIC, 32)), fromHex(SHARED, 32));
  assert(alice.cryptoKey !== undefined, "the imported key is cached on the pair");
});

Deno.test("dhKeyPairFromPrivate copies the private key it is given", async () => {
  const raw = fromHex(ALICE_PRIVATE, 32);
  const pair = await dhKeyPairFromPrivate(raw);
  raw.fill(0);
  assertEquals(pair.privateKey, fromHex(ALICE_PRIVATE, 32));
});

Deno.test("x25519 rejects small-order public keys whose output is all zero (RFC 7748 §6.1)", async () => {
  const alice = await dhKeyPairFromPrivate(fromHex(ALICE_PRIVATE, 32));
  const one = new Uint8Array(32);
  one[0] = 1;
  const smallOrder = [
    new Uint8Array(32), // u = 0, order 2
    one, // u = 1, order 4
    fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 32), // u = p - 1
  ];
  for (const u of smallOrder) {
    await assertRejects(() => x25519(alice, u), CryptoError);
  }
});

Deno.test("x25519 rejects a public key of the wrong length with CryptoError", async () => {
  const alice = await dhKeyPairFromPrivate(fromHex(ALICE_PRIVATE, 32));
  for (const length of [0, 31, 33, 64]) {
    await assertRejects(() => x25519(alice, new Uint8Array(length).fill(9)), CryptoError);
  }
});

Deno.test("dhKeyPairFromPrivate rejects a private key that is not 32 bytes", async () => {
  for (const length of [0, 31, 33]) {
    await assertRejects(() => dhKeyPairFromPrivate(new Uint8Array(length)), RangeError);
  }
});

Deno.test("generated key pairs agree on a shared secret", async () => {
  const a = await generateDhKeyPair();
  const b = await generateDhKeyPair();
  assertEquals(a.privateKey.length, 32);
  assertEquals(a.publicKey.length, 32);
  assertNotEquals(a.publicKey, b.publicKey);
  const ab = await x25519(a, b.publicKey);
  assertEquals(ab, await x25519(b, a.publicKey));
  // Rebuilding from the private key gives the same public key.
  assertEquals((await dhKeyPairFromPrivate(a.privateKey)).publicKey, a.publicKey);
});
