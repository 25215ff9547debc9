/**
 * The replay cache of onion layers: tags seen in the last 10 minutes.
 * Bounded: when full it refuses new tags rather than forget old ones, since
 * forgetting a tag would let its layer be replayed.
 * @module
 */

/** How long a tag is remembered, ms: twice the ±5 minute timestamp window. */
export const REPLAY_TTL_MS = 10 * 60_000;
/** Most tags held at once (about 40 MB at worst). */
export const REPLAY_MAX_ENTRIES = 500_000;

/** What the cache says about a tag: new (now recorded), seen before, or no room. */
export type ReplayVerdict = "fresh" | "replay" | "full";

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** Time source, ms (default Date.now). */
  clock?: () => number;
  /** How long a tag is kept, ms (default {@link REPLAY_TTL_MS}). */
  ttlMs?: number;
  /** Most tags held (default {@link REPLAY_MAX_ENTRIES}). */
  maxEntries?: number;
}

/**
 * Remembers 16-byte replay tags until they expire.
 * @example
 * const cache = new ReplayCache();
 * cache.admit(tag); // "fresh"
 * cache.admit(tag); // "replay"
 */
export class ReplayCache {
  #clock: () => number;
  #ttlMs: number;
  #maxEntries: number;
  /** Tag (as a 16-char binary string) → time added; insertion order is time order. */
  #seen = new Map<string, number>();

  /**
   * Create an empty cache.
   * @param options clock, TTL and bound
   */
  constructor(options: ReplayCacheOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = options.ttlMs ?? REPLAY_TTL_MS;
    this.#maxEntries = options.maxEntries ?? REPLAY_MAX_ENTRIES;
  }

  /** Number of tags held. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Record a tag unless it was seen within the TTL or the cache is full.
   * A tag expires only when strictly older than the TTL.
   * @param tag the 16-byte replay tag of a layer
   * @param now the current time, ms (default: the clock)
   * @throws {RangeError} when the tag is not 16 bytes
   */
  admit(tag: Uint8Array, now: number = this.#clock()): ReplayVerdict {
    if (tag.length !== 16) throw new RangeError("Replay tag must be 16 bytes");
    this.#sweep(now);
    const key = String.fromCharCode(...tag);
    if (this.#seen.has(key)) return "replay";
    if (this.#seen.size >= this.#maxEntries) return "full";
    this.#seen.set(key, now);
    return "fresh";
  }

  /** Drop expired tags from the oldest end; amortized O(1) per admit. */
  #sweep(now: number): void {
    for (const [key, added] of this.#seen) {
      if (now - added <= this.#ttlMs) break;
      this.#seen.delete(key);
    }
  }
}
