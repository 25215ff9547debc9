/**
 * The namespaces hearth uses (PROTOCOL §5), the namespace classes the relay
 * enforces, and the bytes signed or hashed by the group-access and
 * content-addressed classes. Shared by the client and the relay.
 *
 * Classes, by `ns % 10` (the sign of `ns` does not matter):
 * - 0: public inbox: anyone stores; the owner retrieves and deletes.
 * - 1: group member-write: the owner (the group key) or a member holding an
 *   access token stores and retrieves.
 * - 3: group member-read: only the owner stores; the owner or a member
 *   retrieves.
 * - 5: public-read: only the owner stores; anyone retrieves, unsigned.
 * - 7: content-addressed: anyone stores, unsigned, but only under the key
 *   `chunkKey(data)`; anyone retrieves, unsigned.
 * - any other: owner-only.
 * @module
 */
import { labeledHash } from "../crypto/hash.ts";

/** An account's inbox (public inbox class). */
export const INBOX_NS = 0;
/** An account's encrypted config (owner-only). */
export const CONFIG_NS = 2;
/** An account's prekey bundle (public-read). */
export const BUNDLE_NS = 5;
/** File chunks, each in the swarm of its own hash (content-addressed). */
export const CHUNK_NS = 7;
/** A group's messages (member-write). */
export const GROUP_MESSAGES_NS = 11;
/** A group's signed state: keys, name, picture, members (member-read). */
export const GROUP_STATE_NS = 13;
/** A group's revoked access keys (owner-only; the relay reads it to refuse them). */
export const GROUP_REVOKED_NS = 14;

/** The class of a namespace: who may store and who may retrieve. */
export type NamespaceKind =
  | "inbox"
  | "member_write"
  | "member_read"
  | "public_read"
  | "content"
  | "owner";

/**
 * The class of a namespace, by `ns % 10`.
 * @param ns an integer namespace
 */
export function namespaceKind(ns: number): NamespaceKind {
  switch (Math.abs(ns % 10)) {
    case 0:
      return "inbox";
    case 1:
      return "member_write";
    case 3:
      return "member_read";
    case 5:
      return "public_read";
    case 7:
      return "content";
    default:
      return "owner";
  }
}

/**
 * The swarm key of a content-addressed item: H("hearth/chunk/v1", data).
 * A relay stores an item of a content-addressed namespace only under this key.
 * @param data the item's bytes (an encrypted file chunk)
 */
export function chunkKey(data: Uint8Array): Uint8Array {
  return labeledHash("hearth/chunk/v1", data);
}

/**
 * What a group's key signs to grant one access key to its swarm:
 * H("hearth/group-access/v1", K, member). The token is
 * Ed25519(group key, these bytes).
 * @param key the group's 32-byte swarm key
 * @param member the member's 32-byte Ed25519 access public key
 */
export function groupAccessBytes(key: Uint8Array, member: Uint8Array): Uint8Array {
  return labeledHash("hearth/group-access/v1", key, member);
}
