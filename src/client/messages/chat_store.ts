/**
 * The client database's side of the owner's own actions: queueing an
 * outgoing message (message row and outbox row in one transaction; every
 * function here joins the caller's transaction when given one, see
 * {@link inTx}, so the session's new state commits with it), control
 * items, the owner's reactions, edits and deletes, conversation settings,
 * contacts and message requests. Removing messages (deleted for the owner,
 * or expired) is in message_removal.ts, reading a conversation in
 * read_marks.ts; incoming items are stored by incoming_store.ts; the views
 * are in chat_views.ts.
 * @module
 */
import type { Kysely } from "kysely";
import { inTx } from "../db/transaction.ts";
import { removeAttachmentsOf } from "../attachments/attachment_rows.ts";
import { HearthError } from "../../shared/errors.ts";
import { sniffAvatarType } from "../account/mod.ts";
import type {
  ClientDb,
  ContactState,
  ConversationKind,
  DisappearingMode,
  MessageStatus,
} from "../db/schema.ts";
import { messageById, type MessageView } from "./chat_views.ts";
import { type ContentProfile, MAX_AVATAR_BYTES } from "./content.ts";
import type { Encryption } from "../sessions/session_manager.ts";
import { looksLikeGroupId } from "../groups/group_id.ts";

export type { ContactView, ConversationView, MessageView } from "./chat_views.ts";
export type { Encryption } from "../sessions/session_manager.ts";

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
  /** The message it replies to (same conversation), or null. */
  replyTo?: string | null;
  /** When the owner's copy disappears, or null. */
  expiresAt?: number | null;
  /** The outbox item's swarm TTL, ms, or null for the inbox default. */
  ttlMs?: number | null;
  /** The owner's profile version whose avatar the envelope carries (sets `profile_sent`). */
  profileSent?: number;
  /** How the envelope was encrypted (default `sealed`; Note to Self has none). */
  encryption?: Encryption;
  /** The conversation's timer the text carries, kept to re-send it after a session reset. */
  timer?: { mode: "after_send" | "after_read"; seconds: number };
}

/** A control item ready to queue: no message row of its own. */
export interface ControlItem {
  /** The item's content id (also its outbox id). */
  id: string;
  /** The recipient's Account ID. */
  recipient: string;
  /** The sealed envelope. */
  envelope: Uint8Array;
  /** The swarm TTL, ms, or null (default) for the inbox default. */
  ttlMs?: number | null;
  /** The owner's profile version whose avatar the envelope carries (sets `profile_sent`). */
  profileSent?: number;
}

/** Options of the owner's actions that may queue an item for the peer. */
export interface ActionOptions {
  /** The item telling the peer, queued in the same transaction (absent for Note to Self). */
  queue?: ControlItem;
  /** Current time, ms. */
  now: number;
}

/** A conversation the owner can see: Note to Self, or one with a contact or a request. */
export interface ConversationAccess {
  /** `1:1`, `self` or `group`. */
  kind: ConversationKind;
  /** The peer's state (`contact` or `request`), or null for Note to Self and a group. */
  state: ContactState | null;
  /** Whether a conversations row exists yet. */
  exists: boolean;
  /** The disappearing timer's mode (`off` without a row). */
  mode: DisappearingMode;
  /** The timer, seconds (0 without a row). */
  seconds: number;
  /** Whether notifications are muted. */
  muted: boolean;
}

/**
 * The profile to send to a peer with a text or a request-accept: the
 * display name, and the avatar (zero bytes when removed) while the peer has
 * not had the current profile version.
 * @returns the profile (none without a display name) and the version to record when sent
 */
export async function profileFor(
  db: Db,
  peer: string,
): Promise<{ profile?: ContentProfile; version?: number }> {
  const account = await db.selectFrom("account")
    .select(["display_name", "avatar", "profile_version"]).where("id", "=", 1)
    .executeTakeFirst();
  if (!account || account.display_name === "") return {};
  const contact = await db.selectFrom("contacts").select("profile_sent")
    .where("account_id", "=", peer).executeTakeFirst();
  if ((contact?.profile_sent ?? 0) >= account.profile_version) {
    return { profile: { displayName: account.display_name } };
  }
  const bytes = account.avatar ? new Uint8Array(account.avatar) : new Uint8Array(0);
  // An avatar that cannot ride along (a restore may bring one) is sent as removed.
  const fits = bytes.length <= MAX_AVATAR_BYTES && sniffAvatarType(bytes) !== undefined;
  return {
    profile: { displayName: account.display_name, avatar: fits ? bytes : new Uint8Array(0) },
    version: account.profile_version,
  };
}

/**
 * Write an outgoing message: the message row (with how its envelope was
 * encrypted, and its timer in the body so it can be re-sent), its
 * conversation, the peer as a contact (writing to someone accepts them),
 * the profile version sent, and the outbox row, in one transaction (the
 * caller's, when `db` is one: the session's new state joins it). Note to
 * Self has no outbox row and is `sent` at once.
 * @returns the stored message
 * @throws {HearthError} `conflict` when the peer is blocked (nothing is written)
 */
export async function queueOutgoing(db: Db, m: QueuedMessage, now: number): Promise<MessageView> {
  const self = m.conversationId === "self";
  const status: MessageStatus = self ? "sent" : "queued";
  await inTx(db, async (tx) => {
    if (!self) {
      const peer = await tx.selectFrom("contacts").select("state")
        .where("account_id", "=", m.conversationId).executeTakeFirst();
      if (peer?.state === "blocked") {
        throw new HearthError("conflict", "Unblock this contact first");
      }
    }
    await tx.insertInto("messages").values({
      id: m.id,
      conversation_id: m.conversationId,
      direction: "out",
      sender: m.sender,
      sent_at: m.sentAt,
      received_at: null,
      body_json: JSON.stringify({ text: m.text, ...(m.timer ? { timer: m.timer } : {}) }),
      status,
      reply_to: m.replyTo ?? null,
      edited_at: null,
      expires_at: m.expiresAt ?? null,
      encryption: m.encryption ?? "sealed",
    }).execute();
    await touchConversation(tx, m.conversationId, m.sentAt, 0);
    if (self) return;
    await tx.insertInto("contacts").values({
      account_id: m.conversationId,
      display_name: null,
      state: "contact",
      added_at: now,
    }).onConflict((oc) => oc.column("account_id").doUpdateSet({ state: "contact" })).execute();
    await insertOutbox(tx, {
      id: m.id,
      recipient: m.conversationId,
      envelope: m.envelope!,
      ttlMs: m.ttlMs ?? null,
      ...(m.profileSent !== undefined ? { profileSent: m.profileSent } : {}),
    }, { now, messageId: m.id });
  });
  return (await messageById(db, m.id))!;
}

/** Queue a control item (a receipt, a request-accept, typing, …) with no message row. */
export async function queueControl(db: Db, item: ControlItem, now: number): Promise<void> {
  await inTx(db, (tx) => insertOutbox(tx, item, { now, messageId: null }));
}

/** Where an outbox row belongs: the message it carries, or the one a control item acts on. */
export interface OutboxLinks {
  /** Current time, ms. */
  now: number;
  /** The message the item carries, or null for a control item. */
  messageId: string | null;
  /** The message an edit, delete or reaction acts on (the item goes when it goes). */
  targetId?: string;
}

/**
 * Insert an outbox row (run it inside the caller's transaction).
 * @param db the caller's transaction
 * @param item the sealed item
 * @param options when, and the message it carries or acts on
 */
export async function insertOutbox(
  db: Db,
  item: ControlItem,
  options: OutboxLinks,
): Promise<void> {
  // The worker sends one recipient's items in (created_at, id) order: an item
  // queued in the same millisecond as the one before it must still come after
  // it (an edit after its message), so created_at is kept strictly increasing.
  const last = await db.selectFrom("outbox").select("created_at")
    .where("recipient", "=", item.recipient).orderBy("created_at", "desc").limit(1)
    .executeTakeFirst();
  const createdAt = Math.max(options.now, (last?.created_at ?? -Infinity) + 1);
  await db.insertInto("outbox").values({
    id: item.id,
    message_id: options.messageId,
    recipient: item.recipient,
    envelope: item.envelope,
    created_at: createdAt,
    next_attempt_at: options.now,
    last_error: null,
    ttl_ms: item.ttlMs ?? null,
    target_id: options.targetId ?? null,
  }).execute();
  if (item.profileSent !== undefined) {
    await db.updateTable("contacts")
      .set((eb) => ({ profile_sent: eb.fn("max", ["profile_sent", eb.val(item.profileSent!)]) }))
      .where("account_id", "=", item.recipient).execute();
  }
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
 * `contact` also lifts a block); `blocked` applies to anyone known, and
 * drops everything still queued to the peer (see {@link setBlockedState}).
 * @returns the ids of the owner's messages that became `failed` (blocking only)
 * @throws {HearthError} `not_found` when the peer is unknown or the change does not apply
 */
export async function setContactState(
  db: Db,
  accountId: string,
  state: "contact" | "declined" | "blocked",
): Promise<string[]> {
  const from: ContactState[] = state === "blocked"
    ? ["request", "contact", "declined"]
    : state === "contact"
    ? ["request", "declined", "blocked"]
    : ["request"];
  return await inTx(db, async (tx) => {
    const res = await tx.updateTable("contacts").set({ state })
      .where("account_id", "=", accountId).where("state", "in", from).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      throw new HearthError("not_found", "No such message request");
    }
    return state === "blocked" ? await dropQueued(tx, accountId) : [];
  });
}

/**
 * Block a known peer (idempotent), or unblock a blocked one (it becomes a
 * contact). Blocking deletes every outbox row to the peer in the same
 * transaction, so nothing more leaves for it; the owner's messages that
 * were still queued become `failed`.
 * @returns the ids of the owner's messages that became `failed`
 * @throws {HearthError} `not_found` when the peer is unknown, or not blocked to unblock
 */
export async function setBlockedState(
  db: Db,
  accountId: string,
  blocked: boolean,
): Promise<string[]> {
  return await inTx(db, async (tx) => {
    const res = await tx.updateTable("contacts").set({ state: blocked ? "blocked" : "contact" })
      .where("account_id", "=", accountId)
      .where("state", "in", blocked ? ["request", "contact", "declined", "blocked"] : ["blocked"])
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      throw new HearthError("not_found", blocked ? "No such contact" : "No such blocked contact");
    }
    return blocked ? await dropQueued(tx, accountId) : [];
  });
}

/** Delete every outbox row to a peer; its still-queued messages become `failed`. */
async function dropQueued(db: Db, peer: string): Promise<string[]> {
  await db.deleteFrom("outbox").where("recipient", "=", peer).execute();
  const failed = await db.updateTable("messages").set({ status: "failed" })
    .where("conversation_id", "=", peer).where("direction", "=", "out")
    .where("status", "=", "queued").returning("id").execute();
  return failed.map((r) => r.id);
}

/**
 * A conversation as far as the owner may see and change it: Note to Self
 * (always, even before its first note), a peer that is a contact or a
 * pending request (with or without a conversations row yet), or a group
 * with a conversation (joined once: its history stays after a leave).
 * @returns undefined for an unknown, declined or blocked peer, or a group without a
 *   conversation
 */
export async function conversationAccess(
  db: Db,
  id: string,
): Promise<ConversationAccess | undefined> {
  const row = await db.selectFrom("conversations")
    .select(["kind", "disappearing_mode", "disappearing_seconds", "muted"])
    .where("id", "=", id).executeTakeFirst();
  let state: ContactState | null = null;
  if (looksLikeGroupId(id)) {
    if (row?.kind !== "group") return undefined;
  } else if (id !== "self") {
    const contact = await db.selectFrom("contacts").select("state")
      .where("account_id", "=", id).executeTakeFirst();
    if (!contact || (contact.state !== "contact" && contact.state !== "request")) return undefined;
    state = contact.state;
  }
  return {
    kind: row?.kind ?? (id === "self" ? "self" : "1:1"),
    state,
    exists: row !== undefined,
    mode: row?.disappearing_mode ?? "off",
    seconds: row?.disappearing_mode === "off" ? 0 : row?.disappearing_seconds ?? 0,
    muted: row?.muted === 1,
  };
}

/** A conversation's disappearing timer (`off` when it has no row yet). */
export async function conversationTimer(
  db: Db,
  id: string,
): Promise<{ mode: DisappearingMode; seconds: number }> {
  const row = await db.selectFrom("conversations")
    .select(["disappearing_mode", "disappearing_seconds"]).where("id", "=", id)
    .executeTakeFirst();
  if (!row || row.disappearing_mode === "off") return { mode: "off", seconds: 0 };
  return { mode: row.disappearing_mode, seconds: row.disappearing_seconds };
}

/**
 * Change a conversation's settings (creating its row when missing), and
 * queue the item telling the peer, in one transaction.
 * @param options.disappearingAt when the timer was set (`disappearing_at`), when it changed
 */
export async function setConversationSettings(
  db: Db,
  id: string,
  options: ActionOptions & {
    disappearing?: { mode: DisappearingMode; seconds: number };
    disappearingAt?: number;
    muted?: boolean;
  },
): Promise<void> {
  const set: {
    disappearing_mode?: DisappearingMode;
    disappearing_seconds?: number;
    disappearing_at?: number;
    muted?: number;
  } = {};
  if (options.disappearing) {
    set.disappearing_mode = options.disappearing.mode;
    set.disappearing_seconds = options.disappearing.mode === "off"
      ? 0
      : options.disappearing.seconds;
  }
  if (options.disappearingAt !== undefined) set.disappearing_at = options.disappearingAt;
  if (options.muted !== undefined) set.muted = options.muted ? 1 : 0;
  await inTx(db, async (tx) => {
    await tx.insertInto("conversations").values({
      id,
      kind: id === "self" ? "self" : looksLikeGroupId(id) ? "group" : "1:1",
      last_message_at: null,
    }).onConflict((oc) => oc.column("id").doNothing()).execute();
    if (Object.keys(set).length > 0) {
      await tx.updateTable("conversations").set(set).where("id", "=", id).execute();
    }
    if (options.queue) await insertOutbox(tx, options.queue, { now: options.now, messageId: null });
  });
}

/** The owner's reaction to a message, or null. */
export async function ownReaction(
  db: Db,
  messageId: string,
  owner: string,
): Promise<string | null> {
  const row = await db.selectFrom("reactions").select("emoji")
    .where("message_id", "=", messageId).where("sender", "=", owner).executeTakeFirst();
  return row?.emoji ?? null;
}

/**
 * Set (replacing) or remove (`emoji` null) the owner's reaction to a
 * message, and queue the item telling the peer, in one transaction.
 */
export async function setOwnReaction(
  db: Db,
  reaction: { messageId: string; sender: string; emoji: string | null; at: number },
  options: ActionOptions,
): Promise<void> {
  await inTx(db, async (tx) => {
    if (reaction.emoji === null) {
      await tx.deleteFrom("reactions").where("message_id", "=", reaction.messageId)
        .where("sender", "=", reaction.sender).execute();
    } else {
      const change = { emoji: reaction.emoji, reacted_at: reaction.at };
      await tx.insertInto("reactions").values({
        message_id: reaction.messageId,
        sender: reaction.sender,
        ...change,
      }).onConflict((oc) => oc.columns(["message_id", "sender"]).doUpdateSet(change)).execute();
    }
    if (options.queue) {
      await insertOutbox(tx, options.queue, {
        now: options.now,
        messageId: null,
        targetId: reaction.messageId,
      });
    }
  });
}

/**
 * Replace the text of one of the owner's own messages (`edited_at` = `at`),
 * and queue the item telling the peer, in one transaction.
 * @returns false when there is no such undeleted own message
 */
export async function editOwnMessage(
  db: Db,
  edit: { messageId: string; text: string; at: number },
  options: ActionOptions,
): Promise<boolean> {
  return await inTx(db, async (tx) => {
    const row = await tx.selectFrom("messages").select("body_json")
      .where("id", "=", edit.messageId).where("direction", "=", "out").where("deleted", "=", 0)
      .executeTakeFirst();
    if (!row) return false;
    await tx.updateTable("messages")
      .set({ body_json: withText(row.body_json, edit.text), edited_at: edit.at })
      .where("id", "=", edit.messageId).execute();
    if (options.queue) {
      await insertOutbox(tx, options.queue, {
        now: options.now,
        messageId: null,
        targetId: edit.messageId,
      });
    }
    return true;
  });
}

/**
 * Delete one of the owner's own messages for everyone: its text is wiped,
 * a tombstone stays, its reactions go, and its own outbox row (when it was
 * not sent yet) goes too, so the text never leaves; the item telling the
 * peer is queued in the same transaction.
 * @returns false when there is no such undeleted own message
 */
export async function deleteOwnForEveryone(
  db: Db,
  messageId: string,
  options: ActionOptions,
): Promise<boolean> {
  return await inTx(db, async (tx) => {
    const res = await tx.updateTable("messages").set({ body_json: "{}", deleted: 1 })
      .where("id", "=", messageId).where("direction", "=", "out").where("deleted", "=", 0)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await tx.deleteFrom("reactions").where("message_id", "=", messageId).execute();
    await removeAttachmentsOf(tx, [messageId]);
    await tx.deleteFrom("outbox").where("message_id", "=", messageId).execute();
    if (options.queue) {
      await insertOutbox(tx, options.queue, {
        now: options.now,
        messageId: null,
        targetId: messageId,
      });
    }
    return true;
  });
}

/**
 * A message body with its text replaced (its other fields, such as the
 * timer, kept).
 * @param bodyJson the stored body
 * @param text the new text
 * @returns the new body JSON
 */
export function withText(bodyJson: string, text: string): string {
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(bodyJson);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed;
  } catch { /* an unreadable body: replaced by the text alone */ }
  return JSON.stringify({ ...body, text });
}
