// Vector sources (see tests/vectors/README.md):
// - BIP-350 "Test vectors for Bech32m": the 7 valid and 14 invalid strings,
//   run through `bech32m.decode` from @scure/base to pin the library.
// - RFC 8032 §7.1 TEST 1 public key, as a fixed key for a pinned Account ID.
// - An independent bech32m checksum (the BIP-350 reference polymod, written
//   out below) cross-checks every ID we format.
// - libsodium's small-order point list (via src/shared/crypto/point.ts).
import fc from "fast-check";
import { bech32m } from "@scure/base";
import { assert, assertEquals, assertFalse, assertThrows } from "../../../tests/assert.ts";
import { fromHex, randomBytes, signingKeyPairFromSeed } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  ACCOUNT_ID_LENGTH,
  formatAccountId,
  isAccountId,
  normalizeAccountId,
  parseAccountId,
} from "./account_id.ts";

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const TEST1_PUBLIC = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
/** Pinned: the Account ID of RFC 8032 TEST 1's public key. */
const TEST1_ID = "hearth16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydqw6nyht";

/** BIP-350 reference checksum: the polymod of the expanded HRP and data is 0x2bc830a3. */
function referenceBech32mValid(text: string): boolean {
  const sep = text.lastIndexOf("1");
  const hrp = text.slice(0, sep);
  const data = [...text.slice(sep + 1)].map((c) => CHARSET.indexOf(c));
  if (data.some((d) => d < 0)) return false;
  const values = [
    ...[...hrp].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...hrp].map((c) => c.charCodeAt(0) & 31),
    ...data,
  ];
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]!;
  }
  return chk >>> 0 === 0x2bc830a3;
}

function assertBadId(text: string, message?: string): void {
  let err: unknown;
  try {
    parseAccountId(text);
  } catch (e) {
    err = e;
  }
  assert(err instanceof HearthError, `Expected a HearthError for ${JSON.stringify(text)}`);
  assertEquals(err.code, "bad_account_id", text);
  if (message !== undefined) assertEquals(err.message, message, text);
}

Deno.test("the Account ID of RFC 8032 TEST 1's public key is pinned", () => {
  const id = formatAccountId(TEST1_PUBLIC);
  assertEquals(id, TEST1_ID);
  assertEquals(id.length, ACCOUNT_ID_LENGTH);
  assert(referenceBech32mValid(id), "reference checksum");
  assertEquals(parseAccountId(id), TEST1_PUBLIC);
});

Deno.test("any account key round-trips through its Account ID", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (seed) => {
      const { publicKey } = await signingKeyPairFromSeed(seed);
      const id = formatAccountId(publicKey);
      assertEquals(id.length, 65);
      assert(/^hearth1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/.test(id), id);
      assert(referenceBech32mValid(id), "reference checksum");
      assertEquals(parseAccountId(id), publicKey);
      assertEquals(parseAccountId(id.toUpperCase()), publicKey);
      assertEquals(parseAccountId(`\n  ${id}\t `), publicKey);
      assert(isAccountId(id));
    }),
    { numRuns: 100 },
  );
});

Deno.test("every single-character substitution is refused as bad_account_id", async () => {
  for (let k = 0; k < 3; k++) {
    const id = formatAccountId((await signingKeyPairFromSeed(randomBytes(32))).publicKey);
    for (let i = 0; i < id.length; i++) {
      // Every other character of the alphabet, plus ones outside it.
      for (const c of [...CHARSET, "b", "i", "o", "1", "-", " "]) {
        if (c === id[i]) continue;
        const typo = id.slice(0, i) + c + id.slice(i + 1);
        assertBadId(typo);
      }
      const upper = id[i]!.toUpperCase();
      if (upper !== id[i]) assertBadId(id.slice(0, i) + upper + id.slice(i + 1));
    }
  }
});

Deno.test("every transposition of two neighbouring characters is refused", async () => {
  for (let k = 0; k < 3; k++) {
    const id = formatAccountId((await signingKeyPairFromSeed(randomBytes(32))).publicKey);
    for (let i = 0; i + 1 < id.length; i++) {
      if (id[i] === id[i + 1]) continue;
      assertBadId(id.slice(0, i) + id[i + 1] + id[i] + id.slice(i + 2));
    }
  }
});

Deno.test("each kind of malformed Account ID gets its own message", () => {
  const id = TEST1_ID;
  assertBadId(42 as unknown as string, "Account ID must be text");
  assertBadId(
    id.slice(0, 10) + id.slice(10).toUpperCase(),
    "Account ID mixes upper and lower case",
  );
  assertBadId("session1" + id.slice(7), "Account ID must start with hearth1");
  assertBadId("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "Account ID must start with hearth1");
  assertBadId("", "Account ID must start with hearth1");
  assertBadId(id.slice(0, -1), "Account ID must be 65 characters");
  assertBadId(id + "q", "Account ID must be 65 characters");
  assertBadId(id.repeat(20), "Account ID must be 65 characters");
  assertBadId(
    id.slice(0, 20) + "b" + id.slice(21),
    "Account ID has an invalid character at position 21",
  );
  assertBadId(
    id.slice(0, -1) + (id.endsWith("q") ? "p" : "q"),
    "Account ID checksum does not match; check it for a typo",
  );
  // A valid checksum over 52 words whose last 4 padding bits are not zero.
  const words = bech32m.toWords(TEST1_PUBLIC);
  words[words.length - 1] = words[words.length - 1]! | 1;
  assertBadId(bech32m.encode("hearth", words), "Account ID is not in canonical form");
});

Deno.test("an Account ID of a key that is not a usable curve point is refused", () => {
  // y = 2 is not on the curve; y = 1 is the identity (small order); the
  // order-8 point from libsodium's blocklist.
  const notOnCurve = new Uint8Array(32);
  notOnCurve[0] = 2;
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const order8 = fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  for (const key of [notOnCurve, identity, order8]) {
    const id = formatAccountId(key);
    assertBadId(id, "Account ID does not name a valid public key");
    assertFalse(isAccountId(id));
  }
});

Deno.test("isAccountId and normalizeAccountId", () => {
  assert(isAccountId(TEST1_ID));
  assert(isAccountId(` ${TEST1_ID.toUpperCase()} `));
  assertFalse(isAccountId(TEST1_ID.slice(1)));
  assertFalse(isAccountId(undefined));
  assertFalse(isAccountId({}));
  assertEquals(normalizeAccountId(` ${TEST1_ID.toUpperCase()}\n`), TEST1_ID);
  assertThrows(() => formatAccountId(new Uint8Array(31)), RangeError);
});

/** BIP-350 "Test vectors for Bech32m": valid strings. */
const BIP350_VALID = [
  "A1LQFN3A",
  "a1lqfn3a",
  "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
  "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
  "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
  "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
  "?1v759aa",
];

/** BIP-350 "Test vectors for Bech32m": invalid strings (reason in the comment). */
const BIP350_INVALID = [
  "\x201xj0phk", // HRP character out of range
  "\x7f1g6xzxy", // HRP character out of range
  "\x801vctc34", // HRP character out of range
  "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4", // overall max length exceeded
  "qyrz8wqd2c9m", // no separator character
  "1qyrz8wqd2c9m", // empty HRP
  "y1b0jsk6g", // invalid data character
  "lt1igcx5c0", // invalid data character
  "in1muywd", // too short checksum
  "mm1crxm3i", // invalid character in checksum
  "au1s5cgom", // invalid character in checksum
  "M1VUXWEZ", // checksum calculated with uppercase form of HRP
  "16plkw9", // empty HRP
  "1p2gdwpf", // empty HRP
];

Deno.test("@scure/base bech32m accepts the BIP-350 valid vectors and refuses the invalid ones", () => {
  for (const text of BIP350_VALID) {
    const { prefix, words } = bech32m.decode(text as `${string}1${string}`);
    assertEquals(bech32m.encode(prefix, words), text.toLowerCase(), text);
    assert(referenceBech32mValid(text.toLowerCase()), `reference accepts ${text}`);
  }
  for (const text of BIP350_INVALID) {
    let refused = false;
    try {
      bech32m.decode(text as `${string}1${string}`);
    } catch {
      refused = true;
    }
    assert(refused, `Expected ${JSON.stringify(text)} to be refused`);
  }
});
