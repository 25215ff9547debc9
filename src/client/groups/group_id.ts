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
import { type Bech32IdKind, formatBech32Id, parseBech32Id } from "../account/bech32_id.ts";

/** The human-readable part of every Group ID. */
export const GROUP_ID_PREFIX = "hearthg";
/** How every Group ID starts. */
export const GROUP_ID_HEAD = "hearthg1";
/** Length of a Group ID, characters. */
export const GROUP_ID_LENGTH = 66;

const KIND: Bech32IdKind = {
  prefix: GROUP_ID_PREFIX,
  length: GROUP_ID_LENGTH,
  owner: "Group",
  code: "bad_request",
};

/**
 * The Group ID of a group's Ed25519 public key.
 * @param publicKey the group's 32-byte public key
 * @returns `hearthg1…`, 66 lowercase characters
 * @throws {RangeError} when the key is not 32 bytes
 */
export function formatGroupId(publicKey: Uint8Array): string {
  return formatBech32Id(KIND, publicKey);
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
  return parseBech32Id(KIND, text);
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
