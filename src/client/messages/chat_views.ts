/**
 * The client database's views of 1:1 messaging for the owner API:
 * messages, conversations and contacts.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import { type AttachmentView, attachmentViews } from "../attachments/attachment_rows.ts";
import type {
  ClientDb,
  ContactState,
  ConversationKind,
  DisappearingMode,
  GroupState,
  MessageStatus,
} from "../db/schema.ts";

/** The message a reply quotes, as the reply shows it. */
export interface QuoteView {
  /** The quoted message's id. */
  id: string;
  /** Its sender, or null when this node does not have it (or it was deleted or disappeared). */
  sender: string | null;
  /** Its text, or null likewise. */
  text: string | null;
}

/** One sender's reaction to a message. */
export interface ReactionView {
  /** The reacting Account ID (the owner's own included). */
  sender: string;
  /** The emoji. */
  emoji: string;
}

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
  /** The message this one replies to, or null. */
  replyTo: QuoteView | null;
  /** Reactions, oldest first. */
  reactions: ReactionView[];
  /** When the sender last edited it, or null. */
  editedAt: number | null;
  /** Deleted for everyone: the text is gone (""), the tombstone stays. */
  deleted: boolean;
  /** When it disappears, ms, or null (no timer, or one that starts when read). */
  expiresAt: number | null;
  /** How it travelled; see {@link MessageEncryption}. */
  encryption: MessageEncryption;
  /** Its files, in order (docs/PROTOCOL.md §13); empty for none. */
  attachments: AttachmentView[];
}

/**
 * How a message travelled: `session` (a forward-secret double-ratchet
 * session), `sealed` (the sealed envelope alone: no session could be made,
 * e.g. the peer has published no prekey bundle), or `local` (Note to Self,
 * which never leaves the node), or `group` (a group message, under the
 * group key, docs/PROTOCOL.md §14).
 */
export type MessageEncryption = "session" | "sealed" | "local" | "group";

/** A conversation as the owner API lists it. */
export interface ConversationView {
  /** The peer's Account ID, "self", or a Group ID (`hearthg1…`). */
  id: string;
  /** `1:1`, `self` or `group`. */
  kind: ConversationKind;
  /** The peer's display name, the group's name, or null. */
  displayName: string | null;
  /** The owner's nickname for the peer (1:1 only), or null. */
  nickname: string | null;
  /** The newest message, or null. */
  lastMessage: MessageView | null;
  /** Incoming messages not yet read. */
  unreadCount: number;
  /** The disappearing timer: `off`, or its mode and seconds. */
  disappearing: DisappearingView;
  /** Whether notifications are muted. */
  muted: boolean;
}

/** A conversation's disappearing timer. */
export interface DisappearingView {
  /** `off`, `after_send` or `after_read`. */
  mode: DisappearingMode;
  /** The timer, seconds (0 when off). */
  seconds: number;
}

/** A known peer as the owner API lists it. */
export interface ContactView {
  /** The peer's Account ID. */
  accountId: string;
  /** The name from its profile, or null. */
  displayName: string | null;
  /** The owner's private nickname for it, or null (never sent to anyone). */
  nickname: string | null;
  /** contact, request, blocked or declined. */
  state: ContactState;
  /** When it first appeared, ms. */
  addedAt: number;
  /** Whether it sent an avatar (served at `GET /api/contacts/{id}/avatar`). */
  hasAvatar: boolean;
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
  reply_to: string | null;
  edited_at: number | null;
  deleted: number;
  expires_at: number | null;
  encryption: "session" | "sealed";
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
  "reply_to",
  "edited_at",
  "deleted",
  "expires_at",
  "encryption",
] as const;

/** The largest page of {@link listMessages}. */
export const MAX_PAGE = 200;

/** The text a message row holds ("" for a tombstone or a body without one). */
export function bodyText(bodyJson: string): string {
  try {
    const body = JSON.parse(bodyJson);
    if (typeof body?.text === "string") return body.text;
  } catch { /* a tombstone or a later kind: no text */ }
  return "";
}

/**
 * A message row as the owner API shows it. Reactions and the quoted
 * message come from other rows: pass them, or use {@link loadMessageViews}.
 */
export function messageView(
  r: MessageRow,
  more: { reactions?: ReactionView[]; quote?: QuoteView | null; attachments?: AttachmentView[] } =
    {},
): MessageView {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    direction: r.direction,
    sender: r.sender,
    text: r.deleted ? "" : bodyText(r.body_json),
    sentAt: r.sent_at,
    receivedAt: r.received_at,
    status: r.status,
    replyTo: r.reply_to === null
      ? null
      : more.quote ?? { id: r.reply_to, sender: null, text: null },
    reactions: more.reactions ?? [],
    editedAt: r.edited_at,
    deleted: r.deleted === 1,
    expiresAt: r.expires_at,
    attachments: r.deleted ? [] : more.attachments ?? [],
    encryption: r.conversation_id === "self"
      ? "local"
      : r.conversation_id.startsWith("hearthg1")
      ? "group"
      : r.encryption,
  };
}

/** Message rows as the owner API shows them, with their reactions and quotes (two queries). */
export async function loadMessageViews(
  db: Db,
  rows: readonly MessageRow[],
): Promise<MessageView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const reactions = await db.selectFrom("reactions").select(["message_id", "sender", "emoji"])
    .where("message_id", "in", ids).orderBy("reacted_at").orderBy("sender").execute();
  const byMessage = new Map<string, ReactionView[]>();
  for (const r of reactions) {
    const list = byMessage.get(r.message_id) ?? [];
    list.push({ sender: r.sender, emoji: r.emoji });
    byMessage.set(r.message_id, list);
  }
  const files = await attachmentViews(db, ids);
  const quotedIds = [...new Set(rows.flatMap((r) => r.reply_to === null ? [] : [r.reply_to]))];
  const quoted = quotedIds.length === 0 ? [] : await db.selectFrom("messages")
    .select(["id", "conversation_id", "sender", "body_json"])
    .where("id", "in", quotedIds).where("deleted", "=", 0).execute();
  return rows.map((r) => {
    const q = r.reply_to === null
      ? undefined
      : quoted.find((m) => m.id === r.reply_to && m.conversation_id === r.conversation_id);
    return messageView(r, {
      reactions: byMessage.get(r.id) ?? [],
      attachments: files.get(r.id) ?? [],
      ...(q ? { quote: { id: q.id, sender: q.sender, text: bodyText(q.body_json) } } : {}),
    });
  });
}

/** One message as the owner API shows it, or undefined when there is no such message. */
export async function messageById(db: Db, id: string): Promise<MessageView | undefined> {
  const row = await db.selectFrom("messages").select(MESSAGE_COLUMNS).where("id", "=", id)
    .executeTakeFirst();
  return row ? (await loadMessageViews(db, [row]))[0] : undefined;
}

/** Peers in the given states, newest first. */
export async function listContacts(db: Db, states: ContactState[]): Promise<ContactView[]> {
  const rows = await db.selectFrom("contacts")
    .select(["account_id", "display_name", "nickname", "state", "added_at"])
    .select((eb) => eb("avatar", "is not", null).as("has_avatar"))
    .where("state", "in", states).orderBy("added_at", "desc").orderBy("account_id").execute();
  return rows.map(contactView);
}

/** One peer as the owner API shows it, or undefined when unknown. */
export async function contactById(db: Db, accountId: string): Promise<ContactView | undefined> {
  const row = await db.selectFrom("contacts")
    .select(["account_id", "display_name", "nickname", "state", "added_at"])
    .select((eb) => eb("avatar", "is not", null).as("has_avatar"))
    .where("account_id", "=", accountId).executeTakeFirst();
  return row ? contactView(row) : undefined;
}

function contactView(r: {
  account_id: string;
  display_name: string | null;
  nickname: string | null;
  state: ContactState;
  added_at: number;
  has_avatar: unknown;
}): ContactView {
  return {
    accountId: r.account_id,
    displayName: r.display_name,
    nickname: r.nickname,
    state: r.state,
    addedAt: r.added_at,
    hasAvatar: Boolean(r.has_avatar),
  };
}

/** Incoming message ids of a conversation, oldest first (for receipts on accept). */
export async function incomingIds(db: Db, peer: string): Promise<string[]> {
  const rows = await db.selectFrom("messages").select("id").where("conversation_id", "=", peer)
    .where("direction", "=", "in").where("deleted", "=", 0).orderBy("sent_at").orderBy("id")
    .execute();
  return rows.map((r) => r.id);
}

const CONVERSATION_COLUMNS = [
  "conversations.id as id",
  "conversations.kind as kind",
  "conversations.unread_count as unread",
  "conversations.disappearing_mode as mode",
  "conversations.disappearing_seconds as seconds",
  "conversations.muted as muted",
  "contacts.display_name as name",
  "contacts.nickname as nickname",
  "groups.name as group_name",
  "groups.state as group_state",
] as const;

/** The group states whose conversations show: the owner is in, or was (history stays). */
const SHOWN_GROUP_STATES: readonly GroupState[] = ["joined", "left", "removed"];

type ConversationRow = {
  id: string;
  kind: ConversationKind;
  group_name: string | null;
  group_state: GroupState | null;
  unread: number;
  mode: DisappearingMode;
  seconds: number;
  muted: number;
  name: string | null;
  nickname: string | null;
};

async function conversationView(db: Db, r: ConversationRow): Promise<ConversationView> {
  const last = await db.selectFrom("messages").select(MESSAGE_COLUMNS)
    .where("conversation_id", "=", r.id).orderBy("sent_at", "desc").orderBy("id", "desc")
    .limit(1).executeTakeFirst();
  return {
    id: r.id,
    kind: r.kind,
    displayName: r.kind === "group" ? r.group_name : r.name ?? null,
    nickname: r.kind === "1:1" ? r.nickname ?? null : null,
    lastMessage: last ? (await loadMessageViews(db, [last]))[0]! : null,
    unreadCount: r.unread,
    disappearing: { mode: r.mode, seconds: r.mode === "off" ? 0 : r.seconds },
    muted: r.muted === 1,
  };
}

/**
 * Note to Self before its first note or setting (it has no row yet): no
 * messages, timer off, not muted.
 */
export function emptySelfConversation(): ConversationView {
  return {
    id: "self",
    kind: "self",
    displayName: null,
    nickname: null,
    lastMessage: null,
    unreadCount: 0,
    disappearing: { mode: "off", seconds: 0 },
    muted: false,
  };
}

/**
 * Conversations with contacts, groups and Note to Self (not requests,
 * declined or blocked), newest first. Note to Self is always there: before
 * its first note it is listed last, empty.
 */
export async function listConversations(db: Db): Promise<ConversationView[]> {
  const rows = await db.selectFrom("conversations")
    .leftJoin("contacts", "contacts.account_id", "conversations.id")
    .leftJoin("groups", "groups.id", "conversations.id")
    .select(CONVERSATION_COLUMNS)
    .where((eb) =>
      eb.or([
        eb("conversations.kind", "=", "self"),
        eb("contacts.state", "=", "contact"),
        eb.and([
          eb("conversations.kind", "=", "group"),
          eb("groups.state", "in", SHOWN_GROUP_STATES),
        ]),
      ])
    )
    .orderBy("conversations.last_message_at", "desc").execute();
  const out: ConversationView[] = [];
  for (const r of rows) out.push(await conversationView(db, r));
  if (!out.some((c) => c.kind === "self")) out.push(emptySelfConversation());
  return out;
}

/**
 * One conversation (with a contact, a pending request, or Note to Self),
 * or undefined when there is none or its peer is declined or blocked.
 */
export async function conversationById(db: Db, id: string): Promise<ConversationView | undefined> {
  const r = await db.selectFrom("conversations")
    .leftJoin("contacts", "contacts.account_id", "conversations.id")
    .leftJoin("groups", "groups.id", "conversations.id")
    .select([...CONVERSATION_COLUMNS, "contacts.state as state"])
    .where("conversations.id", "=", id).executeTakeFirst();
  if (!r) return undefined;
  if (r.kind === "group") {
    return r.group_state && SHOWN_GROUP_STATES.includes(r.group_state)
      ? await conversationView(db, r)
      : undefined;
  }
  if (r.kind !== "self" && r.state !== "contact" && r.state !== "request") return undefined;
  return await conversationView(db, r);
}

/**
 * A conversation's messages, oldest first: the newest `limit` before
 * `before` (a sent-at time), when given. Declined and blocked peers'
 * conversations are hidden; Note to Self is empty before its first note.
 * Reading does not mark anything read.
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
  ).leftJoin("groups", "groups.id", "conversations.id")
    .select(["conversations.kind as kind", "contacts.state as state", "groups.state as group"])
    .where("conversations.id", "=", conversationId).executeTakeFirst();
  if (!conv) {
    // Note to Self before the first note, and a contact with no messages yet
    // (restored from the config), are empty conversations.
    if (conversationId === "self") return [];
    const contact = await db.selectFrom("contacts").select("state")
      .where("account_id", "=", conversationId).executeTakeFirst();
    if (contact?.state === "contact") return [];
  }
  const shown = conv?.kind === "group"
    ? conv.group !== null && SHOWN_GROUP_STATES.includes(conv.group)
    : conv && (conv.kind === "self" || conv.state === "contact" || conv.state === "request");
  if (!conv || !shown) {
    throw new HearthError("not_found", "No such conversation");
  }
  let q = db.selectFrom("messages").select(MESSAGE_COLUMNS)
    .where("conversation_id", "=", conversationId);
  if (options.before !== undefined) q = q.where("sent_at", "<", options.before);
  const rows = await q.orderBy("sent_at", "desc").orderBy("id", "desc")
    .limit(Math.min(options.limit ?? 50, MAX_PAGE)).execute();
  return await loadMessageViews(db, rows.reverse());
}
