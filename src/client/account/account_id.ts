/**
 * The Account ID: the text form of an account's Ed25519 public key, with a
 * checksum so a mistyped ID is rejected instead of reaching a stranger.
 *
 * Format: bech32m (BIP-350) with human-readable part `hearth`, i.e.
 * `hearth1` + 52 data characters (the 32-byte key in 5-bit groups, the
 * last 4 bits zero) + 6 checksum characters = 65 characters, lowercase.
 * The BCH checksum detects every error in up to 4 characters, and any
 * other error with probability 1 − 2⁻³⁰. The alphabet leaves out `1`, `b`,
 * `i` and `o`, which are easy to confuse.
 * @module
 */
import { bech32m } from "@scure/base";
import { isValidEd25519PublicKey } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";

/** The human-readable part of every Account ID. */
export const ACCOUNT_ID_PREFIX = "hearth";
/** Length of an Account ID, characters. */
export const ACCOUNT_ID_LENGTH = 65;

const SEPARATOR = "1";
const HEAD = ACCOUNT_ID_PREFIX + SEPARATOR;
const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/** Longer text is refused before any other work; an ID fits many times over. */
const MAX_INPUT_CHARS = 1_024;

/**
 * The Account ID of an Ed25519 public key.
 * @param publicKey the account's 32-byte Ed25519 public key
 * @returns the ID, `hearth1…`, 65 lowercase characters
 * @throws {RangeError} when the key is not 32 bytes
 * @example
 * ```ts
 * formatAccountId(keys.signing.publicKey); // "hearth1…"
 * ```
 */
export function formatAccountId(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new RangeError("Account public key must be 32 bytes");
  }
  return bech32m.encode(ACCOUNT_ID_PREFIX, bech32m.toWords(publicKey));
}

/**
 * The Ed25519 public key named by an Account ID. Accepts surrounding
 * whitespace and the all-uppercase form (as read from a QR code); refuses
 * mixed case, as BIP-350 requires.
 * @param text the ID as typed, pasted or scanned
 * @returns the 32-byte public key
 * @throws {HearthError} `bad_account_id`, with a message that says which
 *   check failed: not text, mixed case, wrong prefix, wrong length,
 *   invalid character (with its position), checksum mismatch, non-zero
 *   padding, or not a usable Ed25519 public key
 */
export function parseAccountId(text: string): Uint8Array {
  if (typeof text !== "string") throw bad("Account ID must be text");
  if (text.length > MAX_INPUT_CHARS) throw bad(lengthMessage());
  const trimmed = text.trim();
  const id = trimmed.toLowerCase();
  if (trimmed !== id && trimmed !== trimmed.toUpperCase()) {
    throw bad("Account ID mixes upper and lower case");
  }
  if (!id.startsWith(HEAD)) throw bad(`Account ID must start with ${HEAD}`);
  if (id.length !== ACCOUNT_ID_LENGTH) throw bad(lengthMessage());
  for (let i = HEAD.length; i < id.length; i++) {
    if (!BECH32_CHARSET.includes(id[i]!)) {
      throw bad(`Account ID has an invalid character at position ${i + 1}`);
    }
  }
  let words: number[];
  try {
    words = bech32m.decode(id as `${string}1${string}`, ACCOUNT_ID_LENGTH).words;
  } catch {
    throw bad("Account ID checksum does not match; check it for a typo");
  }
  let publicKey: Uint8Array;
  try {
    publicKey = bech32m.fromWords(words);
  } catch {
    throw bad("Account ID is not in canonical form");
  }
  if (publicKey.length !== 32) throw bad(lengthMessage());
  if (!isValidEd25519PublicKey(publicKey)) {
    throw bad("Account ID does not name a valid public key");
  }
  return publicKey;
}

/**
 * Whether a text is a valid Account ID (as {@link parseAccountId} decides).
 * @param text any value
 * @returns true when it parses
 */
export function isAccountId(text: unknown): boolean {
  try {
    parseAccountId(text as string);
    return true;
  } catch {
    return false;
  }
}

/**
 * The canonical (lowercase, trimmed) form of an Account ID.
 * @param text the ID as typed, pasted or scanned
 * @returns the 65-character lowercase ID
 * @throws {HearthError} `bad_account_id` as {@link parseAccountId}
 */
export function normalizeAccountId(text: string): string {
  return formatAccountId(parseAccountId(text));
}

function lengthMessage(): string {
  return `Account ID must be ${ACCOUNT_ID_LENGTH} characters`;
}

function bad(message: string): HearthError {
  return new HearthError("bad_account_id", message);
}
