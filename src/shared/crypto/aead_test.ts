// Vector sources (see tests/vectors/README.md):
// - draft-irtf-cfrg-xchacha-03 Appendix A.3.1: AEAD_XChaCha20_Poly1305.
// - McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
//   2005, Appendix B, Test Cases 13, 14, 15 and 16 (AES-256; 16 has AAD).
// - AES-256-CTR: no official vector starts at the all-zero counter block
//   that aesCtrXor uses (NIST SP 800-38A F.5.5 starts at f0f1...ff), so it is
//   cross-checked against @noble/ciphers' independent `ctr` implementation.
import { ctr } from "@noble/ciphers/aes.js";
import fc from "fast-check";
import {
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../tests/assert.ts";
import {
  AEAD_TAG_BYTES,
  aesCtrXor,
  aesGcmOpen,
  aesGcmSeal,
  xchachaOpen,
  xchachaSeal,
} from "./aead.ts";
import { concatBytes, fromHex, randomBytes, utf8 } from "./bytes.ts";
import { CryptoError } from "./errors.ts";

/** draft-irtf-cfrg-xchacha-03 A.3.1. */
const XCHACHA = {
  plaintext: "Ladies and Gentlemen of the class of '99: If I could offer you only one tip " +
    "for the future, sunscreen would be it.",
  aad: "50515253c0c1c2c3c4c5c6c7",
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
  ciphertext: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
    "21f9664c97637da9768812f615c68b13b52e",
  tag: "c0875924c1c7987947deafd8780acf49",
};

const GCM_KEY = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const GCM_IV = "cafebabefacedbaddecaf888";
const GCM_P64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const GCM_C64 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";

/** McGrew & Viega GCM spec, Appendix B, the AES-256 cases with 96-bit IVs. */
const GCM = [
  {
    name: "Test Case 13",
    key: "00".repeat(32),
    iv: "00".repeat(12),
    plaintext: "",
    aad: undefined,
    ciphertext: "",
    tag: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    name: "Test Case 14",
    key: "00".repeat(32),
    iv: "00".repeat(12),
    plaintext: "00".repeat(16),
    aad: undefined,
    ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
    tag: "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "Test Case 15",
    key: GCM_KEY,
    iv: GCM_IV,
    plaintext: GCM_P64,
    aad: undefined,
    ciphertext: GCM_C64,
    tag: "b094dac5d93471bdec1a502270e3cc6c",
  },
  {
    name: "Test Case 16",
    key: GCM_KEY,
    iv: GCM_IV,
    plaintext: GCM_P64.slice(0, 120),
    aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    ciphertext: GCM_C64.slice(0, 120),
    tag: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

function aadOf(hex: string | undefined): Uint8Array | undefined {
  return hex === undefined ? undefined : fromHex(hex);
}

Deno.test("xchachaSeal matches draft-irtf-cfrg-xchacha-03 A.3.1", () => {
  const sealed = xchachaSeal(
    fromHex(XCHACHA.key, 32),
    fromHex(XCHACHA.nonce, 24),
    utf8(XCHACHA.plaintext),
    fromHex(XCHACHA.aad),
  );
  assertEquals(sealed, concatBytes(fromHex(XCHACHA.ciphertext), fromHex(XCHACHA.tag, 16)));
  assertEquals(sealed.length, 114 + AEAD_TAG_BYTES);
});

Deno.test("xchachaOpen opens the A.3.1 vector and rejects any tampering", () => {
  const key = fromHex(XCHACHA.key, 32);
  const nonce = fromHex(XCHACHA.nonce, 24);
  const aad = fromHex(XCHACHA.aad);
  const sealed = concatBytes(fromHex(XCHACHA.ciphertext), fromHex(XCHACHA.tag, 16));
  assertEquals(xchachaOpen(key, nonce, sealed, aad), utf8(XCHACHA.plaintext));

  for (const bit of [0, 8 * 57 + 3, sealed.length * 8 - 1]) {
    assertThrows(() => xchachaOpen(key, nonce, flipBit(sealed, bit), aad), CryptoError);
  }
  assertThrows(() => xchachaOpen(key, nonce, sealed, flipBit(aad, 0)), CryptoError);
  assertThrows(() => xchachaOpen(key, nonce, sealed), CryptoError);
  assertThrows(() => xchachaOpen(key, flipBit(nonce, 191), sealed, aad), CryptoError);
  assertThrows(() => xchachaOpen(flipBit(key, 0), nonce, sealed, aad), CryptoError);
  assertThrows(() => xchachaOpen(key, nonce, sealed.subarray(0, 100), aad), CryptoError);
  assertThrows(() => xchachaOpen(key, nonce, sealed.subarray(0, 15), aad), CryptoError);
  assertThrows(() => xchachaOpen(key, nonce, new Uint8Array(), aad), CryptoError);
});

Deno.test("xchacha rejects keys and nonces of the wrong length with RangeError", () => {
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  assertThrows(() => xchachaSeal(new Uint8Array(31), nonce, new Uint8Array(1)), RangeError);
  assertThrows(() => xchachaSeal(key, new Uint8Array(12), new Uint8Array(1)), RangeError);
  assertThrows(() => xchachaOpen(new Uint8Array(33), nonce, new Uint8Array(16)), RangeError);
  assertThrows(() => xchachaOpen(key, new Uint8Array(25), new Uint8Array(16)), RangeError);
});

Deno.test("xchacha round-trips random data (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
      (key, nonce, plaintext, aad) => {
        const sealed = xchachaSeal(key, nonce, plaintext, aad);
        assertEquals(sealed.length, plaintext.length + AEAD_TAG_BYTES);
        assertEquals(xchachaOpen(key, nonce, sealed, aad), plaintext);
      },
    ),
  );
});

Deno.test("aesGcmSeal matches GCM spec Test Cases 13-16 (AES-256)", async () => {
  for (const v of GCM) {
    const sealed = await aesGcmSeal(
      fromHex(v.key, 32),
      fromHex(v.iv, 12),
      fromHex(v.plaintext),
      aadOf(v.aad),
    );
    assertEquals(sealed, concatBytes(fromHex(v.ciphertext), fromHex(v.tag, 16)), v.name);
  }
});

Deno.test("aesGcmOpen opens GCM spec Test Cases 13-16 (AES-256)", async () => {
  for (const v of GCM) {
    const sealed = concatBytes(fromHex(v.ciphertext), fromHex(v.tag, 16));
    const opened = await aesGcmOpen(fromHex(v.key, 32), fromHex(v.iv, 12), sealed, aadOf(v.aad));
    assertEquals(opened, fromHex(v.plaintext), v.name);
  }
});

Deno.test("aesGcmOpen rejects any tampering with CryptoError (Test Case 16)", async () => {
  const v = GCM[3]!;
  const key = fromHex(v.key, 32);
  const iv = fromHex(v.iv, 12);
  const aad = fromHex(v.aad!);
  const sealed = concatBytes(fromHex(v.ciphertext), fromHex(v.tag, 16));
  for (const bit of [0, 8 * 30 + 5, sealed.length * 8 - 1]) {
    await assertRejects(() => aesGcmOpen(key, iv, flipBit(sealed, bit), aad), CryptoError);
  }
  await assertRejects(() => aesGcmOpen(key, iv, sealed, flipBit(aad, 159)), CryptoError);
  await assertRejects(() => aesGcmOpen(key, iv, sealed), CryptoError);
  await assertRejects(() => aesGcmOpen(key, flipBit(iv, 0), sealed, aad), CryptoError);
  await assertRejects(() => aesGcmOpen(flipBit(key, 0), iv, sealed, aad), CryptoError);
  await assertRejects(() => aesGcmOpen(key, iv, sealed.subarray(1), aad), CryptoError);
  await assertRejects(() => aesGcmOpen(key, iv, sealed.subarray(0, 15), aad), CryptoError);
  await assertRejects(() => aesGcmOpen(key, iv, new Uint8Array(), aad), CryptoError);
});

Deno.test("aesGcm treats absent and empty associated data alike", async () => {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const sealed = await aesGcmSeal(key, iv, utf8("x"));
  assertEquals(await aesGcmSeal(key, iv, utf8("x"), new Uint8Array()), sealed);
  assertEquals(await aesGcmOpen(key, iv, sealed, new Uint8Array()), utf8("x"));
});

Deno.test("aesGcm rejects keys and nonces of the wrong length with RangeError", async () => {
  const key = new Uint8Array(32);
  const iv = new Uint8Array(12);
  const data = new Uint8Array(16);
  await assertRejects(() => aesGcmSeal(new Uint8Array(16), iv, data), RangeError);
  await assertRejects(() => aesGcmSeal(key, new Uint8Array(16), data), RangeError);
  await assertRejects(() => aesGcmOpen(new Uint8Array(24), iv, data), RangeError);
  await assertRejects(() => aesGcmOpen(key, new Uint8Array(24), data), RangeError);
});

Deno.test("aesGcm works on subarray views (not whole buffers)", async () => {
  const v = GCM[3]!;
  const pad = (hex: string) => concatBytes(new Uint8Array(3), fromHex(hex)).subarray(3);
  const sealed = await aesGcmSeal(pad(v.key), pad(v.iv), pad(v.plaintext), pad(v.aad!));
  assertEquals(sealed, concatBytes(fromHex(v.ciphertext), fromHex(v.tag, 16)));
});

Deno.test("aesCtrXor matches @noble/ciphers ctr with a zero IV on random data", async () => {
  for (const length of [0, 1, 15, 16, 17, 64, 1000, 70_000]) {
    const key = randomBytes(32);
    const data = randomBytes(length);
    const expected = ctr(key, new Uint8Array(16)).encrypt(data);
    assertEquals(await aesCtrXor(key, data), expected, `length ${length}`);
  }
});

Deno.test("aesCtrXor applied twice is the identity (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 600 }),
      async (key, data) => {
        const once = await aesCtrXor(key, data);
        assertEquals(once.length, data.length);
        assertEquals(once, ctr(key, new Uint8Array(16)).encrypt(data));
        assertEquals(await aesCtrXor(key, once), data);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("aesCtrXor keystreams differ between keys and are not the identity", async () => {
  const data = new Uint8Array(64);
  const a = await aesCtrXor(randomBytes(32), data);
  const b = await aesCtrXor(randomBytes(32), data);
  assertNotEquals(a, data);
  assertNotEquals(a, b);
});

Deno.test("aesCtrXor rejects a key that is not 32 bytes", async () => {
  await assertRejects(() => aesCtrXor(new Uint8Array(16), new Uint8Array(1)), RangeError);
  await assertRejects(() => aesCtrXor(new Uint8Array(33), new Uint8Array(1)), RangeError);
});
