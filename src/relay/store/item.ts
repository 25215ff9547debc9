/**
 * Stored items (PROTOCOL §5): the item hash that is an item's ID, the
 * namespace encoding and classes (public inbox, group member-write and
 * member-read, public-read, content-addressed, owner-only), and the TTL
 * bounds and quota class of each.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/bytes.ts";
import { labeledHash } from "../../shared/crypto/hash.ts";
import { ns16 } from "../../shared/storage/signing.ts";
import { chunkKey, namespaceKind } from "../../shared/storage/namespaces.ts";
import {
  MAX_INBOX_TTL_MS,
  MAX_OWNER_TTL_MS,
  MIN_TTL_MS,
  SIGNATURE_WINDOW_MS,
} from "../../shared/codec/limits.ts";

export { ns16 };

/** Smallest namespace number (a signed 16-bit integer). */
export const MIN_NAMESPACE: number = -32_768;
/** Largest namespace number. */
export const MAX_NAMESPACE: number = 32_767;

/** Default and largest `maxBytes` of a retrieve: the data blob of one answer. */
export const MAX_RETRIEVE_BYTES: number = 90_000;
/** Most items one retrieve answer lists, so its header stays small. */
export const MAX_RETRIEVE_ITEMS: number = 64;
/** Most hashes a delete or expire names. */
export const MAX_HASHES_PER_REQUEST: number = 100;

/**
 * A namespace class of the quota, each counted on its own per key:
 * - `inbox`: public inboxes (ns % 10 == 0), where anyone stores;
 * - `member`: group member-write namespaces (ns % 10 == 1), where the
 *   members store, so a busy group does not fill the owner's own share;
 * - `content`: content-addressed namespaces (ns % 10 == 7); a key there is
 *   the hash of its data, so it holds one item per namespace and the quota
 *   bounds little: the rate limit is what bounds anonymous chunk stores;
 * - `owner`: everything only the owner stores (owner-only, member-read,
 *   public-read).
 */
export type NamespaceClass = "inbox" | "member" | "content" | "owner";

/** One stored item: the swarm key, namespace, data, expiry (ms) and hash. */
export interface StoredItem {
  /** 32-byte swarm key. */
  key: Uint8Array;
  /** Namespace, −32768…32767. */
  ns: number;
  /** Expiry, ms since the epoch. */
  expiry: number;
  /** The (encrypted) data, at most MAX_ITEM_BYTES. */
  data: Uint8Array;
  /** The item hash, {@link itemHash} of key, ns and data. */
  hash: Uint8Array;
}

/** Whether `ns` is an integer in −32768…32767. */
export function isNamespace(ns: number): boolean {
  return Number.isSafeInteger(ns) && ns >= MIN_NAMESPACE && ns <= MAX_NAMESPACE;
}

/**
 * The ID of an item: H("hearth/item/v1", K, ns16(ns), data).
 * @param key the 32-byte swarm key
 * @param ns the namespace
 * @param data the item's data
 */
export function itemHash(key: Uint8Array, ns: number, data: Uint8Array): Uint8Array {
  return labeledHash("hearth/item/v1", key, ns16(ns), data);
}

/** Whether a namespace is a public inbox (ns % 10 == 0): anyone may store. */
export function isPublicInbox(ns: number): boolean {
  return ns % 10 === 0;
}

/**
 * Whether a namespace is public-read (ns % 10 == 5: 5, 15, −5, …): only the
 * owner stores, deletes and expires (signed), but anyone may retrieve
 * without a signature (and without a long-poll).
 * @param ns the namespace
 * @returns true for 5, 15, −5, −15, …
 */
export function isPublicRead(ns: number): boolean {
  return Math.abs(ns % 10) === 5;
}

/** The quota class of a namespace (see {@link NamespaceClass}). */
export function namespaceClass(ns: number): NamespaceClass {
  switch (namespaceKind(ns)) {
    case "inbox":
      return "inbox";
    case "member_write":
      return "member";
    case "content":
      return "content";
    default:
      return "owner";
  }
}

/**
 * The longest TTL of a namespace, ms: 14 days where others than the owner
 * store (inbox, member-write, content-addressed), 30 days otherwise.
 */
export function maxTtl(ns: number): number {
  const kind = namespaceKind(ns);
  return kind === "inbox" || kind === "member_write" || kind === "content"
    ? MAX_INBOX_TTL_MS
    : MAX_OWNER_TTL_MS;
}

/** Whether a namespace is content-addressed (ns % 10 == 7). */
export function isContent(ns: number): boolean {
  return namespaceKind(ns) === "content";
}

/**
 * Whether an item may be held under its key: outside the content-addressed
 * class always; inside it only when the key is `chunkKey(data)`.
 * @param key the item's swarm key
 * @param ns the item's namespace
 * @param data the item's data
 */
export function isAddressedRight(key: Uint8Array, ns: number, data: Uint8Array): boolean {
  return !isContent(ns) || bytesEqual(key, chunkKey(data));
}

/** Whether `ttl` (ms) is allowed in namespace `ns`. */
export function isValidTtl(ns: number, ttl: number): boolean {
  return Number.isSafeInteger(ttl) && ttl >= MIN_TTL_MS && ttl <= maxTtl(ns);
}

/**
 * Whether an expiry received from another node is acceptable: in the
 * future, and no further than the namespace's longest TTL from now (with
 * the signature clock window as slack, since clocks differ).
 * @param ns the item's namespace
 * @param expiry the expiry, ms since the epoch
 * @param now this node's clock
 */
export function isAcceptableExpiry(ns: number, expiry: number, now: number): boolean {
  return Number.isSafeInteger(expiry) && expiry > now &&
    expiry <= now + maxTtl(ns) + SIGNATURE_WINDOW_MS;
}
