/**
 * Keeps the account config (config_codec.ts) in the account's own swarm:
 * restores it once after a restore from the recovery phrase, then checks
 * the config rows every few seconds and publishes a new version when they
 * changed, or when the stored one is a week old (it lives 30 days).
 * The client database has no change hooks, so a digest of the rows is
 * compared instead.
 * @module
 */
import type { Kysely } from "kysely";
import { MAX_OWNER_TTL_MS } from "../../shared/codec/limits.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import type { AccountKeys } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { type AccountConfig, CONFIG_NAMESPACE, openConfig, sealConfig } from "./config_codec.ts";
import {
  applyConfig,
  configDigest,
  readConfig,
  readSyncState,
  writeSyncState,
} from "./config_rows.ts";

/** How often the config rows are compared with the published digest. */
export const CONFIG_CHECK_MS = 3_000;
/** Re-publish an unchanged config after this long, well before its 30-day TTL ends. */
export const CONFIG_REPUBLISH_MS = 7 * 24 * 3600_000;

/** Options of {@link ConfigSync}. */
export interface ConfigSyncOptions {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The account's keys. */
  keys: AccountKeys;
  /** Speaks to the swarm through onion paths. */
  swarm: SwarmClient;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Events only (default silent). */
  log?: Logger;
  /** Interval of the change check, ms (default {@link CONFIG_CHECK_MS}). */
  checkMs?: number;
  /** Called once a restored config has been applied. */
  onRestored?: (config: AccountConfig) => void | Promise<void>;
}

/**
 * The outcome of the restore: a config applied, none found, no restore was
 * pending, or stopped before it was over.
 */
export type RestoreOutcome = "restored" | "empty" | "none" | "stopped";

/** Restores, then publishes, the account config while the client is unlocked. */
export class ConfigSync {
  readonly #o: ConfigSyncOptions;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #restoreOver = false;
  #wake: (() => void) | null = null;
  #restored!: (outcome: RestoreOutcome) => void;
  /** Settles once the restore is over (at once when there is none). */
  readonly restored: Promise<RestoreOutcome>;

  /** See {@link ConfigSyncOptions}; call {@link start} to run. */
  constructor(options: ConfigSyncOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log ?? silentLogger;
    this.restored = new Promise((resolve) => this.#restored = resolve);
  }

  /** Start the loop: the restore (if asked), then the change checks. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stop the loop, aborting requests in flight, then publish a last change
   * (within `flushMs`, default 5 s; 0 skips it). Never throws.
   */
  async stop(options: { flushMs?: number } = {}): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
    this.#restored("stopped");
    const flushMs = options.flushMs ?? 5_000;
    // Before the restore is over the rows are not the account's yet: never publish them.
    if (flushMs <= 0 || !this.#loop || !this.#restoreOver) return;
    await this.check(AbortSignal.timeout(flushMs)).catch(() => {});
  }

  /**
   * Publish the config when its rows changed since the last publication or
   * it is due for re-publication.
   * @returns whether it published
   */
  async check(signal?: AbortSignal): Promise<boolean> {
    const { db } = this.#o;
    const state = await readSyncState(db);
    const config = await readConfig(db);
    const digest = configDigest(config);
    const now = this.#clock();
    if (digest === state.digest && now - state.publishedAt < CONFIG_REPUBLISH_MS) return false;
    const version = state.version + 1;
    await this.publish({ ...config, version, updatedAt: now }, signal);
    await writeSyncState(db, { version, digest, publishedAt: now });
    this.#log.debug("config_published", { version });
    return true;
  }

  /**
   * Store a config in the swarm, then delete the older config items.
   * @throws {HearthError} `too_large` when it does not fit; network errors
   */
  async publish(config: AccountConfig, signal?: AbortSignal): Promise<void> {
    const { keys, swarm } = this.#o;
    const data = await sealConfig(config, keys.seed, keys.signing);
    const key = swarmKeyOf(keys.signing.publicKey);
    const stored = await swarm.store(key, CONFIG_NAMESPACE, data, {
      ttlMs: MAX_OWNER_TTL_MS,
      owner: keys.signing,
      ...(signal ? { signal } : {}),
    });
    const { items } = await swarm.retrieve(
      keys.signing,
      CONFIG_NAMESPACE,
      signal ? { signal } : {},
    );
    const older: string[] = [];
    for (const item of items) {
      if (item.hash === stored.hash) continue;
      const other = await this.#open(item);
      if (!other || other.version <= config.version) older.push(item.hash);
    }
    for (let i = 0; i < older.length; i += 100) {
      await swarm.delete(keys.signing, CONFIG_NAMESPACE, older.slice(i, i + 100), {
        ...(signal ? { signal } : {}),
      });
    }
  }

  /**
   * Fetch the newest valid config from the swarm (two members asked, items
   * that do not verify or decrypt skipped).
   * @returns the newest config by version then time, or null when there is none
   * @throws the network error when no member answered
   */
  async fetchNewest(signal?: AbortSignal): Promise<AccountConfig | null> {
    const { keys, swarm } = this.#o;
    const ask = () => swarm.retrieve(keys.signing, CONFIG_NAMESPACE, signal ? { signal } : {});
    const answers = await Promise.allSettled([ask(), ask()]);
    const ok = answers.filter((a) => a.status === "fulfilled");
    if (ok.length === 0) throw (answers[0] as PromiseRejectedResult).reason;
    let newest: AccountConfig | null = null;
    for (const answer of ok) {
      for (const item of answer.value.items) {
        const config = await this.#open(item);
        if (!config) continue;
        if (
          !newest || config.version > newest.version ||
          (config.version === newest.version && config.updatedAt > newest.updatedAt)
        ) newest = config;
      }
    }
    return newest;
  }

  async #open(item: RetrievedItem): Promise<AccountConfig | null> {
    const { keys } = this.#o;
    try {
      return await openConfig(item.data, keys.seed, keys.signing.publicKey);
    } catch {
      this.#log.warn("config_item_refused", {});
      return null;
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const pending = (await readSyncState(this.#o.db).catch(() => null))?.restore;
    if (pending) {
      let backoff = 500;
      while (!signal.aborted) {
        try {
          this.#restored(await this.#restoreOnce(pending.keepDisplayName, signal));
          this.#restoreOver = true;
          break;
        } catch {
          if (signal.aborted) break;
          this.#log.debug("config_restore_retry", { backoffMs: backoff });
          await this.#sleep(backoff);
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
    } else {
      this.#restoreOver = true;
      this.#restored("none");
    }
    while (!signal.aborted) {
      await this.#sleep(this.#o.checkMs ?? CONFIG_CHECK_MS);
      if (signal.aborted) break;
      try {
        await this.check(signal);
      } catch {
        if (!signal.aborted) this.#log.warn("config_publish_failed", {});
      }
    }
  }

  async #restoreOnce(keepDisplayName: boolean, signal: AbortSignal): Promise<RestoreOutcome> {
    const config = await this.#fetchWithin(signal);
    const { db } = this.#o;
    if (!config) {
      await writeSyncState(db, { version: 0, digest: "", publishedAt: 0 });
      this.#log.info("config_restore_empty", {});
      return "empty";
    }
    await applyConfig(db, config, { now: this.#clock(), keepDisplayName });
    // What is in the swarm now is the restored config: publish again only
    // when the rows differ from it (e.g. a display name given at restore).
    await writeSyncState(db, {
      version: config.version,
      digest: configDigest(config),
      publishedAt: config.updatedAt,
    });
    this.#log.info("config_restored", { version: config.version });
    await this.#o.onRestored?.(config);
    return "restored";
  }

  #fetchWithin(signal: AbortSignal): Promise<AccountConfig | null> {
    return this.fetchNewest(AbortSignal.any([signal, AbortSignal.timeout(20_000)]));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
