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
import { type Bech32IdKind, formatBech32Id, parseBech32Id } from "./bech32_id.ts";

/** The human-readable part of every Account ID. */
export const ACCOUNT_ID_PREFIX = "hearth";
/** Length of an Account ID, characters. */
export const ACCOUNT_ID_LENGTH = 65;

const KIND: Bech32IdKind = {
  prefix: ACCOUNT_ID_PREFIX,
  length: ACCOUNT_ID_LENGTH,
  owner: "Account",
  code: "bad_account_id",
};

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
  return formatBech32Id(KIND, publicKey);
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
  return parseBech32Id(KIND, text);
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
