// Vector sources (see tests/vectors/README.md):
// - RFC 8032 §7.1 TEST 1, TEST 2 and TEST 3 (Ed25519): seed, public key,
//   message and the exact (deterministic) signature.
// - RFC 8032 §5.1.7: a signature whose S is not below the group order L must
//   be rejected (malleability check, derived from TEST 1).
import { assert, assertEquals, assertFalse, assertRejects } from "../../../tests/assert.ts";
import { fromHex, utf8 } from "./bytes.ts";
import {
  base64UrlDecode,
  generateSigningKeyPair,
  sign,
  type SigningKeyPair,
  signingKeyPairFromSeed,
  verify,
} from "./sign.ts";

/** RFC 8032 §7.1: SECRET KEY (the seed), PUBLIC KEY, MESSAGE, SIGNATURE. */
const RFC8032 = [
  {
    name: "TEST 1",
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

Deno.test("signingKeyPairFromSeed derives the RFC 8032 §7.1 public keys", async () => {
  for (const v of RFC8032) {
    const key = await signingKeyPairFromSeed(fromHex(v.seed, 32));
    assertEquals(key.publicKey, fromHex(v.publicKey, 32), v.name);
    assertEquals(key.seed, fromHex(v.seed, 32), v.name);
  }
});

Deno.test("sign produces the exact RFC 8032 §7.1 signatures", async () => {
  for (const v of RFC8032) {
    const key = await signingKeyPairFromSeed(fromHex(v.seed, 32));
    assertEquals(await sign(key, fromHex(v.message)), fromHex(v.signature, 64), v.name);
  }
});

Deno.test("verify accepts the RFC 8032 §7.1 signatures", async () => {
  for (const v of RFC8032) {
    const ok = await verify(fromHex(v.publicKey, 32), fromHex(v.message), fromHex(v.signature));
    assert(ok, `${v.name} verifies`);
  }
});

Deno.test("verify rejects a flipped bit in the message, signature or key", async () => {
  for (const v of RFC8032) {
    const publicKey = fromHex(v.publicKey, 32);
    const signature = fromHex(v.signature, 64);
    // TEST 1 has an empty message: flipping means appending a byte.
    const message = fromHex(v.message);
    const otherMessage = message.length === 0 ? new Uint8Array([0]) : flipBit(message, 0);
    assertFalse(await verify(publicKey, otherMessage, signature), `${v.name} message`);
    for (const bit of [0, 255, 256, 511]) {
      const bad = flipBit(signature, bit);
      assertFalse(await verify(publicKey, message, bad), `${v.name} signature bit ${bit}`);
    }
    for (const bit of [0, 100, 255]) {
      const bad = flipBit(publicKey, bit);
      assertFalse(await verify(bad, message, signature), `${v.name} key bit ${bit}`);
    }
  }
});

Deno.test("verify rejects a malleated signature with S + L (RFC 8032 §5.1.7)", async () => {
  const v = RFC8032[0]!;
  const signature = fromHex(v.signature, 64);
  const order = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
  let malleated = s + order;
  assert(malleated < 1n << 256n, "S + L still fits in 32 bytes");
  const bad = new Uint8Array(signature);
  for (let i = 0; i < 32; i++) {
    bad[32 + i] = Number(malleated & 0xffn);
    malleated >>= 8n;
  }
  assertFalse(await verify(fromHex(v.publicKey, 32), fromHex(v.message), bad));
});

Deno.test("verify returns false without throwing for wrong lengths", async () => {
  const v = RFC8032[1]!;
  const publicKey = fromHex(v.publicKey, 32);
  const signature = fromHex(v.signature, 64);
  const message = fromHex(v.message);
  for (const length of [0, 31, 33, 64]) {
    assertFalse(await verify(new Uint8Array(length), message, signature), `key of ${length}`);
  }
  for (const length of [0, 63, 65, 128]) {
    const sig = new Uint8Array(length);
    sig.set(signature.subarray(0, Math.min(64, length)));
    assertFalse(await verify(publicKey, message, sig), `signature of ${length}`);
  }
  // A signature with one extra trailing byte must not verify either.
  const longer = new Uint8Array(65);
  longer.set(signature);
  assertFalse(await verify(publicKey, message, longer));
});

Deno.test("verify returns false for a key that is not a curve point", async () => {
  const v = RFC8032[0]!;
  // y = 2 is not the y-coordinate of any point on edwards25519.
  const notAPoint = new Uint8Array(32);
  notAPoint[0] = 2;
  assertFalse(await verify(notAPoint, fromHex(v.message), fromHex(v.signature, 64)));
  assertFalse(
    await verify(new Uint8Array(32).fill(0xff), fromHex(v.message), fromHex(v.signature)),
  );
});

Deno.test("sign imports the key lazily when the pair has no CryptoKey", async () => {
  const v = RFC8032[2]!;
  const key: SigningKeyPair = { seed: fromHex(v.seed, 32), publicKey: fromHex(v.publicKey, 32) };
  assertEquals(await sign(key, fromHex(v.message)), fromHex(v.signature, 64));
  assert(key.cryptoKey !== undefined, "the imported key is cached on the pair");
});

Deno.test("signingKeyPairFromSeed rejects a seed that is not 32 bytes", async () => {
  for (const length of [0, 31, 33, 64]) {
    await assertRejects(() => signingKeyPairFromSeed(new Uint8Array(length)), RangeError);
  }
});

Deno.test("generated keys sign and verify, and rebuild from their seed", async () => {
  const key = await generateSigningKeyPair();
  const message = utf8("hearth/test/v1");
  const signature = await sign(key, message);
  assertEquals(signature.length, 64);
  assert(await verify(key.publicKey, message, signature));
  const rebuilt = await signingKeyPairFromSeed(key.seed);
  assertEquals(rebuilt.publicKey, key.publicKey);
  // Ed25519 is deterministic: the same key and message give the same bytes.
  assertEquals(await sign(rebuilt, message), signature);
});

Deno.test("base64UrlDecode decodes unpadded base64url", () => {
  assertEquals(base64UrlDecode(""), new Uint8Array());
  assertEquals(base64UrlDecode("-_8"), new Uint8Array([0xfb, 0xff]));
  assertEquals(base64UrlDecode("AQID"), new Uint8Array([1, 2, 3]));
  assertEquals(base64UrlDecode("AQ"), new Uint8Array([1]));
});
