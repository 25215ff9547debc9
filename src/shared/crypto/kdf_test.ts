// Vector sources (see tests/vectors/README.md):
// - RFC 5869 Appendix A.3 (HKDF-SHA256 test case 3: zero-length salt and
//   info), applied to deriveKey directly: an empty label is empty info.
// - RFC 5869 Appendix A.1 (test case 1) and A.2 (test case 2): their info
//   strings (f0..f9, b0..ff) are not valid UTF-8, so deriveKey, which takes
//   a text label, cannot express them. They pin WebCrypto's HKDF instead,
//   and deriveKey is then cross-checked against WebCrypto with a salt and
//   text labels (a second, independent implementation).
import fc from "fast-check";
import { assertEquals, assertNotEquals, assertThrows } from "../../../tests/assert.ts";
import { buf, fromHex, utf8 } from "./bytes.ts";
import { deriveKey } from "./kdf.ts";

const RFC5869 = {
  a1: {
    ikm: "0b".repeat(22),
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    length: 42,
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  },
  a2: {
    ikm: hexRange(0x00, 0x4f),
    salt: hexRange(0x60, 0xaf),
    info: hexRange(0xb0, 0xff),
    length: 82,
    okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
      "cc30c58179ec3e87c14c01d5c1f3434f1d87",
  },
  a3: {
    ikm: "0b".repeat(22),
    length: 42,
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  },
};

/** Hex of the bytes from..to inclusive, as RFC 5869 A.2 writes them. */
function hexRange(from: number, to: number): string {
  let s = "";
  for (let i = from; i <= to; i++) s += i.toString(16).padStart(2, "0");
  return s;
}

/** HKDF-SHA256 through WebCrypto: the second implementation. */
async function webCryptoHkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

Deno.test("deriveKey matches RFC 5869 A.3 (empty label, no salt)", () => {
  const v = RFC5869.a3;
  const ikm = fromHex(v.ikm, 22);
  assertEquals(deriveKey(ikm, "", { length: v.length }), fromHex(v.okm, 42));
  // A zero-length salt is the same as no salt (RFC 5869 §2.2).
  assertEquals(deriveKey(ikm, "", { length: v.length, salt: new Uint8Array() }), fromHex(v.okm));
  // The default length is 32: a prefix of the same output.
  assertEquals(deriveKey(ikm, ""), fromHex(v.okm).subarray(0, 32));
});

Deno.test("the reference HKDF matches RFC 5869 A.1, A.2 and A.3", async () => {
  for (
    const [name, v] of Object.entries({ ...RFC5869, a3: { ...RFC5869.a3, salt: "", info: "" } })
  ) {
    const okm = await webCryptoHkdf(fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length);
    assertEquals(okm, fromHex(v.okm), name);
  }
});

Deno.test("deriveKey matches the reference HKDF with a salt and a text label", async () => {
  const a1 = RFC5869.a1;
  const ikm = fromHex(a1.ikm);
  const salt = fromHex(a1.salt);
  for (const label of ["hearth/onion/v1/routing-key", "x", "ünïcödé/label"]) {
    for (const length of [16, 32, 42, 64, 255]) {
      const expected = await webCryptoHkdf(ikm, salt, utf8(label), length);
      assertEquals(deriveKey(ikm, label, { length, salt }), expected, `${label} ${length}`);
    }
  }
});

Deno.test("deriveKey agrees with the reference HKDF on random inputs (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 16, maxLength: 80 }),
      fc.string({ maxLength: 40 }),
      fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
      fc.integer({ min: 1, max: 200 }),
      async (secret, label, salt, length) => {
        const expected = await webCryptoHkdf(secret, salt ?? new Uint8Array(), utf8(label), length);
        assertEquals(deriveKey(secret, label, { length, salt }), expected);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("deriveKey separates labels and salts", () => {
  const secret = fromHex(RFC5869.a1.ikm);
  const a = deriveKey(secret, "hearth/a/v1");
  assertEquals(a.length, 32);
  assertNotEquals(a, deriveKey(secret, "hearth/b/v1"));
  assertNotEquals(a, deriveKey(secret, "hearth/a/v1", { salt: new Uint8Array([1]) }));
  assertEquals(a, deriveKey(secret, "hearth/a/v1"));
});

Deno.test("deriveKey rejects a secret shorter than 16 bytes", () => {
  assertThrows(() => deriveKey(new Uint8Array(15), "x"), RangeError);
  assertThrows(() => deriveKey(new Uint8Array(0), "x"), RangeError);
  assertEquals(deriveKey(new Uint8Array(16), "x").length, 32);
});
