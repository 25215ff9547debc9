/**
 * The item batch frame of replication and anti-entropy (PROTOCOL §6):
 * header `{items: [{key, ns, expiry, size}]}`, blob = the items' data
 * concatenated in order. Hashes are not sent: the receiver recomputes them.
 * @module
 */
import { toHex } from "../../shared/crypto/bytes.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { arr, asObject, hexField, int } from "../../shared/codec/fields.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { isNamespace, itemHash, type StoredItem } from "../store/item.ts";

/** Most items in one batch frame. */
export const MAX_BATCH_ITEMS = 1_024;
/** Largest JSON header of a batch frame, bytes. */
export const MAX_BATCH_HEADER_BYTES = 256 * 1024;

/** Encode items as a batch frame. */
export function encodeItemBatch(items: readonly StoredItem[]): Uint8Array {
  const header = {
    items: items.map((i) => ({
      key: toHex(i.key),
      ns: i.ns,
      expiry: i.expiry,
      size: i.data.length,
    })),
  };
  const blob = new Uint8Array(items.reduce((n, i) => n + i.data.length, 0));
  let off = 0;
  for (const i of items) {
    blob.set(i.data, off);
    off += i.data.length;
  }
  return encodeFrame(header, blob);
}

/**
 * Parse a batch frame, checking every field and size, and compute each
 * item's hash. Expiry is checked by the caller (it depends on the clock).
 * @throws {HearthError} `bad_request`, `bad_encoding`, `bad_namespace` or `too_large`
 */
export function parseItemBatch(bytes: Uint8Array): StoredItem[] {
  const { header, blob } = decodeFrame(bytes, MAX_BATCH_HEADER_BYTES);
  const entries = arr(header, "items", MAX_BATCH_ITEMS);
  const items: StoredItem[] = [];
  let off = 0;
  for (const entry of entries) {
    const o = asObject(entry, "item");
    const key = hexField(o, "key", 32);
    const ns = int(o, "ns", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (!isNamespace(ns)) throw new HearthError("bad_namespace", "Namespace is out of range");
    const expiry = int(o, "expiry", 0, Number.MAX_SAFE_INTEGER);
    const size = int(o, "size", 0, Number.MAX_SAFE_INTEGER);
    if (size > MAX_ITEM_BYTES) throw new HearthError("too_large", "Item is too large");
    if (off + size > blob.length) throw new HearthError("bad_request", "Batch data is truncated");
    const data = blob.slice(off, off + size);
    off += size;
    items.push({ key, ns, expiry, data, hash: itemHash(key, ns, data) });
  }
  if (off !== blob.length) throw new HearthError("bad_request", "Batch data has trailing bytes");
  return items;
}
