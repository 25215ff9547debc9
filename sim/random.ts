/**
 * Seeded randomness for the simulation: every choice a run makes (peers,
 * latencies, losses, keys, identities) comes from one seed, so a run is
 * repeatable.
 * @module
 */
import { u32, utf8 } from "../src/shared/crypto/bytes.ts";
import { labeledHash } from "../src/shared/crypto/hash.ts";

/** A seeded source of numbers in [0, 1) and of bytes (sfc32). */
export class SimRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Create a generator from a text seed.
   * @param seed any text; equal seeds give equal sequences
   */
  constructor(seed: string) {
    const h = labeledHash("hearth/sim/random/v1", utf8(seed));
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    this.#a = view.getUint32(0);
    this.#b = view.getUint32(4);
    this.#c = view.getUint32(8);
    this.#d = view.getUint32(12) | 1;
    for (let i = 0; i < 16; i++) this.#next();
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.#next() / 4_294_967_296;
  }

  /**
   * A uniform integer in [0, n).
   * @param n the bound, at least 1
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * `n` pseudo-random bytes.
   * @param n how many
   */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const word = u32(this.#next());
      out.set(word.subarray(0, Math.min(4, n - i)), i);
    }
    return out;
  }

  /**
   * A child generator with its own stream, derived from this seed and a name.
   * @param name what the child is for
   */
  fork(name: string): SimRandom {
    return new SimRandom(`${this.#a}.${this.#b}.${this.#c}.${this.#d}/${name}`);
  }

  /** The bound `next`, to pass where a `() => number` is wanted. */
  get fn(): () => number {
    return () => this.next();
  }

  #next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
}
