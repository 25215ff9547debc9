/**
 * The stored session record: it round-trips with and without the
 * initiator's pending init part, and anything malformed is refused.
 */
import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { generateDhKeyPair, randomBytes } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type InitPart, KEM_CIPHERTEXT_BYTES } from "./pqxdh.ts";
import { initInitiator } from "./ratchet.ts";
import { encodeRatchetState } from "./ratchet_state.ts";
import { decodeSessionRecord, encodeSessionRecord, type SessionRecord } from "./session_record.ts";

const ratchet = await initInitiator(
  randomBytes(32),
  randomBytes(64),
  (await generateDhKeyPair()).publicKey,
);
const ek = randomBytes(32);
const init: InitPart = {
  ek,
  spkId: 7,
  kemId: 0xfffffffe,
  opkId: 0,
  kemCt: randomBytes(KEM_CIPHERTEXT_BYTES),
};

Deno.test("a record round-trips with and without its pending init part", () => {
  for (
    const record of [
      { ek, pendingInit: init, ratchet },
      { ek, pendingInit: null, ratchet },
    ] as SessionRecord[]
  ) {
    const bytes = encodeSessionRecord(record);
    assertEquals(decodeSessionRecord(bytes), record);
    const ratchetBytes = encodeRatchetState(ratchet).length;
    assertEquals(bytes.length, 34 + (record.pendingInit ? 1_100 : 0) + ratchetBytes);
  }
});

Deno.test("a malformed record is bad_encoding; a mismatched one is refused on encode", () => {
  const good = encodeSessionRecord({ ek, pendingInit: init, ratchet });
  const broken: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 33),
    good.subarray(0, 100), // the init part cut short
    good.subarray(0, good.length - 1), // the ratchet state cut short
  ];
  const version = good.slice();
  version[0] = 2;
  const flags = good.slice();
  flags[1] = 2;
  const badId = good.slice();
  badId.fill(0, 34, 38); // spkId 0
  broken.push(version, flags, badId);
  for (const bytes of broken) {
    assertEquals(assertThrows(() => decodeSessionRecord(bytes), HearthError).code, "bad_encoding");
  }
  assertThrows(
    () => encodeSessionRecord({ ek: randomBytes(32), pendingInit: init, ratchet }),
    RangeError,
  );
  assertThrows(
    () => encodeSessionRecord({ ek: randomBytes(31), pendingInit: null, ratchet }),
    RangeError,
  );
});
