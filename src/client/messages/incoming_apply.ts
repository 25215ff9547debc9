/**
 * The client database's side of the incoming items that change what is
 * already there: edits, deletes for everyone, reactions, disappearing
 * timers and request accepts. Each applies its change and marks the item
 * hash seen in one transaction (the caller's when given one), and tells
 * whether anything changed; an item that does not apply (an unknown or
 * foreign target, an older change) is only marked seen. A delete that arrives before its text leaves a
 * tombstone that the late text cannot replace.
 * @module
 */
import type { Kysely } from "kysely";
import type { ClientDb, DisappearingMode } from "../db/schema.ts";
import { MIN_DISAPPEARING_S } from "./chat_rules.ts";
import { touchConversation, withText } from "./chat_store.ts";
import { inTx } from "../db/transaction.ts";
import { removeAttachmentsOf } from "../attachments/attachment_rows.ts";
import type { ContentBody, ContentProfile } from "./content.ts";
import { applyPeerProfile, contactState, type IncomingItem, markSeen } from "./incoming_store.ts";

type Db = Kysely<ClientDb>;

/** An incoming edit of one of the sender's texts. */
export interface IncomingEdit extends IncomingItem {
  /** The edited message's id. */
  target: string;
  /** The new text. */
  text: string;
}

/** An incoming delete for everyone of one of the sender's messages. */
export interface IncomingDelete extends IncomingItem {
  /** The deleted message's id. */
  target: string;
}

/** An incoming reaction, or the removal of one. */
export interface IncomingReaction extends IncomingItem {
  /** The message reacted to (either direction). */
  target: string;
  /** The emoji (for a removal: the one removed). */
  emoji: string;
  /** Whether the sender removed its reaction. */
  remove: boolean;
}

/** An incoming change of the conversation's disappearing timer. */
export interface IncomingTimer extends IncomingItem {
  /** `off`, `after_send` or `after_read`. */
  mode: DisappearingMode;
  /** The timer, seconds (0 when off). */
  seconds: number;
}

/** An incoming request accept: the sender accepted the owner's message request. */
export interface IncomingAccept extends IncomingItem {
  /** The sender's profile riding along, if any. */
  profile?: ContentProfile;
}

/** An incoming group invitation or promotion (docs/PROTOCOL.md §14). */
export interface IncomingGroupInvite extends IncomingItem {
  /** The invitation's content. */
  invite: Extract<ContentBody, { type: "group-invite" }>;
}

/**
 * Where invitations go: the group service (groups/group_invites.ts), in the
 * item's transaction. Returns what to do once committed (an event), if anything.
 */
export type GroupInviteSink = (
  tx: Db,
  invite: IncomingGroupInvite,
) => Promise<(() => void) | undefined>;

/**
 * Apply a group invitation (a blocked sender's never gets here): marked
 * seen, and handed to the group service in the same transaction; from a
 * stranger it still makes an `invited` group, but no contact. Without a
 * group service it is only marked seen.
 * @returns what to do once committed, if anything
 */
export async function applyGroupInvite(
  db: Db,
  invite: IncomingGroupInvite,
  sink?: GroupInviteSink,
): Promise<(() => void) | undefined> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, invite.hash, invite.now);
    return sink ? await sink(tx, invite) : undefined;
  });
}

/**
 * Apply an edit: the target must be an incoming message of the sender in
 * its conversation, not deleted, and the edit newer than the message's last
 * version (`coalesce(edited_at, sent_at)`). The text is replaced and
 * `edited_at` becomes the edit's sent-at time.
 * @returns whether the message changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyEdit(db: Db, e: IncomingEdit): Promise<boolean> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, e.hash, e.now);
    const row = await senderMessage(tx, e.sender, e.target);
    if (!row || e.sentAt <= (row.edited_at ?? row.sent_at)) return false;
    await tx.updateTable("messages")
      .set({ body_json: withText(row.body_json, e.text), edited_at: e.sentAt })
      .where("id", "=", row.id).execute();
    return true;
  });
}

/**
 * Apply a delete for everyone: the target must be an incoming message of
 * the sender in its conversation, not deleted. Its body is wiped, its
 * reactions removed, and a tombstone stays. A delete of an id this node
 * does not have yet, from a contact or a message request, arrived before
 * its text (another swarm member's order, a retry): a tombstone is stored
 * under that id (sent at the delete's time), so the late text is dropped
 * as a duplicate. That tombstone is not reported as a change.
 * @returns whether an existing message changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyDelete(db: Db, d: IncomingDelete): Promise<boolean> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, d.hash, d.now);
    const row = await senderMessage(tx, d.sender, d.target);
    if (!row) {
      await earlyTombstone(tx, d);
      return false;
    }
    await tx.updateTable("messages").set({ body_json: "{}", deleted: 1 })
      .where("id", "=", row.id).execute();
    await tx.deleteFrom("reactions").where("message_id", "=", row.id).execute();
    await removeAttachmentsOf(tx, [row.id]);
    return true;
  });
}

/**
 * Apply a reaction: the target must be a message of the conversation with
 * the sender (either direction), not deleted. One reaction per sender per
 * message, and the newer wins by sent-at time: a reaction replaces the
 * sender's existing one only when newer; a removal deletes it when the
 * existing one is not newer than the removal.
 * @returns whether the message's reactions changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyReaction(db: Db, r: IncomingReaction): Promise<boolean> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, r.hash, r.now);
    const target = await tx.selectFrom("messages").select("id").where("id", "=", r.target)
      .where("conversation_id", "=", r.sender).where("deleted", "=", 0).executeTakeFirst();
    if (!target) return false;
    const mine = tx.selectFrom("reactions").select(["emoji", "reacted_at"])
      .where("message_id", "=", r.target).where("sender", "=", r.sender);
    const existing = await mine.executeTakeFirst();
    if (r.remove) {
      if (!existing || existing.reacted_at > r.sentAt) return false;
      await tx.deleteFrom("reactions").where("message_id", "=", r.target)
        .where("sender", "=", r.sender).execute();
      return true;
    }
    if (existing && existing.reacted_at >= r.sentAt) return false;
    await tx.insertInto("reactions").values({
      message_id: r.target,
      sender: r.sender,
      emoji: r.emoji,
      reacted_at: r.sentAt,
    }).onConflict((oc) =>
      oc.columns(["message_id", "sender"]).doUpdateSet({ emoji: r.emoji, reacted_at: r.sentAt })
    ).execute();
    return true;
  });
}

/**
 * Apply a disappearing timer change from a contact or a message request
 * (from anyone else it is only marked seen): the conversation's timer is
 * set, and the conversation created when missing, but only when the
 * change is newer (its sent-at time) than the timer's last setting
 * (`disappearing_at`, by either side), so two changes crossing each other
 * end the same on both sides. A timer under {@link MIN_DISAPPEARING_S} is
 * raised to it. The timer applies to messages sent from then on.
 * @returns whether the conversation's timer changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyTimer(db: Db, t: IncomingTimer): Promise<boolean> {
  const mode = t.mode;
  const seconds = mode === "off" ? 0 : Math.max(MIN_DISAPPEARING_S, t.seconds);
  return await inTx(db, async (tx) => {
    await markSeen(tx, t.hash, t.now);
    const state = await contactState(tx, t.sender);
    if (state !== "contact" && state !== "request") return false;
    const before = await tx.selectFrom("conversations")
      .select(["disappearing_mode", "disappearing_seconds", "disappearing_at"])
      .where("id", "=", t.sender).executeTakeFirst();
    if (before && t.sentAt <= before.disappearing_at) return false;
    if (!before && mode === "off") return false;
    const same = before?.disappearing_mode === mode && before.disappearing_seconds === seconds;
    const set = {
      disappearing_mode: mode,
      disappearing_seconds: seconds,
      disappearing_at: t.sentAt,
    };
    await tx.insertInto("conversations").values({
      id: t.sender,
      kind: "1:1",
      last_message_at: null,
      ...set,
    }).onConflict((oc) => oc.column("id").doUpdateSet(set)).execute();
    return !same;
  });
}

/**
 * Apply a request accept: it never changes the sender's state (a stranger
 * cannot make itself a contact); only a riding profile updates a known
 * sender's name and avatar.
 * @returns whether the sender's name or avatar changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyAccept(db: Db, a: IncomingAccept): Promise<boolean> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, a.hash, a.now);
    return a.profile ? await applyPeerProfile(tx, a.sender, a.profile) : false;
  });
}

/**
 * Store a tombstone for a delete whose target this node has never seen,
 * when the sender is a contact or a request (run in the caller's transaction).
 */
async function earlyTombstone(db: Db, d: IncomingDelete): Promise<void> {
  const state = await contactState(db, d.sender);
  if (state !== "contact" && state !== "request") return;
  const known = await db.selectFrom("messages").select("id").where("id", "=", d.target)
    .executeTakeFirst();
  if (known) return;
  await db.insertInto("messages").values({
    id: d.target,
    conversation_id: d.sender,
    direction: "in",
    sender: d.sender,
    sent_at: d.sentAt,
    received_at: d.now,
    body_json: "{}",
    status: "delivered",
    reply_to: null,
    edited_at: null,
    deleted: 1,
    expires_at: null,
  }).execute();
  // Unread, as the text would have been had it come first and then been deleted.
  await touchConversation(db, d.sender, d.sentAt, 1);
}

/** The sender's own live incoming message `id` in its conversation, or undefined. */
async function senderMessage(db: Db, sender: string, id: string) {
  return await db.selectFrom("messages").select(["id", "body_json", "sent_at", "edited_at"])
    .where("id", "=", id).where("conversation_id", "=", sender).where("sender", "=", sender)
    .where("direction", "=", "in").where("deleted", "=", 0).executeTakeFirst();
}
