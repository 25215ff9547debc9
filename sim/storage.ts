/**
 * Messages in the simulated network: stores as a swarm member runs them
 * (the storage RPC's `store`: wrong-swarm check, local put, the real
 * Replicator's fan-out and the write quorum), anti-entropy with the real
 * `AntiEntropy.syncWith` on the schedule of `AntiEntropy.start`, and the
 * retrievability check.
 *
 * Anti-entropy runs the real `AntiEntropy` rounds (`firstRound`,
 * `handOff`, `runOnce`) on the schedule of `AntiEntropy.start`: a first
 * round at start, a hand-off 1 s after the node's directory changes, and
 * a periodic round every 60 s ±20 %.
 * @module
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { writeQuorum } from "../src/shared/swarm_map.ts";
import { itemHash, type StoredItem } from "../src/relay/store/item.ts";
import type { SimNetwork } from "./network.ts";
import type { SimNode } from "./node.ts";
import { type AntiEntropyStats, zeroStats } from "../src/relay/replicate/anti_entropy.ts";

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

/** Counters of storage. */
export interface StorageCounters {
  stores: number;
  acked: number;
  notAcked: number;
  wrongSwarm: number;
}

/** Anti-entropy period, ms (the node default). */
export const ANTI_ENTROPY_INTERVAL_MS = 60_000;
/** Delay of a hand-off after a directory change, ms (the node default). */
const ANTI_ENTROPY_DEBOUNCE_MS = 1_000;
/** Data bytes of a simulated message (a small sealed envelope). */
const MESSAGE_BYTES = 600;

/** Where a node's anti-entropy schedule stands (as inside `AntiEntropy.start`). */
interface Plan {
  due: number | undefined;
  intervalAt: number;
  begun: boolean;
  running: boolean;
  again: boolean;
}

/** Messages, their holders and the anti-entropy schedule of a network. */
export class SimStorage {
  readonly messages: SimMessage[] = [];
  readonly counters: StorageCounters = { stores: 0, acked: 0, notAcked: 0, wrongSwarm: 0 };
  #net: SimNetwork;
  #plans = new Map<SimNode, Plan>();

  /**
   * Create the storage layer of a network.
   * @param net the network
   */
  constructor(net: SimNetwork) {
    this.#net = net;
  }

  /**
   * Start anti-entropy on a node (as `AntiEntropy.start`): a first round
   * now, a hand-off 1 s after its directory changes, and a round every
   * 60 s ±20%.
   * @param node a node that is up
   */
  start(node: SimNode): void {
    if (this.#plans.has(node)) return;
    const plan: Plan = {
      due: undefined,
      intervalAt: 0,
      begun: false,
      running: false,
      again: false,
    };
    this.#plans.set(node, plan);
    node.directory.onChange(() => {
      if (node.up) this.#schedule(node, plan, ANTI_ENTROPY_DEBOUNCE_MS);
    });
    this.#schedule(node, plan, 0);
  }

  /** The anti-entropy counters of every node that ran it, summed. */
  antiEntropyStats(): AntiEntropyStats {
    const sum = zeroStats();
    for (const node of this.#plans.keys()) {
      for (const [k, v] of Object.entries(node.antiEntropy.stats)) {
        sum[k as keyof AntiEntropyStats] += v;
      }
    }
    return sum;
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

  #schedule(node: SimNode, plan: Plan, delayMs: number): void {
    if (plan.running) {
      plan.again = true;
      return;
    }
    const due = this.#net.clock.now + delayMs;
    if (plan.due !== undefined && plan.due <= due) return;
    plan.due = due;
    this.#net.at(node, Math.max(delayMs, this.#net.transport.options.minLatencyMs), () => {
      if (plan.due !== due) return;
      plan.due = undefined;
      return this.#tick(node, plan);
    });
  }

  async #tick(node: SimNode, plan: Plan): Promise<void> {
    if (!node.up) return;
    const now = this.#net.clock.now;
    const first = !plan.begun;
    const periodic = first || now >= plan.intervalAt;
    plan.begun = true;
    if (periodic) {
      plan.intervalAt = now + ANTI_ENTROPY_INTERVAL_MS * (0.8 + 0.4 * this.#net.random.next());
    }
    plan.running = true;
    const ae = node.antiEntropy;
    try {
      await (first ? ae.firstRound() : periodic ? ae.runOnce() : ae.handOff());
    } catch {
      // Counted by the node's own stats; a round that throws is retried on schedule.
    } finally {
      plan.running = false;
      const again = plan.again;
      plan.again = false;
      if (node.up) {
        const next = again
          ? ANTI_ENTROPY_DEBOUNCE_MS
          : Math.max(0, Math.round(plan.intervalAt - this.#net.clock.now));
        this.#schedule(node, plan, next);
      }
    }
  }
}
