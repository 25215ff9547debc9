// The session payload is our own format (docs/PROTOCOL.md §10); its layout is
// pinned byte for byte here, and fast-check checks that parsing is strict
// (only HearthError bad_request on junk) and canonical (a parsed payload
// re-encodes to the same bytes).
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, u32 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type InitPart, MAX_PREKEY_ID } from "./pqxdh.ts";
import {
  encodeSessionPayload,
  parseSessionPayload,
  PREKEY_INIT_BYTES,
  type SessionPayload,
} from "./session_wire.ts";

function init(opkId = 3): InitPart {
  return { ek: randomBytes(32), spkId: 1, kemId: MAX_PREKEY_ID, opkId, kemCt: randomBytes(1088) };
}

function refuse(bytes: Uint8Array, label: string): void {
  const error = assertThrows(() => parseSessionPayload(bytes), HearthError);
  assertEquals(error.code, "bad_request", label);
}

Deno.test("a ratchet payload is 2 ‖ header ‖ ciphertext and round-trips", () => {
  const header = randomBytes(40);
  const ciphertext = randomBytes(100);
  const bytes = encodeSessionPayload({ kind: "ratchet", header, ciphertext });
  assertEquals(bytes, concatBytes(new Uint8Array([2]), header, ciphertext));
  assertEquals(parseSessionPayload(bytes), { kind: "ratchet", header, ciphertext });
});

Deno.test("a prekey payload is 1 ‖ ek ‖ spkId ‖ kemId ‖ opkId ‖ kemCt ‖ header ‖ ciphertext and round-trips", () => {
  for (const opkId of [0, 3]) {
    const p: SessionPayload = {
      kind: "prekey",
      init: init(opkId),
      header: randomBytes(40),
      ciphertext: randomBytes(16),
    };
    const bytes = encodeSessionPayload(p);
    assert(p.kind === "prekey");
    assertEquals(
      bytes,
      concatBytes(
        new Uint8Array([1]),
        p.init.ek,
        u32(1),
        u32(MAX_PREKEY_ID),
        u32(opkId),
        p.init.kemCt,
        p.header,
        p.ciphertext,
      ),
    );
    assertEquals(bytes.length, PREKEY_INIT_BYTES + 40 + 16);
    assertEquals(PREKEY_INIT_BYTES, 1133);
    assertEquals(parseSessionPayload(bytes), p);
  }
});

Deno.test("parsed fields are copies of the input", () => {
  const bytes = encodeSessionPayload({
    kind: "prekey",
    init: init(),
    header: randomBytes(40),
    ciphertext: randomBytes(32),
  });
  const parsed = parseSessionPayload(bytes);
  const snapshot = structuredClone(parsed);
  bytes.fill(0);
  assertEquals(parsed, snapshot);
});

Deno.test("malformed payloads are refused with bad_request", () => {
  const ratchet = encodeSessionPayload({
    kind: "ratchet",
    header: randomBytes(40),
    ciphertext: randomBytes(16),
  });
  const prekey = encodeSessionPayload({
    kind: "prekey",
    init: init(),
    header: randomBytes(40),
    ciphertext: randomBytes(16),
  });
  refuse(new Uint8Array(0), "empty");
  for (const kind of [0, 3, 255]) {
    refuse(concatBytes(new Uint8Array([kind]), ratchet), `kind ${kind}`);
  }
  refuse(ratchet.subarray(0, ratchet.length - 1), "ratchet ciphertext shorter than a tag");
  refuse(new Uint8Array([2]), "ratchet without header");
  refuse(prekey.subarray(0, prekey.length - 1), "prekey ciphertext shorter than a tag");
  refuse(prekey.subarray(0, PREKEY_INIT_BYTES), "prekey without ratchet message");
  refuse(prekey.subarray(0, 100), "prekey cut in the init part");
  const withId = (offset: number, id: number) => {
    const copy = prekey.slice();
    copy.set(u32(id), offset);
    return copy;
  };
  refuse(withId(33, 0), "spkId 0");
  refuse(withId(33, 0xffffffff), "spkId 2^32 - 1");
  refuse(withId(37, 0), "kemId 0");
  refuse(withId(41, 0xffffffff), "opkId 2^32 - 1");
  assertEquals(parseSessionPayload(withId(41, 0)).kind, "prekey", "opkId 0 means none");
});

Deno.test("encodeSessionPayload refuses fields of the wrong size", () => {
  const header = randomBytes(40);
  const ciphertext = randomBytes(16);
  const bad: SessionPayload[] = [
    { kind: "ratchet", header: header.subarray(1), ciphertext },
    { kind: "ratchet", header, ciphertext: ciphertext.subarray(1) },
    { kind: "prekey", init: { ...init(), ek: randomBytes(31) }, header, ciphertext },
    { kind: "prekey", init: { ...init(), kemCt: randomBytes(1087) }, header, ciphertext },
    { kind: "prekey", init: { ...init(), spkId: 0 }, header, ciphertext },
  ];
  for (const p of bad) assertThrows(() => encodeSessionPayload(p), RangeError);
});

Deno.test("parsing junk only ever gives bad_request, and what parses re-encodes to the same bytes (property)", () => {
  const junk = fc.oneof(
    fc.uint8Array({ maxLength: 1300 }),
    fc.uint8Array({ minLength: 1, maxLength: 1300 }).map((b) => {
      b[0] = 1 + (b[0]! % 2); // a known kind byte, the rest random
      return b;
    }),
  );
  fc.assert(
    fc.property(junk, (bytes) => {
      let parsed: SessionPayload;
      try {
        parsed = parseSessionPayload(bytes);
      } catch (error) {
        assert(error instanceof HearthError && error.code === "bad_request", String(error));
        return;
      }
      assertEquals(encodeSessionPayload(parsed), bytes);
    }),
    { numRuns: 500 },
  );
});
