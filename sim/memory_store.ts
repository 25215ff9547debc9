/**
 * The items of one simulated node, in memory, behind the methods that
 * replication and anti-entropy call ({@link ReplicaStore}). Same answers
 * as the relay's MessageStore for those methods: expired items never
 * count, tombstones stop a deleted item from coming back, scans go in
 * hash order. No quotas, no long-polls, no durability.
 * @module
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { sha256 } from "../src/shared/crypto/hash.ts";
import type { StoredItem } from "../src/relay/store/item.ts";
import type {
  DigestBucket,
  KeyFilter,
  PutResult,
  ReplicaStore,
} from "../src/relay/store/message_store.ts";

/** An in-memory twin of the store as replication sees it. */
export class MemoryStore implements ReplicaStore {
  #clock: () => number;
  #items = new Map<string, StoredItem>();
  #tombstones = new Map<string, number>();
  #sorted: StoredItem[] | undefined;
  /** Called with each item newly stored. */
  onStored: ((item: StoredItem) => void) | undefined;

  /**
   * Create an empty store.
   * @param clock the simulated clock
   */
  constructor(clock: () => number) {
    this.#clock = clock;
  }

  /** Live items held. */
  get size(): number {
    const now = this.#clock();
    let n = 0;
    for (const item of this.#items.values()) if (item.expiry > now) n++;
    return n;
  }

  /**
   * Whether a live item with this hash is held.
   * @param hashHex the item hash, hex
   */
  holds(hashHex: string): boolean {
    const item = this.#items.get(hashHex);
    return item !== undefined && item.expiry > this.#clock();
  }

  /** The live items (a copy). */
  items(): StoredItem[] {
    const now = this.#clock();
    return [...this.#items.values()].filter((i) => i.expiry > now);
  }

  /** Forget everything (a node that left and comes back empty). */
  clear(): void {
    this.#items.clear();
    this.#tombstones.clear();
    this.#sorted = undefined;
  }

  put(items: StoredItem[]): Promise<PutResult[]> {
    const now = this.#clock();
    const results = items.map((item) => {
      const hex = toHex(item.hash);
      const held = this.#items.get(hex);
      const dead = this.#tombstones.get(hex);
      if (dead !== undefined && dead > now) return { hash: item.hash, already: true, expiry: dead };
      if (held && held.expiry > now) return { hash: item.hash, already: true, expiry: held.expiry };
      this.#items.set(hex, item);
      this.#sorted = undefined;
      this.onStored?.(item);
      return { hash: item.hash, already: false, expiry: item.expiry };
    });
    return Promise.resolve(results);
  }

  missing(hashes: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const now = this.#clock();
    return Promise.resolve(hashes.filter((h) => {
      const hex = toHex(h);
      const item = this.#items.get(hex);
      const dead = this.#tombstones.get(hex);
      return !(item && item.expiry > now) && !(dead !== undefined && dead > now);
    }));
  }

  delete(key: Uint8Array, ns: number, hashes: readonly Uint8Array[]): Promise<number> {
    const k = toHex(key);
    return Promise.resolve(this.#deleteWhere(hashes, (i) => toHex(i.key) === k && i.ns === ns));
  }

  deleteHashes(hashes: readonly Uint8Array[], filter?: KeyFilter): Promise<number> {
    return Promise.resolve(this.#deleteWhere(hashes, (i) => !filter || filter(i.key)));
  }

  expire(
    key: Uint8Array,
    ns: number,
    hashes: readonly Uint8Array[],
    expiry: number,
  ): Promise<number> {
    const k = toHex(key);
    let updated = 0;
    for (const h of hashes) {
      const hex = toHex(h);
      const item = this.#items.get(hex);
      if (!item || toHex(item.key) !== k || item.ns !== ns || item.expiry <= this.#clock()) {
        continue;
      }
      if (expiry < item.expiry) this.#tombstones.set(hex, item.expiry);
      this.#items.set(hex, { ...item, expiry });
      this.#sorted = undefined;
      updated++;
    }
    return Promise.resolve(updated);
  }

  digest(filter: KeyFilter): Promise<DigestBucket[]> {
    const buckets: DigestBucket[] = [];
    let prefix = -1;
    let members: Uint8Array[] = [];
    const finish = () => {
      if (members.length === 0) return;
      const joined = new Uint8Array(members.length * 32);
      members.forEach((h, i) => joined.set(h, i * 32));
      buckets.push({ prefix, count: members.length, digest: sha256(joined) });
    };
    for (const item of this.#live()) {
      if (!filter(item.key)) continue;
      if (item.hash[0] !== prefix) {
        finish();
        prefix = item.hash[0]!;
        members = [];
      }
      members.push(item.hash);
    }
    finish();
    return Promise.resolve(buckets);
  }

  hashesIn(
    prefixes: readonly number[],
    filter: KeyFilter,
    options: { limit: number; after?: Uint8Array },
  ): Promise<{ hashes: Uint8Array[]; more: boolean }> {
    const wanted = new Set(prefixes);
    const after = options.after && options.after.length > 0 ? toHex(options.after) : undefined;
    const hashes: Uint8Array[] = [];
    for (const item of this.#live()) {
      if (!wanted.has(item.hash[0]!)) continue;
      if (after !== undefined && toHex(item.hash) <= after) continue;
      if (!filter(item.key)) continue;
      if (hashes.length === options.limit) return Promise.resolve({ hashes, more: true });
      hashes.push(item.hash);
    }
    return Promise.resolve({ hashes, more: false });
  }

  deletedIn(prefixes: readonly number[], limit: number): Promise<Uint8Array[]> {
    const now = this.#clock();
    const wanted = new Set(prefixes);
    const out: Uint8Array[] = [];
    const sorted = [...this.#tombstones].filter(([, at]) => at > now).map(([hex]) => hex).sort();
    for (const hex of sorted) {
      if (out.length >= limit) break;
      if (this.holds(hex)) continue;
      const hash = Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
      if (wanted.has(hash[0]!)) out.push(hash);
    }
    return Promise.resolve(out);
  }

  getByHashes(
    hashes: readonly Uint8Array[],
    options: { maxBytes: number; filter?: KeyFilter },
  ): Promise<StoredItem[]> {
    const now = this.#clock();
    const out: StoredItem[] = [];
    const taken = new Set<string>();
    let bytes = 0;
    for (const h of hashes) {
      const hex = toHex(h);
      const item = this.#items.get(hex);
      if (!item || item.expiry <= now || taken.has(hex)) continue;
      if (options.filter && !options.filter(item.key)) continue;
      if (bytes + item.data.length > options.maxBytes) break;
      taken.add(hex);
      out.push(item);
      bytes += item.data.length;
    }
    return Promise.resolve(out);
  }

  keyHashes(
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<{ key: Uint8Array; hashes: Uint8Array[] }[]> {
    const from = after ? toHex(after) : "";
    const byKey = new Map<string, { key: Uint8Array; hashes: Uint8Array[] }>();
    for (const item of this.#live()) {
      const hex = toHex(item.key);
      if (hex <= from) continue;
      let entry = byKey.get(hex);
      if (!entry) byKey.set(hex, entry = { key: item.key, hashes: [] });
      entry.hashes.push(item.hash);
    }
    const page = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit).map(([, entry]) => entry);
    return Promise.resolve(page);
  }

  /** Live items in hash order (cached until the items change). */
  #live(): StoredItem[] {
    const now = this.#clock();
    if (!this.#sorted) {
      this.#sorted = [...this.#items.values()].sort((a, b) => compare(a.hash, b.hash));
    }
    return this.#sorted.filter((i) => i.expiry > now);
  }

  #deleteWhere(hashes: readonly Uint8Array[], match: (item: StoredItem) => boolean): number {
    let deleted = 0;
    for (const h of hashes) {
      const hex = toHex(h);
      const item = this.#items.get(hex);
      if (!item || !match(item)) continue;
      this.#items.delete(hex);
      this.#sorted = undefined;
      if (item.expiry > this.#clock()) {
        this.#tombstones.set(hex, item.expiry);
        deleted++;
      }
    }
    return deleted;
  }
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
