/**
 * The client database's side of sending 1:1: queueing an outgoing message
 * (message row and outbox row in one transaction), control items, contacts
 * and message requests. Incoming items are stored by incoming_store.ts; the
 * views are in chat_views.ts.
 * @module
 */
import type { Kysely } from "kysely";
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
    reply_to: null,
    edited_at: null,
    deleted: 0,
    expires_at: null,
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

/** Create a conversation or bump its last activity and unread count. */
export async function touchConversation(
  db: Db,
  id: string,
  at: number,
  unread: number,
): Promise<void> {
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
