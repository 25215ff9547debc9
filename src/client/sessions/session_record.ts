/**
 * What one row of the `sessions` table keeps in its `state` blob: the
 * double-ratchet state, the ephemeral key of the handshake that made the
 * session (to tell a replayed prekey message from a new handshake), and,
 * for an initiator that has not yet received anything, the init part it
 * repeats in every message until then (PQXDH §3.3: the initiator sends the
 * initial message's header until the responder answers).
 *
 * Layout: version 1 ‖ flags (bit 0: init part present) ‖ ek 32 ‖ [spkId
 * u32 ‖ kemId u32 ‖ opkId u32 ‖ kemCt 1088] ‖ ratchet state (ratchet.ts).
 * @module
 */
import { bytesEqual, readU32 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { checkInitPart, type InitPart, KEM_CIPHERTEXT_BYTES, X25519_BYTES } from "./pqxdh.ts";
import { decodeRatchetState, encodeRatchetState, type RatchetState } from "./ratchet_state.ts";

const RECORD_VERSION = 1;
const HAS_INIT = 1;
/** Bytes of the init part's ids and KEM ciphertext (after `ek`). */
const INIT_REST_BYTES = 12 + KEM_CIPHERTEXT_BYTES;

/** One session with a peer, as kept between messages. */
export interface SessionRecord {
  /** The ephemeral X25519 key of the handshake that made the session (32 bytes). */
  ek: Uint8Array;
  /**
   * The initiator's init part while it has not received any message of the
   * session (its messages are prekey messages until then); null after, and
   * always null for the responder.
   */
  pendingInit: InitPart | null;
  /** The double-ratchet state. */
  ratchet: RatchetState;
}

/**
 * Encode a session record for the `sessions.state` column.
 * @param record the record
 * @returns the bytes (secret: they hold the ratchet's keys)
 * @throws {RangeError} when `ek` is not 32 bytes or the init part does not carry that `ek`
 */
export function encodeSessionRecord(record: SessionRecord): Uint8Array {
  if (record.ek.length !== X25519_BYTES) throw new RangeError("Handshake key must be 32 bytes");
  const init = record.pendingInit;
  if (init && !bytesEqual(init.ek, record.ek)) {
    throw new RangeError("The init part belongs to another handshake");
  }
  const ratchet = encodeRatchetState(record.ratchet);
  const out = new Uint8Array(2 + X25519_BYTES + (init ? INIT_REST_BYTES : 0) + ratchet.length);
  const view = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = init ? HAS_INIT : 0;
  out.set(record.ek, 2);
  let at = 2 + X25519_BYTES;
  if (init) {
    view.setUint32(at, init.spkId);
    view.setUint32(at + 4, init.kemId);
    view.setUint32(at + 8, init.opkId);
    out.set(init.kemCt, at + 12);
    at += INIT_REST_BYTES;
  }
  out.set(ratchet, at);
  return out;
}

/**
 * Parse a stored session record, strictly.
 * @param bytes the `sessions.state` blob
 * @returns the record
 * @throws {HearthError} `bad_encoding` when the bytes are not a valid record
 */
export function decodeSessionRecord(bytes: Uint8Array): SessionRecord {
  const head = 2 + X25519_BYTES;
  if (!(bytes instanceof Uint8Array) || bytes.length < head || bytes[0] !== RECORD_VERSION) {
    throw malformed();
  }
  const flags = bytes[1]!;
  if ((flags & ~HAS_INIT) !== 0) throw malformed();
  const ek = bytes.slice(2, head);
  let at = head;
  let pendingInit: InitPart | null = null;
  if (flags & HAS_INIT) {
    if (bytes.length < at + INIT_REST_BYTES) throw malformed();
    pendingInit = {
      ek: ek.slice(),
      spkId: readU32(bytes, at),
      kemId: readU32(bytes, at + 4),
      opkId: readU32(bytes, at + 8),
      kemCt: bytes.slice(at + 12, at + INIT_REST_BYTES),
    };
    try {
      checkInitPart(pendingInit);
    } catch {
      throw malformed();
    }
    at += INIT_REST_BYTES;
  }
  return { ek, pendingInit, ratchet: decodeRatchetState(bytes.subarray(at)) };
}

function malformed(): HearthError {
  return new HearthError("bad_encoding", "Malformed session record");
}
