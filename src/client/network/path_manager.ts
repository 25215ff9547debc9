/**
 * Onion paths of the messenger: a pinned guard as the first hop of every
 * path, two more relays from distinct networks, and spare paths built
 * ahead so a send never waits for one. Building is pure selection from
 * the directory: no probes go out (a probe through the guard would link
 * the client to its requests).
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { type GuardStore, MemoryGuardStore, type PinnedGuard } from "./guard_store.ts";
import { isLoopbackAddr, networkGroupOf } from "./network_group.ts";
import { cryptoRandom, PATH_RELAYS } from "./path_select.ts";
import { isDiverse, pickOne, pickRelays } from "./path_pick.ts";

/** Options of {@link PathManager}. */
export interface PathManagerOptions {
  /** The live directory. */
  nodes: () => NodeRecord[];
  /** Where the guard is kept between restarts (default: in memory). */
  store?: GuardStore;
  /** Time source, ms since the epoch (default Date.now). */
  clock?: () => number;
  /** Numbers in [0, 1) (default: crypto-random). */
  random?: () => number;
  /** Paths kept ready besides the one in use (default 2). */
  spares?: number;
  /** How long a guard stays pinned, ms (default 30 days). */
  guardLifetimeMs?: number;
  /** Failures in a row that replace the guard (default 3). */
  guardFailureLimit?: number;
  /** Failures in a row that drop a path (default 3). */
  pathFailureLimit?: number;
  /** How long a failed node is left out of new paths, ms (default 10 minutes). */
  suspectMs?: number;
  /**
   * Network diversity: "on", "off", or "auto" (default): off when every
   * known node is on loopback or in one network group (a devnet).
   */
  diversity?: "auto" | "on" | "off";
}

/** One path as the UI's path view shows it. */
export interface PathView {
  /** Guard, middle, exit. */
  hops: { id: string; addr: string }[];
  /** No failure since its last success. */
  healthy: boolean;
  /** Failures in a row. */
  failures: number;
}

/** The path state for the UI. */
export interface PathStatus {
  /** The pinned guard, or null before the directory has nodes. */
  guard: { id: string; addr: string; pinnedAt: number; failures: number } | null;
  /** The ready paths. */
  paths: PathView[];
  /** "off" when disabled, on a devnet, or relaxed because there are too few networks. */
  diversity: "on" | "off";
  /** Why diversity is off: "disabled", "devnet" or "too_few_networks"; null when on. */
  diversityOffReason: "disabled" | "devnet" | "too_few_networks" | null;
}

/** A hop as reports name it: a node record, or a hop of {@link PathStatus}. */
export interface HopRef {
  /** Node ID, hex. */
  readonly id: string;
}

interface ReadyPath {
  hops: NodeRecord[];
  key: string;
  failures: number;
  diverse: boolean;
}

const DAY = 86_400_000;

/**
 * Keeps onion paths ready: `[guard, middle, exit]`, all distinct, the
 * guard pinned for weeks, hops in distinct /16 (IPv4) or /32 (IPv6)
 * networks when possible. The caller appends the destination.
 *
 * @example
 * const paths = await PathManager.open({ nodes: () => directory, store });
 * const relays = paths.pathFor(destination);
 * try {
 *   await rpcViaOnion([...relays, destination], header);
 *   paths.reportSuccess(relays);
 * } catch (err) {
 *   paths.reportFailure(relays, 1); // the middle failed
 * }
 */
export class PathManager {
  #nodes: () => NodeRecord[];
  #store: GuardStore;
  #clock: () => number;
  #random: () => number;
  #target: number;
  #guardLifetimeMs: number;
  #guardFailureLimit: number;
  #pathFailureLimit: number;
  #suspectMs: number;
  #diversityMode: "auto" | "on" | "off";
  #guard: PinnedGuard | undefined;
  #paths: ReadyPath[] = [];
  #suspects = new Map<string, number>();
  /** Why diversity is not wanted ("disabled", "devnet"), or null when it is. */
  #notWanted: "disabled" | "devnet" | null = null;
  #saving: Promise<void> = Promise.resolve();
  #saveError: unknown;

  /**
   * Create a manager. With a `store`, call {@link load} before the first
   * path, or use {@link PathManager.open}.
   */
  constructor(options: PathManagerOptions) {
    this.#nodes = options.nodes;
    this.#store = options.store ?? new MemoryGuardStore();
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? cryptoRandom;
    this.#target = 1 + nonNegative(options.spares ?? 2, "spares");
    this.#guardLifetimeMs = positive(options.guardLifetimeMs ?? 30 * DAY, "guardLifetimeMs");
    this.#guardFailureLimit = positive(options.guardFailureLimit ?? 3, "guardFailureLimit");
    this.#pathFailureLimit = positive(options.pathFailureLimit ?? 3, "pathFailureLimit");
    this.#suspectMs = nonNegative(options.suspectMs ?? 600_000, "suspectMs");
    this.#diversityMode = options.diversity ?? "auto";
  }

  /** Create a manager and load its pinned guard. */
  static async open(options: PathManagerOptions): Promise<PathManager> {
    const manager = new PathManager(options);
    await manager.load();
    return manager;
  }

  /** Load the pinned guard from the store. */
  async load(): Promise<void> {
    this.#guard = await this.#store.load();
    this.#paths = [];
  }

  /** Wait until every guard change so far is saved. @throws what the store threw */
  async flush(): Promise<void> {
    await this.#saving;
    const err = this.#saveError;
    this.#saveError = undefined;
    if (err !== undefined) throw err;
  }

  /** Whether a destination is better avoided: the guard, or a node that failed lately. */
  isAvoided(nodeId: string): boolean {
    return nodeId === this.#guard?.id || this.#isSuspect(nodeId);
  }

  /**
   * A ready path of 3 relays for a request to `destination`, none of them
   * the destination; spares are topped up first. Never waits.
   * @param destination the node the caller appends after the relays
   * @returns guard, middle, exit (a fresh array)
   * @throws {HearthError} `unavailable` when the directory has too few nodes
   */
  pathFor(destination: NodeRecord): NodeRecord[] {
    const directory = this.#refresh();
    const usable = this.#paths.filter((p) => !p.hops.some((h) => h.id === destination.id));
    const healthy = usable.filter((p) => p.failures === 0);
    // Middle and exit outside the destination's network, when diversity is on.
    const destGroup = networkGroupOf(destination.addr);
    const apart = (p: ReadyPath) =>
      this.#notWanted !== null ||
      !p.hops.slice(1).some((h) => networkGroupOf(h.addr) === destGroup);
    const apartHealthy = healthy.filter(apart);
    if (apartHealthy.length > 0) return this.#choose(apartHealthy);
    let built: ReadyPath | undefined;
    if (this.#notWanted === null) {
      built = this.#build(directory, destination);
      if (built && apart(built)) return this.#keep(built);
    }
    if (healthy.length > 0) return this.#choose(healthy);
    if (usable.length > 0) return this.#choose(usable);
    built ??= this.#build(directory, destination);
    if (!built) {
      throw new HearthError("unavailable", "Too few nodes in the directory for an onion path");
    }
    return this.#keep(built);
  }

  #choose(paths: readonly ReadyPath[]): NodeRecord[] {
    return [...paths[Math.floor(this.#random() * paths.length)]!.hops];
  }

  /** Keep a path built for one destination when there is room (never a detour), and return it. */
  #keep(built: ReadyPath): NodeRecord[] {
    const fromGuard = built.hops[0]!.id === this.#guard?.id;
    if (fromGuard && this.#paths.length < this.#target && !this.#find(built.hops)) {
      this.#paths.push(built);
    }
    return [...built.hops];
  }

  /** The path carried a request: its failures and its guard's are forgiven. */
  reportSuccess(path: readonly HopRef[]): void {
    const entry = this.#find(path);
    if (entry) entry.failures = 0;
    for (const hop of path) this.#suspects.delete(hop.id);
    if (this.#guard && path[0]?.id === this.#guard.id && this.#guard.failures > 0) {
      this.#guard.failures = 0;
      this.#save();
    }
  }

  /**
   * The path failed. A failure of the guard (hop 0) drops the path and
   * counts against the guard, which is replaced after `guardFailureLimit`
   * in a row. A failure of another named relay drops every path through
   * it and leaves it out of new paths (and destinations) for `suspectMs`.
   * A failure no hop is named for counts against the path, dropped after
   * `pathFailureLimit` in a row.
   * @param path the relays as {@link pathFor} returned them
   * @param hopIndex the relay that failed (0 = guard), when known
   */
  reportFailure(path: readonly HopRef[], hopIndex?: number): void {
    const entry = this.#find(path);
    const failed = hopIndex === undefined ? undefined : path[hopIndex];
    const isGuard = failed !== undefined && hopIndex === 0 && failed.id === this.#guard?.id;
    if (failed && !isGuard) {
      // A relay that could not be reached: every path through it goes.
      this.#suspects.set(failed.id, this.#clock() + this.#suspectMs);
      this.#paths = this.#paths.filter((p) => !p.hops.some((h) => h.id === failed.id));
    } else if (entry) {
      entry.failures++;
      if (isGuard || entry.failures >= this.#pathFailureLimit) this.#drop(entry);
    }
    if (isGuard && this.#guard) {
      this.#guard.failures++;
      if (this.#guard.failures >= this.#guardFailureLimit) {
        this.#suspects.set(this.#guard.id, this.#clock() + this.#suspectMs);
        this.#setGuard(undefined);
      } else {
        this.#save();
      }
    }
  }

  /** The guard, the ready paths and the diversity state, for the UI. */
  status(): PathStatus {
    this.#refresh();
    const g = this.#guard;
    const reason = this.#notWanted ??
      (this.#paths.some((p) => !p.diverse) ? "too_few_networks" : null);
    return {
      guard: g ? { id: g.id, addr: g.addr, pinnedAt: g.pinnedAt, failures: g.failures } : null,
      paths: this.#paths.map((p) => ({
        hops: p.hops.map((h) => ({ id: h.id, addr: h.addr })),
        healthy: p.failures === 0,
        failures: p.failures,
      })),
      diversity: reason === null ? "on" : "off",
      diversityOffReason: reason,
    };
  }

  /** Follow the directory, keep the guard valid and top up the paths. */
  #refresh(): Map<string, NodeRecord> {
    const directory = new Map<string, NodeRecord>();
    for (const node of this.#nodes()) directory.set(node.id, node);
    const now = this.#clock();
    for (const [id, until] of this.#suspects) if (until <= now) this.#suspects.delete(id);
    this.#notWanted = this.#diversityOff(directory);

    const g = this.#guard;
    const current = g ? directory.get(g.id) : undefined;
    const expired = g !== undefined &&
      (now - g.pinnedAt >= this.#guardLifetimeMs || g.pinnedAt - now > DAY);
    if (!g || !current || expired) {
      const next = pickOne([...directory.values()], {
        exclude: new Set(g && directory.size > 1 ? [g.id] : []),
        avoid: this.#suspectIds(),
        random: this.#random,
      });
      // With nobody to pin instead (an empty directory), the old guard stays.
      if (next) this.#setGuard(next);
    } else if (current.addr !== g.addr) {
      g.addr = current.addr;
      this.#save();
    }

    // Hops follow their current records; a path with a hop gone is dropped.
    this.#paths = this.#paths.flatMap((p) => {
      const hops = p.hops.map((h) => directory.get(h.id));
      if (hops.some((h) => h === undefined)) return [];
      return [{ ...p, hops: hops as NodeRecord[] }];
    });
    for (let tries = 0; this.#paths.length < this.#target && tries < 2 * this.#target; tries++) {
      const built = this.#build(directory);
      if (!built) break;
      if (!this.#find(built.hops)) this.#paths.push(built);
    }
    return directory;
  }

  /** Build a path from the guard; around it when the destination is the guard. */
  #build(directory: Map<string, NodeRecord>, destination?: NodeRecord): ReadyPath | undefined {
    const nodes = [...directory.values()];
    const avoid = this.#suspectIds();
    const destId = destination?.id;
    let first = this.#guard ? directory.get(this.#guard.id) : undefined;
    if (!first || first.id === destId) {
      // The destination is the guard: a one-off first hop, never pinned.
      first = pickOne(nodes, {
        exclude: new Set([this.#guard?.id ?? "", destId ?? ""]),
        avoid,
        random: this.#random,
      });
      if (!first) return undefined;
    }
    const diversity = this.#notWanted === null;
    const picked = pickRelays(nodes, {
      count: PATH_RELAYS - 1,
      exclude: new Set([first.id, destId ?? ""]),
      takenGroups: [networkGroupOf(first.addr)],
      destinationGroup: destination ? networkGroupOf(destination.addr) : undefined,
      avoid,
      diversity,
      random: this.#random,
    });
    if (!picked) return undefined;
    const hops = [first, ...picked.relays];
    return { hops, key: keyOf(hops), failures: 0, diverse: !diversity || isDiverse(hops) };
  }

  #diversityOff(directory: Map<string, NodeRecord>): "disabled" | "devnet" | null {
    if (this.#diversityMode === "off") return "disabled";
    if (this.#diversityMode === "on") return null;
    const groups = new Set<string>();
    let allLoopback = true;
    for (const node of directory.values()) {
      groups.add(networkGroupOf(node.addr));
      if (allLoopback && !isLoopbackAddr(node.addr)) allLoopback = false;
    }
    return allLoopback || groups.size <= 1 ? "devnet" : null;
  }

  /** Pin `node` (or nobody) as the guard, drop the paths of the old one, and save. */
  #setGuard(node: NodeRecord | undefined): void {
    this.#guard = node
      ? { id: node.id, addr: node.addr, pinnedAt: this.#clock(), failures: 0 }
      : undefined;
    this.#paths = this.#paths.filter((p) => p.hops[0]!.id === node?.id);
    this.#save();
  }

  #save(): void {
    const snapshot = this.#guard ? { ...this.#guard } : undefined;
    this.#saving = this.#saving
      .then(() => this.#store.save(snapshot))
      .catch((err) => {
        this.#saveError = err;
      });
  }

  #find(path: readonly HopRef[]): ReadyPath | undefined {
    const key = keyOf(path);
    return this.#paths.find((p) => p.key === key);
  }

  #drop(entry: ReadyPath): void {
    this.#paths = this.#paths.filter((p) => p !== entry);
  }

  #isSuspect(nodeId: string): boolean {
    const until = this.#suspects.get(nodeId);
    return until !== undefined && until > this.#clock();
  }

  #suspectIds(): Set<string> {
    return new Set([...this.#suspects.keys()].filter((id) => this.#isSuspect(id)));
  }
}

function keyOf(path: readonly HopRef[]): string {
  return path.map((h) => h.id).join(",");
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be positive`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must not be negative`);
  return value;
}
