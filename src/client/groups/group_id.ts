/**
 * The Group ID: the text form of a group's Ed25519 public key (the group
 * key pair that admins hold, docs/PROTOCOL.md §14), with a checksum like an
 * Account ID so a mistyped ID is refused instead of naming another group.
 *
 * Format: bech32m (BIP-350) with human-readable part `hearthg`, i.e.
 * `hearthg1` + 52 data characters + 6 checksum characters = 66 characters,
 * lowercase.
 * @module
 */
import { bech32m } from "@scure/base";
import { isValidEd25519PublicKey } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";

/** The human-readable part of every Group ID. */
export const GROUP_ID_PREFIX = "hearthg";
/** How every Group ID starts. */
export const GROUP_ID_HEAD = "hearthg1";
/** Length of a Group ID, characters. */
export const GROUP_ID_LENGTH = 66;

const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const MAX_INPUT_CHARS = 1_024;

/**
 * The Group ID of a group's Ed25519 public key.
 * @param publicKey the group's 32-byte public key
 * @returns `hearthg1…`, 66 lowercase characters
 * @throws {RangeError} when the key is not 32 bytes
 */
export function formatGroupId(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new RangeError("Group public key must be 32 bytes");
  }
  return bech32m.encode(GROUP_ID_PREFIX, bech32m.toWords(publicKey));
}

/**
 * The Ed25519 public key a Group ID names. Accepts surrounding whitespace
 * and the all-uppercase form; refuses mixed case.
 * @param text the ID as typed or pasted
 * @returns the group's 32-byte public key
 * @throws {HearthError} `bad_request` saying which check failed: not text,
 *   mixed case, wrong prefix, wrong length, invalid character, checksum
 *   mismatch, non-canonical padding, or not a valid public key
 */
export function parseGroupId(text: string): Uint8Array {
  if (typeof text !== "string") throw bad("Group ID must be text");
  if (text.length > MAX_INPUT_CHARS) throw bad(lengthMessage());
  const trimmed = text.trim();
  const id = trimmed.toLowerCase();
  if (trimmed !== id && trimmed !== trimmed.toUpperCase()) {
    throw bad("Group ID mixes upper and lower case");
  }
  if (!id.startsWith(GROUP_ID_HEAD)) throw bad(`Group ID must start with ${GROUP_ID_HEAD}`);
  if (id.length !== GROUP_ID_LENGTH) throw bad(lengthMessage());
  for (let i = GROUP_ID_HEAD.length; i < id.length; i++) {
    if (!BECH32_CHARSET.includes(id[i]!)) {
      throw bad(`Group ID has an invalid character at position ${i + 1}`);
    }
  }
  let words: number[];
  try {
    words = bech32m.decode(id as `${string}1${string}`, GROUP_ID_LENGTH).words;
  } catch {
    throw bad("Group ID checksum does not match; check it for a typo");
  }
  let publicKey: Uint8Array;
  try {
    publicKey = bech32m.fromWords(words);
  } catch {
    throw bad("Group ID is not in canonical form");
  }
  if (publicKey.length !== 32) throw bad(lengthMessage());
  if (!isValidEd25519PublicKey(publicKey)) throw bad("Group ID does not name a valid public key");
  return publicKey;
}

/**
 * The canonical (lowercase, trimmed) form of a Group ID.
 * @throws {HearthError} `bad_request` as {@link parseGroupId}
 */
export function normalizeGroupId(text: string): string {
  return formatGroupId(parseGroupId(text));
}

/**
 * Whether a value looks like a Group ID (starts with `hearthg1`, in either
 * case); it may still fail {@link parseGroupId}. Tells a group apart from an
 * Account ID (`hearth1…`) before parsing.
 */
export function looksLikeGroupId(text: unknown): boolean {
  return typeof text === "string" && text.trim().toLowerCase().startsWith(GROUP_ID_HEAD);
}

function lengthMessage(): string {
  return `Group ID must be ${GROUP_ID_LENGTH} characters`;
}

function bad(message: string): HearthError {
  return new HearthError("bad_request", message);
}
