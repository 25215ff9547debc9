// Vector sources (see tests/vectors/README.md):
// - RFC 4648 §10: the base64 and base16 (hex) test vectors ("", "f", "fo",
//   "foo", "foob", "fooba", "foobar").
// - Everything else is pinned by hand-written byte layouts and fast-check
//   round-trip properties; WebCrypto-free, no second implementation needed.
import fc from "fast-check";
import { assert, assertEquals, assertFalse, assertThrows } from "../../../tests/assert.ts";
import {
  buf,
  bytesEqual,
  compareBytes,
  concatBytes,
  fromBase64,
  fromHex,
  fromUtf8,
  randomBytes,
  readU32,
  readU64,
  toBase64,
  toHex,
  u16,
  u32,
  u64,
  utf8,
} from "./bytes.ts";

/** RFC 4648 §10. */
const RFC4648 = [
  ["", "", ""],
  ["f", "Zg==", "66"],
  ["fo", "Zm8=", "666f"],
  ["foo", "Zm9v", "666f6f"],
  ["foob", "Zm9vYg==", "666f6f62"],
  ["fooba", "Zm9vYmE=", "666f6f6261"],
  ["foobar", "Zm9vYmFy", "666f6f626172"],
] as const;

Deno.test("toHex and fromHex match RFC 4648 §10 base16 vectors", () => {
  for (const [text, , hex] of RFC4648) {
    assertEquals(toHex(utf8(text)), hex, text);
    assertEquals(fromHex(hex), utf8(text), text);
    assertEquals(fromHex(hex.toUpperCase()), utf8(text), text);
  }
  assertEquals(toHex(new Uint8Array([0, 15, 16, 255])), "000f10ff");
});

Deno.test("hex round-trips any bytes (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const hex = toHex(bytes);
      assertEquals(hex, hex.toLowerCase());
      assertEquals(hex.length, bytes.length * 2);
      assertEquals(fromHex(hex), bytes);
      assertEquals(fromHex(hex, bytes.length), bytes);
    }),
  );
});

Deno.test("fromHex rejects odd, invalid and wrong-length input with TypeError", () => {
  for (const bad of ["0", "abc", "zz", "0g", " 00", "00 ", "0x00", "+1", "-1", "é0"]) {
    assertThrows(() => fromHex(bad), TypeError);
  }
  assertThrows(() => fromHex("0011", 1), TypeError);
  assertThrows(() => fromHex("0011", 3), TypeError);
  assertThrows(() => fromHex("", 1), TypeError);
  assertThrows(() => fromHex(42 as unknown as string), TypeError);
  assertEquals(fromHex("", 0), new Uint8Array());
});

Deno.test("toBase64 and fromBase64 match RFC 4648 §10 base64 vectors", () => {
  for (const [text, b64] of RFC4648) {
    assertEquals(toBase64(utf8(text)), b64, text);
    assertEquals(fromBase64(b64), utf8(text), text);
  }
  assertEquals(toBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
});

Deno.test("base64 round-trips any bytes, including long input (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assertEquals(fromBase64(toBase64(bytes)), bytes);
    }),
  );
  const long = randomBytes(100_000);
  assertEquals(fromBase64(toBase64(long)), long);
});

Deno.test("fromBase64 rejects malformed input with TypeError", () => {
  for (const bad of ["Zg", "Zg=", "Zm9", "Z===", "Zm9v!", "Zm 9v", "-_8=", "Zg==Zg==", "=Zg="]) {
    assertThrows(() => fromBase64(bad), TypeError);
  }
  assertThrows(() => fromBase64(null as unknown as string), TypeError);
});

Deno.test("u16, u32 and u64 encode big-endian", () => {
  assertEquals(u16(0x0102), fromHex("0102"));
  assertEquals(u32(0x01020304), fromHex("01020304"));
  assertEquals(u32(0xffffffff), fromHex("ffffffff"));
  assertEquals(u64(0), fromHex("0000000000000000"));
  assertEquals(u64(0x0102030405), fromHex("0000000102030405"));
  assertEquals(u64(Number.MAX_SAFE_INTEGER), fromHex("001fffffffffffff"));
});

Deno.test("u64 rejects negative, fractional and unsafe integers with RangeError", () => {
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity, -0.5]) {
    assertThrows(() => u64(bad), RangeError);
  }
});

Deno.test("readU32 and readU64 read big-endian at an offset, within views", () => {
  const bytes = fromHex("ff0102030400000000000000ff");
  assertEquals(readU32(bytes, 1), 0x01020304);
  assertEquals(readU64(bytes, 5), 0xff);
  assertEquals(readU32(bytes.subarray(1), 0), 0x01020304);
  assertEquals(readU64(fromHex("001fffffffffffff"), 0), Number.MAX_SAFE_INTEGER);
  assertThrows(() => readU64(fromHex("0020000000000000"), 0), RangeError);
  assertThrows(() => readU32(fromHex("010203"), 0), RangeError);
});

Deno.test("u64 and readU64 round-trip safe integers (property)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      assertEquals(readU64(u64(n), 0), n);
    }),
  );
});

Deno.test("bytesEqual compares content and length", () => {
  assert(bytesEqual(new Uint8Array(), new Uint8Array()));
  assert(bytesEqual(fromHex("0102"), fromHex("0102")));
  assertFalse(bytesEqual(fromHex("0102"), fromHex("0103")));
  assertFalse(bytesEqual(fromHex("0102"), fromHex("010200")));
  assertFalse(bytesEqual(fromHex("80"), fromHex("00")));
});

Deno.test("compareBytes orders lexicographically, shorter prefix first", () => {
  assertEquals(compareBytes(fromHex(""), fromHex("")), 0);
  assertEquals(compareBytes(fromHex("01"), fromHex("02")), -1);
  assertEquals(compareBytes(fromHex("02"), fromHex("01")), 1);
  assertEquals(compareBytes(fromHex("0102"), fromHex("01")), 1);
  assertEquals(compareBytes(fromHex("01"), fromHex("0102")), -1);
  assertEquals(compareBytes(fromHex("ff"), fromHex("0100")), 1);
  assertEquals(compareBytes(fromHex("0102"), fromHex("0102")), 0);
});

Deno.test("compareBytes agrees with hex string order and with bytesEqual (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
      const ha = toHex(a);
      const hb = toHex(b);
      assertEquals(compareBytes(a, b), ha < hb ? -1 : ha > hb ? 1 : 0);
      assertEquals(compareBytes(a, b) === 0, bytesEqual(a, b));
      assertEquals(compareBytes(b, a), -compareBytes(a, b) || 0);
    }),
  );
});

Deno.test("concatBytes joins parts into a new array", () => {
  const a = fromHex("01");
  const out = concatBytes(a, new Uint8Array(), fromHex("0203"));
  assertEquals(out, fromHex("010203"));
  out[0] = 9;
  assertEquals(a, fromHex("01"));
  assertEquals(concatBytes(), new Uint8Array());
});

Deno.test("utf8 and fromUtf8 round-trip, and fromUtf8 is strict", () => {
  assertEquals(utf8("é"), fromHex("c3a9"));
  assertEquals(fromUtf8(fromHex("c3a9")), "é");
  assertThrows(() => fromUtf8(fromHex("c3")), TypeError);
  assertThrows(() => fromUtf8(fromHex("ff")), TypeError);
});

Deno.test("randomBytes returns the requested length beyond the 65536-byte limit", () => {
  assertEquals(randomBytes(0).length, 0);
  const big = randomBytes(65536 * 2 + 5);
  assertEquals(big.length, 131077);
  // The tail is filled too: all-zero 5 bytes would happen with chance 2^-40.
  assertFalse(bytesEqual(big.subarray(131072), new Uint8Array(5)));
});

Deno.test("buf returns whole-buffer arrays as is and copies views", () => {
  const whole = new Uint8Array([1, 2, 3]);
  assert(buf(whole) === whole);
  const view = whole.subarray(1);
  const copy = buf(view);
  assert(copy !== view);
  assertEquals(copy, fromHex("0203"));
  assertEquals(copy.byteOffset, 0);
  assertEquals(copy.byteLength, copy.buffer.byteLength);
});
