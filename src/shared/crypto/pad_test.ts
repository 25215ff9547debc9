// Vector sources: none external. The layout (4-byte big-endian length, data,
// zero bytes up to the bucket) is hearth's own, defined in pad.ts and
// docs/PROTOCOL.md §8; these tests pin it byte for byte and add fast-check
// property tests (see tests/vectors/README.md).
import fc from "fast-check";
import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { fromHex } from "./bytes.ts";
import { CryptoError } from "./errors.ts";
import { bucketFor, pad, PAD_OVERHEAD, unpad } from "./pad.ts";

const BUCKETS = [64, 256, 1024] as const;

Deno.test("pad lays out length, data and zero padding", () => {
  assertEquals(pad(fromHex("abcd"), 8), fromHex("00000002abcd0000"));
  assertEquals(pad(new Uint8Array(), 4), fromHex("00000000"));
  assertEquals(pad(fromHex("01020304"), 8), fromHex("0000000401020304"));
  const big = pad(new Uint8Array(300).fill(1), 1024);
  assertEquals(big.subarray(0, 4), fromHex("0000012c"));
  assertEquals(big.length, 1024);
});

Deno.test("pad rejects data that does not fit with RangeError", () => {
  assertThrows(() => pad(new Uint8Array(5), 8), RangeError);
  assertThrows(() => pad(new Uint8Array(), 3), RangeError);
});

Deno.test("unpad inverts pad and returns exactly the data", () => {
  assertEquals(unpad(fromHex("00000002abcd0000")), fromHex("abcd"));
  assertEquals(unpad(fromHex("00000000")), new Uint8Array());
  assertEquals(unpad(fromHex("0000000401020304")), fromHex("01020304"));
});

Deno.test("unpad rejects non-zero padding with CryptoError", () => {
  assertThrows(() => unpad(fromHex("00000002abcd0001")), CryptoError);
  assertThrows(() => unpad(fromHex("00000002abcd8000")), CryptoError);
  assertThrows(() => unpad(fromHex("00000000ff")), CryptoError);
});

Deno.test("unpad rejects a bad length with CryptoError", () => {
  assertThrows(() => unpad(new Uint8Array()), CryptoError);
  assertThrows(() => unpad(fromHex("000000")), CryptoError);
  assertThrows(() => unpad(fromHex("00000005abcd0000")), CryptoError);
  assertThrows(() => unpad(fromHex("ffffffff00000000")), CryptoError);
  assertThrows(() => unpad(fromHex("80000000")), CryptoError);
});

Deno.test("unpad reads a length prefix from a subarray view", () => {
  const backing = fromHex("ff00000002abcd00");
  assertEquals(unpad(backing.subarray(1)), fromHex("abcd"));
});

Deno.test("bucketFor picks the smallest bucket that holds data plus prefix", () => {
  assertEquals(bucketFor(0, BUCKETS), 64);
  assertEquals(bucketFor(60, BUCKETS), 64);
  assertEquals(bucketFor(61, BUCKETS), 256);
  assertEquals(bucketFor(252, BUCKETS), 256);
  assertEquals(bucketFor(253, BUCKETS), 1024);
  assertEquals(bucketFor(1020, BUCKETS), 1024);
  assertEquals(bucketFor(1021, BUCKETS), undefined);
  assertEquals(bucketFor(0, []), undefined);
});

Deno.test("pad and unpad round-trip through the chosen bucket (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1100 }), (data) => {
      const size = bucketFor(data.length, BUCKETS);
      if (size === undefined) {
        assertEquals(data.length > 1024 - PAD_OVERHEAD, true);
        return;
      }
      const padded = pad(data, size);
      assertEquals(padded.length, size);
      assertEquals(unpad(padded), data);
    }),
  );
});

Deno.test("unpad never throws anything but CryptoError on random input (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const data = unpad(bytes);
        // Whatever it accepts must re-pad to exactly the input.
        assertEquals(pad(data, bytes.length), bytes);
      } catch (error) {
        if (!(error instanceof CryptoError)) throw error;
      }
    }),
  );
});
