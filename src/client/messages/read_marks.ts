/**
 * Reading a conversation: its incoming messages become `read`, its unread
 * count 0, and their after-read timers start.
 * @module
 */
import { type Kysely, sql } from "kysely";
import type { ClientDb } from "../db/schema.ts";
import { inTx } from "../db/transaction.ts";

type Db = Kysely<ClientDb>;

/** What reading a conversation changed. */
export interface ReadResult {
  /** Incoming messages that went from `delivered` to `read`. */
  read: string[];
  /** Incoming messages whose after-read timer started. */
  timerStarted: string[];
}

/**
 * Mark a conversation read: its incoming `delivered` messages become
 * `read`, its unread count 0, and the after-read timers of its incoming
 * messages start (`expires_at = now + expire_after_read` seconds), in one
 * transaction.
 * @returns the ids that became read, and those whose timer started
 */
export async function markConversationRead(
  db: Db,
  conversationId: string,
  now: number,
): Promise<ReadResult> {
  return await inTx(db, async (tx) => {
    const read = await tx.updateTable("messages").set({ status: "read" })
      .where("conversation_id", "=", conversationId).where("direction", "=", "in")
      .where("status", "=", "delivered").returning(["id", "sent_at"]).execute();
    const started = await tx.updateTable("messages")
      .set({ expires_at: sql<number>`${now} + expire_after_read * 1000` })
      .where("conversation_id", "=", conversationId).where("direction", "=", "in")
      .where("expire_after_read", "is not", null).where("expires_at", "is", null)
      .returning(["id", "sent_at"]).execute();
    await tx.updateTable("conversations").set({ unread_count: 0 })
      .where("id", "=", conversationId).where("unread_count", "!=", 0).execute();
    const ordered = (rows: { id: string; sent_at: number }[]) =>
      rows.sort((a, b) => a.sent_at - b.sent_at || (a.id < b.id ? -1 : 1)).map((r) => r.id);
    return { read: ordered(read), timerStarted: ordered(started) };
  });
}
