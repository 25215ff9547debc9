/**
 * The client database's side of 1:1 messaging: queueing an outgoing
 * message (message row and outbox row in one transaction), storing an
 * incoming item (de-duplicated by item hash and message id), contacts and
 * message requests. The views are in chat_views.ts.
 * @module
 */
import type { Kysely } from "kysely";
import { fromHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, ContactState, MessageStatus } from "../db/schema.ts";
import { type MessageView, messageView } from "./chat_views.ts";

export type { ContactView, ConversationView, MessageView } from "./chat_views.ts";

type Db = Kysely<ClientDb>;
/** An outgoing message ready to queue: its row and its sealed envelope. */
export interface QueuedMessage {
  /** The message's content id. */
  id: string;
  /** The recipient's Account ID, or "self" for Note to Self (no outbox row). */
  conversationId: string;
  /** The owner's Account ID. */
  sender: string;
  /** The text. */
  text: string;
  /** The signed sent-at time. */
  sentAt: number;
  /** The sealed envelope, or undefined for Note to Self. */
  envelope?: Uint8Array;
}

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

/**
 * Write an outgoing message: the message row, its conversation, the peer as
 * a contact (writing to someone accepts them), and the outbox row, in one
 * transaction. Note to Self has no outbox row and is `sent` at once.
 * @returns the stored message
 */
export async function queueOutgoing(db: Db, m: QueuedMessage, now: number): Promise<MessageView> {
  const self = m.conversationId === "self";
  const status: MessageStatus = self ? "sent" : "queued";
  await db.transaction().execute(async (tx) => {
    await tx.insertInto("messages").values({
      id: m.id,
      conversation_id: m.conversationId,
      direction: "out",
      sender: m.sender,
      sent_at: m.sentAt,
      received_at: null,
      body_json: JSON.stringify({ text: m.text }),
      status,
      reply_to: null,
      edited_at: null,
      expires_at: null,
    }).execute();
    await touchConversation(tx, m.conversationId, m.sentAt, 0);
    if (self) return;
    await tx.insertInto("contacts").values({
      account_id: m.conversationId,
      display_name: null,
      state: "contact",
      added_at: now,
    }).onConflict((oc) =>
      oc.column("account_id").doUpdateSet({ state: "contact" }).where(
        "contacts.state",
        "!=",
        "blocked",
      )
    ).execute();
    await tx.insertInto("outbox").values({
      id: m.id,
      message_id: m.id,
      recipient: m.conversationId,
      envelope: m.envelope!,
      created_at: now,
      next_attempt_at: now,
      last_error: null,
    }).execute();
  });
  return messageView({
    id: m.id,
    conversation_id: m.conversationId,
    direction: "out",
    sender: m.sender,
    body_json: JSON.stringify({ text: m.text }),
    sent_at: m.sentAt,
    received_at: null,
    status,
  });
}

/** Queue a control item (a receipt, a request-accept) with no message row. */
export async function queueControl(
  db: Db,
  item: { id: string; recipient: string; envelope: Uint8Array },
  now: number,
): Promise<void> {
  await db.insertInto("outbox").values({
    id: item.id,
    message_id: null,
    recipient: item.recipient,
    envelope: item.envelope,
    created_at: now,
    next_attempt_at: now,
    last_error: null,
  }).execute();
}

async function touchConversation(db: Db, id: string, at: number, unread: number): Promise<void> {
  await db.insertInto("conversations").values({
    id,
    kind: id === "self" ? "self" : "1:1",
    last_message_at: at,
    unread_count: unread,
  }).onConflict((oc) =>
    oc.column("id").doUpdateSet((eb) => ({
      last_message_at: eb.fn("max", [
        eb.fn.coalesce("conversations.last_message_at", eb.val(0)),
        eb.val(at),
      ]),
      unread_count: eb("conversations.unread_count", "+", unread),
    }))
  ).execute();
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

/**
 * Set a peer's state. `contact` and `declined` apply to requests only (and
 * `contact` also lifts a block); `blocked` applies to anyone known.
 * @throws {HearthError} `not_found` when the peer is unknown or the change does not apply
 */
export async function setContactState(
  db: Db,
  accountId: string,
  state: "contact" | "declined" | "blocked",
): Promise<void> {
  const from: ContactState[] = state === "blocked"
    ? ["request", "contact", "declined"]
    : state === "contact"
    ? ["request", "declined", "blocked"]
    : ["request"];
  const res = await db.updateTable("contacts").set({ state })
    .where("account_id", "=", accountId).where("state", "in", from).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) {
    throw new HearthError("not_found", "No such message request");
  }
}

function hexBytes(hex: string): Uint8Array {
  try {
    return fromHex(hex, 32);
  } catch {
    throw new HearthError("bad_request", "Bad item hash");
  }
}
