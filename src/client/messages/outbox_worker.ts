/**
 * The outbox worker: stores queued envelopes in their recipients' inboxes
 * (namespace 0) through the swarm client, oldest first. An acknowledged
 * store (W members) removes the outbox row and marks the message `sent`;
 * a failure is retried with exponential backoff, and an item still unsent
 * after {@link OUTBOX_GIVE_UP_MS} is dropped and its message marked
 * `failed`. The outbox is in the client database, so it survives restarts.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { parseAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import type { StatusChange } from "./chat_events.ts";

/** The public inbox namespace (PROTOCOL §5). */
export const INBOX_NS = 0;

/** How long an envelope lives in the recipient's swarm, ms (14 days). */
export const INBOX_TTL_MS = 14 * 86_400_000;

/** How long an item is retried before it is given up, ms (3 days). */
export const OUTBOX_GIVE_UP_MS = 3 * 86_400_000;

/** The first retry delay, ms; doubled per attempt up to {@link MAX_BACKOFF_MS}. */
export const BASE_BACKOFF_MS = 1_000;

/** The longest retry delay, ms. */
export const MAX_BACKOFF_MS = 300_000;

/** Items handled per pass. */
const BATCH = 16;

/** The delay after `attempts` failed attempts, ms. */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(attempts - 1, 30));
}

/** Options of {@link OutboxWorker}. */
export interface OutboxWorkerOptions {
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Called after a message's status changed to `sent` or `failed` (committed). */
  onStatus?: (change: StatusChange) => void;
}

/** Sends the outbox, in a loop of its own, until stopped. */
export class OutboxWorker {
  readonly #db: Kysely<ClientDb>;
  readonly #swarm: SwarmClient;
  readonly #clock: () => number;
  readonly #onStatus: ((change: StatusChange) => void) | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #kicked = false;
  #loop: Promise<void> | undefined;

  /** Create a worker over the client database and a swarm client. */
  constructor(db: Kysely<ClientDb>, swarm: SwarmClient, options: OutboxWorkerOptions = {}) {
    this.#db = db;
    this.#swarm = swarm;
    this.#clock = options.clock ?? Date.now;
    this.#onStatus = options.onStatus;
  }

  /** Start the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Look at the outbox now (after a send). */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Stop the loop and wait for the item in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  /**
   * One pass over the due items.
   * @returns when the next item is due, ms since the epoch, or undefined when the outbox is empty
   */
  async runOnce(): Promise<number | undefined> {
    const now = this.#clock();
    const due = await this.#db.selectFrom("outbox").selectAll()
      .where("next_attempt_at", "<=", now).orderBy("created_at").orderBy("id").limit(BATCH)
      .execute();
    for (const item of due) {
      if (this.#stopped) break;
      await this.#send(item);
    }
    const next = await this.#db.selectFrom("outbox").select("next_attempt_at")
      .orderBy("next_attempt_at").limit(1).executeTakeFirst();
    return next?.next_attempt_at;
  }

  async #send(item: {
    id: string;
    message_id: string | null;
    recipient: string;
    envelope: ArrayBuffer;
    created_at: number;
    attempts: number;
  }): Promise<void> {
    let code: string;
    try {
      const key = swarmKeyOf(parseAccountId(item.recipient));
      await this.#swarm.store(key, INBOX_NS, new Uint8Array(item.envelope), {
        ttlMs: INBOX_TTL_MS,
      });
      await this.#finish(item, "sent");
      return;
    } catch (err) {
      code = err instanceof HearthError ? err.code : "internal";
    }
    const now = this.#clock();
    const attempts = item.attempts + 1;
    if (now - item.created_at >= OUTBOX_GIVE_UP_MS || code === "bad_account_id") {
      await this.#finish(item, "failed");
      return;
    }
    await this.#db.updateTable("outbox").set({
      attempts,
      next_attempt_at: now + backoffMs(attempts),
      last_error: code,
    }).where("id", "=", item.id).execute();
  }

  /** Remove an item from the outbox and move its queued message to `status`. */
  async #finish(
    item: { id: string; message_id: string | null; recipient: string },
    status: "sent" | "failed",
  ): Promise<void> {
    const changed = await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom("outbox").where("id", "=", item.id).execute();
      if (item.message_id === null) return false;
      const res = await tx.updateTable("messages").set({ status })
        .where("id", "=", item.message_id).where("status", "=", "queued").executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    });
    if (changed) {
      this.#onStatus?.({ id: item.message_id!, conversationId: item.recipient, status });
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#kicked = false;
      let next: number | undefined;
      try {
        next = await this.runOnce();
      } catch {
        next = this.#clock() + BASE_BACKOFF_MS;
      }
      if (this.#stopped || this.#kicked) continue;
      const delay = next === undefined ? MAX_BACKOFF_MS : Math.max(0, next - this.#clock());
      if (delay === 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }
}
