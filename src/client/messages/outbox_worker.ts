/**
 * The outbox worker: stores queued envelopes in their recipients' inboxes
 * (namespace 0) through the swarm client.
 *
 * - Order: the items to one recipient go one at a time, strictly in queue
 *   order (`created_at`, `id`), so a peer gets an edit, a delete or a
 *   reaction after its target. Up to {@link OUTBOX_CONCURRENCY} recipients
 *   are served at once, each in a lane of its own: a slow or failing
 *   recipient holds up only its own items.
 * - Success: an acknowledged store (W members) removes the outbox row and
 *   marks the message `sent`.
 * - Failure: the item is retried with exponential backoff; the recipient's
 *   later items wait behind it.
 * - TTL: an item with its own TTL (`ttl_ms`) is stored with what is left
 *   of it since it was queued (`created_at + ttl_ms - now`, at least the
 *   swarm's shortest TTL), so a retried disappearing message does not
 *   outlive its timer in the swarm; other items get {@link INBOX_TTL_MS}
 *   (always within the inbox's TTL bounds). An item is given up once
 *   `min(OUTBOX_GIVE_UP_MS, ttl_ms)` has passed since it was queued (a late
 *   typing indicator or a disappearing message past its timer is not worth
 *   sending): the row goes and its message becomes `failed`.
 * - An item whose message row is gone (deleted for me, disappeared) is
 *   dropped unsent, with no status change.
 *
 * The outbox is in the client database, so it survives restarts.
 * @module
 */
import type { Kysely } from "kysely";
import { MAX_INBOX_TTL_MS, MIN_TTL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { parseAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { StatusChange } from "./chat_events.ts";
import { WakeTimer } from "./wake_timer.ts";

/** The public inbox namespace (PROTOCOL §5). */
export const INBOX_NS = 0;

/** How long an envelope lives in the recipient's swarm by default, ms (14 days). */
export const INBOX_TTL_MS = 14 * 86_400_000;

/** How long an item is retried at most before it is given up, ms (3 days). */
export const OUTBOX_GIVE_UP_MS = 3 * 86_400_000;

/** How many recipients are sent to at once (one item each). */
export const OUTBOX_CONCURRENCY = 4;

/** The first retry delay, ms; doubled per attempt up to {@link MAX_BACKOFF_MS}. */
export const BASE_BACKOFF_MS = 1_000;

/** The longest retry delay, ms. */
export const MAX_BACKOFF_MS = 300_000;

/**
 * The delay after a number of failed attempts.
 * @param attempts failed attempts so far (1 or more)
 * @returns the delay before the next attempt, ms
 */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(attempts - 1, 30));
}

/**
 * The TTL an item is stored with in the recipient's swarm: an item with
 * its own TTL gets what is left of it since it was queued, so that it
 * expires in the swarm when it would have had it been stored at once.
 * @param item the outbox row's queue time and `ttl_ms` (null: the inbox default)
 * @param now current time, ms
 * @returns the TTL, ms, within what a relay accepts in an inbox (`MIN_TTL_MS` … `MAX_INBOX_TTL_MS`)
 */
export function storeTtlMs(
  item: { created_at: number; ttl_ms: number | null },
  now: number,
): number {
  const ttl = item.ttl_ms === null
    ? INBOX_TTL_MS
    : Math.min(item.ttl_ms, item.created_at + item.ttl_ms - now);
  return Math.min(MAX_INBOX_TTL_MS, Math.max(MIN_TTL_MS, ttl));
}

/**
 * When an item is given up if still unsent.
 * @param item the outbox row's queue time and `ttl_ms`
 * @returns the give-up time, ms since the epoch
 */
export function giveUpAt(item: { created_at: number; ttl_ms: number | null }): number {
  return item.created_at + Math.min(OUTBOX_GIVE_UP_MS, item.ttl_ms ?? Infinity);
}

/** What the worker needs of the network: storing an item in a swarm (a `SwarmClient` does it). */
export interface InboxStore {
  /**
   * Store `data` under `key` in namespace `ns` of the key's swarm.
   * @throws {HearthError} when the swarm did not acknowledge it
   */
  store(
    key: Uint8Array,
    ns: number,
    data: Uint8Array,
    options: { ttlMs: number },
  ): Promise<unknown>;
}

/** Options of {@link OutboxWorker}. */
export interface OutboxWorkerOptions {
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Called after a message's status changed to `sent` or `failed` (committed). */
  onStatus?: (change: StatusChange) => void;
  /** Where unexpected errors are noted (no user data; default silent). */
  log?: Logger;
}

/** An outbox row as the scheduler sees it (no envelope). */
interface Slot {
  id: string;
  message_id: string | null;
  recipient: string;
  created_at: number;
  next_attempt_at: number;
  ttl_ms: number | null;
}

/** An outbox row ready to send, and whether its message row still exists. */
interface Item extends Slot {
  envelope: ArrayBuffer;
  attempts: number;
  present: string | null;
}

/** Sends the outbox, in a loop of its own, until stopped. */
export class OutboxWorker {
  readonly #db: Kysely<ClientDb>;
  readonly #swarm: InboxStore;
  readonly #clock: () => number;
  readonly #onStatus: ((change: StatusChange) => void) | undefined;
  readonly #log: Logger;
  /** Recipients being sent to, and the lane doing it. */
  readonly #lanes = new Map<string, Promise<void>>();
  /** Recipients held back after an unexpected error, until the time given. */
  readonly #held = new Map<string, number>();
  readonly #timer = new WakeTimer();
  #loop: Promise<void> | undefined;
  /** The last scheduling pass: passes run one after another. */
  #pass: Promise<unknown> = Promise.resolve();

  /**
   * Create a worker over the client database and a swarm client.
   * @param db the client database (its `outbox` and `messages` tables)
   * @param swarm where to store envelopes: a `SwarmClient`
   * @param options clock, status callback, logger
   */
  constructor(db: Kysely<ClientDb>, swarm: InboxStore, options: OutboxWorkerOptions = {}) {
    this.#db = db;
    this.#swarm = swarm;
    this.#clock = options.clock ?? Date.now;
    this.#onStatus = options.onStatus;
    this.#log = (options.log ?? silentLogger).child("outbox");
  }

  /** Start the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Look at the outbox now (after a send). */
  kick(): void {
    this.#timer.kick();
  }

  /**
   * Stop the loop and wait for the sends in flight (no new item is started).
   * @returns when the loop and every lane have ended
   */
  async stop(): Promise<void> {
    this.#timer.stop();
    await this.#loop;
    await Promise.all(this.#lanes.values());
  }

  /**
   * One pass over the items due now: each recipient's due items in order,
   * several recipients at once; waits for the sends it started.
   * @returns when the next item is due, ms since the epoch, or undefined when the outbox is empty
   * @throws the database's error when the outbox cannot be read
   */
  async runOnce(): Promise<number | undefined> {
    const dueBy = this.#clock();
    for (;;) {
      const next = await this.#schedule(dueBy);
      if (this.#lanes.size === 0) return next;
      await Promise.race(this.#lanes.values());
    }
  }

  /** Run {@link #plan} after any pass still running (the loop's and runOnce's do not overlap). */
  #schedule(dueBy: number): Promise<number | undefined> {
    const pass = this.#pass.then(() => this.#plan(dueBy));
    this.#pass = pass.catch(() => {});
    return pass;
  }

  /**
   * Drop what is not worth sending, then start a lane for each recipient
   * whose first item is due by `dueBy`, up to the concurrency limit.
   * Recipients with a lane running are left to their lane.
   * @returns the next time something is due that no running lane will report
   */
  async #plan(dueBy: number): Promise<number | undefined> {
    await this.#db.deleteFrom("outbox").where("message_id", "is not", null)
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("messages").select("messages.id").whereRef(
            "messages.id",
            "=",
            "outbox.message_id",
          ),
        ))
      ).execute();
    const slots: Slot[] = await this.#db.selectFrom("outbox")
      .select(["id", "message_id", "recipient", "created_at", "next_attempt_at", "ttl_ms"])
      .orderBy("created_at").orderBy("id").execute();
    const now = this.#clock();
    let next: number | undefined;
    const later = (at: number) => {
      next = next === undefined ? at : Math.min(next, at);
    };
    const heads = new Map<string, Slot>();
    for (const slot of slots) {
      if (this.#lanes.has(slot.recipient)) continue;
      if (now >= giveUpAt(slot)) {
        await this.#finish(slot, "failed");
        continue;
      }
      later(giveUpAt(slot));
      if (!heads.has(slot.recipient)) heads.set(slot.recipient, slot);
    }
    for (const [recipient, head] of heads) {
      const held = this.#held.get(recipient) ?? 0;
      if (held > now) {
        later(Math.max(held, head.next_attempt_at));
      } else if (head.next_attempt_at > dueBy) {
        later(head.next_attempt_at);
      } else if (
        !this.#timer.stopped && !this.#lanes.has(recipient) && this.#lanes.size < OUTBOX_CONCURRENCY
      ) {
        this.#held.delete(recipient);
        this.#lanes.set(recipient, this.#lane(recipient));
      }
      // A due head beyond the limit waits for a lane to end, which wakes the loop.
    }
    for (const recipient of this.#held.keys()) {
      if (!heads.has(recipient) && !this.#lanes.has(recipient)) this.#held.delete(recipient);
    }
    return next;
  }

  /** Send one recipient's due items in order until one fails, none is due, or the worker stops. */
  async #lane(recipient: string): Promise<void> {
    // Let #plan record the lane before it can end.
    await Promise.resolve();
    try {
      while (!this.#timer.stopped) {
        const item = await this.#head(recipient);
        if (item === undefined) break;
        if (item.message_id !== null && item.present === null) {
          await this.#db.deleteFrom("outbox").where("id", "=", item.id).execute();
          continue;
        }
        const now = this.#clock();
        if (now >= giveUpAt(item)) {
          await this.#finish(item, "failed");
          continue;
        }
        if (item.next_attempt_at > now) break;
        if (!await this.#send(item)) break;
      }
    } catch {
      this.#log.warn("lane_error");
      this.#held.set(recipient, this.#clock() + BASE_BACKOFF_MS);
    } finally {
      this.#lanes.delete(recipient);
      this.kick();
    }
  }

  /** A recipient's first item in queue order, with its message's presence. */
  #head(recipient: string): Promise<Item | undefined> {
    return this.#db.selectFrom("outbox")
      .leftJoin("messages", "messages.id", "outbox.message_id")
      .select([
        "outbox.id",
        "outbox.message_id",
        "outbox.recipient",
        "outbox.envelope",
        "outbox.created_at",
        "outbox.attempts",
        "outbox.next_attempt_at",
        "outbox.ttl_ms",
        "messages.id as present",
      ])
      .where("outbox.recipient", "=", recipient)
      .orderBy("outbox.created_at").orderBy("outbox.id").limit(1).executeTakeFirst();
  }

  /**
   * Store one item and settle its row.
   * @returns true when the item is settled (sent or given up), false when it waits for a retry
   */
  async #send(item: Item): Promise<boolean> {
    let code: string;
    try {
      const key = swarmKeyOf(parseAccountId(item.recipient));
      await this.#swarm.store(key, INBOX_NS, new Uint8Array(item.envelope), {
        ttlMs: storeTtlMs(item, this.#clock()),
      });
      await this.#finish(item, "sent");
      return true;
    } catch (err) {
      code = err instanceof HearthError ? err.code : "internal";
    }
    const now = this.#clock();
    const attempts = item.attempts + 1;
    if (now >= giveUpAt(item) || code === "bad_account_id") {
      await this.#finish(item, "failed");
      return true;
    }
    await this.#db.updateTable("outbox").set({
      attempts,
      next_attempt_at: now + backoffMs(attempts),
      last_error: code,
    }).where("id", "=", item.id).execute();
    return false;
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
    while (this.#timer.next()) {
      let next: number | undefined;
      try {
        next = await this.#schedule(this.#clock());
      } catch {
        this.#log.warn("schedule_error");
        next = this.#clock() + BASE_BACKOFF_MS;
      }
      const delay = next === undefined ? MAX_BACKOFF_MS : Math.max(0, next - this.#clock());
      // No sleep when due now; at once when kicked or stopped meanwhile.
      if (delay > 0) await this.#timer.sleep(delay);
    }
  }
}
