/**
 * Anti-entropy (PROTOCOL §6): pull from peers what this node missed while
 * it was down or before it joined, by comparing per-prefix digests of the
 * items both nodes should hold, then listing and fetching the differences.
 * Tombstones learnt on the way delete items the owner deleted meanwhile.
 * Every loop is bounded.
 * @module
 */
import { bytesEqual, toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { arr, asObject, hexField, int } from "../../shared/codec/fields.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { NodeRecord } from "../directory/record_types.ts";
import type { PeerClient } from "../peer_client.ts";
import { isAcceptableExpiry, isAddressedRight } from "../store/item.ts";
import type { ReplicaStore } from "../store/message_store.ts";
import type { SwarmView } from "../swarm/swarm_view.ts";
import { MAX_BATCH_HEADER_BYTES, parseItemBatch } from "./item_batch.ts";
import { MAX_FETCH_BYTES, MAX_FETCH_HASHES, MAX_SYNC_HASHES } from "./replicate_routes.ts";
import { sharedSwarmFilter } from "./swarm_filter.ts";

/** What {@link AntiEntropy} needs. */
export interface AntiEntropyDeps {
  /** This node's items. */
  store: ReplicaStore;
  /** This node's view of the network. */
  view: SwarmView;
  /** Makes the signed node-to-node requests. */
  peers: PeerClient;
  /** The clock, ms (default Date.now). */
  clock?: () => number;
  /** Logger (events and counts only). */
  log: Logger;
  /** Time limit of one sync request (default 10 s). */
  timeoutMs?: number;
}

/** What one sync with a peer did. */
export interface SyncResult {
  /** Items fetched and stored. */
  fetched: number;
  /** Items deleted because the peer knew them deleted. */
  deleted: number;
}

const MAX_HASH_PAGES = 64;
const PARALLEL_PEERS = 4;

/** Pulls missed items from the other members of this node's swarms. */
export class AntiEntropy {
  #store: ReplicaStore;
  #view: SwarmView;
  #peers: PeerClient;
  #clock: () => number;
  #log: Logger;
  #timeoutMs: number;
  #stopped = false;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = Infinity;
  #intervalMs = 60_000;
  #debounceMs = 1_000;
  #unsubscribe: (() => void) | undefined;

  /**
   * Create an idle anti-entropy task; `start` runs it.
   * @param deps store, view, peer client, clock, logger
   */
  constructor(deps: AntiEntropyDeps) {
    this.#store = deps.store;
    this.#view = deps.view;
    this.#peers = deps.peers;
    this.#clock = deps.clock ?? Date.now;
    this.#log = deps.log;
    this.#timeoutMs = deps.timeoutMs ?? 10_000;
  }

  /**
   * Pull from one peer the items of the swarms both belong to.
   * @throws {HearthError} when the peer cannot be reached or answers badly
   */
  async syncWith(peer: NodeRecord): Promise<SyncResult> {
    const result: SyncResult = { fetched: 0, deleted: 0 };
    const theirs = parseDigest(await this.#json(peer, "/v1/sync/digest", {}));
    const filter = sharedSwarmFilter(this.#view, peer.id);
    const mine = new Map<number, Uint8Array>();
    for (const b of await this.#store.digest(filter)) mine.set(b.prefix, b.digest);
    const differing = new Set<number>();
    for (const [prefix, digest] of theirs) {
      const own = mine.get(prefix);
      if (!own || !bytesEqual(own, digest)) differing.add(prefix);
    }
    for (const prefix of mine.keys()) if (!theirs.has(prefix)) differing.add(prefix);
    if (differing.size === 0) return result;
    const prefixes = [...differing].sort((a, b) => a - b).map((p) => toHex(new Uint8Array([p])));
    let after: string | undefined;
    for (let page = 0; page < MAX_HASH_PAGES && !this.#stopped; page++) {
      const listed = parseHashes(await this.#json(peer, "/v1/sync/hashes", { prefixes, after }));
      if (listed.deleted.length > 0) {
        // Only items whose swarm holds the peer too: a node cannot delete
        // items of swarms it is not in by listing their hashes.
        result.deleted += await this.#store.deleteHashes(listed.deleted, filter);
      }
      const missing = await this.#store.missing(listed.hashes);
      for (let i = 0; i < missing.length && !this.#stopped; i += MAX_FETCH_HASHES) {
        result.fetched += await this.#fetch(peer, missing.slice(i, i + MAX_FETCH_HASHES));
      }
      const last = listed.hashes.at(-1);
      if (!listed.more || !last) break;
      after = toHex(last);
    }
    return result;
  }

  /** Sync once with every other live node, a few at a time. */
  async runOnce(): Promise<void> {
    const peers = this.#view.liveNodes().filter((n) => n.id !== this.#view.selfId);
    let next = 0;
    let fetched = 0;
    let deleted = 0;
    let failed = 0;
    const worker = async () => {
      while (next < peers.length && !this.#stopped) {
        const peer = peers[next++]!;
        try {
          const r = await this.syncWith(peer);
          fetched += r.fetched;
          deleted += r.deleted;
        } catch (err) {
          failed++;
          this.#log.debug("sync.peer-failed", { known: err instanceof HearthError });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PEERS, peers.length) }, worker));
    const fields = { peers: peers.length, fetched, deleted, failed };
    if (fetched > 0 || deleted > 0) this.#log.info("sync.round", fields);
    else this.#log.debug("sync.round", fields);
  }

  /**
   * Sync now, then every `intervalMs`, and shortly after the set of live
   * nodes changes.
   * @param options.intervalMs period between rounds (e.g. 60 s)
   * @param options.debounceMs delay after a directory change (default 1 s)
   */
  start(options: { intervalMs: number; debounceMs?: number }): void {
    if (this.#stopped || this.#unsubscribe) return;
    this.#intervalMs = options.intervalMs;
    this.#debounceMs = options.debounceMs ?? 1_000;
    this.#unsubscribe = this.#view.onChange(() => this.#schedule(this.#debounceMs));
    this.#schedule(0);
  }

  /** Stop the timer and wait for the round in flight, which ends early. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    const due = this.#clockNow() + delayMs;
    if (this.#timer !== undefined && this.#due <= due) return;
    clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    this.#timer = undefined;
    this.#due = Infinity;
    if (this.#stopped) return;
    this.#running = this.runOnce()
      .catch(() => this.#log.warn("sync.round-failed"))
      .finally(() => {
        this.#running = undefined;
        const again = this.#again;
        this.#again = false;
        // ±20% jitter, so the nodes of a network do not all sync at once.
        this.#schedule(
          again ? this.#debounceMs : Math.round(this.#intervalMs * (0.8 + 0.4 * Math.random())),
        );
      });
  }

  #clockNow(): number {
    return performance.now();
  }

  async #fetch(peer: NodeRecord, hashes: Uint8Array[]): Promise<number> {
    let wanted = new Map(hashes.map((h) => [toHex(h), h]));
    let stored = 0;
    // Each answer carries at least one item or ends the loop, so this is bounded.
    for (let round = 0; round < hashes.length && wanted.size > 0 && !this.#stopped; round++) {
      const res = await this.#peers.request(peer.addr, "/v1/sync/fetch", {
        body: utf8(JSON.stringify({ hashes: [...wanted.keys()] })),
        contentType: "application/json",
        signedFor: peer.id,
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: MAX_FETCH_BYTES + MAX_BATCH_HEADER_BYTES + 4,
      });
      if (res.status !== 200) throw new HearthError("hop_failed", "Peer refused a fetch");
      const items = parseItemBatch(res.body);
      const now = this.#clock();
      const fresh = items.filter((i) =>
        wanted.has(toHex(i.hash)) && isAcceptableExpiry(i.ns, i.expiry, now) &&
        isAddressedRight(i.key, i.ns, i.data)
      );
      if (items.length === 0) break;
      const results = await this.#store.put(fresh);
      stored += results.filter((r) => !r.already).length;
      const got = new Set(items.map((i) => toHex(i.hash)));
      wanted = new Map([...wanted].filter(([hex]) => !got.has(hex)));
    }
    return stored;
  }

  async #json(peer: NodeRecord, path: string, payload: unknown): Promise<Record<string, unknown>> {
    const answer = await this.#peers.json(peer.addr, path, payload, {
      signedFor: peer.id,
      timeoutMs: this.#timeoutMs,
    });
    return asObject(answer, "answer");
  }
}

function parseDigest(json: Record<string, unknown>): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const entry of arr(json, "buckets", 256)) {
    const o = asObject(entry, "bucket");
    const prefix = hexField(o, "prefix", 1)[0]!;
    int(o, "count", 1, Number.MAX_SAFE_INTEGER);
    out.set(prefix, hexField(o, "digest", 32));
  }
  return out;
}

function parseHashes(
  json: Record<string, unknown>,
): { hashes: Uint8Array[]; deleted: Uint8Array[]; more: boolean } {
  const read = (name: string) =>
    arr(json, name, MAX_SYNC_HASHES).map((h) => hexField({ [name]: h }, name, 32));
  const hashes = read("hashes");
  const deleted = json.deleted === undefined ? [] : read("deleted");
  return { hashes, deleted, more: json.more === true };
}
