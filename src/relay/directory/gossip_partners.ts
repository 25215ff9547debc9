/**
 * The gossip partners of a node (PROTOCOL.md §3): the few peers it pulls
 * the directory from in turn, kept between rounds for their cursors.
 *
 * A partner is replaced after 3 failed pulls in a row or at once when it
 * leaves the directory. One partner is swapped for a random peer each time
 * the directory has doubled (and grown by at least 8 nodes) since a partner
 * was last picked: a node that joined a small network would otherwise keep
 * pulling only from the nodes that were there before it, and a record that
 * only later nodes hold would not reach it. A partner that is a seed is
 * kept: seeds take every joiner's announcement, so the nodes that pull from
 * them learn joiners first and pass them on. A new partner's first pull is
 * the whole directory, so swaps stay rare: none while the network keeps its
 * size, and about log2(growth) while it grows.
 * @module
 */
import type { Directory } from "./directory.ts";
import type { NodeRecord } from "./record_types.ts";

/** Gossip partners kept; each round pulls from the next one. */
export const GOSSIP_PARTNERS = 3;
/** Pulls in a row a partner may fail before it is replaced. */
export const PARTNER_FAILURES = 3;
/**
 * One partner is swapped when the directory has grown this many times
 * since a partner was last picked…
 */
export const PARTNER_GROWTH_FACTOR = 2;
/** …and by at least this many nodes. */
export const PARTNER_GROWTH_MIN = 8;

/**
 * Up to `n` distinct random elements of `items` (partial Fisher–Yates).
 * @param items what to pick from (not changed)
 * @param n how many
 * @param random uniform numbers in [0, 1)
 * @returns the picked elements, in random order
 */
export function pickRandom<T>(items: readonly T[], n: number, random: () => number): T[] {
  const copy = items.slice();
  const count = Math.min(n, copy.length);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}

/** Options of {@link GossipPartners}. */
export interface GossipPartnersOptions {
  /** Uniform numbers in [0, 1) (the node's seeded source). */
  random: () => number;
  /** The node's seed addresses, `host:port` (default none). */
  seeds?: () => readonly string[];
}

/** Picks, rotates, replaces and refreshes a node's gossip partners. */
export class GossipPartners {
  #directory: Directory;
  #random: () => number;
  #seeds: () => readonly string[];
  /** Partner node IDs, pulled from in turn. */
  #ids: string[] = [];
  /** Failed pulls in a row, by partner ID. */
  #failures = new Map<string, number>();
  #next = 0;
  /** Directory size when a partner was last picked. */
  #pickedAt = 0;

  /**
   * Start with no partners; they are picked at the first {@link next}.
   * @param directory the directory partners are picked from
   * @param options the random source and the seeds
   */
  constructor(directory: Directory, options: GossipPartnersOptions) {
    this.#directory = directory;
    this.#random = options.random;
    this.#seeds = options.seeds ?? (() => []);
  }

  /**
   * The partner to pull from this round: drop partners that left the
   * directory, top the set up with random peers (or swap one when the
   * directory has grown enough since a partner was last picked), then take
   * the next in turn.
   * @returns its record, or undefined when no peer is known
   */
  next(): NodeRecord | undefined {
    const directory = this.#directory;
    for (const id of this.#ids.slice()) {
      if (!directory.isKnown(id)) this.drop(id);
    }
    const size = directory.size();
    if (this.#ids.length < GOSSIP_PARTNERS) {
      const wanted = GOSSIP_PARTNERS - this.#ids.length;
      for (const peer of directory.samplePeers(wanted + this.#ids.length, this.#random)) {
        if (this.#ids.length >= GOSSIP_PARTNERS) break;
        if (!this.#ids.includes(peer.id)) this.#ids.push(peer.id);
      }
      this.#pickedAt = size;
    } else if (
      size >= this.#pickedAt * PARTNER_GROWTH_FACTOR &&
      size >= this.#pickedAt + PARTNER_GROWTH_MIN
    ) {
      this.#swap();
      this.#pickedAt = size;
    }
    // A shrunk directory lowers the mark, so that growing back counts.
    this.#pickedAt = Math.min(this.#pickedAt, size);
    for (let i = 0; i < this.#ids.length; i++) {
      const id = this.#ids[this.#next++ % this.#ids.length]!;
      const record = directory.get(id);
      if (record) return record;
    }
    return undefined;
  }

  /**
   * Count a pull from a partner; replace it after {@link PARTNER_FAILURES}
   * failed pulls in a row.
   * @param id the partner's node ID
   * @param ok whether the pull succeeded
   */
  countPull(id: string, ok: boolean): void {
    const failures = ok ? 0 : (this.#failures.get(id) ?? 0) + 1;
    if (failures === 0) this.#failures.delete(id);
    else this.#failures.set(id, failures);
    if (failures >= PARTNER_FAILURES) this.drop(id);
  }

  /** Stop pulling from one random partner; a random peer takes its place next round. */
  dropRandom(): void {
    const id = pickRandom(this.#ids, 1, this.#random)[0];
    if (id !== undefined) this.drop(id);
  }

  /**
   * Stop pulling from a partner.
   * @param id its node ID
   */
  drop(id: string): void {
    this.#ids = this.#ids.filter((p) => p !== id);
    this.#failures.delete(id);
  }

  /** The addresses of the current partners still in the directory. */
  addrs(): string[] {
    const addrs: string[] = [];
    for (const id of this.#ids) {
      const addr = this.#directory.get(id)?.addr;
      if (addr !== undefined) addrs.push(addr);
    }
    return addrs;
  }

  /**
   * Swap one random partner that is not a seed (any, if all are) for a
   * random peer that is not a partner.
   */
  #swap(): void {
    const seeds = new Set(this.#seeds());
    const others = this.#ids.filter((id) => !seeds.has(this.#directory.get(id)?.addr ?? ""));
    const old = pickRandom(others.length > 0 ? others : this.#ids, 1, this.#random)[0];
    const fresh = this.#directory.samplePeers(GOSSIP_PARTNERS + 2, this.#random)
      .find((peer) => !this.#ids.includes(peer.id));
    if (old === undefined || fresh === undefined) return;
    this.drop(old);
    this.#ids.push(fresh.id);
  }
}
