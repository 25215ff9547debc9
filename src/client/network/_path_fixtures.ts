/**
 * Fixtures of the path tests: node records with chosen addresses and a
 * seeded random source. Private to this folder's tests.
 * @module
 */
import type { NodeRecord } from "../../shared/node_record.ts";

/** A node record whose ID is `n` in hex, padded to 64 digits, at `addr`. */
export function nodeAt(n: number, addr: string): NodeRecord {
  return {
    id: n.toString(16).padStart(64, "0"),
    x25519: "00".repeat(32),
    addr,
    version: 1,
    ts: 0,
    pow: "00".repeat(8),
    sig: "00".repeat(64),
  };
}

/** `count` nodes, node `i` at `<prefix(i)>:7000`. */
export function nodesAt(count: number, prefix: (i: number) => string): NodeRecord[] {
  return Array.from({ length: count }, (_, i) => nodeAt(i + 1, `${prefix(i)}:7000`));
}

/** A deterministic source of numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A clock the test moves by hand. */
export function manualClock(
  start = 1_700_000_000_000,
): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}
