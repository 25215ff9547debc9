/**
 * Anti-entropy (PROTOCOL §6). Three parts, each bounded:
 *
 * - **Hand-off.** When the set of live nodes changes, this node walks the
 *   keys it holds and compares each key's swarm with the one it saw last
 *   time. For a swarm that gained members, the two best-ranked earlier
 *   members that are still live in its view send the key's items to the
 *   newcomers over `/v1/replicate/store`: two, because a member that left
 *   stays listed until its record ages out, and one sender would then
 *   often be gone; not all, so items are not sent R times. Failed sends
 *   are retried at the next rounds.
 * - **Sampled sync.** Every round it pulls, by comparing per-prefix
 *   digests, from a few peers it shares swarms with and one random live
 *   node: the safety net for stores a member missed. Its cost per round
 *   does not grow with the network.
 * - **Catch-up.** A node that starts with items (a restart) pulls once from
 *   every live node what it missed while it was down. A new, empty node
 *   is sent its items by the hand-off instead.
 *
 * Tombstones learnt on the way delete items the owner deleted meanwhile.
 * @module
 */
import { bytesEqual, toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { arr, asObject, hexField, int } from "../../shared/codec/fields.ts";
import { MAX_REPLICATION_BODY_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { pickRandom } from "../directory/gossip_partners.ts";
import type { NodeRecord } from "../directory/record_types.ts";
import type { PeerClient } from "../peer_client.ts";
import { isAcceptableExpiry, isAddressedRight } from "../store/item.ts";
import type { ReplicaStore } from "../store/message_store.ts";
import { swarmFor } from "../swarm/swarm_map.ts";
import type { SwarmView } from "../swarm/swarm_view.ts";
import { encodeItemBatch, MAX_BATCH_HEADER_BYTES, parseItemBatch } from "./item_batch.ts";
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
  /** Random numbers in [0, 1), for sampling peers and jitter (default Math.random). */
  random?: () => number;
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

/** Counters since start (counts only). */
export interface AntiEntropyStats {
  /** Syncs run (sampled, catch-up, or asked for). */
  syncs: number;
  /** Syncs that failed. */
  syncFailures: number;
  /** Items fetched by syncs. */
  fetched: number;
  /** Items deleted by tombstones learnt in syncs. */
  deleted: number;
  /** Hand-off walks over the held keys. */
  handOffs: number;
  /** Items sent to new swarm members. */
  pushed: number;
  /** Hand-off sends that failed (retried later, up to 3 times). */
  pushFailures: number;
}

/** Counters all at zero. */
export function zeroStats(): AntiEntropyStats {
  return {
    syncs: 0,
    syncFailures: 0,
    fetched: 0,
    deleted: 0,
    handOffs: 0,
    pushed: 0,
    pushFailures: 0,
  };
}

const MAX_HASH_PAGES = 64;
const PARALLEL_PEERS = 4;
/** Peers sharing a swarm with this node that each round syncs with. */
export const SAMPLED_NEIGHBOURS = 3;
/** Random live nodes each round syncs with besides (the last-resort repair). */
export const SAMPLED_STRANGERS = 1;
/** Earlier members of a swarm that send its items to a new member. */
export const HAND_OFF_SENDERS = 2;
/** Keys read per page of the hand-off walk. */
const KEY_PAGE = 1_000;
/** Most keys whose swarm is remembered between walks (about 100 bytes each). */
const MAX_TRACKED_KEYS = 200_000;
/** Most item hashes waiting to be handed off. */
const MAX_PENDING_PUSHES = 100_000;
/** Sends of a hand-off to one peer before it is given up. */
const PUSH_ATTEMPTS = 3;
/** Data bytes of one hand-off batch: the body limit less room for the header. */
const PUSH_DATA_BYTES = MAX_REPLICATION_BODY_BYTES - 65_536;
/** Items in one hand-off batch (keeps the header far below its room). */
const PUSH_ITEMS = 256;

/** Pulls missed items from swarm peers and hands items to new swarm members. */
export class AntiEntropy {
  readonly stats: AntiEntropyStats = zeroStats();
  #store: ReplicaStore;
  #view: SwarmView;
  #peers: PeerClient;
  #clock: () => number;
  #random: () => number;
  #log: Logger;
  #timeoutMs: number;
  #stopped = false;
  #running: Promise<void> | undefined;
  #again = false;
  #begun = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = Infinity;
  #intervalAt = 0;
  #intervalMs = 60_000;
  #debounceMs = 1_000;
  #unsubscribe: (() => void) | undefined;
  /** Each held key's swarm (member IDs, best first) at the last walk. */
  #swarms = new Map<string, string[]>();
  /** The live nodes at the last walk. */
  #lastLive: NodeRecord[] = [];
  /** Nodes sharing a swarm with this node, at the last walk. */
  #neighbours: string[] = [];
  /** Hand-offs waiting: by peer ID, the item hashes (by hex) and failed sends. */
  #pushes = new Map<string, { hashes: Map<string, Uint8Array>; failures: number }>();
  #pendingPushes = 0;

  /**
   * Create an idle anti-entropy task; `start` runs it.
   * @param deps store, view, peer client, clock, random, logger
   */
  constructor(deps: AntiEntropyDeps) {
    this.#store = deps.store;
    this.#view = deps.view;
    this.#peers = deps.peers;
    this.#clock = deps.clock ?? Date.now;
    this.#random = deps.random ?? Math.random;
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

  /**
   * One periodic round: the hand-off (new swarm members, and sends left
   * from earlier rounds), then syncs with {@link SAMPLED_NEIGHBOURS} peers
   * this node shares swarms with and {@link SAMPLED_STRANGERS} random live
   * node.
   */
  async runOnce(): Promise<void> {
    await this.handOff();
    await this.#syncAll(this.#sample(), "sync.round");
  }

  /** Sync once with every other live node, a few at a time (after a restart). */
  async catchUp(): Promise<void> {
    const peers = this.#view.liveNodes().filter((n) => n.id !== this.#view.selfId);
    await this.#syncAll(peers, "sync.catch-up");
  }

  /**
   * Walk the held keys; where a key's swarm gained members since the last
   * walk and this node is one of its {@link HAND_OFF_SENDERS} best-ranked
   * earlier members still live, send the key's items to the new members.
   * Also retries earlier sends.
   * @returns items sent by this call
   */
  async handOff(): Promise<number> {
    this.stats.handOffs++;
    const self = this.#view.selfId;
    const live = new Map(this.#view.liveNodes().map((n) => [n.id, n]));
    const swarms = new Map<string, string[]>();
    const neighbours = new Set<string>();
    let after: Uint8Array | undefined;
    // Each page moves `after` forward, so the walk ends.
    while (!this.#stopped) {
      const page = await this.#store.keyHashes(after, KEY_PAGE);
      for (const { key, hashes } of page) {
        const hex = toHex(key);
        const ids = this.#view.members(key).map((m) => m.id);
        if (ids.includes(self)) { for (const id of ids) if (id !== self) neighbours.add(id); }
        if (swarms.size < MAX_TRACKED_KEYS) swarms.set(hex, ids);
        // A key stored since the last walk: its swarm over the nodes live then.
        const before = this.#swarms.get(hex) ?? this.#swarmAtLastWalk(key);
        if (!before || !isSender(before, self, live)) continue;
        for (const id of ids) if (!before.includes(id)) this.#queuePush(id, hashes);
      }
      if (page.length < KEY_PAGE) break;
      after = page.at(-1)!.key;
    }
    this.#swarms = swarms;
    this.#lastLive = [...live.values()];
    this.#neighbours = [...neighbours];
    return await this.#flushPushes(live);
  }

  /**
   * Run now, then every `intervalMs`, with a hand-off shortly after the set
   * of live nodes changes. The first round is a catch-up when the store
   * already holds items.
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

  /**
   * The first round: a catch-up when the store holds items (this node was
   * down, and stores went on without it), else a periodic round.
   */
  async firstRound(): Promise<void> {
    if ((await this.#store.keyHashes(undefined, 1)).length === 0) return await this.runOnce();
    await this.catchUp();
    await this.handOff();
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
    const now = this.#clockNow();
    const first = !this.#begun;
    const periodic = first || now >= this.#intervalAt;
    this.#begun = true;
    // ±20% jitter, so the nodes of a network do not all sync at once.
    if (periodic) this.#intervalAt = now + this.#intervalMs * (0.8 + 0.4 * this.#random());
    const work = first ? this.firstRound() : periodic ? this.runOnce() : this.handOff();
    this.#running = work
      .then(() => {}, () => this.#log.warn("sync.round-failed"))
      .finally(() => {
        this.#running = undefined;
        const again = this.#again;
        this.#again = false;
        this.#schedule(
          again ? this.#debounceMs : Math.max(0, Math.round(this.#intervalAt - this.#clockNow())),
        );
      });
  }

  #clockNow(): number {
    return performance.now();
  }

  /** Sync with each of `peers`, a few at a time; log the counts. */
  async #syncAll(peers: NodeRecord[], event: string): Promise<void> {
    let fetched = 0;
    let deleted = 0;
    let failed = 0;
    await this.#parallel(peers, async (peer) => {
      this.stats.syncs++;
      try {
        const r = await this.syncWith(peer);
        fetched += r.fetched;
        deleted += r.deleted;
      } catch (err) {
        failed++;
        this.#log.debug("sync.peer-failed", { known: err instanceof HearthError });
      }
    });
    this.stats.fetched += fetched;
    this.stats.deleted += deleted;
    this.stats.syncFailures += failed;
    const fields = { peers: peers.length, fetched, deleted, failed };
    if (fetched > 0 || deleted > 0) this.#log.info(event, fields);
    else this.#log.debug(event, fields);
  }

  /** Run `fn` on each of `list`, {@link PARALLEL_PEERS} at a time, until stopped. */
  async #parallel<T>(list: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < list.length && !this.#stopped) await fn(list[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PEERS, list.length) }, worker));
  }

  /** The peers of a periodic round: a few neighbours and a random live node. */
  #sample(): NodeRecord[] {
    const self = this.#view.selfId;
    const live = this.#view.liveNodes();
    const byId = new Map(live.map((n) => [n.id, n]));
    const neighbours = this.#neighbours.filter((id) => byId.has(id));
    const picked = new Map<string, NodeRecord>();
    for (const id of pickRandom(neighbours, SAMPLED_NEIGHBOURS, this.#random)) {
      picked.set(id, byId.get(id)!);
    }
    // A few tries: the random node must be neither this node nor a pick.
    let strangers = 0;
    for (let tries = 0; tries < 8 && strangers < SAMPLED_STRANGERS && live.length > 0; tries++) {
      const node = live[Math.floor(this.#random() * live.length)]!;
      if (node.id === self || picked.has(node.id)) continue;
      picked.set(node.id, node);
      strangers++;
    }
    return [...picked.values()];
  }

  #swarmAtLastWalk(key: Uint8Array): string[] | undefined {
    // Past the cap, a key missing from the last walk need not be new: skip
    // it rather than rank it over every node at each walk.
    if (this.#lastLive.length === 0 || this.#swarms.size >= MAX_TRACKED_KEYS) return undefined;
    return swarmFor(key, this.#lastLive, this.#view.swarmSize).map((n) => n.id);
  }

  #queuePush(peerId: string, hashes: readonly Uint8Array[]): void {
    if (peerId === this.#view.selfId) return;
    let entry = this.#pushes.get(peerId);
    if (!entry) this.#pushes.set(peerId, entry = { hashes: new Map(), failures: 0 });
    for (const hash of hashes) {
      if (this.#pendingPushes >= MAX_PENDING_PUSHES) return;
      const hex = toHex(hash);
      if (entry.hashes.has(hex)) continue;
      entry.hashes.set(hex, hash);
      this.#pendingPushes++;
    }
  }

  /** Send the waiting hand-offs; keep failed ones for a later round. */
  async #flushPushes(live: Map<string, NodeRecord>): Promise<number> {
    let pushed = 0;
    const peers = [...this.#pushes.keys()];
    await this.#parallel(peers, async (id) => {
      const entry = this.#pushes.get(id)!;
      const peer = live.get(id);
      try {
        if (peer) pushed += await this.#push(peer, entry.hashes);
        this.#drop(id);
      } catch (err) {
        this.stats.pushFailures++;
        this.#log.debug("sync.hand-off-failed", { known: err instanceof HearthError });
        if (++entry.failures >= PUSH_ATTEMPTS) this.#drop(id);
      }
    });
    this.stats.pushed += pushed;
    if (pushed > 0) this.#log.info("sync.hand-off", { peers: peers.length, items: pushed });
    return pushed;
  }

  #drop(peerId: string): void {
    const entry = this.#pushes.get(peerId);
    if (!entry) return;
    this.#pendingPushes -= entry.hashes.size;
    this.#pushes.delete(peerId);
  }

  /**
   * Send the live items among `hashes` to a peer, in batches; each batch
   * sent is removed from `hashes`.
   * @throws {HearthError} when the peer refuses or cannot be reached
   */
  async #push(peer: NodeRecord, hashes: Map<string, Uint8Array>): Promise<number> {
    let sent = 0;
    // Each batch removes at least one hash, or the loop ends: bounded.
    while (hashes.size > 0 && !this.#stopped) {
      const wanted = [...hashes.values()].slice(0, PUSH_ITEMS);
      const items = await this.#store.getByHashes(wanted, { maxBytes: PUSH_DATA_BYTES });
      if (items.length === 0) {
        // Gone meanwhile (expired or deleted): nothing to send for these.
        for (const hash of wanted) this.#forget(hashes, toHex(hash));
        continue;
      }
      const res = await this.#peers.request(peer.addr, "/v1/replicate/store", {
        body: encodeItemBatch(items),
        contentType: "application/octet-stream",
        signedFor: peer.id,
        timeoutMs: this.#timeoutMs,
      });
      if (res.status !== 200) throw new HearthError("hop_failed", "Peer refused a hand-off");
      // Items come back in the order asked: the hashes up to the last one
      // returned were either sent or are gone.
      const last = toHex(items.at(-1)!.hash);
      for (const hash of wanted) {
        const hex = toHex(hash);
        this.#forget(hashes, hex);
        if (hex === last) break;
      }
      sent += items.length;
    }
    return sent;
  }

  #forget(hashes: Map<string, Uint8Array>, hex: string): void {
    if (hashes.delete(hex)) this.#pendingPushes--;
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

/** Whether `self` is among the first {@link HAND_OFF_SENDERS} of `before` still in `live`. */
function isSender(before: readonly string[], self: string, live: Map<string, NodeRecord>): boolean {
  let rank = 0;
  for (const id of before) {
    if (!live.has(id)) continue;
    if (id === self) return true;
    if (++rank >= HAND_OFF_SENDERS) return false;
  }
  return false;
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
