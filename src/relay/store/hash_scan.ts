/**
 * Scans of the item table in hash order, for anti-entropy (PROTOCOL §6):
 * per-prefix digests and the hashes of some prefixes. Rows are read in
 * pages and the filter runs in JS, so memory stays bounded however many
 * items the node holds.
 * @module
 */
import type { Kysely } from "kysely";
import { sha256 } from "../../shared/crypto/hash.ts";
import type { RelayDb } from "./schema.ts";

/** Decides, from an item's swarm key, whether the item takes part in a sync. */
export type KeyFilter = (key: Uint8Array) => boolean;

/** The digest of one bucket: the live items whose hash starts with `prefix`. */
export interface DigestBucket {
  /** First byte of the hashes, 0–255. */
  prefix: number;
  /** Number of items in the bucket. */
  count: number;
  /** SHA-256 of the bucket's sorted 32-byte hashes. */
  digest: Uint8Array;
}

const PAGE = 1_000;

/** Turn a blob read back from libsql (an ArrayBuffer) into bytes. */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError("Expected a blob column");
}

/**
 * Digest every live item that passes `filter`, grouped by the first byte
 * of its hash. Buckets without items are left out.
 * @param db the relay database
 * @param options.filter which items count
 * @param options.now the clock; expired items never count
 */
export async function scanDigest(
  db: Kysely<RelayDb>,
  options: { filter: KeyFilter; now: number },
): Promise<DigestBucket[]> {
  const buckets: DigestBucket[] = [];
  let prefix = -1;
  // One bucket's hashes at a time: about 1/256 of the items, 32 bytes each.
  let members: Uint8Array[] = [];
  const finish = () => {
    if (members.length > 0) {
      buckets.push({ prefix, count: members.length, digest: sha256(joinHashes(members)) });
    }
  };
  let last: Uint8Array | undefined;
  while (true) {
    let q = db.selectFrom("items").select(["hash", "key"]).where("expiry", ">", options.now);
    if (last) q = q.where("hash", ">", last);
    const rows = await q.orderBy("hash").limit(PAGE).execute();
    for (const row of rows) {
      const hash = bytesOf(row.hash);
      last = hash;
      if (!options.filter(bytesOf(row.key))) continue;
      if (hash[0] !== prefix) {
        finish();
        prefix = hash[0]!;
        members = [];
      }
      members.push(hash);
    }
    if (rows.length < PAGE) break;
  }
  finish();
  return buckets;
}

/**
 * The live hashes that pass `filter` and start with one of `prefixes`, in
 * hash order, strictly after `after` when given.
 * @returns the hashes, and whether there are more than `limit`
 */
export async function scanHashes(
  db: Kysely<RelayDb>,
  prefixes: readonly number[],
  options: { filter: KeyFilter; now: number; limit: number; after?: Uint8Array },
): Promise<{ hashes: Uint8Array[]; more: boolean }> {
  const hashes: Uint8Array[] = [];
  const sorted = [...new Set(prefixes)].sort((a, b) => a - b);
  for (const prefix of sorted) {
    let cursor = startOf(prefix, options.after);
    if (cursor === null) continue;
    while (true) {
      let q = db.selectFrom("items").select(["hash", "key"]).where("expiry", ">", options.now);
      q = cursor.strict ? q.where("hash", ">", cursor.from) : q.where("hash", ">=", cursor.from);
      if (prefix < 255) q = q.where("hash", "<", new Uint8Array([prefix + 1]));
      const rows = await q.orderBy("hash").limit(PAGE).execute();
      for (const row of rows) {
        if (!options.filter(bytesOf(row.key))) continue;
        if (hashes.length === options.limit) return { hashes, more: true };
        hashes.push(bytesOf(row.hash));
      }
      if (rows.length < PAGE) break;
      cursor = { from: bytesOf(rows[rows.length - 1]!.hash), strict: true };
    }
  }
  return { hashes, more: false };
}

/**
 * The tombstones (hashes of deleted or shortened items, until their old
 * expiry) that start with one of `prefixes`, at most `limit`. A tombstone
 * of an item still live here (its expiry was shortened) is left out.
 */
export async function scanTombstones(
  db: Kysely<RelayDb>,
  prefixes: readonly number[],
  options: { now: number; limit: number },
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const sorted = [...new Set(prefixes)].sort((a, b) => a - b);
  for (const prefix of sorted) {
    if (out.length >= options.limit) break;
    let q = db.selectFrom("deleted").select("hash")
      .where("expiry", ">", options.now)
      .where("hash", ">=", new Uint8Array([prefix]))
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("items").select("seq")
            .whereRef("items.hash", "=", "deleted.hash")
            .where("items.expiry", ">", options.now),
        ))
      );
    if (prefix < 255) q = q.where("hash", "<", new Uint8Array([prefix + 1]));
    const rows = await q.orderBy("hash").limit(options.limit - out.length).execute();
    for (const row of rows) out.push(bytesOf(row.hash));
  }
  return out;
}

function startOf(
  prefix: number,
  after: Uint8Array | undefined,
): { from: Uint8Array; strict: boolean } | null {
  if (!after || after.length === 0 || after[0]! < prefix) {
    return { from: new Uint8Array([prefix]), strict: false };
  }
  if (after[0]! > prefix) return null;
  return { from: after, strict: true };
}

function joinHashes(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => out.set(h, i * 32));
  return out;
}
