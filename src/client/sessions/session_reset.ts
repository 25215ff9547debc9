/**
 * What a `session-reset` from a peer does on the owner's side
 * (docs/PROTOCOL.md §12): the peer could not decrypt what the owner sent
 * under its sessions (it lost its state, or a prekey it needed), so
 *
 * - in the transaction that drops those sessions ({@link SessionManager.reset}),
 *   the control items still queued to the peer (receipts, reactions, edits,
 *   typing…, sealed for sessions the peer no longer has) are dropped, and
 *   the peer is due the owner's avatar again (a lost message may have
 *   carried it): {@link forgetQueuedForPeer};
 * - after it, the owner's texts to the peer from the last
 *   {@link RESEND_WINDOW_MS} that were not delivered (still queued, or
 *   `sent`) are sealed again, under a new handshake, with their original
 *   ids and sent-at times (the peer de-duplicates by id):
 *   {@link resendUndelivered}. A `sent` one goes back to `queued`.
 * @module
 */
import type { Kysely } from "kysely";
import { MIN_TTL_MS } from "../../shared/codec/limits.ts";
import type { ClientDb } from "../db/schema.ts";
import type { ChatSealer } from "../messages/chat_sealer.ts";
import type { StatusChange } from "../messages/chat_events.ts";
import { insertOutbox, profileFor } from "../messages/chat_store.ts";
import { bodyText } from "../messages/chat_views.ts";
import type { MessageContent } from "../messages/content.ts";
import { INBOX_TTL_MS, OUTBOX_GIVE_UP_MS } from "../messages/outbox_worker.ts";

type Db = Kysely<ClientDb>;

/** How far back undelivered texts are re-sent after a reset, ms (the outbox's give-up time). */
export const RESEND_WINDOW_MS: number = OUTBOX_GIVE_UP_MS;

/**
 * Drop the control items queued to a peer and mark the owner's avatar as
 * not sent to it; run it in the reset's transaction.
 * @param tx the transaction that drops the peer's sessions
 * @param peer the peer's Account ID
 * @returns how many queued items went
 */
export async function forgetQueuedForPeer(tx: Db, peer: string): Promise<number> {
  const res = await tx.deleteFrom("outbox").where("recipient", "=", peer)
    .where("message_id", "is", null).executeTakeFirst();
  await tx.updateTable("contacts").set({ profile_sent: 0 }).where("account_id", "=", peer)
    .execute();
  return Number(res.numDeletedRows);
}

/** What a re-sent text carries of its timer (kept in its body, chat_store.ts). */
interface StoredTimer {
  mode: "after_send" | "after_read";
  seconds: number;
}

/**
 * Seal the owner's undelivered texts to a peer again (see the module) and
 * queue them; the caller wakes the outbox worker.
 * @param sealer the chat's sealer (it seals through the sessions)
 * @param peer the peer's Account ID
 * @param options.now current time, ms
 * @returns the status changes (texts that went from `sent` back to `queued`)
 */
export async function resendUndelivered(
  sealer: ChatSealer,
  peer: string,
  options: { db: Db; now: number },
): Promise<StatusChange[]> {
  const { db, now } = options;
  const rows = await db.selectFrom("messages")
    .select(["id", "body_json", "sent_at", "reply_to", "expires_at", "status"])
    .where("conversation_id", "=", peer).where("direction", "=", "out")
    .where("deleted", "=", 0).where("status", "in", ["queued", "sent"])
    .where("sent_at", ">=", now - RESEND_WINDOW_MS)
    .orderBy("sent_at").orderBy("id").execute();
  const changes: StatusChange[] = [];
  for (const row of rows) {
    const timer = storedTimer(row.body_json);
    if (row.expires_at !== null && row.expires_at <= now) continue;
    const { profile, version } = await profileFor(db, peer);
    const content: MessageContent = {
      type: "text",
      id: row.id,
      text: bodyText(row.body_json),
      ...(row.reply_to !== null ? { replyTo: row.reply_to } : {}),
      ...(timer ? { expiresIn: timer.seconds, mode: timer.mode } : {}),
      ...(profile ? { profile } : {}),
    };
    if (content.text === "") continue;
    const ttlMs = timer?.mode === "after_send" && row.expires_at !== null
      ? Math.max(MIN_TTL_MS, Math.min(INBOX_TTL_MS, row.expires_at - now))
      : undefined;
    const requeued = await sealer.sealInto(peer, content, {
      sentAt: row.sent_at,
      handshake: true,
      ...(ttlMs !== undefined ? { ttlMs } : {}),
      ...(version !== undefined ? { profileSent: version } : {}),
    }, async (tx, item, encryption) => {
      const current = await tx.selectFrom("messages").select(["status", "deleted"])
        .where("id", "=", row.id).executeTakeFirst();
      if (!current || current.deleted || !["queued", "sent"].includes(current.status)) {
        return false;
      }
      await tx.updateTable("messages").set({ status: "queued", encryption })
        .where("id", "=", row.id).execute();
      // A still-queued text's old envelope (sealed for a dropped session) is replaced.
      await tx.deleteFrom("outbox").where("message_id", "=", row.id).execute();
      await insertOutbox(tx, item, { now, messageId: row.id });
      return current.status === "sent";
    });
    if (requeued) changes.push({ id: row.id, conversationId: peer, status: "queued" });
  }
  return changes;
}

function storedTimer(bodyJson: string): StoredTimer | undefined {
  try {
    const t = JSON.parse(bodyJson)?.timer;
    if (
      (t?.mode === "after_send" || t?.mode === "after_read") &&
      Number.isSafeInteger(t.seconds) && t.seconds > 0
    ) {
      return { mode: t.mode, seconds: t.seconds };
    }
  } catch { /* no timer */ }
  return undefined;
}
