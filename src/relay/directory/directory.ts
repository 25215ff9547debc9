/**
 * The directory: this node's record and the verified records of the other
 * live nodes it knows (PROTOCOL.md §3). Records are merged from gossip
 * (newer `ts` wins), pruned when stale, and dropped after 3 failed probes in
 * a row; a dropped node comes back only with a record signed after the
 * drop. The directory is persisted to `directory.json` so a restart needs
 * no seed.
 * @module
 */
import { writeFileAtomic } from "../../shared/atomic_file.ts";
import { MAX_DIRECTORY_RECORDS, MAX_KNOWN_NODES } from "../../shared/codec/limits.ts";
import { toHex } from "../../shared/crypto/bytes.ts";
import type { Logger } from "../../shared/log.ts";
import {
  isFresh,
  parseRecord,
  RECORD_MAX_AGE_MS,
  RECORD_MAX_FUTURE_MS,
  verifyRecord,
} from "./record.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

/** Consecutive failures after which a node is dropped. */
export const MAX_FAILURES = 3;
/** File name of the persisted directory in the data dir. */
export const DIRECTORY_FILE = "directory.json";
/** Largest `directory.json` read at start, bytes. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Longest change cursor accepted, characters. */
export const MAX_CURSOR_LENGTH = 40;

/** One page of changes: records that arrived after a cursor (PROTOCOL.md §3). */
export interface DirectoryPage {
  /** Live records, in the order they arrived here. */
  records: NodeRecord[];
  /** Where the next page starts. */
  cursor: string;
  /** Whether more records arrived after this page. */
  more: boolean;
}

/** What {@link Directory} needs. */
export interface DirectoryDeps {
  /** This node's identity; records with its ID are refused. */
  identity: NodeIdentity;
  /** Where `directory.json` lives; without it nothing is persisted. */
  dataDir?: string;
  /** The proof-of-work difficulty D records must meet. */
  powBits: number;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Where events go (counts only). */
  log: Logger;
  /** Delay before a change is written to disk, ms (default 1,000). */
  persistDelayMs?: number;
  /**
   * Checks a record (default {@link verifyRecord}). A simulation may pass a
   * memoizing wrapper: the check is a pure function of the record and time.
   */
  verify?: typeof verifyRecord;
}

interface Entry {
  record: NodeRecord;
  failures: number;
  /** Arrival number of the current record here (see {@link Directory.changesAfter}). */
  seq: number;
  /** Index in the peer array. */
  index: number;
}

/** The set of live nodes this node knows, itself included when reachable. */
export class Directory {
  #deps: DirectoryDeps;
  #clock: () => number;
  #self: NodeRecord | undefined;
  #selfReachable = false;
  #known = new Map<string, Entry>();
  /** The known records, in no order (an entry's `index` is its place). */
  #peerArr: NodeRecord[] = [];
  /** Arrivals in order: superseded ones are skipped when read, and compacted away. */
  #arrivals: { seq: number; id: string }[] = [];
  #seq = 0;
  #selfSeq = 0;
  /** Names this directory's arrival numbering; a cursor from another one starts over. */
  #epoch = toHex(crypto.getRandomValues(new Uint8Array(8)));
  #verify: typeof verifyRecord;
  /** Dropped node ID → when it was dropped. */
  #dropped = new Map<string, number>();
  #listeners = new Set<() => void>();
  #live: NodeRecord[] | undefined;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** When the oldest known record goes stale. */
  #nextStaleAt = Infinity;

  /**
   * Create an empty directory; call {@link Directory.load} to read the saved one.
   * @param deps identity, difficulty, data dir, clock and logger
   */
  constructor(deps: DirectoryDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#verify = deps.verify ?? verifyRecord;
  }

  /** The proof-of-work difficulty records must meet. */
  get powBits(): number {
    return this.#deps.powBits;
  }

  /**
   * Load `directory.json` from the data dir, keeping only records that
   * still verify and are fresh. A missing or corrupt file leaves the
   * directory empty.
   * @returns how many records were loaded
   */
  async load(): Promise<number> {
    if (!this.#deps.dataDir) return 0;
    const records = await readDirectoryFile(this.#deps.dataDir, this.#deps.log);
    const n = await this.merge(records);
    this.#deps.log.info("directory.loaded", { records: n });
    return n;
  }

  /**
   * Set this node's own record and whether others can reach it. Only a
   * reachable node is in its own live set (and so in swarms and paths).
   * @param record this node's signed record
   * @param options.reachable whether a peer accepted its announcement
   */
  setSelf(record: NodeRecord, options: { reachable: boolean }): void {
    const changed = this.#selfReachable !== options.reachable ||
      (options.reachable && this.#self?.addr !== record.addr);
    if (this.#self !== record || (options.reachable && !this.#selfReachable)) {
      // A new record, or one that just became servable, arrives anew.
      this.#selfSeq = ++this.#seq;
      this.#arrivals.push({ seq: this.#selfSeq, id: record.id });
      this.#compact();
    }
    this.#self = record;
    this.#selfReachable = options.reachable;
    this.#live = undefined;
    if (changed) this.#changed();
  }

  /** This node's record, if signed yet. */
  get self(): NodeRecord | undefined {
    return this.#self;
  }

  /**
   * Verify and merge records from gossip or an announcement. A record
   * replaces a known one only when its `ts` is newer; records of this node
   * and of dropped nodes (unless signed after the drop) are refused.
   * @param records untrusted JSON values (at most {@link MAX_DIRECTORY_RECORDS} are read)
   * @returns how many records were accepted
   */
  async merge(records: readonly unknown[]): Promise<number> {
    let accepted = 0;
    let membership = false;
    for (const value of records.slice(0, MAX_DIRECTORY_RECORDS)) {
      if (this.#closed) break;
      let record: NodeRecord;
      try {
        record = parseRecord(value);
      } catch {
        continue;
      }
      if (record.id === this.#deps.identity.id) continue;
      const existing = this.#known.get(record.id);
      if (existing && existing.record.ts >= record.ts) continue;
      const droppedAt = this.#dropped.get(record.id);
      if (droppedAt !== undefined && record.ts <= droppedAt) continue;
      if (!existing && this.#known.size >= MAX_KNOWN_NODES - 1) continue;
      try {
        await this.#verify(record, { now: this.#clock(), powBits: this.#deps.powBits });
      } catch {
        continue;
      }
      // Another record may have landed while verifying; keep the newest.
      const current = this.#known.get(record.id);
      if (current && current.record.ts >= record.ts) continue;
      const droppedNow = this.#dropped.get(record.id);
      if (droppedNow !== undefined && record.ts <= droppedNow) continue;
      if (!current && this.#known.size >= MAX_KNOWN_NODES - 1) continue;
      this.#dropped.delete(record.id);
      const failures = current && current.record.addr === record.addr ? current.failures : 0;
      const seq = ++this.#seq;
      this.#arrivals.push({ seq, id: record.id });
      if (current) {
        current.record = record;
        current.failures = failures;
        current.seq = seq;
        this.#peerArr[current.index] = record;
      } else {
        this.#known.set(record.id, { record, failures, seq, index: this.#peerArr.length });
        this.#peerArr.push(record);
      }
      this.#nextStaleAt = Math.min(this.#nextStaleAt, record.ts + RECORD_MAX_AGE_MS);
      if (!current || current.record.addr !== record.addr) membership = true;
      accepted++;
    }
    if (accepted > 0) {
      this.#live = undefined;
      this.#compact();
      this.#persistSoon();
    }
    if (membership) this.#changed();
    return accepted;
  }

  /**
   * The live nodes: known records that are fresh and not dropped, and this
   * node when reachable. This is what swarms and onion paths use.
   */
  liveNodes(): NodeRecord[] {
    return this.#liveList().slice();
  }

  /** The live known nodes other than this one. */
  peers(): NodeRecord[] {
    this.#prune();
    return this.#peerArr.slice();
  }

  /**
   * Up to `n` distinct live known nodes other than this one, drawn at
   * random without copying the directory.
   * @param n how many
   * @param random uniform numbers in [0, 1)
   */
  samplePeers(n: number, random: () => number): NodeRecord[] {
    this.#prune();
    const all = this.#peerArr;
    if (n >= all.length) return shuffled(all, random);
    const picked = new Set<number>();
    // n is a handful and far below the directory size, so few draws repeat.
    for (let tries = 0; picked.size < n && tries < n * 16; tries++) {
      picked.add(Math.floor(random() * all.length));
    }
    return [...picked].map((i) => all[i]!);
  }

  /**
   * The live records that arrived after `cursor`, in arrival order, at most
   * {@link MAX_DIRECTORY_RECORDS}. A record re-signed or replaced arrives
   * again; this node's own record is included when it is reachable.
   * Without a cursor, or with one from before a restart, it starts from
   * the beginning.
   * @param cursor a cursor from an earlier page, or undefined
   * @param limit most records (default and at most {@link MAX_DIRECTORY_RECORDS})
   * @throws {RangeError} when the cursor is malformed
   */
  changesAfter(cursor: string | undefined, limit = MAX_DIRECTORY_RECORDS): DirectoryPage {
    const after = this.#parseCursor(cursor);
    this.#prune();
    const max = Math.max(1, Math.min(limit, MAX_DIRECTORY_RECORDS));
    const now = this.#clock();
    const records: NodeRecord[] = [];
    let lastSeq = after;
    let i = firstAfter(this.#arrivals, after);
    for (; i < this.#arrivals.length && records.length < max; i++) {
      const { seq, id } = this.#arrivals[i]!;
      lastSeq = seq;
      const record = this.#current(id, seq);
      if (record && isFresh(record, now)) records.push(record);
    }
    return { records, cursor: `${this.#epoch}.${lastSeq}`, more: i < this.#arrivals.length };
  }

  /**
   * A node's record: a known live node, or this node itself.
   * @param id a hex node ID
   */
  get(id: string): NodeRecord | undefined {
    if (this.#self && id === this.#self.id) return this.#self;
    this.#prune();
    return this.#known.get(id)?.record;
  }

  /**
   * Whether `id` is a live node (this node counts when reachable).
   * @param id a hex node ID
   */
  isKnown(id: string): boolean {
    if (this.#self && id === this.#self.id) return this.#selfReachable;
    this.#prune();
    return this.#known.has(id);
  }

  /** How many live nodes there are, this node included when reachable. */
  size(): number {
    this.#prune();
    return this.#known.size + (this.#self && this.#selfReachable ? 1 : 0);
  }

  /**
   * Count a failed probe of a node; after {@link MAX_FAILURES} in a row it
   * is dropped.
   * @param id a hex node ID
   */
  markFailure(id: string): void {
    const entry = this.#known.get(id);
    if (!entry) return;
    entry.failures++;
    if (entry.failures < MAX_FAILURES) return;
    this.#remove(id, entry);
    this.#dropped.set(id, this.#clock());
    if (this.#dropped.size > MAX_KNOWN_NODES) {
      // Bounded: forget the oldest drop (Maps iterate in insertion order).
      this.#dropped.delete(this.#dropped.keys().next().value!);
    }
    this.#deps.log.info("directory.dropped", { size: this.#known.size });
    this.#persistSoon();
    this.#changed();
  }

  /**
   * Reset a node's failure count after it answered.
   * @param id a hex node ID
   */
  markSuccess(id: string): void {
    const entry = this.#known.get(id);
    if (entry) entry.failures = 0;
  }

  /**
   * Call `listener` whenever the live set changes: a node joins, is dropped
   * or goes stale, a node's address changes, or this node's reachability
   * changes. Not called for a re-signed record at the same address.
   * @returns a function that removes the listener
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Write pending changes to `directory.json` now. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty && this.#deps.dataDir) {
      this.#dirty = false;
      const dataDir = this.#deps.dataDir;
      const records = this.peers();
      this.#writing = this.#writing.then(() => writeDirectoryFile(dataDir, records)).catch(() => {
        this.#dirty = true;
        this.#deps.log.warn("directory.persist_failed");
      });
    }
    await this.#writing;
  }

  /** Flush and stop persisting; records merged later are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #liveList(): NodeRecord[] {
    this.#prune();
    if (!this.#live) {
      const live = this.#peerArr.slice();
      if (this.#self && this.#selfReachable) live.push(this.#self);
      this.#live = live;
    }
    return this.#live;
  }

  /** Forget a known node (O(1): the last record of the peer array takes its place). */
  #remove(id: string, entry: Entry): void {
    this.#known.delete(id);
    const last = this.#peerArr.pop()!;
    if (entry.index < this.#peerArr.length) {
      this.#peerArr[entry.index] = last;
      this.#known.get(last.id)!.index = entry.index;
    }
  }

  /** The record of `id` if its current arrival number is `seq`. */
  #current(id: string, seq: number): NodeRecord | undefined {
    if (this.#self && id === this.#self.id) {
      return seq === this.#selfSeq && this.#selfReachable ? this.#self : undefined;
    }
    const entry = this.#known.get(id);
    return entry && entry.seq === seq ? entry.record : undefined;
  }

  /** Drop superseded arrivals once they outnumber the current ones. */
  #compact(): void {
    if (this.#arrivals.length <= 2 * (this.#known.size + 1) + 1_024) return;
    this.#arrivals = this.#arrivals.filter(({ seq, id }) =>
      (this.#self && id === this.#self.id)
        ? seq === this.#selfSeq
        : this.#known.get(id)?.seq === seq
    );
  }

  /** The arrival number a cursor stands for; 0 for none or another epoch. */
  #parseCursor(cursor: string | undefined): number {
    if (cursor === undefined) return 0;
    const match = cursor.length <= MAX_CURSOR_LENGTH
      ? /^([0-9a-f]{16})\.(0|[1-9][0-9]{0,14})$/.exec(cursor)
      : null;
    if (!match) throw new RangeError("Directory cursor is malformed");
    if (match[1] !== this.#epoch) return 0;
    const seq = Number(match[2]);
    return seq <= this.#seq ? seq : 0;
  }

  #prune(): void {
    const now = this.#clock();
    if (now < this.#nextStaleAt) return;
    let changed = false;
    this.#nextStaleAt = Infinity;
    for (const [id, entry] of this.#known) {
      if (!isFresh(entry.record, now)) {
        this.#remove(id, entry);
        changed = true;
      } else {
        this.#nextStaleAt = Math.min(this.#nextStaleAt, entry.record.ts + RECORD_MAX_AGE_MS);
      }
    }
    // A record signed before a drop is stale by now, so forget the drop.
    const forgetBefore = now - RECORD_MAX_AGE_MS - RECORD_MAX_FUTURE_MS;
    for (const [id, at] of this.#dropped) if (at < forgetBefore) this.#dropped.delete(id);
    if (changed) {
      this.#persistSoon();
      this.#changed();
    }
  }

  #changed(): void {
    this.#live = undefined;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        this.#deps.log.warn("directory.listener_failed");
      }
    }
  }

  #persistSoon(): void {
    if (!this.#deps.dataDir || this.#closed) return;
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => {});
    }, this.#deps.persistDelayMs ?? 1_000);
  }
}

async function readDirectoryFile(dataDir: string, log: Logger): Promise<unknown[]> {
  const path = `${dataDir}/${DIRECTORY_FILE}`;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_FILE_BYTES) throw new RangeError("Directory file is too large");
    const parsed = JSON.parse(await Deno.readTextFile(path)) as { records?: unknown };
    return Array.isArray(parsed?.records) ? parsed.records : [];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) log.warn("directory.load_failed");
    return [];
  }
}

/** Write the records atomically: a synced temp file renamed over the old one. */
async function writeDirectoryFile(dataDir: string, records: NodeRecord[]): Promise<void> {
  await writeFileAtomic(`${dataDir}/${DIRECTORY_FILE}`, JSON.stringify({ version: 1, records }));
}

/** Index of the first arrival with a number above `seq` (binary search; numbers ascend). */
function firstAfter(arrivals: readonly { seq: number }[], seq: number): number {
  let lo = 0;
  let hi = arrivals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arrivals[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A shuffled copy (Fisher–Yates). */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
