/**
 * Where the pinned guard is kept between restarts. The client database
 * implements {@link GuardStore} once it exists; until then the node keeps
 * its guard in a small JSON file ({@link FileGuardStore}), and tests use
 * the in-memory twin ({@link MemoryGuardStore}).
 * @module
 */
import { writeFileAtomic } from "../../shared/atomic_file.ts";

/** The guard pinned as the first hop of every path. */
export interface PinnedGuard {
  /** Node ID (Ed25519 public key, hex). */
  id: string;
  /** Its address when it was last seen, for display only. */
  addr: string;
  /** When it was pinned, ms since the epoch. */
  pinnedAt: number;
  /** Failures in a row blamed on it since its last success. */
  failures: number;
}

/** Persistence of the pinned guard. */
export interface GuardStore {
  /** The pinned guard, or undefined when none is pinned (or what was kept is unreadable). */
  load(): Promise<PinnedGuard | undefined>;
  /** Keep `guard`, or forget the pinned guard when undefined. */
  save(guard: PinnedGuard | undefined): Promise<void>;
}

/** A {@link GuardStore} in memory: for tests, and for clients that keep no state. */
export class MemoryGuardStore implements GuardStore {
  #guard: PinnedGuard | undefined;

  /**
   * Create a store, empty or holding a guard.
   * @param guard a guard pinned from the start
   */
  constructor(guard?: PinnedGuard) {
    this.#guard = guard ? { ...guard } : undefined;
  }

  /** The pinned guard (a copy). */
  load(): Promise<PinnedGuard | undefined> {
    return Promise.resolve(this.#guard ? { ...this.#guard } : undefined);
  }

  /** Keep a copy of `guard`. */
  save(guard: PinnedGuard | undefined): Promise<void> {
    this.#guard = guard ? { ...guard } : undefined;
    return Promise.resolve();
  }
}

/**
 * A {@link GuardStore} in a JSON file (mode 0600), replaced atomically on
 * every save: what the node uses until the client database holds the
 * guard. A missing, unreadable or malformed file reads as no guard, so a
 * new one is pinned.
 */
export class FileGuardStore implements GuardStore {
  #path: string;

  /**
   * Create a store backed by one file.
   * @param path the file, e.g. `<data-dir>/guard.json`
   */
  constructor(path: string) {
    this.#path = path;
  }

  /** Read the pinned guard from the file. */
  async load(): Promise<PinnedGuard | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    try {
      return parsePinnedGuard(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  /** Write the pinned guard (or `null` for none) atomically. */
  async save(guard: PinnedGuard | undefined): Promise<void> {
    await writeFileAtomic(this.#path, JSON.stringify(guard ?? null) + "\n");
  }
}

/**
 * Check a value read back from storage.
 * @returns the guard, or undefined when the value is not a well-formed guard
 */
export function parsePinnedGuard(value: unknown): PinnedGuard | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.id !== "string" || !/^[0-9a-f]{64}$/.test(o.id)) return undefined;
  if (typeof o.addr !== "string" || o.addr.length > 300) return undefined;
  if (typeof o.pinnedAt !== "number" || !Number.isSafeInteger(o.pinnedAt)) return undefined;
  const failures = o.failures ?? 0;
  if (typeof failures !== "number" || !Number.isSafeInteger(failures) || failures < 0) {
    return undefined;
  }
  return { id: o.id, addr: o.addr, pinnedAt: o.pinnedAt, failures };
}
