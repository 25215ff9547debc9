// Vector sources (see tests/vectors/README.md):
// - RFC 7914 §12 (scrypt test vectors): the first three, with 64-byte
//   outputs. The fourth (N = 2^20, 1 GiB) is left out: it is above our cap.
// - Cross-check: Deno's node:crypto scryptSync, a second, independent
//   implementation, on random passphrases and salts with small parameters.
import fc from "fast-check";
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt.js";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../tests/assert.ts";
import { fromHex, utf8 } from "./bytes.ts";
import {
  checkScryptParams,
  deriveKeyFromPassphrase,
  SCRYPT_DEFAULTS,
  type ScryptParams,
} from "./scrypt.ts";

const RFC7914 = [
  {
    P: "",
    S: "",
    N: 16,
    r: 1,
    p: 1,
    dk: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442" +
      "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
  },
  {
    P: "password",
    S: "NaCl",
    N: 1024,
    r: 8,
    p: 16,
    dk: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162" +
      "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
  },
  {
    P: "pleaseletmein",
    S: "SodiumChloride",
    N: 16384,
    r: 8,
    p: 1,
    dk: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2" +
      "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
  },
];

const SMALL: ScryptParams = { N: 16, r: 1, p: 1 };

Deno.test("deriveKeyFromPassphrase matches RFC 7914 §12", async () => {
  for (const v of RFC7914) {
    const dk = await deriveKeyFromPassphrase(v.P, utf8(v.S), {
      N: v.N,
      r: v.r,
      p: v.p,
      length: 64,
    });
    assertEquals(dk, fromHex(v.dk, 64), `N=${v.N} r=${v.r} p=${v.p}`);
  }
});

Deno.test("deriveKeyFromPassphrase agrees with an independent scrypt (@noble/hashes, property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(2, 16, 64, 256),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 80 }),
      async (passphrase, salt, N, r, p, length) => {
        const password = utf8(passphrase.normalize("NFKC"));
        const expected = nobleScrypt(password, salt, { N, r, p, dkLen: length });
        const dk = await deriveKeyFromPassphrase(passphrase, salt, { N, r, p, length });
        assertEquals(dk, expected);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("deriveKeyFromPassphrase normalises the passphrase to NFKC", async () => {
  const salt = utf8("salt");
  const composed = await deriveKeyFromPassphrase("caf\u00e9 \ufb01sh", salt, SMALL);
  // Decomposed é (e + combining acute) and the "fi" ligature spelt out.
  assertEquals(await deriveKeyFromPassphrase("cafe\u0301 fish", salt, SMALL), composed);
  // Without the normalisation these would differ: the raw UTF-8 bytes differ.
  assertNotEquals(utf8("caf\u00e9 \ufb01sh"), utf8("cafe\u0301 fish"));
  assertNotEquals(await deriveKeyFromPassphrase("cafe fish", salt, SMALL), composed);
});

Deno.test("deriveKeyFromPassphrase separates passphrases and salts, default length 32", async () => {
  const a = await deriveKeyFromPassphrase("one", utf8("salt-a"), SMALL);
  assertEquals(a.length, 32);
  assertEquals(await deriveKeyFromPassphrase("one", utf8("salt-a"), SMALL), a);
  assertNotEquals(await deriveKeyFromPassphrase("two", utf8("salt-a"), SMALL), a);
  assertNotEquals(await deriveKeyFromPassphrase("one", utf8("salt-b"), SMALL), a);
});

Deno.test("the default parameters are the strong ones: 128 MiB of memory", () => {
  checkScryptParams(SCRYPT_DEFAULTS);
  assertEquals(SCRYPT_DEFAULTS, { N: 2 ** 17, r: 8, p: 1 });
  assert(128 * SCRYPT_DEFAULTS.r * SCRYPT_DEFAULTS.N >= 64 * 2 ** 20, "at least 64 MiB");
});

Deno.test("out-of-range parameters are refused before any work", async () => {
  const bad: ScryptParams[] = [
    { N: 0, r: 8, p: 1 },
    { N: 1, r: 8, p: 1 },
    { N: 3, r: 8, p: 1 },
    { N: 2 ** 21, r: 1, p: 1 },
    { N: 1.5, r: 8, p: 1 },
    { N: 16, r: 0, p: 1 },
    { N: 16, r: 33, p: 1 },
    { N: 16, r: 1, p: 0 },
    { N: 16, r: 1, p: 17 },
    { N: 2 ** 20, r: 8, p: 1 }, // 1 GiB plus a little: over the cap
    { N: Number.NaN, r: 8, p: 1 },
  ];
  for (const params of bad) {
    assertThrows(() => checkScryptParams(params), RangeError);
    await assertRejects(() => deriveKeyFromPassphrase("x", utf8("s"), params), RangeError);
  }
  for (const length of [0, -1, 1.5, 1025]) {
    await assertRejects(() => deriveKeyFromPassphrase("x", utf8("s"), { ...SMALL, length }));
  }
});
