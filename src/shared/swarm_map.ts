/**
 * Rendezvous hashing: the swarm of a 32-byte key is the R nodes ranked
 * highest by H("hearth/swarm/v1", nodeId, key). Pure and deterministic, so
 * every node with the same directory computes the same swarm.
 * @module
 */
import { compareBytes, fromHex } from "./crypto/bytes.ts";
import { labeledHash } from "./crypto/hash.ts";
import { SWARM_SIZE, WRITE_QUORUM } from "./codec/limits.ts";

/** Anything with a hex node ID. */
export interface HasNodeId {
  readonly id: string;
}

/**
 * The members of a key's swarm, best-ranked first.
 * @param key a 32-byte swarm key
 * @param nodes the live nodes (each node once)
 * @param size R, the swarm size (default 5); fewer when there are fewer nodes
 * @example
 * const members = swarmFor(key, directory.liveNodes());
 */
export function swarmFor<T extends HasNodeId>(
  key: Uint8Array,
  nodes: readonly T[],
  size: number = SWARM_SIZE,
): T[] {
  if (key.length !== 32) throw new RangeError("Swarm key must be 32 bytes");
  const ranked = nodes.map((node) => ({
    node,
    score: labeledHash("hearth/swarm/v1", fromHex(node.id, 32), key),
  }));
  ranked.sort((a, b) => compareBytes(b.score, a.score) || (a.node.id < b.node.id ? -1 : 1));
  return ranked.slice(0, Math.max(0, size)).map((r) => r.node);
}

/**
 * The write quorum W for a swarm of `swarmSize` members: 3 of 5, a
 * majority when the swarm is smaller.
 */
export function writeQuorum(swarmSize: number): number {
  if (swarmSize <= 0) return 1;
  if (swarmSize >= SWARM_SIZE) return WRITE_QUORUM;
  return Math.floor(swarmSize / 2) + 1;
}

/** The swarm key of an account: H("hearth/swarm-key/v1", ed25519 public key). */
export function swarmKeyOf(accountPublicKey: Uint8Array): Uint8Array {
  if (accountPublicKey.length !== 32) throw new RangeError("Account key must be 32 bytes");
  return labeledHash("hearth/swarm-key/v1", accountPublicKey);
}
