/**
 * The client database's views of 1:1 messaging for the owner API:
 * messages, conversations and contacts.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, ContactState, MessageStatus } from "../db/schema.ts";

/** A message as the owner API shows it. */
export interface MessageView {
  /** The message id (the sender's content id). */
  id: string;
  /** The peer's Account ID, or "self". */
  conversationId: string;
  /** `in` or `out`. */
  direction: "in" | "out";
  /** The sender's Account ID. */
  sender: string;
  /** The text. */
  text: string;
  /** When the sender sent it, ms. */
  sentAt: number;
  /** When this node stored it (incoming), or null. */
  receivedAt: number | null;
  /** queued, sent, delivered, read or failed. */
  status: MessageStatus;
}

/** A conversation as the owner API lists it. */
export interface ConversationView {
  /** The peer's Account ID, or "self". */
  id: string;
  /** `1:1` or `self`. */
  kind: "1:1" | "self";
  /** The peer's display name, or null. */
  displayName: string | null;
  /** The newest message, or null. */
  lastMessage: MessageView | null;
  /** Incoming messages not yet read. */
  unreadCount: number;
}

/** A known peer as the owner API lists it. */
export interface ContactView {
  /** The peer's Account ID. */
  accountId: string;
  /** The name from its profile, or null. */
  displayName: string | null;
  /** contact, request, blocked or declined. */
  state: ContactState;
  /** When it first appeared, ms. */
  addedAt: number;
}

type Db = Kysely<ClientDb>;
/** The columns of a message row that {@link messageView} reads. */
export type MessageRow = {
  id: string;
  conversation_id: string;
  direction: "in" | "out";
  sender: string;
  body_json: string;
  sent_at: number;
  received_at: number | null;
  status: MessageStatus;
};

/** The columns {@link messageView} needs. */
export const MESSAGE_COLUMNS = [
  "id",
  "conversation_id",
  "direction",
  "sender",
  "body_json",
  "sent_at",
  "received_at",
  "status",
] as const;

/** The largest page of {@link listMessages}. */
export const MAX_PAGE = 200;

/** A message row as the owner API shows it. */
export function messageView(r: MessageRow): MessageView {
  let text = "";
  try {
    const body = JSON.parse(r.body_json);
    if (typeof body?.text === "string") text = body.text;
  } catch { /* a tombstone or a later kind: no text */ }
  return {
    id: r.id,
    conversationId: r.conversation_id,
    direction: r.direction,
    sender: r.sender,
    text,
    sentAt: r.sent_at,
    receivedAt: r.received_at,
    status: r.status,
  };
}

/** Peers in the given states, newest first. */
export async function listContacts(db: Db, states: ContactState[]): Promise<ContactView[]> {
  const rows = await db.selectFrom("contacts")
    .select(["account_id", "display_name", "state", "added_at"])
    .where("state", "in", states).orderBy("added_at", "desc").orderBy("account_id").execute();
  return rows.map((r) => ({
    accountId: r.account_id,
    displayName: r.display_name,
    state: r.state,
    addedAt: r.added_at,
  }));
}

/** Incoming message ids of a conversation, oldest first (for receipts on accept). */
export async function incomingIds(db: Db, peer: string): Promise<string[]> {
  const rows = await db.selectFrom("messages").select("id").where("conversation_id", "=", peer)
    .where("direction", "=", "in").orderBy("sent_at").orderBy("id").execute();
  return rows.map((r) => r.id);
}

/** Conversations with contacts and Note to Self (not requests, declined or blocked), newest first. */
export async function listConversations(db: Db): Promise<ConversationView[]> {
  const rows = await db.selectFrom("conversations")
    .leftJoin("contacts", "contacts.account_id", "conversations.id")
    .select([
      "conversations.id as id",
      "conversations.kind as kind",
      "conversations.unread_count as unread",
      "contacts.display_name as name",
    ])
    .where((eb) =>
      eb.or([eb("conversations.kind", "=", "self"), eb("contacts.state", "=", "contact")])
    )
    .orderBy("conversations.last_message_at", "desc").execute();
  const out: ConversationView[] = [];
  for (const r of rows) {
    const last = await db.selectFrom("messages").select(MESSAGE_COLUMNS)
      .where("conversation_id", "=", r.id).orderBy("sent_at", "desc").orderBy("id", "desc")
      .limit(1).executeTakeFirst();
    out.push({
      id: r.id,
      kind: r.kind,
      displayName: r.name ?? null,
      lastMessage: last ? messageView(last) : null,
      unreadCount: r.unread,
    });
  }
  return out;
}

/**
 * A conversation's messages, oldest first: the newest `limit` before
 * `before` (a sent-at time), when given. Declined and blocked peers'
 * conversations are hidden.
 * @throws {HearthError} `not_found` when there is no such conversation
 */
export async function listMessages(
  db: Db,
  conversationId: string,
  options: { before?: number; limit?: number } = {},
): Promise<MessageView[]> {
  const conv = await db.selectFrom("conversations").leftJoin(
    "contacts",
    "contacts.account_id",
    "conversations.id",
  ).select(["conversations.kind as kind", "contacts.state as state"])
    .where("conversations.id", "=", conversationId).executeTakeFirst();
  if (!conv || (conv.kind !== "self" && conv.state !== "contact" && conv.state !== "request")) {
    throw new HearthError("not_found", "No such conversation");
  }
  let q = db.selectFrom("messages").select(MESSAGE_COLUMNS)
    .where("conversation_id", "=", conversationId);
  if (options.before !== undefined) q = q.where("sent_at", "<", options.before);
  const rows = await q.orderBy("sent_at", "desc").orderBy("id", "desc")
    .limit(Math.min(options.limit ?? 50, MAX_PAGE)).execute();
  await db.updateTable("conversations").set({ unread_count: 0 })
    .where("id", "=", conversationId).execute();
  return rows.reverse().map(messageView);
}
