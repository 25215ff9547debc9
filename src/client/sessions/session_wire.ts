/**
 * The session payload an envelope carries (docs/PROTOCOL.md §10): a prekey
 * message (the handshake's init part, then a ratchet message) or a plain
 * ratchet message. Untrusted bytes are parsed once, strictly, into a tagged
 * union; nothing else reads them raw.
 *
 * - prekey: `1 ‖ ek 32 ‖ spkId u32 ‖ kemId u32 ‖ opkId u32 ‖ kemCt 1088 ‖ header 40 ‖ ciphertext`
 * - ratchet: `2 ‖ header 40 ‖ ciphertext`
 *
 * Integers are big-endian; the ciphertext runs to the end and holds at
 * least the 16-byte AEAD tag.
 * @module
 */
import { AEAD_TAG_BYTES, readU32 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { checkInitPart, type InitPart, KEM_CIPHERTEXT_BYTES, X25519_BYTES } from "./pqxdh.ts";
import { RATCHET_HEADER_BYTES } from "./ratchet.ts";

/** The first byte of a prekey message. */
export const PREKEY_PAYLOAD = 1;
/** The first byte of a ratchet message. */
export const RATCHET_PAYLOAD = 2;
/** Bytes of a prekey message before its ratchet header. */
export const PREKEY_INIT_BYTES: number = 1 + X25519_BYTES + 12 + KEM_CIPHERTEXT_BYTES;
/** Bytes a prekey message adds to its content: the init part, the ratchet header and the tag. */
export const PREKEY_MESSAGE_OVERHEAD: number = PREKEY_INIT_BYTES + RATCHET_HEADER_BYTES +
  AEAD_TAG_BYTES;

/** A parsed session payload. */
export type SessionPayload =
  | { kind: "prekey"; init: InitPart; header: Uint8Array; ciphertext: Uint8Array }
  | { kind: "ratchet"; header: Uint8Array; ciphertext: Uint8Array };

/**
 * Encode a session payload for the wire.
 * @param p the payload
 * @returns the bytes
 * @throws {RangeError} when a field has the wrong size or an id is out of range
 */
export function encodeSessionPayload(p: SessionPayload): Uint8Array {
  if (p.header.length !== RATCHET_HEADER_BYTES) {
    throw new RangeError("Ratchet header must be 40 bytes");
  }
  if (p.ciphertext.length < AEAD_TAG_BYTES) throw new RangeError("Ciphertext is too short");
  const body = RATCHET_HEADER_BYTES + p.ciphertext.length;
  if (p.kind === "ratchet") {
    const out = new Uint8Array(1 + body);
    out[0] = RATCHET_PAYLOAD;
    out.set(p.header, 1);
    out.set(p.ciphertext, 1 + RATCHET_HEADER_BYTES);
    return out;
  }
  try {
    checkInitPart(p.init);
  } catch {
    throw new RangeError("Malformed session init");
  }
  const out = new Uint8Array(PREKEY_INIT_BYTES + body);
  const view = new DataView(out.buffer);
  out[0] = PREKEY_PAYLOAD;
  out.set(p.init.ek, 1);
  view.setUint32(33, p.init.spkId);
  view.setUint32(37, p.init.kemId);
  view.setUint32(41, p.init.opkId);
  out.set(p.init.kemCt, 45);
  out.set(p.header, PREKEY_INIT_BYTES);
  out.set(p.ciphertext, PREKEY_INIT_BYTES + RATCHET_HEADER_BYTES);
  return out;
}

/**
 * Parse a session payload strictly: a known kind byte, exact field sizes,
 * prekey ids in range (1 … 2^32 − 2; 0 only for "no one-time prekey") and
 * a ciphertext of at least one AEAD tag. Every field is a copy.
 * @param bytes the payload as received
 * @returns the tagged payload
 * @throws {HearthError} `bad_request` when the bytes are malformed
 */
export function parseSessionPayload(bytes: Uint8Array): SessionPayload {
  if (!(bytes instanceof Uint8Array) || bytes.length < 1) throw malformed();
  if (bytes[0] === RATCHET_PAYLOAD) {
    const [header, ciphertext] = ratchetMessage(bytes, 1);
    return { kind: "ratchet", header, ciphertext };
  }
  if (bytes[0] !== PREKEY_PAYLOAD || bytes.length < PREKEY_INIT_BYTES) throw malformed();
  const init: InitPart = {
    ek: bytes.slice(1, 33),
    spkId: readU32(bytes, 33),
    kemId: readU32(bytes, 37),
    opkId: readU32(bytes, 41),
    kemCt: bytes.slice(45, PREKEY_INIT_BYTES),
  };
  checkInitPart(init);
  const [header, ciphertext] = ratchetMessage(bytes, PREKEY_INIT_BYTES);
  return { kind: "prekey", init, header, ciphertext };
}

function ratchetMessage(bytes: Uint8Array, at: number): [Uint8Array, Uint8Array] {
  if (bytes.length < at + RATCHET_HEADER_BYTES + AEAD_TAG_BYTES) throw malformed();
  return [
    bytes.slice(at, at + RATCHET_HEADER_BYTES),
    bytes.slice(at + RATCHET_HEADER_BYTES),
  ];
}

function malformed(): HearthError {
  return new HearthError("bad_request", "Malformed session payload");
}
