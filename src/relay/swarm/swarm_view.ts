/**
 * What storage and replication need to know of the network: who this node
 * is, which nodes are live, and a key's swarm. The node wires it to the
 * directory; tests can build one over a fixed list of records.
 * @module
 */
import type { NodeRecord } from "../directory/record_types.ts";
import { toHex } from "../../shared/crypto/bytes.ts";
import { SWARM_SIZE } from "../../shared/codec/limits.ts";
import { swarmFor } from "./swarm_map.ts";

/** A read-only view of the live network from this node. */
export interface SwarmView {
  /** This node's ID (hex). */
  readonly selfId: string;
  /** R, the swarm size when the network is large enough. */
  readonly swarmSize: number;
  /** The live nodes this node knows that are in swarms (itself included when reachable). */
  liveNodes(): NodeRecord[];
  /** The swarm of a 32-byte key, best-ranked first. */
  members(key: Uint8Array): NodeRecord[];
  /** Whether `id` is a live node in the directory. */
  isKnown(id: string): boolean;
  /** Call `listener` when the set of live nodes changes. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/**
 * A SwarmView over a fixed or changing list of records.
 * @param selfId this node's ID
 * @param nodes returns the current live records
 * @param options.swarmSize R (default 5)
 */
export function swarmViewOf(
  selfId: string,
  nodes: () => NodeRecord[],
  options: { swarmSize?: number; subscribe?: (listener: () => void) => () => void } = {},
): SwarmView {
  const subscribe = options.subscribe;
  const swarmSize = options.swarmSize ?? SWARM_SIZE;
  if (!subscribe) {
    return {
      selfId,
      swarmSize,
      liveNodes: nodes,
      members: (key) => swarmFor(key, nodes(), swarmSize),
      isKnown: (id) => nodes().some((n) => n.id === id),
      onChange: () => () => {},
    };
  }
  // With change notifications, swarms are computed once per key until the
  // set of live nodes changes: anti-entropy scans ask for every stored key.
  const cache = new Map<string, NodeRecord[]>();
  subscribe(() => cache.clear());
  return {
    selfId,
    swarmSize,
    liveNodes: nodes,
    members: (key) => {
      const hex = toHex(key);
      let members = cache.get(hex);
      if (!members) {
        members = swarmFor(key, nodes(), swarmSize);
        if (cache.size >= MAX_CACHED_SWARMS) cache.clear();
        cache.set(hex, members);
      }
      return members;
    },
    isKnown: (id) => nodes().some((n) => n.id === id),
    onChange: subscribe,
  };
}

/** Most swarms a view keeps computed (about 200 bytes each). */
const MAX_CACHED_SWARMS = 100_000;
