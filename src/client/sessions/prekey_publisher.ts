/**
 * Keeps the owner's prekey bundle published: a loop that brings the
 * prekeys up to their schedule (prekey_store.ts), and when the bundle's
 * keys changed, or the published one is a week old (it lives 30 days),
 * signs and stores a new bundle in the public-read namespace 5 of the
 * account's own swarm, then deletes every other item there. A failure is
 * retried after 30 s, doubling up to 10 min.
 * @module
 */
import type { Kysely } from "kysely";
import { labeledHash, toHex, u32 } from "../../shared/crypto/mod.ts";
import { MAX_OWNER_TTL_MS } from "../../shared/codec/limits.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import type { AccountKeys } from "../account/keys.ts";
import type { ClientDb } from "../db/schema.ts";
import { pause, WakeTimer } from "../messages/wake_timer.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import { BUNDLE_NAMESPACE, type PrekeyBundle, signBundle } from "./prekey_bundle.ts";
import { currentBundle, ensurePrekeys } from "./prekey_store.ts";

/** Re-publish an unchanged bundle after this long, ms (its TTL is 30 days). */
export const PREKEY_REPUBLISH_MS = 7 * 86_400_000;
/** How often the loop checks the schedule when nothing kicks it, ms. */
export const PREKEY_CHECK_MS = 15 * 60_000;
/** The first retry after a failed publication, ms; it doubles with every failure. */
export const MIN_RETRY_MS = 30_000;
/** The longest wait between two retries, ms. */
export const MAX_RETRY_MS = 600_000;
/** How many retrieve-and-delete rounds one publication makes at most. */
const MAX_CLEANUP_ROUNDS = 8;

/** Options of {@link PrekeyPublisher}. */
export interface PrekeyPublisherOptions {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The account's keys: the identity key signs the bundle and the stores. */
  keys: AccountKeys;
  /** Speaks to the swarm through onion paths. */
  swarm: SwarmClient;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Events and counts only (default silent). */
  log?: Logger;
  /** The schedule check interval, ms (default {@link PREKEY_CHECK_MS}). */
  checkMs?: number;
  /** First and longest retry waits, ms (default {@link MIN_RETRY_MS}, {@link MAX_RETRY_MS}). */
  retry?: { minMs: number; maxMs: number };
}

/**
 * The wait before retry number `failures` (1 = after the first failure):
 * `minMs` doubled per earlier failure, at most `maxMs`.
 * @param failures consecutive failures so far, ≥ 1
 * @param retry the bounds (default 30 s … 10 min)
 * @returns the wait, ms
 */
export function retryDelayMs(
  failures: number,
  retry: { minMs: number; maxMs: number } = { minMs: MIN_RETRY_MS, maxMs: MAX_RETRY_MS },
): number {
  const doublings = Math.min(Math.max(0, failures - 1), 30);
  return Math.min(retry.maxMs, retry.minMs * 2 ** doublings);
}

/**
 * A digest of the bundle's keys and ids (not its time): equal digests, same bundle.
 * @param bundle the bundle
 * @returns 64 hex characters
 */
export function bundleDigest(bundle: PrekeyBundle): string {
  const parts = [bundle.spk, bundle.kem, ...bundle.opks].flatMap((p) => [u32(p.id), p.key]);
  return toHex(labeledHash("hearth/prekey-digest/v1", u32(bundle.opks.length), ...parts));
}

/** Publishes the owner's prekey bundle while the client runs. */
export class PrekeyPublisher {
  readonly #o: PrekeyPublisherOptions;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #timer = new WakeTimer();
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** See {@link PrekeyPublisherOptions}; call {@link start} to run. */
  constructor(options: PrekeyPublisherOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log ?? silentLogger;
  }

  /** Start the loop (once): a pass at once, then one per check interval or kick. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Check now: e.g. a one-time prekey was used, so the bundle changed. */
  kick(): void {
    this.#timer.kick();
  }

  /** Stop the loop, aborting requests in flight, and wait for it to end. Never throws. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#timer.stop();
    await this.#loop;
  }

  /**
   * One pass: bring the prekeys up to the schedule, then publish the bundle
   * when its keys changed or the published one is due. Passes never overlap.
   * @param options.signal aborts the requests of this pass
   * @returns whether it published
   * @throws {HearthError} a network or database error; nothing is recorded then
   */
  runOnce(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const pass = this.#queue.then(() => this.#pass(options.signal));
    this.#queue = pass.catch(() => {});
    return pass;
  }

  async #pass(signal: AbortSignal | undefined): Promise<boolean> {
    const { db } = this.#o;
    const now = this.#clock();
    await ensurePrekeys(db, { now });
    const bundle = await currentBundle(db);
    const digest = bundleDigest(bundle);
    const last = await db.selectFrom("prekey_publish").select(["published_at", "digest"])
      .where("id", "=", 1).executeTakeFirst();
    if (last && last.digest === digest && now - last.published_at < PREKEY_REPUBLISH_MS) {
      return false;
    }
    await this.#publish({ ...bundle, createdAt: now }, signal);
    await db.insertInto("prekey_publish").values({ id: 1, published_at: now, digest })
      .onConflict((oc) => oc.column("id").doUpdateSet({ published_at: now, digest }))
      .execute();
    this.#log.info("prekeys_published", { opks: bundle.opks.length });
    return true;
  }

  /** Store the signed bundle, then delete every other item of the namespace. */
  async #publish(bundle: PrekeyBundle, signal: AbortSignal | undefined): Promise<void> {
    const { keys, swarm } = this.#o;
    const key = swarmKeyOf(keys.signing.publicKey);
    const target = signal ? { signal } : {};
    const data = await signBundle(keys, bundle);
    const stored = await swarm.store(key, BUNDLE_NAMESPACE, data, {
      ttlMs: MAX_OWNER_TTL_MS,
      owner: keys.signing,
      ...target,
    });
    for (let round = 0; round < MAX_CLEANUP_ROUNDS; round++) {
      const { items, more } = await swarm.retrievePublic(key, BUNDLE_NAMESPACE, target);
      const older = items.map((i) => i.hash).filter((h) => h !== stored.hash);
      for (let i = 0; i < older.length; i += 100) {
        await swarm.delete(keys.signing, BUNDLE_NAMESPACE, older.slice(i, i + 100), target);
      }
      if (!more || older.length === 0) break;
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (this.#timer.next()) {
      try {
        await this.runOnce({ signal });
        failures = 0;
      } catch {
        if (signal.aborted) break;
        failures++;
        const waitMs = retryDelayMs(failures, this.#o.retry);
        this.#log.warn("prekeys_publish_failed", { failures, retryMs: waitMs });
        // A kick does not shorten a retry wait: at most one attempt per wait.
        await pause(waitMs, signal);
        continue;
      }
      await this.#timer.sleep(this.#o.checkMs ?? PREKEY_CHECK_MS);
    }
  }
}
