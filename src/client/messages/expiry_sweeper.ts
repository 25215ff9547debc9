/**
 * The expiry sweeper: removes disappearing messages once their
 * `expires_at` has passed (rows, reactions, outbox rows, and the items
 * queued for them), but not an outgoing one still queued in the outbox
 * (it goes once sent or failed), and reports them per conversation, then
 * sleeps until the next expiry (at most a minute),
 * or until kicked because a new expiry appeared. It also forgets the hashes
 * of items handled more than 15 days ago (the swarm's items live at most
 * 14), at start and hourly. It runs whenever the chat runs, with or without
 * a directory: Note to Self timers are local.
 * @module
 */
import type { Kysely } from "kysely";
import type { ClientDb } from "../db/schema.ts";
import { pruneSeenHashes } from "./incoming_store.ts";
import { nextExpiry, type RemovedMessages, removeExpired } from "./message_removal.ts";
import { WakeTimer } from "./wake_timer.ts";

/** The longest sleep between two sweeps, ms. */
export const MAX_SWEEP_SLEEP_MS = 60_000;

/** How often seen item hashes are pruned, ms. */
export const PRUNE_EVERY_MS = 3_600_000;

/** How long an item hash is remembered, ms (15 days: a day more than the longest item TTL). */
export const SEEN_HASH_MAX_AGE_MS = 15 * 86_400_000;

/** Options of {@link ExpirySweeper}. */
export interface ExpirySweeperOptions {
  /** Called after messages of one conversation were removed (committed). */
  onRemoved?: (removed: RemovedMessages) => void;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** The longest sleep, ms (default {@link MAX_SWEEP_SLEEP_MS}). */
  maxSleepMs?: number;
}

/** Removes expired messages in a loop of its own, until stopped. */
export class ExpirySweeper {
  readonly #db: Kysely<ClientDb>;
  readonly #clock: () => number;
  readonly #onRemoved: ((removed: RemovedMessages) => void) | undefined;
  readonly #maxSleepMs: number;
  readonly #timer = new WakeTimer();
  #nextPruneAt = -Infinity;
  #loop: Promise<void> | undefined;

  /** Create a sweeper over the client database. */
  constructor(db: Kysely<ClientDb>, options: ExpirySweeperOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? Date.now;
    this.#onRemoved = options.onRemoved;
    this.#maxSleepMs = options.maxSleepMs ?? MAX_SWEEP_SLEEP_MS;
  }

  /** Start the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Look again now: a message got an expiry. */
  kick(): void {
    this.#timer.kick();
  }

  /** Stop the loop and wait for the sweep in flight. */
  async stop(): Promise<void> {
    this.#timer.stop();
    await this.#loop;
  }

  /**
   * One sweep: remove what has expired, and prune seen hashes when due.
   * @returns the next `expires_at`, or undefined when no message has a timer
   */
  async runOnce(): Promise<number | undefined> {
    const now = this.#clock();
    if (now >= this.#nextPruneAt) {
      await pruneSeenHashes(this.#db, now - SEEN_HASH_MAX_AGE_MS);
      this.#nextPruneAt = now + PRUNE_EVERY_MS;
    }
    for (const removed of await removeExpired(this.#db, now)) this.#onRemoved?.(removed);
    return await nextExpiry(this.#db);
  }

  async #run(): Promise<void> {
    while (this.#timer.next()) {
      let next: number | undefined;
      let failed = false;
      try {
        next = await this.runOnce();
      } catch {
        failed = true; // The database went away or is busy: try again after a full sleep.
      }
      const now = this.#clock();
      let wait = Math.min(this.#maxSleepMs, this.#nextPruneAt - now);
      if (!failed && next !== undefined) wait = Math.min(wait, next - now);
      await this.#timer.sleep(Math.max(0, wait)); // at once when kicked or stopped meanwhile
    }
  }
}
