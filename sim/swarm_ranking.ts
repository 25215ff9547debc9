/**
 * Swarms of many nodes' views, cheaply and exactly. `swarmFor` ranks nodes
 * by a score that depends only on the node and the key, so the swarm over
 * any set of nodes is the first R nodes of the ranking over all nodes that
 * belong to the set. The simulation ranks each key once with the real
 * `swarmFor` over every identity of the run (the depth it keeps is ample
 * for the share of nodes that are ever down), then each node's swarm is the
 * first R of that ranking its directory knows as live. When fewer than R of
 * the kept ranking are live, it falls back to `swarmFor` over the view.
 * {@link SwarmRanking.crossCheck} compares with `swarmFor` over the view.
 * @module
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { SWARM_SIZE } from "../src/shared/codec/limits.ts";
import { swarmFor } from "../src/shared/swarm_map.ts";
import type { Directory } from "../src/relay/directory/directory.ts";
import type { NodeRecord } from "../src/relay/directory/record_types.ts";
import type { SwarmView } from "../src/relay/swarm/swarm_view.ts";

/** Counts of the ranking's use. */
export interface RankingStats {
  /** Keys ranked with swarmFor over every identity. */
  ranked: number;
  /** Swarms answered from a ranking. */
  fromRanking: number;
  /** Swarms computed with swarmFor over the view (too few ranked nodes live). */
  fallbacks: number;
  /** Cross-checks against swarmFor over the view. */
  checks: number;
  /** Cross-checks that differed (must stay 0). */
  mismatches: number;
}

/** Rankings of keys over every identity of a run. */
export class SwarmRanking {
  readonly stats: RankingStats = {
    ranked: 0,
    fromRanking: 0,
    fallbacks: 0,
    checks: 0,
    mismatches: 0,
  };
  #universe: { id: string }[];
  #depth: number;
  #rankings = new Map<string, string[]>();

  /**
   * Create rankings over these node IDs.
   * @param ids every node ID that takes part in the run, now or later
   * @param options.depth how many of each ranking to keep (default 48)
   */
  constructor(ids: readonly string[], options: { depth?: number } = {}) {
    this.#universe = ids.map((id) => ({ id }));
    this.#depth = options.depth ?? 48;
  }

  /**
   * The best-ranked node IDs of a key over every identity.
   * @param key a 32-byte key
   */
  ranking(key: Uint8Array): string[] {
    const hex = toHex(key);
    let ranked = this.#rankings.get(hex);
    if (!ranked) {
      ranked = swarmFor(key, this.#universe, this.#depth).map((n) => n.id);
      this.#rankings.set(hex, ranked);
      this.stats.ranked++;
    }
    return ranked;
  }

  /**
   * The swarm of `key` as a directory sees it: exactly `swarmFor(key,
   * directory.liveNodes())`.
   * @param key a 32-byte key
   * @param directory the node's directory
   */
  members(key: Uint8Array, directory: Directory): NodeRecord[] {
    const members: NodeRecord[] = [];
    for (const id of this.ranking(key)) {
      if (!directory.isKnown(id)) continue;
      members.push(directory.get(id)!);
      if (members.length === SWARM_SIZE) break;
    }
    if (members.length < SWARM_SIZE && directory.size() > members.length) {
      this.stats.fallbacks++;
      return swarmFor(key, directory.liveNodes());
    }
    this.stats.fromRanking++;
    return members;
  }

  /**
   * A SwarmView of a node over its directory, using the rankings.
   * @param selfId the node's ID
   * @param directory its directory
   */
  viewOf(selfId: string, directory: Directory): SwarmView {
    // As swarmViewOf with change notifications: a key's swarm is kept until
    // the set of live nodes changes.
    const cache = new Map<string, NodeRecord[]>();
    directory.onChange(() => cache.clear());
    return {
      selfId,
      swarmSize: SWARM_SIZE,
      liveNodes: () => directory.liveNodes(),
      members: (key) => {
        const hex = toHex(key);
        let members = cache.get(hex);
        if (!members) cache.set(hex, members = this.members(key, directory));
        return members;
      },
      isKnown: (id) => directory.isKnown(id),
      onChange: (listener) => directory.onChange(listener),
    };
  }

  /**
   * Compare {@link members} with `swarmFor` over the directory's live nodes.
   * @returns whether they agree
   */
  crossCheck(key: Uint8Array, directory: Directory): boolean {
    const fast = this.members(key, directory).map((n) => n.id);
    const real = swarmFor(key, directory.liveNodes()).map((n) => n.id);
    const same = fast.length === real.length && fast.every((id, i) => id === real[i]);
    this.stats.checks++;
    if (!same) this.stats.mismatches++;
    return same;
  }
}
