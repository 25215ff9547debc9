/**
 * Choose the relays of an onion path: distinct nodes, none of them the
 * destination. Guard pinning and network diversity build on this in the
 * messenger's path manager.
 * @module
 */
import type { NodeRecord } from "../../shared/node_record.ts";

/** Relays on a path before the destination. */
export const PATH_RELAYS = 3;

/**
 * Pick `count` distinct relays at random, excluding the given node IDs.
 * @param nodes the live directory
 * @param options.exclude node IDs that must not be on the path (the destination)
 * @param options.random a source of numbers in [0, 1) (default: crypto-random)
 * @throws {RangeError} when the directory has too few other nodes
 */
export function chooseRelays(
  nodes: readonly NodeRecord[],
  options: { exclude?: readonly string[]; count?: number; random?: () => number } = {},
): NodeRecord[] {
  const count = options.count ?? PATH_RELAYS;
  const random = options.random ?? cryptoRandom;
  const excluded = new Set(options.exclude ?? []);
  const pool = nodes.filter((n) => !excluded.has(n.id));
  const unique = [...new Map(pool.map((n) => [n.id, n])).values()];
  if (unique.length < count) {
    throw new RangeError(`Need ${count} relays besides the destination, have ${unique.length}`);
  }
  for (let i = unique.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [unique[i], unique[j]] = [unique[j]!, unique[i]!];
  }
  return unique.slice(0, count);
}

/** A uniform number in [0, 1) from the system CSPRNG. */
export function cryptoRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}
