// Vector sources (see tests/vectors/README.md):
// - BIP39 reference vectors, trezor/python-mnemonic vectors.json, "english"
//   section: every entry with 256-bit (32-byte) entropy, i.e. 24 words.
//   Only (entropy, mnemonic) is used; the PBKDF2 seed and xprv columns do
//   not apply, because hearth uses the entropy itself as the account seed.
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { bytesEqual, fromHex } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { createSeed, phraseToSeed, seedToPhrase } from "./seed.ts";

/** trezor/python-mnemonic vectors.json, "english", 256-bit entries: [entropy, mnemonic]. */
const TREZOR_256 = [
  [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
  ],
  [
    "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
    "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title",
  ],
  [
    "8080808080808080808080808080808080808080808080808080808080808080",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
  ],
  [
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
  ],
  [
    "68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
    "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
  ],
  [
    "9f6a2878b2520799a44ef18bc7df394e7061a224d2c33cd015b157d746869863",
    "panda eyebrow bullet gorilla call smoke muffin taste mesh discover soft ostrich alcohol speed nation flash devote level hobby quick inner drive ghost inside",
  ],
  [
    "066dca1a2bb7e8a1db2832148ce9933eea0f3ac9548d793112d9a95c9407efad",
    "all hour make first leader extend hole alien behind guard gospel lava path output census museum junior mass reopen famous sing advance salt reform",
  ],
  [
    "f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
    "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
  ],
] as const;

function assertBadRequest(fn: () => unknown, message: string): void {
  const err = assertThrows(fn, HearthError);
  assertEquals(err.code, "bad_request");
  assertEquals(err.message, message);
}

Deno.test("seedToPhrase and phraseToSeed match the Trezor BIP39 vectors (256-bit entropy)", () => {
  for (const [entropy, mnemonic] of TREZOR_256) {
    assertEquals(seedToPhrase(fromHex(entropy)), mnemonic);
    assertEquals(phraseToSeed(mnemonic), fromHex(entropy));
  }
});

Deno.test("any seed round-trips through its 24-word phrase", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const phrase = seedToPhrase(seed);
      assertEquals(phrase.split(" ").length, 24);
      assertEquals(phraseToSeed(phrase), seed);
    }),
    { numRuns: 300 },
  );
});

Deno.test("createSeed returns 32 fresh random bytes", () => {
  const a = createSeed();
  const b = createSeed();
  assertEquals(a.length, 32);
  assert(!bytesEqual(a, b), "two seeds must differ");
  assertEquals(phraseToSeed(seedToPhrase(a)), a);
});

Deno.test("phraseToSeed tolerates case and extra whitespace", () => {
  const [entropy, mnemonic] = TREZOR_256[1];
  const messy = "  \n" + mnemonic.toUpperCase().split(" ").join(" \t  ") + "\r\n ";
  assertEquals(phraseToSeed(messy), fromHex(entropy));
  const mixed = mnemonic.replace("legal", "LeGaL").replace(/ /g, "\u00a0");
  assertEquals(phraseToSeed(mixed), fromHex(entropy));
});

Deno.test("phraseToSeed names the wrong word count", () => {
  const words = TREZOR_256[0][1].split(" ");
  assertBadRequest(() => phraseToSeed(""), "Recovery phrase must have 24 words, not 0");
  assertBadRequest(
    () => phraseToSeed(words.slice(0, 23).join(" ")),
    "Recovery phrase must have 24 words, not 23",
  );
  assertBadRequest(
    () => phraseToSeed([...words, "abandon"].join(" ")),
    "Recovery phrase must have 24 words, not 25",
  );
  // A valid 12-word BIP39 phrase (128-bit entropy) is refused too.
  assertBadRequest(
    () =>
      phraseToSeed(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
      ),
    "Recovery phrase must have 24 words, not 12",
  );
});

Deno.test("phraseToSeed names the first word not in the list", () => {
  const words = TREZOR_256[2][1].split(" ");
  for (const [index, replacement] of [[0, "abandonn"], [6, "hearth"], [23, "blessé"], [23, "1"]]) {
    const typo = words.slice();
    typo[index as number] = replacement as string;
    assertBadRequest(
      () => phraseToSeed(typo.join(" ")),
      `Word ${(index as number) + 1} is not in the word list`,
    );
  }
});

Deno.test("phraseToSeed refuses a bad checksum", () => {
  // Swapping two different words or changing the last word keeps every word
  // valid but breaks the checksum.
  const words = TREZOR_256[4][1].split(" ");
  const swapped = words.slice();
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  assertBadRequest(
    () => phraseToSeed(swapped.join(" ")),
    "Recovery phrase checksum does not match",
  );
  const last = words.slice();
  last[23] = "abandon";
  assertBadRequest(() => phraseToSeed(last.join(" ")), "Recovery phrase checksum does not match");
  const allAbandon = Array(24).fill("abandon").join(" ");
  assertBadRequest(() => phraseToSeed(allAbandon), "Recovery phrase checksum does not match");
});

Deno.test("phraseToSeed refuses non-text and oversized input", () => {
  assertBadRequest(() => phraseToSeed(42 as unknown as string), "Recovery phrase must be text");
  assertBadRequest(() => phraseToSeed("abandon ".repeat(500)), "Recovery phrase is too long");
});

Deno.test("seedToPhrase refuses a seed that is not 32 bytes", () => {
  assertThrows(() => seedToPhrase(new Uint8Array(16)), RangeError);
  assertThrows(() => seedToPhrase(new Uint8Array(33)), RangeError);
});
