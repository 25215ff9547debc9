// Magic numbers checked against the format specs: PNG signature (PNG spec
// §5.2, 89 50 4E 47 0D 0A 1A 0A), JPEG SOI + marker (FF D8 FF), WebP
// RIFF container ("RIFF", size, "WEBP"; Google's WebP container spec).
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { concatBytes, u32, utf8 } from "../../shared/crypto/mod.ts";
import { encodeFrame } from "../../shared/codec/frame.ts";
import { type ErrorCode, HearthError } from "../../shared/errors.ts";
import {
  type AvatarType,
  decodeProfile,
  encodeProfile,
  MAX_AVATAR_BYTES,
  MAX_PROFILE_BYTES,
  parseDisplayName,
  parseProfile,
  type Profile,
} from "./profile.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]);
const WEBP = concatBytes(utf8("RIFF"), new Uint8Array([4, 0, 0, 0]), utf8("WEBPVP8 "));

function assertError(fn: () => unknown, code: ErrorCode, message?: string): void {
  const err = assertThrows(fn, HearthError);
  assertEquals(err.code, code, err.message);
  if (message !== undefined) assertEquals(err.message, message);
}

Deno.test("display names are NFC-normalised and trimmed", () => {
  assertEquals(parseDisplayName("  Alice \n"), "Alice");
  // "e" + COMBINING ACUTE ACCENT becomes the single code point "é".
  assertEquals(parseDisplayName("Ame\u0301lie"), "Am\u00e9lie");
  // Emoji sequences with ZWJ and flags are allowed.
  assertEquals(parseDisplayName("👩‍💻 Zoë 🇫🇷"), "👩‍💻 Zoë 🇫🇷");
});

Deno.test("display names count code points: 64 pass, 65 do not", () => {
  assertEquals(parseDisplayName("a".repeat(64)), "a".repeat(64));
  // 64 astral code points are 128 UTF-16 units and still pass.
  assertEquals(parseDisplayName("😀".repeat(64)), "😀".repeat(64));
  assertError(
    () => parseDisplayName("a".repeat(65)),
    "bad_request",
    "Display name is longer than 64 characters",
  );
  assertError(() => parseDisplayName("😀".repeat(65)), "bad_request");
  assertError(() => parseDisplayName("a".repeat(100_000)), "bad_request");
});

Deno.test("empty, non-text and malformed display names are refused", () => {
  assertError(() => parseDisplayName(""), "bad_request", "Display name is empty");
  assertError(() => parseDisplayName(" \t\n "), "bad_request", "Display name is empty");
  assertError(() => parseDisplayName(42), "bad_request", "Display name must be text");
  assertError(() => parseDisplayName(undefined), "bad_request");
  assertError(
    () => parseDisplayName("bad \ud800 surrogate"),
    "bad_request",
    "Display name is not valid Unicode",
  );
});

Deno.test("control and text-direction characters are refused", () => {
  const forbidden = [
    ...Array.from({ length: 0x20 }, (_, i) => i), // C0
    0x7f, // DEL
    ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i), // C1
    0x061c, // ARABIC LETTER MARK
    0x200e, // LRM
    0x200f, // RLM
    0x2028, // LINE SEPARATOR
    0x2029, // PARAGRAPH SEPARATOR
    0x202a, // LRE
    0x202b, // RLE
    0x202c, // PDF
    0x202d, // LRO
    0x202e, // RLO
    0x2066, // LRI
    0x2067, // RLI
    0x2068, // FSI
    0x2069, // PDI
  ];
  for (const cp of forbidden) {
    const name = `ab${String.fromCodePoint(cp)}cd`;
    assertError(
      () => parseDisplayName(name),
      "bad_request",
      "Display name contains a control or text-direction character",
    );
  }
  // The classic spoof: "evil" + RLO + "gnp.exe" renders as "evilexe.png".
  assertError(() => parseDisplayName("evil\u202egnp.exe"), "bad_request");
});

Deno.test("avatars must match the magic of their declared type", () => {
  const cases: [AvatarType, Uint8Array][] = [["image/png", PNG], ["image/jpeg", JPEG], [
    "image/webp",
    WEBP,
  ]];
  for (const [type, bytes] of cases) {
    const profile = parseProfile({ displayName: "A", avatar: { type, bytes } });
    assertEquals(profile.avatar, { type, bytes });
    for (const [otherType] of cases) {
      if (otherType === type) continue;
      assertError(
        () => parseProfile({ displayName: "A", avatar: { type: otherType, bytes } }),
        "bad_request",
      );
    }
  }
  assertError(
    () => parseProfile({ displayName: "A", avatar: { type: "image/png", bytes: JPEG } }),
    "bad_request",
    "Avatar bytes are not a PNG image",
  );
  assertError(
    () =>
      parseProfile({ displayName: "A", avatar: { type: "image/png", bytes: PNG.subarray(0, 7) } }),
    "bad_request",
  );
  assertError(
    () =>
      parseProfile({
        displayName: "A",
        avatar: { type: "image/webp", bytes: WEBP.subarray(0, 11) },
      }),
    "bad_request",
  );
  const riffWave = concatBytes(utf8("RIFF"), new Uint8Array(4), utf8("WAVE"));
  assertError(
    () => parseProfile({ displayName: "A", avatar: { type: "image/webp", bytes: riffWave } }),
    "bad_request",
  );
  assertError(
    () => parseProfile({ displayName: "A", avatar: { type: "image/gif", bytes: PNG } }),
    "bad_request",
  );
  assertError(
    () => parseProfile({ displayName: "A", avatar: { type: "image/png", bytes: [1, 2] } }),
    "bad_request",
  );
  assertError(() => parseProfile({ displayName: "A", avatar: "png" }), "bad_request");
});

Deno.test("avatars up to 64 KiB pass, larger ones are too_large", () => {
  const max = new Uint8Array(MAX_AVATAR_BYTES);
  max.set(PNG);
  assertEquals(
    parseProfile({ displayName: "A", avatar: { type: "image/png", bytes: max } }).avatar?.bytes
      .length,
    MAX_AVATAR_BYTES,
  );
  const over = new Uint8Array(MAX_AVATAR_BYTES + 1);
  over.set(PNG);
  assertError(
    () => parseProfile({ displayName: "A", avatar: { type: "image/png", bytes: over } }),
    "too_large",
  );
});

Deno.test("parseProfile refuses non-objects and copies the avatar bytes", () => {
  for (const input of [null, undefined, "Alice", 1, [], [{ displayName: "A" }]]) {
    assertError(() => parseProfile(input), "bad_request");
  }
  const bytes = PNG.slice();
  const profile = parseProfile({
    displayName: "A",
    avatar: { type: "image/png", bytes },
    extra: 1,
  });
  bytes.fill(0);
  assertEquals(profile.avatar?.bytes, PNG);
  assertEquals(Object.keys(profile).sort(), ["avatar", "displayName"]);
});

Deno.test("profiles round-trip through the wire form", () => {
  const avatarArb = fc.oneof(
    fc.constant(undefined),
    fc.record({
      type: fc.constantFrom<AvatarType>("image/png", "image/jpeg", "image/webp"),
      tail: fc.uint8Array({ maxLength: 2_000 }),
    }).map(({ type, tail }) => ({
      type,
      bytes: concatBytes(type === "image/png" ? PNG : type === "image/jpeg" ? JPEG : WEBP, tail),
    })),
  );
  let checked = 0;
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
      avatarArb,
      (name, avatar) => {
        let profile: Profile;
        try {
          profile = parseProfile(avatar ? { displayName: name, avatar } : { displayName: name });
        } catch (err) {
          // Random text may be blank or contain a control character.
          assert(err instanceof HearthError && err.code === "bad_request");
          return;
        }
        assertEquals(decodeProfile(encodeProfile(profile)), profile);
        checked++;
      },
    ),
    { numRuns: 300 },
  );
  assert(checked > 150, `only ${checked} of 300 random profiles were valid`);
  const bytes = new Uint8Array(MAX_AVATAR_BYTES).fill(7);
  bytes.set(PNG);
  const full = parseProfile({ displayName: "Ω".repeat(64), avatar: { type: "image/png", bytes } });
  const wire = encodeProfile(full);
  assert(wire.length <= MAX_PROFILE_BYTES);
  assertEquals(decodeProfile(wire), full);
});

Deno.test("decodeProfile checks sizes, version and fields", () => {
  assertError(
    () => decodeProfile(new Uint8Array(MAX_PROFILE_BYTES + 1)),
    "too_large",
    "Profile is too large",
  );
  assertError(() => decodeProfile(concatBytes(u32(5_000), new Uint8Array(5_000))), "too_large");
  assertError(() => decodeProfile(new Uint8Array(2)), "bad_request");
  assertError(() => decodeProfile(concatBytes(u32(3), utf8("nop"))), "bad_request");
  assertError(
    () => decodeProfile(encodeFrame({ v: 2, name: "A" })),
    "bad_request",
    "Profile version is not supported",
  );
  assertError(() => decodeProfile(encodeFrame({ name: "A" })), "bad_request");
  assertError(
    () => decodeProfile(encodeFrame({ v: 1 })),
    "bad_request",
    "Display name must be text",
  );
  assertError(() => decodeProfile(encodeFrame({ v: 1, name: "\u202eA" })), "bad_request");
  assertError(
    () => decodeProfile(encodeFrame({ v: 1, name: "A" }, PNG)),
    "bad_request",
    "Profile has avatar bytes but no avatar type",
  );
  assertError(
    () => decodeProfile(encodeFrame({ v: 1, name: "A", avatar: "image/png" })),
    "bad_request",
  );
  assertError(
    () => decodeProfile(encodeFrame({ v: 1, name: "A", avatar: "image/png" }, JPEG)),
    "bad_request",
  );
  assertError(() => decodeProfile("x" as unknown as Uint8Array), "bad_request");
  assertEquals(decodeProfile(encodeFrame({ v: 1, name: " A ", future: true })), {
    displayName: "A",
  });
});

Deno.test("encodeProfile validates before it encodes", () => {
  assertError(() => encodeProfile({ displayName: "" }), "bad_request");
  assertError(
    () => encodeProfile({ displayName: "A", avatar: { type: "image/png", bytes: JPEG } }),
    "bad_request",
  );
});
