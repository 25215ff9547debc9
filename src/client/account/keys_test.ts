// Vector sources (see tests/vectors/README.md):
// - RFC 8032 §7.1 TEST 1: the seed 9d61b1…7f60 gives the public key
//   d75a98…511a; its signature of the empty message is pinned too.
// - The X25519 key pair is cross-checked against a second implementation:
//   WebCrypto derives the public key from the converted private key, and it
//   must equal noble's conversion of the Ed25519 public key.
import { assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import {
  CryptoError,
  dhKeyPairFromPrivate,
  fromHex,
  randomBytes,
  sign,
  toHex,
  verify,
  x25519,
} from "../../shared/crypto/mod.ts";
import { parseAccountId } from "./account_id.ts";
import { accountKeysFromSeed, x25519OfAccount } from "./keys.ts";
import { phraseToSeed, seedToPhrase } from "./seed.ts";

const TEST1 = {
  seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

Deno.test("the identity key of a seed is RFC 8032's key for that seed (TEST 1)", async () => {
  const keys = await accountKeysFromSeed(fromHex(TEST1.seed));
  assertEquals(toHex(keys.signing.publicKey), TEST1.publicKey);
  assertEquals(toHex(await sign(keys.signing, new Uint8Array(0))), TEST1.signature);
  assertEquals(keys.seed, fromHex(TEST1.seed));
  assertEquals(parseAccountId(keys.accountId), keys.signing.publicKey);
});

Deno.test("the X25519 pair agrees with the converted public key (cross-check with WebCrypto)", async () => {
  for (const seed of [fromHex(TEST1.seed), ...Array.from({ length: 10 }, () => randomBytes(32))]) {
    const keys = await accountKeysFromSeed(seed);
    assertEquals(keys.dh.publicKey, x25519OfAccount(keys.signing.publicKey));
    const rebuilt = await dhKeyPairFromPrivate(keys.dh.privateKey);
    assertEquals(rebuilt.publicKey, keys.dh.publicKey);
  }
});

Deno.test("two accounts agree on a secret knowing only each other's Account ID", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await accountKeysFromSeed(randomBytes(32));
  const aliceSide = await x25519(alice.dh, x25519OfAccount(parseAccountId(bob.accountId)));
  const bobSide = await x25519(bob.dh, x25519OfAccount(parseAccountId(alice.accountId)));
  assertEquals(aliceSide, bobSide);
});

Deno.test("restoring from the recovery phrase gives the same account", async () => {
  const seed = randomBytes(32);
  const created = await accountKeysFromSeed(seed);
  const restored = await accountKeysFromSeed(phraseToSeed(seedToPhrase(seed)));
  assertEquals(restored.accountId, created.accountId);
  assertEquals(restored.dh.privateKey, created.dh.privateKey);
  const message = new TextEncoder().encode("hello");
  const signature = await sign(restored.signing, message);
  assertEquals(await verify(created.signing.publicKey, message, signature), true);
});

Deno.test("the keys own a copy of the seed", async () => {
  const seed = randomBytes(32);
  const copy = new Uint8Array(seed);
  const keys = await accountKeysFromSeed(seed);
  seed.fill(0);
  assertEquals(keys.seed, copy);
});

Deno.test("a seed that is not 32 bytes, and a non-point key, are refused", async () => {
  await assertRejects(() => accountKeysFromSeed(new Uint8Array(31)), RangeError);
  await assertRejects(() => accountKeysFromSeed("seed" as unknown as Uint8Array), RangeError);
  const notOnCurve = new Uint8Array(32);
  notOnCurve[0] = 2;
  assertThrows(() => x25519OfAccount(notOnCurve), CryptoError);
});
