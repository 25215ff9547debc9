/**
 * Removing messages from this node: the ones the owner deleted for
 * themselves, and the ones whose disappearing timer ran out (with when the
 * next one runs out, for the expiry sweeper).
 * @module
 */
import { type Kysely, sql } from "kysely";
import type { ClientDb } from "../db/schema.ts";
import { inTx } from "../db/transaction.ts";
import { removeAttachmentsOf } from "../attachments/attachment_rows.ts";

type Db = Kysely<ClientDb>;

/** Ids per statement when a list of ids is bound (well under SQLite's variable limit). */
const ID_CHUNK = 500;

/** Messages removed from one conversation. */
export interface RemovedMessages {
  /** The peer's Account ID, or "self". */
  conversationId: string;
  /** The removed message ids. */
  ids: string[];
}

/**
 * Remove messages from this node: their rows, reactions, files (rows and
 * chunks) and outbox rows (the row carrying the message, and the edits,
 * deletes and reactions still queued for it), in one transaction; an unread incoming one leaves its
 * conversation's unread count.
 * @returns what went, per conversation
 */
export async function removeMessages(db: Db, ids: readonly string[]): Promise<RemovedMessages[]> {
  if (ids.length === 0) return [];
  const byConversation = new Map<string, string[]>();
  await inTx(db, async (tx) => {
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const chunk = ids.slice(i, i + ID_CHUNK);
      const rows = await tx.selectFrom("messages")
        .select(["id", "conversation_id", "direction", "status"])
        .where("id", "in", chunk).execute();
      if (rows.length === 0) continue;
      const found = rows.map((r) => r.id);
      await tx.deleteFrom("reactions").where("message_id", "in", found).execute();
      await tx.deleteFrom("outbox").where("message_id", "in", found).execute();
      await tx.deleteFrom("outbox").where("target_id", "in", found).execute();
      await tx.deleteFrom("messages").where("id", "in", found).execute();
      await removeAttachmentsOf(tx, found);
      const unread = new Map<string, number>();
      for (const r of rows) {
        const list = byConversation.get(r.conversation_id) ?? [];
        list.push(r.id);
        byConversation.set(r.conversation_id, list);
        if (r.direction === "in" && r.status === "delivered") {
          unread.set(r.conversation_id, (unread.get(r.conversation_id) ?? 0) + 1);
        }
      }
      for (const [id, n] of unread) {
        await tx.updateTable("conversations")
          .set({ unread_count: sql<number>`max(0, unread_count - ${n})` })
          .where("id", "=", id).execute();
      }
    }
  });
  return [...byConversation].map(([conversationId, list]) => ({ conversationId, ids: list }));
}

/**
 * Remove every message whose `expires_at` has passed (as {@link removeMessages}),
 * but an outgoing one still waiting in the outbox: a short timer must not
 * remove a message before it was sent; it goes on a later pass, once sent
 * or failed.
 * @returns what went, per conversation
 */
export async function removeExpired(db: Db, now: number): Promise<RemovedMessages[]> {
  const rows = await timed(db).select("messages.id").where("expires_at", "<=", now).execute();
  return await removeMessages(db, rows.map((r) => r.id));
}

/**
 * The earliest `expires_at` of any message that {@link removeExpired}
 * would remove once due (an outgoing message still in the outbox waits).
 * @returns the time, or undefined when none has a timer
 */
export async function nextExpiry(db: Db): Promise<number | undefined> {
  const row = await timed(db).select("expires_at").orderBy("expires_at").limit(1)
    .executeTakeFirst();
  return row?.expires_at ?? undefined;
}

/** The messages with a timer, but the outgoing ones still queued in the outbox. */
function timed(db: Db) {
  return db.selectFrom("messages").where("expires_at", "is not", null)
    .where((eb) =>
      eb.not(eb.and([
        eb("messages.direction", "=", "out"),
        eb("messages.status", "=", "queued"),
        eb.exists(
          eb.selectFrom("outbox").select("outbox.id")
            .whereRef("outbox.message_id", "=", "messages.id"),
        ),
      ]))
    );
}
