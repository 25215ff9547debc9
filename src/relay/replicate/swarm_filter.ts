/**
 * Which items two nodes compare in anti-entropy: those whose swarm, in
 * this node's view, holds both of them.
 * @module
 */
import { toHex } from "../../shared/crypto/bytes.ts";
import type { KeyFilter } from "../store/hash_scan.ts";
import type { SwarmView } from "../swarm/swarm_view.ts";

const MAX_CACHED_KEYS = 65_536;

/**
 * A filter passing the keys whose swarm holds both this node and `peerId`.
 * Swarms are computed once per key and cached inside the filter (bounded),
 * so use one filter per scan or per sync round.
 * @param view this node's view of the network
 * @param peerId the other node's ID
 */
export function sharedSwarmFilter(view: SwarmView, peerId: string): KeyFilter {
  const cache = new Map<string, boolean>();
  return (key) => {
    const hex = toHex(key);
    const hit = cache.get(hex);
    if (hit !== undefined) return hit;
    const ids = view.members(key).map((m) => m.id);
    const shared = ids.includes(view.selfId) && ids.includes(peerId);
    if (cache.size >= MAX_CACHED_KEYS) cache.clear();
    cache.set(hex, shared);
    return shared;
  };
}
