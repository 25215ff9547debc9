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
import { MAX_DIRECTORY_RECORDS } from "../../shared/codec/limits.ts";
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
const MAX_FILE_BYTES = 8 * 1024 * 1024;

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
}

interface Entry {
  record: NodeRecord;
  failures: number;
}

/** The set of live nodes this node knows, itself included when reachable. */
export class Directory {
  #deps: DirectoryDeps;
  #clock: () => number;
  #self: NodeRecord | undefined;
  #selfReachable = false;
  #known = new Map<string, Entry>();
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
      if (!existing && this.#known.size >= MAX_DIRECTORY_RECORDS - 1) continue;
      try {
        await verifyRecord(record, { now: this.#clock(), powBits: this.#deps.powBits });
      } catch {
        continue;
      }
      // Another record may have landed while verifying; keep the newest.
      const current = this.#known.get(record.id);
      if (current && current.record.ts >= record.ts) continue;
      const droppedNow = this.#dropped.get(record.id);
      if (droppedNow !== undefined && record.ts <= droppedNow) continue;
      if (!current && this.#known.size >= MAX_DIRECTORY_RECORDS - 1) continue;
      this.#dropped.delete(record.id);
      const failures = current && current.record.addr === record.addr ? current.failures : 0;
      this.#known.set(record.id, { record, failures });
      this.#nextStaleAt = Math.min(this.#nextStaleAt, record.ts + RECORD_MAX_AGE_MS);
      if (!current || current.record.addr !== record.addr) membership = true;
      accepted++;
    }
    if (accepted > 0) {
      this.#live = undefined;
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
    return [...this.#known.values()].map((e) => e.record);
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
    return this.#liveList().length;
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
    this.#known.delete(id);
    this.#dropped.set(id, this.#clock());
    if (this.#dropped.size > MAX_DIRECTORY_RECORDS) {
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
      const live = [...this.#known.values()].map((e) => e.record);
      if (this.#self && this.#selfReachable) live.push(this.#self);
      this.#live = live;
    }
    return this.#live;
  }

  #prune(): void {
    const now = this.#clock();
    if (now < this.#nextStaleAt) return;
    let changed = false;
    this.#nextStaleAt = Infinity;
    for (const [id, entry] of this.#known) {
      if (!isFresh(entry.record, now)) {
        this.#known.delete(id);
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
