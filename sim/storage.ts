/**
 * Messages in the simulated network: stores as a swarm member runs them
 * (the storage RPC's `store`: wrong-swarm check, local put, the real
 * Replicator's fan-out and the write quorum), anti-entropy with the real
 * `AntiEntropy.syncWith` on the schedule of `AntiEntropy.start`, and the
 * retrievability check.
 *
 * A real node syncs with every live node each round; the digest of a node
 * it shares no swarm with is empty on both sides, and such a sync changes
 * nothing. The simulation runs a node's sync only with the peers that hold
 * an item whose swarm, in the peer's view, holds both of them and that the
 * node lacks: exactly the syncs that move items. The others are counted,
 * not run.
 * @module
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { writeQuorum } from "../src/shared/swarm_map.ts";
import { itemHash, type StoredItem } from "../src/relay/store/item.ts";
import type { SimNetwork } from "./network.ts";
import type { SimNode } from "./node.ts";

/** A message stored by the simulation. */
export interface SimMessage {
  item: StoredItem;
  keyHex: string;
  hashHex: string;
  storedAt: number;
  /** Whether W members acknowledged it. */
  acked: boolean;
  /** Which batch it belongs to (e.g. "start", "day"). */
  cohort: string;
}

/** Counters of storage and anti-entropy. */
export interface StorageCounters {
  stores: number;
  acked: number;
  notAcked: number;
  wrongSwarm: number;
  syncRounds: number;
  syncs: number;
  syncFailures: number;
  fetched: number;
  /** Syncs a real node would also run, with nothing to move (not run here). */
  idleSyncs: number;
}

const zero = { sent: 0, served: 0, bytesIn: 0, bytesOut: 0 };

/** Anti-entropy period, ms (the node default). */
export const ANTI_ENTROPY_INTERVAL_MS = 60_000;
/** Delay of a sync round after a directory change, ms (the node default). */
const ANTI_ENTROPY_DEBOUNCE_MS = 1_000;
/** Syncs a node runs at once (as AntiEntropy.runOnce). */
const PARALLEL_PEERS = 4;
/** Data bytes of a simulated message (a small sealed envelope). */
const MESSAGE_BYTES = 600;

/** Messages, their holders and the anti-entropy schedule of a network. */
export class SimStorage {
  readonly messages: SimMessage[] = [];
  readonly counters: StorageCounters = {
    stores: 0,
    acked: 0,
    notAcked: 0,
    wrongSwarm: 0,
    syncRounds: 0,
    syncs: 0,
    syncFailures: 0,
    fetched: 0,
    idleSyncs: 0,
  };
  #net: SimNetwork;
  /** The messages of each key (one per key here), with their hashes in hex. */
  #byKey = new Map<string, { item: StoredItem; hashHex: string }[]>();
  /** Keys each node holds items of. */
  #keysOf = new Map<SimNode, Set<string>>();
  /** Peers each node should pull from. */
  #pending = new Map<SimNode, Set<SimNode>>();
  #dirty = new Set<SimNode>();
  #started = new Set<SimNode>();
  #roundAt = new Map<SimNode, number>();
  #running = new Set<SimNode>();
  #again = new Set<SimNode>();

  /**
   * Create the storage layer of a network.
   * @param net the network
   */
  constructor(net: SimNetwork) {
    this.#net = net;
  }

  /**
   * Start anti-entropy on a node (as `AntiEntropy.start`): a round now,
   * every 60 s ±20%, and 1 s after its directory changes.
   * @param node a node that is up
   */
  start(node: SimNode): void {
    if (this.#started.has(node)) return;
    this.#started.add(node);
    node.store.onStored = (item) => {
      const hex = toHex(item.key);
      let keys = this.#keysOf.get(node);
      if (!keys) this.#keysOf.set(node, keys = new Set());
      keys.add(hex);
      this.#dirty.add(node);
    };
    node.directory.onChange(() => {
      this.#dirty.add(node);
      if (node.up) this.#schedule(node, ANTI_ENTROPY_DEBOUNCE_MS);
    });
    this.#schedule(node, 0);
  }

  /**
   * Store a new message from `client`'s point of view: its swarm by the
   * client's directory, tried member by member as the storage RPC answers
   * (`wrong_swarm`, `not_durable`, or stored at W members).
   * @param client the node whose directory the sender uses
   * @param cohort a label for the report
   * @returns the message
   */
  async storeMessage(client: SimNode, cohort: string): Promise<SimMessage> {
    const random = this.#net.random;
    const key = random.bytes(32);
    const data = random.bytes(MESSAGE_BYTES);
    const now = this.#net.clock.fn();
    const item: StoredItem = {
      key,
      ns: 0,
      expiry: now + 14 * 86_400_000,
      data,
      hash: itemHash(key, 0, data),
    };
    const message: SimMessage = {
      item,
      keyHex: toHex(key),
      hashHex: toHex(item.hash),
      storedAt: now,
      acked: false,
      cohort,
    };
    this.messages.push(message);
    this.#byKey.set(message.keyHex, [{ item, hashHex: message.hashHex }]);
    this.counters.stores++;
    for (const member of client.view.members(key)) {
      const node = this.#net.byId.get(member.id);
      if (!node || !node.up) continue;
      const own = node.view.members(key);
      if (!own.some((m) => m.id === node.id)) {
        this.counters.wrongSwarm++;
        continue;
      }
      await node.store.put([item]);
      const acks = await node.replicator.replicateStore([item], own);
      if (acks >= writeQuorum(own.length)) {
        message.acked = true;
        break;
      }
    }
    if (message.acked) this.counters.acked++;
    else this.counters.notAcked++;
    return message;
  }

  /**
   * Whether a client finds the message: a live member of the key's swarm,
   * by the client's directory, holds it.
   * @param message the message
   * @param client the node whose directory the reader uses
   */
  retrievable(message: SimMessage, client: SimNode): boolean {
    return client.view.members(message.item.key).some((m) => {
      const node = this.#net.byId.get(m.id);
      return node !== undefined && node.up && node.store.holds(message.hashHex);
    });
  }

  /**
   * Live nodes holding the message (whatever the swarms say).
   * @param message the message
   */
  holders(message: SimMessage): number {
    let n = 0;
    for (const node of this.#net.nodes) if (node.up && node.store.holds(message.hashHex)) n++;
    return n;
  }

  /**
   * Run one real sync that moves nothing (between two live nodes that share
   * no swarm, so both digests are empty) and return its bytes, request and
   * answer: what each of the syncs a real node runs with every other live
   * node costs when there is nothing to move.
   * @returns the bytes, or NaN when no such pair was found
   */
  async idleSyncBytes(): Promise<number> {
    const live = this.#net.liveNodes().filter((n) => this.#started.has(n));
    const random = this.#net.random.fork("idle-sync");
    for (let tries = 0; tries < 100 && live.length > 1; tries++) {
      const a = live[random.int(live.length)]!;
      const b = live[random.int(live.length)]!;
      if (
        a === b || !a.directory.isKnown(b.id) || this.#shareSwarm(a, b) || this.#shareSwarm(b, a)
      ) {
        continue;
      }
      const before = { ...zero, ...a.endpoint.traffic.get("/v1/sync/digest") };
      let done = false;
      let moved: number | undefined;
      a.antiEntropy.syncWith(a.directory.get(b.id)!).then(
        (r) => (moved = r.fetched + r.deleted),
        () => {},
      ).finally(() => (done = true));
      // The sync's requests travel on the simulated network: run it.
      const net = this.#net;
      await net.runtime.runUntil(net.clock.now + 60_000, { stop: () => done });
      const after = { ...zero, ...a.endpoint.traffic.get("/v1/sync/digest") };
      // Only this exchange: one digest sent, none answered meanwhile, nothing moved.
      if (moved !== 0 || after.sent - before.sent !== 1 || after.served !== before.served) continue;
      return after.bytesIn + after.bytesOut - before.bytesIn - before.bytesOut;
    }
    return NaN;
  }

  /** Whether some key `holder` holds has a swarm, in its view, with both nodes. */
  #shareSwarm(holder: SimNode, other: SimNode): boolean {
    for (const keyHex of this.#keysOf.get(holder) ?? []) {
      const ids = holder.view.members(this.#byKey.get(keyHex)![0]!.item.key).map((m) => m.id);
      if (ids.includes(holder.id) && ids.includes(other.id)) return true;
    }
    return false;
  }

  #schedule(node: SimNode, delayMs: number): void {
    if (this.#running.has(node)) {
      this.#again.add(node);
      return;
    }
    const due = this.#net.clock.now + delayMs;
    const planned = this.#roundAt.get(node);
    if (planned !== undefined && planned <= due) return;
    this.#roundAt.set(node, due);
    this.#net.at(node, Math.max(delayMs, this.#net.transport.options.minLatencyMs), () => {
      if (this.#roundAt.get(node) !== due) return;
      this.#roundAt.delete(node);
      return this.#round(node);
    });
  }

  async #round(node: SimNode): Promise<void> {
    if (!node.up) return;
    this.#running.add(node);
    this.counters.syncRounds++;
    try {
      this.#refresh();
      const pending = this.#pending.get(node);
      const peers = pending
        ? [...pending].filter((p) => node.directory.isKnown(p.id)).sort((a, b) => a.index - b.index)
        : [];
      for (const peer of peers) pending!.delete(peer);
      this.counters.idleSyncs += Math.max(0, node.directory.size() - 1 - peers.length);
      let next = 0;
      const worker = async () => {
        while (next < peers.length && node.up) {
          const peer = peers[next++]!;
          const record = node.directory.get(peer.id);
          if (!record) continue;
          this.counters.syncs++;
          try {
            const result = await node.antiEntropy.syncWith(record);
            this.counters.fetched += result.fetched;
          } catch {
            this.counters.syncFailures++;
          }
          this.#dirty.add(peer);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_PEERS, peers.length) }, worker));
    } finally {
      this.#running.delete(node);
      const again = this.#again.delete(node);
      if (node.up) {
        const jitter = 0.8 + 0.4 * this.#net.random.next();
        this.#schedule(
          node,
          again ? ANTI_ENTROPY_DEBOUNCE_MS : Math.round(ANTI_ENTROPY_INTERVAL_MS * jitter),
        );
      }
    }
  }

  /**
   * Recompute, for each node whose view or items changed, which members
   * of its swarms lack an item it would serve them.
   */
  #refresh(): void {
    if (this.#dirty.size === 0) return;
    const dirty = [...this.#dirty].sort((a, b) => a.index - b.index);
    this.#dirty.clear();
    for (const holder of dirty) {
      if (!holder.up) continue;
      for (const keyHex of this.#keysOf.get(holder) ?? []) {
        const items = this.#byKey.get(keyHex)!.filter((i) => holder.store.holds(i.hashHex));
        if (items.length === 0) continue;
        const members = holder.view.members(items[0]!.item.key);
        if (!members.some((m) => m.id === holder.id)) continue;
        for (const m of members) {
          const member = this.#net.byId.get(m.id);
          if (!member || member === holder || !member.up || !this.#started.has(member)) continue;
          if (items.every((i) => member.store.holds(i.hashHex))) continue;
          let set = this.#pending.get(member);
          if (!set) this.#pending.set(member, set = new Set());
          set.add(holder);
        }
      }
    }
  }
}
