/**
 * The shared shape of Hearth's key IDs (Account IDs, `hearth1…`, and Group
 * IDs, `hearthg1…`): bech32m (BIP-350) of a 32-byte Ed25519 public key
 * under a human-readable part, lowercase, with a checksum so a mistyped ID
 * is refused instead of naming another key. Parsing says which check
 * failed, in the kind's words and with the kind's error code.
 * @module
 */
import { bech32m } from "@scure/base";
import { isValidEd25519PublicKey } from "../../shared/crypto/mod.ts";
import { type ErrorCode, HearthError } from "../../shared/errors.ts";

/** One kind of ID: its prefix, length, name in messages and error code. */
export interface Bech32IdKind {
  /** The human-readable part, e.g. `hearth`. */
  prefix: string;
  /** Length of an ID, characters (prefix, separator, data and checksum). */
  length: number;
  /** Who owns the key, in messages: `Account` or `Group`. */
  owner: string;
  /** The code of every parse error. */
  code: ErrorCode;
}

const SEPARATOR = "1";
const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/** Longer text is refused before any other work; an ID fits many times over. */
const MAX_INPUT_CHARS = 1_024;

/**
 * The ID of an Ed25519 public key.
 * @throws {RangeError} when the key is not 32 bytes
 */
export function formatBech32Id(kind: Bech32IdKind, publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new RangeError(`${kind.owner} public key must be 32 bytes`);
  }
  return bech32m.encode(kind.prefix, bech32m.toWords(publicKey));
}

/**
 * The Ed25519 public key an ID names. Accepts surrounding whitespace and
 * the all-uppercase form (as read from a QR code); refuses mixed case, as
 * BIP-350 requires.
 * @returns the 32-byte public key
 * @throws {HearthError} `kind.code`, with a message that says which check failed: not
 *   text, mixed case, wrong prefix, wrong length, invalid character (with its position),
 *   checksum mismatch, non-zero padding, or not a usable Ed25519 public key
 */
export function parseBech32Id(kind: Bech32IdKind, text: string): Uint8Array {
  const name = `${kind.owner} ID`;
  const bad = (message: string) => new HearthError(kind.code, message);
  const badLength = () => bad(`${name} must be ${kind.length} characters`);
  if (typeof text !== "string") throw bad(`${name} must be text`);
  if (text.length > MAX_INPUT_CHARS) throw badLength();
  const trimmed = text.trim();
  const id = trimmed.toLowerCase();
  if (trimmed !== id && trimmed !== trimmed.toUpperCase()) {
    throw bad(`${name} mixes upper and lower case`);
  }
  const head = kind.prefix + SEPARATOR;
  if (!id.startsWith(head)) throw bad(`${name} must start with ${head}`);
  if (id.length !== kind.length) throw badLength();
  for (let i = head.length; i < id.length; i++) {
    if (!BECH32_CHARSET.includes(id[i]!)) {
      throw bad(`${name} has an invalid character at position ${i + 1}`);
    }
  }
  let words: number[];
  try {
    words = bech32m.decode(id as `${string}1${string}`, kind.length).words;
  } catch {
    throw bad(`${name} checksum does not match; check it for a typo`);
  }
  let publicKey: Uint8Array;
  try {
    publicKey = bech32m.fromWords(words);
  } catch {
    throw bad(`${name} is not in canonical form`);
  }
  if (publicKey.length !== 32) throw badLength();
  if (!isValidEd25519PublicKey(publicKey)) throw bad(`${name} does not name a valid public key`);
  return publicKey;
}
