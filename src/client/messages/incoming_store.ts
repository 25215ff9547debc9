/**
 * The client database's side of receiving 1:1: item hashes already handled,
 * storing an incoming text (de-duplicated by item hash and message id), and
 * applying what other content types change (receipts, edits, deletes,
 * reactions, timers, request accepts, profiles).
 * @module
 */
import type { Kysely } from "kysely";
import { fromHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, ContactState } from "../db/schema.ts";
import { touchConversation } from "./chat_store.ts";

type Db = Kysely<ClientDb>;

/** An incoming text, after the envelope opened. */
export interface IncomingText {
  /** The content id. */
  id: string;
  /** The sender's Account ID. */
  sender: string;
  /** The text. */
  text: string;
  /** The signed sent-at time. */
  sentAt: number;
  /** The display name from the sender's profile, if any. */
  displayName?: string;
}

/** Whether an item hash (hex) was already handled. */
export async function isSeen(db: Db, hash: string): Promise<boolean> {
  const row = await db.selectFrom("seen_hashes").select("seen_at")
    // A blob binds as a Uint8Array; the column type reads back as ArrayBuffer.
    .where("hash", "=", hexBytes(hash) as unknown as ArrayBuffer).executeTakeFirst();
  return row !== undefined;
}

/** Remember an item hash as handled (idempotent). */
export async function markSeen(db: Db, hash: string, now: number): Promise<void> {
  await db.insertInto("seen_hashes").values({ hash: hexBytes(hash), seen_at: now })
    .onConflict((oc) => oc.column("hash").doNothing()).execute();
}

/** A peer's state, or undefined when unknown. */
export async function contactState(db: Db, accountId: string): Promise<ContactState | undefined> {
  const row = await db.selectFrom("contacts").select("state")
    .where("account_id", "=", accountId).executeTakeFirst();
  return row?.state;
}

/**
 * Store an incoming text and its item hash in one transaction. An unknown
 * sender becomes a message request; a declined one becomes a request again.
 * @returns false when the message id was already stored (a duplicate)
 */
export async function storeIncoming(
  db: Db,
  m: IncomingText,
  hash: string,
  now: number,
): Promise<boolean> {
  return await db.transaction().execute(async (tx) => {
    await markSeen(tx, hash, now);
    const dup = await tx.selectFrom("messages").select("id").where("id", "=", m.id)
      .executeTakeFirst();
    if (dup) return false;
    await tx.insertInto("contacts").values({
      account_id: m.sender,
      display_name: m.displayName ?? null,
      state: "request",
      added_at: now,
    }).onConflict((oc) => oc.column("account_id").doNothing()).execute();
    await tx.updateTable("contacts").set({ state: "request" })
      .where("account_id", "=", m.sender).where("state", "=", "declined").execute();
    if (m.displayName !== undefined) {
      await tx.updateTable("contacts").set({ display_name: m.displayName })
        .where("account_id", "=", m.sender).execute();
    }
    await tx.insertInto("messages").values({
      id: m.id,
      conversation_id: m.sender,
      direction: "in",
      sender: m.sender,
      sent_at: m.sentAt,
      received_at: now,
      body_json: JSON.stringify({ text: m.text }),
      status: "delivered",
      reply_to: null,
      edited_at: null,
      expires_at: null,
    }).execute();
    await touchConversation(tx, m.sender, m.sentAt, 1);
    return true;
  });
}

/**
 * Mark outgoing messages to `peer` as delivered (never lowering `read`).
 * @returns the ids that changed
 */
export async function markDelivered(db: Db, peer: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.updateTable("messages").set({ status: "delivered" })
    .where("id", "in", ids).where("conversation_id", "=", peer)
    .where("direction", "=", "out").where("status", "in", ["queued", "sent"])
    .returning("id").execute();
  return rows.map((r) => r.id);
}

function hexBytes(hex: string): Uint8Array {
  try {
    return fromHex(hex, 32);
  } catch {
    throw new HearthError("bad_request", "Bad item hash");
  }
}
