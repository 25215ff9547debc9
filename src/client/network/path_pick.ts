/**
 * Pick the relays after the guard: distinct nodes, in network groups of
 * their own when diversity is on, avoiding recently failed nodes. Each
 * preference is relaxed, in order, only when it cannot be met.
 * @module
 */
import type { NodeRecord } from "../../shared/node_record.ts";
import { networkGroupOf } from "./network_group.ts";

/** Options of {@link pickRelays}. */
export interface PickOptions {
  /** How many to pick. */
  count: number;
  /** Node IDs that never qualify (the guard, the destination). */
  exclude: ReadonlySet<string>;
  /** Network groups taken already (the guard's): the picks avoid them when diversity is on. */
  takenGroups: readonly string[];
  /** The destination's network group: avoided too when possible. */
  destinationGroup?: string;
  /** Node IDs to avoid when possible (recently failed). */
  avoid: ReadonlySet<string>;
  /** Whether network diversity is wanted. */
  diversity: boolean;
  /** Numbers in [0, 1). */
  random: () => number;
}

/** The picked relays and whether every network group of the path is distinct. */
export interface Picked {
  /** The relays, in path order. */
  relays: NodeRecord[];
  /** True when no two hops (guard included) share a network group. */
  diverse: boolean;
}

/**
 * Pick `count` distinct relays at random under the preferences, relaxing
 * them in this order: the destination's group, then network diversity,
 * then avoiding recently failed nodes.
 * @param nodes the directory, de-duplicated by ID
 * @returns the picks, or undefined when there are too few eligible nodes
 */
export function pickRelays(nodes: readonly NodeRecord[], options: PickOptions): Picked | undefined {
  const pool = shuffle(nodes.filter((n) => !options.exclude.has(n.id)), options.random);
  const tiers: { healthy: boolean; groups: "all" | "hops" | "none" }[] = options.diversity
    ? [
      { healthy: true, groups: "all" },
      { healthy: true, groups: "hops" },
      { healthy: true, groups: "none" },
      { healthy: false, groups: "hops" },
      { healthy: false, groups: "none" },
    ]
    : [{ healthy: true, groups: "none" }, { healthy: false, groups: "none" }];
  for (const tier of tiers) {
    const taken = new Set(tier.groups === "none" ? [] : options.takenGroups);
    if (tier.groups === "all" && options.destinationGroup) taken.add(options.destinationGroup);
    const relays: NodeRecord[] = [];
    for (const node of pool) {
      if (relays.length === options.count) break;
      if (tier.healthy && options.avoid.has(node.id)) continue;
      const group = networkGroupOf(node.addr);
      if (tier.groups !== "none" && taken.has(group)) continue;
      relays.push(node);
      taken.add(group);
    }
    if (relays.length === options.count) {
      return { relays, diverse: allDistinct([...options.takenGroups, ...relays.map(groupOf)]) };
    }
  }
  return undefined;
}

/**
 * Pick one node at random, preferring nodes not in `avoid`.
 * @returns the node, or undefined when no node qualifies
 */
export function pickOne(
  nodes: readonly NodeRecord[],
  options: { exclude: ReadonlySet<string>; avoid: ReadonlySet<string>; random: () => number },
): NodeRecord | undefined {
  const eligible = nodes.filter((n) => !options.exclude.has(n.id));
  const preferred = eligible.filter((n) => !options.avoid.has(n.id));
  const from = preferred.length > 0 ? preferred : eligible;
  return from.length === 0 ? undefined : from[Math.floor(options.random() * from.length)];
}

/** Whether the hops of a path lie in distinct network groups. */
export function isDiverse(hops: readonly NodeRecord[]): boolean {
  return allDistinct(hops.map(groupOf));
}

function groupOf(node: NodeRecord): string {
  return networkGroupOf(node.addr);
}

function allDistinct(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
