/**
 * The message store: items by (swarm key, namespace) in arrival order,
 * with expiry, owner deletes, quotas and the scans anti-entropy needs.
 *
 * Writes come in bursts (fan-out, anti-entropy), so `put` queues its items
 * and one flush loop commits everything queued in a single transaction
 * (fsync'd: the database runs WAL with synchronous=FULL), then answers
 * every caller. Expired items are never returned.
 * @module
 */
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  bytesOf,
  type DigestBucket,
  type KeyFilter,
  scanDigest,
  scanHashes,
  scanTombstones,
} from "./hash_scan.ts";
import {
  MAX_RETRIEVE_BYTES,
  MAX_RETRIEVE_ITEMS,
  type NamespaceClass,
  type StoredItem,
} from "./item.ts";
import { Notifier } from "./notifier.ts";
import { WriteBatcher } from "./write_batcher.ts";
import type { RelayDb } from "./schema.ts";

export type { DigestBucket, KeyFilter } from "./hash_scan.ts";

/** What `put` says of one item. */
export interface PutResult {
  /** The item's hash. */
  hash: Uint8Array;
  /** The item was stored before (or was deleted by its owner): nothing changed. */
  already: boolean;
  /** The expiry the store holds for it. */
  expiry: number;
}

/** One item of a retrieve answer. */
export interface RetrievedItem {
  /** The item's hash. */
  hash: Uint8Array;
  /** Its expiry, ms since the epoch. */
  expiry: number;
  /** Its data. */
  data: Uint8Array;
}

/** Options of {@link MessageStore}. */
export interface MessageStoreOptions {
  /** The clock, ms (default Date.now). */
  clock?: () => number;
  /** Wakes long-polls; one is made when not given. */
  notifier?: Notifier;
  /** Most items committed in one transaction (default 512). */
  maxBatchItems?: number;
}

const IN_CHUNK = 400;

/**
 * What replication and anti-entropy use of a store: the methods they
 * call, so that the network simulation can hold items in memory.
 */
export type ReplicaStore = Pick<
  MessageStore,
  | "put"
  | "missing"
  | "delete"
  | "deleteHashes"
  | "expire"
  | "digest"
  | "hashesIn"
  | "deletedIn"
  | "getByHashes"
  | "keyHashes"
>;

/** The relay's item store over the relay database. */
export class MessageStore {
  /** Wakes long-poll retrieves when items arrive. */
  readonly notifier: Notifier;
  #db: Kysely<RelayDb>;
  #clock: () => number;
  #writes: WriteBatcher<StoredItem, PutResult>;
  #closed = false;

  /**
   * Create a store over an open relay database.
   * @param db the relay database, opened with `relayMigrations`
   * @param options clock, notifier, batch size
   */
  constructor(db: Kysely<RelayDb>, options: MessageStoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? Date.now;
    this.notifier = options.notifier ?? new Notifier();
    this.#writes = new WriteBatcher((items) => this.#commitAndNotify(items), {
      maxBatch: options.maxBatchItems,
    });
  }

  /**
   * Store items durably; storing an item twice changes nothing. Concurrent
   * callers share one transaction.
   * @returns one result per item, in order
   * @throws {HearthError} `unavailable` after close
   */
  put(items: StoredItem[]): Promise<PutResult[]> {
    if (this.#closed) return Promise.reject(new HearthError("unavailable", "Store is closed"));
    return this.#writes.submit(items);
  }

  async #commitAndNotify(items: StoredItem[]): Promise<PutResult[]> {
    const results = await this.#commit(items);
    results.forEach((r, i) => {
      if (!r.already) this.notifier.notify(items[i]!.key, items[i]!.ns);
    });
    return results;
  }

  async #commit(items: StoredItem[]): Promise<PutResult[]> {
    const now = this.#clock();
    const unique = new Map<string, StoredItem>();
    for (const item of items) if (!unique.has(toHex(item.hash))) unique.set(toHex(item.hash), item);
    const hashes = [...unique.values()].map((i) => i.hash);
    const inserted = new Set<string>();
    const held = new Map<string, number>();
    await this.#db.transaction().execute(async (tx) => {
      for (const part of chunks(hashes, IN_CHUNK)) {
        // An expired row that is not purged yet must not make a new copy look stored.
        await tx.deleteFrom("items").where("hash", "in", part).where("expiry", "<=", now).execute();
        const dead = await tx.selectFrom("deleted").select("hash").where("hash", "in", part)
          .where("expiry", ">", now).execute();
        for (const row of dead) unique.delete(toHex(bytesOf(row.hash)));
      }
      for (const part of chunks([...unique.values()], IN_CHUNK / 5)) {
        const rows = await tx.insertInto("items")
          .values(part.map((i) => ({
            hash: i.hash,
            key: i.key,
            ns: i.ns,
            expiry: i.expiry,
            data: i.data,
          })))
          .onConflict((oc) => oc.column("hash").doNothing())
          .returning("hash")
          .execute();
        for (const row of rows) inserted.add(toHex(bytesOf(row.hash)));
      }
      const rest = hashes.filter((h) => !inserted.has(toHex(h)));
      for (const part of chunks(rest, IN_CHUNK)) {
        const rows = await tx.selectFrom("items").select(["hash", "expiry"]).where(
          "hash",
          "in",
          part,
        )
          .execute();
        for (const row of rows) held.set(toHex(bytesOf(row.hash)), Number(row.expiry));
      }
    });
    const seen = new Set<string>();
    return items.map((item) => {
      const hex = toHex(item.hash);
      const fresh = inserted.has(hex) && !seen.has(hex);
      seen.add(hex);
      return {
        hash: item.hash,
        already: !fresh,
        expiry: fresh ? item.expiry : held.get(hex) ?? item.expiry,
      };
    });
  }

  /**
   * The live items of (key, ns) in arrival order after the item `after`
   * (from the start when `after` is unknown), as many as fit in `maxBytes`.
   * An item larger than `maxBytes` is never split: a caller that gets no
   * items and `more` must ask with a larger `maxBytes`.
   */
  async retrieve(
    key: Uint8Array,
    ns: number,
    options: { after?: Uint8Array; maxBytes?: number; maxItems?: number } = {},
  ): Promise<{ items: RetrievedItem[]; more: boolean }> {
    const now = this.#clock();
    const maxBytes = options.maxBytes ?? MAX_RETRIEVE_BYTES;
    const maxItems = options.maxItems ?? MAX_RETRIEVE_ITEMS;
    let afterSeq = 0;
    if (options.after) {
      const row = await this.#db.selectFrom("items").select("seq")
        .where("hash", "=", options.after).where("key", "=", key).where("ns", "=", ns)
        .executeTakeFirst();
      if (row) afterSeq = Number(row.seq);
    }
    const rows = await this.#db.selectFrom("items")
      .select(["seq", "hash", "expiry", sql<number>`length(data)`.as("size")])
      .where("key", "=", key).where("ns", "=", ns).where("seq", ">", afterSeq)
      .where("expiry", ">", now)
      .orderBy("seq").limit(maxItems + 1).execute();
    let bytes = 0;
    const picked: typeof rows = [];
    for (const row of rows) {
      if (picked.length === maxItems || bytes + Number(row.size) > maxBytes) break;
      picked.push(row);
      bytes += Number(row.size);
    }
    const data = new Map<number, Uint8Array>();
    for (const part of chunks(picked.map((r) => Number(r.seq)), IN_CHUNK)) {
      const got = await this.#db.selectFrom("items").select(["seq", "data"]).where(
        "seq",
        "in",
        part,
      )
        .execute();
      for (const row of got) data.set(Number(row.seq), bytesOf(row.data));
    }
    const items = picked.flatMap((r) => {
      const d = data.get(Number(r.seq));
      return d ? [{ hash: bytesOf(r.hash), expiry: Number(r.expiry), data: d }] : [];
    });
    return { items, more: rows.length > picked.length };
  }

  /**
   * Whether the data of a live item of (key, ns) holds `entry` at an offset
   * that is a multiple of its length: how the relay reads a group's
   * revocation list (PROTOCOL §5). SQLite narrows the items to those holding
   * the bytes anywhere, so only those few are read.
   * @param key the 32-byte swarm key
   * @param ns the namespace of the list
   * @param entry the bytes to find (one list entry, e.g. a 32-byte public key)
   */
  async listsEntry(key: Uint8Array, ns: number, entry: Uint8Array): Promise<boolean> {
    if (entry.length === 0) return false;
    const rows = await this.#db.selectFrom("items").select("data")
      .where("key", "=", key).where("ns", "=", ns).where("expiry", ">", this.#clock())
      .where(sql<boolean>`instr(data, ${entry}) > 0`)
      .execute();
    return rows.some((r) => holdsAligned(bytesOf(r.data), entry));
  }

  /** Whether a live item with this hash is stored. */
  async has(hash: Uint8Array): Promise<boolean> {
    const row = await this.#db.selectFrom("items").select("seq").where("hash", "=", hash)
      .where("expiry", ">", this.#clock()).executeTakeFirst();
    return row !== undefined;
  }

  /** The hashes of `hashes` this store neither holds (live) nor has seen deleted. */
  async missing(hashes: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const now = this.#clock();
    const known = new Set<string>();
    for (const part of chunks(hashes, IN_CHUNK)) {
      const live = await this.#db.selectFrom("items").select("hash").where("hash", "in", part)
        .where("expiry", ">", now).execute();
      const dead = await this.#db.selectFrom("deleted").select("hash").where("hash", "in", part)
        .where("expiry", ">", now).execute();
      for (const row of [...live, ...dead]) known.add(toHex(bytesOf(row.hash)));
    }
    return hashes.filter((h) => !known.has(toHex(h)));
  }

  /**
   * Delete items of (key, ns) by hash, and remember them as deleted until
   * their expiry so that no peer brings them back.
   * @returns how many live items were deleted
   */
  delete(key: Uint8Array, ns: number, hashes: readonly Uint8Array[]): Promise<number> {
    return this.#deleteWhere(hashes, { key, ns });
  }

  /**
   * Delete items by hash (tombstones learnt from a peer), only those whose
   * swarm key passes `filter` when one is given.
   */
  deleteHashes(hashes: readonly Uint8Array[], filter?: KeyFilter): Promise<number> {
    return this.#deleteWhere(hashes, { filter });
  }

  async #deleteWhere(
    hashes: readonly Uint8Array[],
    scope: { key?: Uint8Array; ns?: number; filter?: KeyFilter },
  ): Promise<number> {
    if (this.#closed) throw new HearthError("unavailable", "Store is closed");
    const now = this.#clock();
    let deleted = 0;
    await this.#db.transaction().execute(async (tx) => {
      for (let part of chunks(hashes, IN_CHUNK)) {
        if (scope.filter) {
          const filter = scope.filter;
          const rows = await tx.selectFrom("items").select(["hash", "key"])
            .where("hash", "in", part).execute();
          part = rows.filter((r) => filter(bytesOf(r.key))).map((r) => bytesOf(r.hash));
          if (part.length === 0) continue;
        }
        let q = tx.deleteFrom("items").where("hash", "in", part);
        if (scope.key) q = q.where("key", "=", scope.key);
        if (scope.ns !== undefined) q = q.where("ns", "=", scope.ns);
        const rows = await q.returning(["hash", "expiry"]).execute();
        const live = rows.filter((r) => Number(r.expiry) > now);
        deleted += live.length;
        if (live.length === 0) continue;
        await tx.insertInto("deleted")
          .values(live.map((r) => ({ hash: bytesOf(r.hash), expiry: Number(r.expiry) })))
          .onConflict((oc) => oc.column("hash").doNothing())
          .execute();
      }
    });
    return deleted;
  }

  /**
   * Set the expiry of live items of (key, ns).
   * @returns how many items were updated
   */
  async expire(
    key: Uint8Array,
    ns: number,
    hashes: readonly Uint8Array[],
    expiry: number,
  ): Promise<number> {
    if (this.#closed) throw new HearthError("unavailable", "Store is closed");
    const now = this.#clock();
    let updated = 0;
    await this.#db.transaction().execute(async (tx) => {
      for (const part of chunks(hashes, IN_CHUNK)) {
        // A shortened item is tombstoned until its old expiry: once it
        // expires here, a member that missed the change cannot bring it back.
        const shortened = await tx.selectFrom("items").select(["hash", "expiry"])
          .where("hash", "in", part).where("key", "=", key).where("ns", "=", ns)
          .where("expiry", ">", now).where("expiry", ">", expiry)
          .execute();
        if (shortened.length > 0) {
          await tx.insertInto("deleted")
            .values(shortened.map((r) => ({ hash: bytesOf(r.hash), expiry: Number(r.expiry) })))
            .onConflict((oc) =>
              oc.column("hash").doUpdateSet({
                expiry: sql<number>`max(deleted.expiry, excluded.expiry)`,
              })
            )
            .execute();
        }
        const res = await tx.updateTable("items").set({ expiry })
          .where("hash", "in", part).where("key", "=", key).where("ns", "=", ns)
          .where("expiry", ">", now)
          .executeTakeFirst();
        updated += Number(res.numUpdatedRows);
      }
    });
    return updated;
  }

  /**
   * Remove expired items and expired tombstones, a thousand at a time.
   * @returns how many items were removed
   */
  async purgeExpired(now: number): Promise<number> {
    let purged = 0;
    for (const [table, id] of [["items", "seq"], ["deleted", "hash"]] as const) {
      for (let round = 0; round < 10_000; round++) {
        const res = await sql`DELETE FROM ${sql.table(table)} WHERE ${sql.ref(id)} IN (
          SELECT ${sql.ref(id)} FROM ${sql.table(table)} WHERE expiry <= ${now} LIMIT 1000)`
          .execute(this.#db);
        const n = Number(res.numAffectedRows ?? 0n);
        if (table === "items") purged += n;
        if (n < 1000) break;
      }
    }
    return purged;
  }

  /**
   * How many items the store holds and for how many distinct keys (swarm
   * accounts), expired ones not yet purged included. One query over the
   * `(key, ns, seq)` index: callers cache it (RelayNode.stats).
   */
  async counts(): Promise<{ items: number; keys: number }> {
    const row = await this.#db.selectFrom("items")
      .select([sql<number>`count(*)`.as("n"), sql<number>`count(DISTINCT key)`.as("k")])
      .executeTakeFirst();
    return { items: Number(row?.n ?? 0), keys: Number(row?.k ?? 0) };
  }

  /** The live items and bytes a key holds in one namespace class (for the quota). */
  async usage(key: Uint8Array, cls: NamespaceClass): Promise<{ items: number; bytes: number }> {
    // The same classes as namespaceClass (item.ts), by |ns % 10|.
    const classOf = sql<string>`CASE abs(ns % 10) WHEN 0 THEN 'inbox' WHEN 1 THEN 'member'
      WHEN 7 THEN 'content' ELSE 'owner' END`;
    const row = await this.#db.selectFrom("items")
      .select([
        sql<number>`count(*)`.as("n"),
        sql<number>`coalesce(sum(length(data)), 0)`.as("bytes"),
      ])
      .where("key", "=", key).where("expiry", ">", this.#clock())
      .where(sql<boolean>`${classOf} = ${cls}`)
      .executeTakeFirst();
    return { items: Number(row?.n ?? 0), bytes: Number(row?.bytes ?? 0) };
  }

  /**
   * A page of the distinct swarm keys of live items, ascending, each with
   * the hashes of its live items: what the hand-off to new swarm members
   * walks (PROTOCOL §6).
   * @param after the last key of the previous page, or undefined for the first
   * @param limit most keys in the page
   */
  async keyHashes(
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<{ key: Uint8Array; hashes: Uint8Array[] }[]> {
    const now = this.#clock();
    let q = this.#db.selectFrom("items").select("key").distinct().where("expiry", ">", now);
    if (after) q = q.where("key", ">", after);
    const keys = (await q.orderBy("key").limit(limit).execute()).map((r) => bytesOf(r.key));
    const byKey = new Map(keys.map((key) => [toHex(key), { key, hashes: [] as Uint8Array[] }]));
    for (const part of chunks(keys, IN_CHUNK)) {
      const rows = await this.#db.selectFrom("items").select(["key", "hash"])
        .where("key", "in", part).where("expiry", ">", now).orderBy("hash").execute();
      for (const row of rows) byKey.get(toHex(bytesOf(row.key)))?.hashes.push(bytesOf(row.hash));
    }
    return [...byKey.values()];
  }

  /** Digest the live items that pass `filter`, bucketed by hash prefix (PROTOCOL §6). */
  digest(filter: KeyFilter): Promise<DigestBucket[]> {
    return scanDigest(this.#db, { filter, now: this.#clock() });
  }

  /** The live hashes passing `filter` in the given prefixes, in hash order. */
  hashesIn(
    prefixes: readonly number[],
    filter: KeyFilter,
    options: { limit: number; after?: Uint8Array },
  ): Promise<{ hashes: Uint8Array[]; more: boolean }> {
    return scanHashes(this.#db, prefixes, { filter, now: this.#clock(), ...options });
  }

  /** The tombstones (deleted hashes) in the given prefixes, at most `limit`. */
  deletedIn(prefixes: readonly number[], limit: number): Promise<Uint8Array[]> {
    return scanTombstones(this.#db, prefixes, { now: this.#clock(), limit });
  }

  /**
   * The live items with these hashes, in the order asked, as many as fit
   * in `maxBytes` of data. Unknown, expired or filtered hashes are skipped.
   */
  async getByHashes(
    hashes: readonly Uint8Array[],
    options: { maxBytes: number; filter?: KeyFilter },
  ): Promise<StoredItem[]> {
    const now = this.#clock();
    const meta = new Map<string, { seq: number; size: number }>();
    for (const part of chunks(hashes, IN_CHUNK)) {
      const rows = await this.#db.selectFrom("items")
        .select(["seq", "hash", "key", sql<number>`length(data)`.as("size")])
        .where("hash", "in", part).where("expiry", ">", now).execute();
      for (const row of rows) {
        if (options.filter && !options.filter(bytesOf(row.key))) continue;
        meta.set(toHex(bytesOf(row.hash)), { seq: Number(row.seq), size: Number(row.size) });
      }
    }
    const wanted: number[] = [];
    const taken = new Set<number>();
    let bytes = 0;
    for (const hash of hashes) {
      const m = meta.get(toHex(hash));
      if (!m || taken.has(m.seq)) continue;
      if (bytes + m.size > options.maxBytes) break;
      taken.add(m.seq);
      wanted.push(m.seq);
      bytes += m.size;
    }
    const bySeq = new Map<number, StoredItem>();
    for (const part of chunks(wanted, IN_CHUNK)) {
      const rows = await this.#db.selectFrom("items")
        .select(["seq", "hash", "key", "ns", "expiry", "data"]).where("seq", "in", part).execute();
      for (const row of rows) {
        bySeq.set(Number(row.seq), {
          hash: bytesOf(row.hash),
          key: bytesOf(row.key),
          ns: Number(row.ns),
          expiry: Number(row.expiry),
          data: bytesOf(row.data),
        });
      }
    }
    return wanted.flatMap((seq) => bySeq.get(seq) ?? []);
  }

  /** Refuse new writes and wait for queued ones to commit. Does not close the database. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writes.idle();
  }
}

/** Whether `entry` is one of the `entry.length`-byte slices `data` splits into. */
function holdsAligned(data: Uint8Array, entry: Uint8Array): boolean {
  const n = entry.length;
  for (let off = 0; off + n <= data.length; off += n) {
    let same = true;
    for (let i = 0; i < n && same; i++) same = data[off + i] === entry[i];
    if (same) return true;
  }
  return false;
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
