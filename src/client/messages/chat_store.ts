/**
 * The client database's side of the owner's own actions: queueing an
 * outgoing message (message row and outbox row in one transaction), control
 * items, the owner's reactions, edits and deletes, reading a conversation,
 * conversation settings, contacts and message requests, and the removal of
 * messages (deleted for the owner, or expired). Incoming items are stored by
 * incoming_store.ts; the views are in chat_views.ts.
 * @module
 */
import { type Kysely, sql } from "kysely";
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

export type { ContactView, ConversationView, MessageView } from "./chat_views.ts";

type Db = Kysely<ClientDb>;

/** Ids per statement when a list of ids is bound (well under SQLite's variable limit). */
const ID_CHUNK = 500;

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

/** Messages removed from one conversation. */
export interface RemovedMessages {
  /** The peer's Account ID, or "self". */
  conversationId: string;
  /** The removed message ids. */
  ids: string[];
}

/** What reading a conversation changed. */
export interface ReadResult {
  /** Incoming messages that went from `delivered` to `read`. */
  read: string[];
  /** Incoming messages whose after-read timer started. */
  timerStarted: string[];
}

/** A conversation the owner can see: Note to Self, or one with a contact or a request. */
export interface ConversationAccess {
  /** `1:1` or `self`. */
  kind: ConversationKind;
  /** The peer's state (`contact` or `request`), or null for Note to Self. */
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
 * Write an outgoing message: the message row, its conversation, the peer as
 * a contact (writing to someone accepts them), the profile version sent,
 * and the outbox row, in one transaction. Note to Self has no outbox row
 * and is `sent` at once.
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
      reply_to: m.replyTo ?? null,
      edited_at: null,
      expires_at: m.expiresAt ?? null,
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
  await db.transaction().execute((tx) => insertOutbox(tx, item, { now, messageId: null }));
}

async function insertOutbox(
  db: Db,
  item: ControlItem,
  options: { now: number; messageId: string | null },
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

/**
 * Block a known peer (idempotent), or unblock a blocked one (it becomes a contact).
 * @throws {HearthError} `not_found` when the peer is unknown, or not blocked to unblock
 */
export async function setBlockedState(db: Db, accountId: string, blocked: boolean): Promise<void> {
  const res = await db.updateTable("contacts").set({ state: blocked ? "blocked" : "contact" })
    .where("account_id", "=", accountId)
    .where("state", "in", blocked ? ["request", "contact", "declined", "blocked"] : ["blocked"])
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) {
    throw new HearthError("not_found", blocked ? "No such contact" : "No such blocked contact");
  }
}

/**
 * A conversation as far as the owner may see and change it: Note to Self
 * (always, even before its first note), or a peer that is a contact or a
 * pending request (with or without a conversations row yet).
 * @returns undefined for an unknown, declined or blocked peer
 */
export async function conversationAccess(
  db: Db,
  id: string,
): Promise<ConversationAccess | undefined> {
  const row = await db.selectFrom("conversations")
    .select(["disappearing_mode", "disappearing_seconds", "muted"])
    .where("id", "=", id).executeTakeFirst();
  let state: ContactState | null = null;
  if (id !== "self") {
    const contact = await db.selectFrom("contacts").select("state")
      .where("account_id", "=", id).executeTakeFirst();
    if (!contact || (contact.state !== "contact" && contact.state !== "request")) return undefined;
    state = contact.state;
  }
  return {
    kind: id === "self" ? "self" : "1:1",
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
 */
export async function setConversationSettings(
  db: Db,
  id: string,
  options: ActionOptions & {
    disappearing?: { mode: DisappearingMode; seconds: number };
    muted?: boolean;
  },
): Promise<void> {
  const set: {
    disappearing_mode?: DisappearingMode;
    disappearing_seconds?: number;
    muted?: number;
  } = {};
  if (options.disappearing) {
    set.disappearing_mode = options.disappearing.mode;
    set.disappearing_seconds = options.disappearing.mode === "off"
      ? 0
      : options.disappearing.seconds;
  }
  if (options.muted !== undefined) set.muted = options.muted ? 1 : 0;
  await db.transaction().execute(async (tx) => {
    await tx.insertInto("conversations").values({
      id,
      kind: id === "self" ? "self" : "1:1",
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
  await db.transaction().execute(async (tx) => {
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
    if (options.queue) await insertOutbox(tx, options.queue, { now: options.now, messageId: null });
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
  return await db.transaction().execute(async (tx) => {
    const res = await tx.updateTable("messages")
      .set({ body_json: JSON.stringify({ text: edit.text }), edited_at: edit.at })
      .where("id", "=", edit.messageId).where("direction", "=", "out").where("deleted", "=", 0)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    if (options.queue) await insertOutbox(tx, options.queue, { now: options.now, messageId: null });
    return true;
  });
}

/**
 * Delete one of the owner's own messages for everyone: its text is wiped,
 * a tombstone stays, its reactions go; the item telling the peer is queued
 * in the same transaction.
 * @returns false when there is no such undeleted own message
 */
export async function deleteOwnForEveryone(
  db: Db,
  messageId: string,
  options: ActionOptions,
): Promise<boolean> {
  return await db.transaction().execute(async (tx) => {
    const res = await tx.updateTable("messages").set({ body_json: "{}", deleted: 1 })
      .where("id", "=", messageId).where("direction", "=", "out").where("deleted", "=", 0)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await tx.deleteFrom("reactions").where("message_id", "=", messageId).execute();
    if (options.queue) await insertOutbox(tx, options.queue, { now: options.now, messageId: null });
    return true;
  });
}

/**
 * Remove messages from this node: their rows, reactions and outbox rows,
 * in one transaction; an unread incoming one leaves its conversation's
 * unread count.
 * @returns what went, per conversation
 */
export async function removeMessages(db: Db, ids: readonly string[]): Promise<RemovedMessages[]> {
  if (ids.length === 0) return [];
  const byConversation = new Map<string, string[]>();
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const chunk = ids.slice(i, i + ID_CHUNK);
      const rows = await tx.selectFrom("messages")
        .select(["id", "conversation_id", "direction", "status"])
        .where("id", "in", chunk).execute();
      if (rows.length === 0) continue;
      const found = rows.map((r) => r.id);
      await tx.deleteFrom("reactions").where("message_id", "in", found).execute();
      await tx.deleteFrom("outbox").where("message_id", "in", found).execute();
      await tx.deleteFrom("messages").where("id", "in", found).execute();
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
 * Remove every message whose `expires_at` has passed (as {@link removeMessages}).
 * @returns what went, per conversation
 */
export async function removeExpired(db: Db, now: number): Promise<RemovedMessages[]> {
  const rows = await db.selectFrom("messages").select("id")
    .where("expires_at", "is not", null).where("expires_at", "<=", now).execute();
  return await removeMessages(db, rows.map((r) => r.id));
}

/** The earliest `expires_at` of any message, or undefined when none has a timer. */
export async function nextExpiry(db: Db): Promise<number | undefined> {
  const row = await db.selectFrom("messages").select("expires_at")
    .where("expires_at", "is not", null).orderBy("expires_at").limit(1).executeTakeFirst();
  return row?.expires_at ?? undefined;
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
  return await db.transaction().execute(async (tx) => {
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

/**
 * Forget the hashes of items handled before `olderThan` (the swarm has
 * dropped those items by then, so they cannot come back).
 * @returns how many went
 */
export async function pruneSeenHashes(db: Db, olderThan: number): Promise<number> {
  const res = await db.deleteFrom("seen_hashes").where("seen_at", "<", olderThan)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
