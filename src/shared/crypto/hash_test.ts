// Vector sources (see tests/vectors/README.md):
// - FIPS 180-2 Appendix B.1 ("abc") and B.2 (the 448-bit message) for SHA-256,
//   plus the well-known SHA-256 of the empty string.
// - labeledHash has no external vector: it is pinned against an independent
//   construction (WebCrypto SHA-256 over the hand-built concatenation of
//   u32 big-endian length prefixes and parts), plus one literal value
//   computed with Python's hashlib over the same layout.
import fc from "fast-check";
import { assertEquals, assertNotEquals } from "../../../tests/assert.ts";
import { buf, concatBytes, fromHex, u32, utf8 } from "./bytes.ts";
import { labeledHash, sha256, sha256Concat } from "./hash.ts";

const ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const FIPS_B2_MESSAGE = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const FIPS_B2 = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
/** labeledHash("hearth/swarm-key/v1", "abc", "", 300 × 0x07), computed outside this codebase. */
const LABELED_PINNED = "39ef6e098d8477b0998286dce8eec007aa77bf4a0d5ea7ccf5aa7c519cf4b8f6";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** SHA-256 through WebCrypto: the second implementation. */
async function webSha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf(data)));
}

/** labeledHash rebuilt by hand: u32 length and bytes of the label, then of each part. */
function manualLabeled(label: string, ...parts: Uint8Array[]): Uint8Array {
  const l = utf8(label);
  return concatBytes(u32(l.length), l, ...parts.flatMap((p) => [u32(p.length), p]));
}

Deno.test("sha256 matches the FIPS 180-2 vectors", () => {
  assertEquals(sha256(utf8("abc")), fromHex(ABC, 32));
  assertEquals(sha256(utf8(FIPS_B2_MESSAGE)), fromHex(FIPS_B2, 32));
  assertEquals(sha256(new Uint8Array()), fromHex(EMPTY, 32));
});

Deno.test("sha256Concat hashes the plain concatenation", () => {
  assertEquals(sha256Concat(utf8("a"), utf8("b"), utf8("c")), fromHex(ABC, 32));
  assertEquals(sha256Concat(utf8("ab"), new Uint8Array(), utf8("c")), fromHex(ABC, 32));
  assertEquals(sha256Concat(), fromHex(EMPTY, 32));
});

Deno.test("labeledHash equals SHA-256 of the length-prefixed concatenation", async () => {
  const label = "hearth/swarm-key/v1";
  const parts = [utf8("abc"), new Uint8Array(), new Uint8Array(300).fill(7)];
  const manual = manualLabeled(label, ...parts);
  // The layout, spelled out: 00000013 "hearth/swarm-key/v1" 00000003 "abc" 00000000 0000012c ...
  assertEquals(manual.subarray(0, 4), fromHex("00000013"));
  assertEquals(manual.subarray(23, 27), fromHex("00000003"));
  assertEquals(manual.subarray(30, 38), fromHex("000000000000012c"));
  assertEquals(labeledHash(label, ...parts), await webSha256(manual));
  // Pinned literal (Python hashlib.sha256 over the same bytes): the format must never drift.
  assertEquals(labeledHash(label, ...parts), fromHex(LABELED_PINNED, 32));
});

Deno.test("labeledHash with no parts hashes only the prefixed label", async () => {
  const expected = await webSha256(concatBytes(fromHex("00000001"), utf8("x")));
  assertEquals(labeledHash("x"), expected);
  assertEquals(labeledHash(""), await webSha256(fromHex("00000000")));
});

Deno.test("labeledHash gives different hashes for different splits of the same bytes", () => {
  const bytes = utf8("abcdef");
  const splits = [
    [bytes],
    [bytes.subarray(0, 3), bytes.subarray(3)],
    [bytes.subarray(0, 2), bytes.subarray(2)],
    [bytes.subarray(0, 3), new Uint8Array(), bytes.subarray(3)],
    [new Uint8Array(), bytes],
  ];
  const seen = new Set<string>();
  for (const parts of splits) seen.add(JSON.stringify([...labeledHash("L", ...parts)]));
  assertEquals(seen.size, splits.length);
  // Moving bytes between the label and the first part changes the hash too.
  assertNotEquals(labeledHash("ab", utf8("c")), labeledHash("a", utf8("bc")));
  assertNotEquals(labeledHash("abc"), sha256(utf8("abc")));
});

Deno.test("labeledHash agrees with the manual construction on random input (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ maxLength: 30 }),
      fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }),
      async (label, parts) => {
        assertEquals(labeledHash(label, ...parts), await webSha256(manualLabeled(label, ...parts)));
      },
    ),
    { numRuns: 100 },
  );
});
