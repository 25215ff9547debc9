/**
 * The group outbox: stores queued group items in the group's swarm.
 * Messages (ns 11) go with the owner's member access; state records
 * (ns 13) and revocations (ns 14) are owner-signed with the group key (the
 * owner must be an admin). One group's items go one at a time in queue
 * order (a rekey's state before its revocation before its `group-update`),
 * several groups at once. A failure is retried with backoff; an item not
 * stored within 3 days (or its TTL) is given up and its message `failed`.
 * `access_revoked` is final: the group's items are dropped and the owner is
 * `removed`. The queue is in the client database, so it survives restarts.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import { signingKeyPairFromSeed } from "../../shared/crypto/mod.ts";
import {
  GROUP_MESSAGES_NS,
  GROUP_REVOKED_NS,
  GROUP_STATE_NS,
} from "../../shared/storage/namespaces.ts";
import type { ClientDb, GroupOutboxKind } from "../db/schema.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import type { StatusChange } from "../messages/chat_events.ts";
import { backoffMs, OUTBOX_GIVE_UP_MS } from "../messages/outbox_worker.ts";
import { WakeTimer } from "../messages/wake_timer.ts";
import { groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { groupRow } from "./group_rows.ts";

type Db = Kysely<ClientDb>;

/** The namespace of each kind of group item. */
export const GROUP_OUTBOX_NS: Record<GroupOutboxKind, number> = {
  message: GROUP_MESSAGES_NS,
  state: GROUP_STATE_NS,
  revoke: GROUP_REVOKED_NS,
};

/** How long the worker sleeps when nothing is due, ms. */
const IDLE_MS = 30_000;
/**
 * An owner item kept by the swarm with an expiry this much short of its
 * TTL (stored before with the same bytes) has its expiry extended; the
 * margin also absorbs clock skew against the relay's range check.
 */
const EXTEND_SLACK_MS = 10 * 60_000;

/**
 * Queue a group item (run it in the caller's transaction).
 * @param db the caller's transaction
 * @param item the group, kind, sealed bytes, TTL and the message it carries
 */
export async function queueGroupItem(
  db: Db,
  item: {
    id: string;
    groupId: string;
    kind: GroupOutboxKind;
    data: Uint8Array;
    ttlMs: number;
    messageId?: string;
    now: number;
  },
): Promise<void> {
  const last = await db.selectFrom("group_outbox").select("created_at")
    .where("group_id", "=", item.groupId).orderBy("created_at", "desc").limit(1)
    .executeTakeFirst();
  await db.insertInto("group_outbox").values({
    id: item.id,
    group_id: item.groupId,
    kind: item.kind,
    message_id: item.messageId ?? null,
    data: item.data,
    ttl_ms: item.ttlMs,
    created_at: Math.max(item.now, (last?.created_at ?? -Infinity) + 1),
    next_attempt_at: item.now,
    last_error: null,
  }).execute();
}

/** Options of {@link GroupOutbox}. */
export interface GroupOutboxOptions {
  /** Current time, ms. */
  clock: () => number;
  /** A message's status changed (committed). */
  onStatus: (change: StatusChange) => void;
  /** The owner's access to a group was revoked (its items were dropped). */
  onRevoked: (groupId: string) => void;
  /** Where errors are noted (codes only). */
  log?: Logger;
}

/** Stores queued group items until stopped. */
export class GroupOutbox {
  readonly #db: Db;
  readonly #swarm: SwarmClient;
  readonly #o: GroupOutboxOptions;
  readonly #timer = new WakeTimer();
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #loop: Promise<void> | undefined;

  /** Create the worker; {@link start} runs it. */
  constructor(db: Db, swarm: SwarmClient, options: GroupOutboxOptions) {
    this.#db = db;
    this.#swarm = swarm;
    this.#o = options;
    this.#log = options.log ?? silentLogger;
  }

  /** Start the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Something was queued: run a pass now. */
  kick(): void {
    this.#timer.kick();
  }

  /** Stop and wait for the pass in flight. */
  async stop(): Promise<void> {
    this.#timer.stop();
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#timer.next()) {
      let sleep = IDLE_MS;
      try {
        sleep = await this.pass();
      } catch {
        this.#log.warn("group_outbox.pass_failed");
      }
      await this.#timer.sleep(sleep);
    }
  }

  /**
   * One pass: the first item of every group, when due, is stored; groups go in parallel.
   * @returns how long until the next item is due, ms
   */
  async pass(): Promise<number> {
    const now = this.#o.clock();
    const rows = await this.#db.selectFrom("group_outbox")
      .select(["id", "group_id", "next_attempt_at", "created_at"])
      .orderBy("created_at").orderBy("id").execute();
    const heads = new Map<string, (typeof rows)[number]>();
    for (const r of rows) if (!heads.has(r.group_id)) heads.set(r.group_id, r);
    let next = IDLE_MS;
    const due = [...heads.values()].filter((r) => {
      if (r.next_attempt_at <= now) return true;
      next = Math.min(next, r.next_attempt_at - now);
      return false;
    });
    const results = await Promise.all(due.map((r) => this.#sendGroup(r.group_id)));
    if (results.some((more) => more)) return 0;
    return Math.max(10, next);
  }

  /** Send a group's due items in order; true when one was stored (there may be more). */
  async #sendGroup(groupId: string): Promise<boolean> {
    const db = this.#db;
    const row = await db.selectFrom("group_outbox").selectAll().where("group_id", "=", groupId)
      .orderBy("created_at").orderBy("id").limit(1).executeTakeFirst();
    if (!row) return false;
    const now = this.#o.clock();
    if (now > row.created_at + Math.min(OUTBOX_GIVE_UP_MS, row.ttl_ms)) {
      await this.#fail(row.id, row.message_id, groupId);
      return true;
    }
    try {
      const group = await groupRow(db, groupId);
      if (!group) {
        await db.deleteFrom("group_outbox").where("id", "=", row.id).execute();
        return true;
      }
      const groupPublicKey = parseGroupId(groupId);
      const data = new Uint8Array(row.data);
      const ttlMs = Math.max(10_000, Math.min(row.ttl_ms, row.created_at + row.ttl_ms - now));
      const ns = GROUP_OUTBOX_NS[row.kind];
      if (row.kind === "message") {
        const member = await signingKeyPairFromSeed(new Uint8Array(group.access_seed));
        await this.#swarm.storeAsMember(
          { groupPublicKey, member, token: new Uint8Array(group.access_token) },
          ns,
          data,
          { ttlMs, signal: this.#abort.signal },
        );
      } else {
        if (!group.admin_seed) throw new HearthError("conflict", "Not an admin");
        const owner = await signingKeyPairFromSeed(new Uint8Array(group.admin_seed));
        const stored = await this.#swarm.store(groupSwarmKey(groupPublicKey), ns, data, {
          ttlMs,
          owner,
          signal: this.#abort.signal,
        });
        // The same bytes stored again (a revocation list that did not change) keep the
        // first copy's expiry: extend it, or the revocation lapses 30 days after the removal.
        const wanted = now + ttlMs - EXTEND_SLACK_MS;
        if (stored.expiry < wanted) {
          await this.#swarm.expire(owner, ns, [stored.hash], wanted, {
            signal: this.#abort.signal,
          });
        }
      }
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom("group_outbox").where("id", "=", row.id).execute();
        if (row.message_id) {
          await tx.updateTable("messages").set({ status: "sent" })
            .where("id", "=", row.message_id).where("status", "=", "queued").execute();
        }
      });
      if (row.message_id) {
        this.#o.onStatus({ id: row.message_id, conversationId: groupId, status: "sent" });
      }
      return true;
    } catch (err) {
      if (this.#abort.signal.aborted) return false;
      const code = err instanceof HearthError ? err.code : "internal";
      if (code === "access_revoked") {
        await this.#dropGroup(groupId);
        this.#o.onRevoked(groupId);
        return false;
      }
      if (code === "conflict") {
        await this.#fail(row.id, row.message_id, groupId);
        return false;
      }
      this.#log.info("group_outbox.retry", { [code]: true });
      await db.updateTable("group_outbox").set({
        attempts: row.attempts + 1,
        next_attempt_at: now + backoffMs(row.attempts + 1),
        last_error: code,
      }).where("id", "=", row.id).execute();
      return false;
    }
  }

  async #fail(id: string, messageId: string | null, groupId: string): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom("group_outbox").where("id", "=", id).execute();
      if (messageId) {
        await tx.updateTable("messages").set({ status: "failed" }).where("id", "=", messageId)
          .where("status", "=", "queued").execute();
      }
    });
    if (messageId) this.#o.onStatus({ id: messageId, conversationId: groupId, status: "failed" });
  }

  /** Drop every item of a group whose access was revoked; its messages fail. */
  async #dropGroup(groupId: string): Promise<void> {
    const rows = await this.#db.selectFrom("group_outbox").select(["id", "message_id"])
      .where("group_id", "=", groupId).execute();
    for (const r of rows) await this.#fail(r.id, r.message_id, groupId);
  }
}
