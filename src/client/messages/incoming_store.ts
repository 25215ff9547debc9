/**
 * The client database's side of receiving 1:1: item hashes already handled
 * (forgotten once the swarm has dropped their items), storing an incoming
 * text (de-duplicated by item hash and message id, with its reply and its
 * disappearing timer), receipts and the sender's profile.
 * Each applies its change and marks the item hash seen in one transaction
 * (the caller's when given one: a session's new state joins it).
 * Edits, deletes, reactions, timers and request accepts are in
 * incoming_apply.ts.
 * @module
 */
import type { Kysely } from "kysely";
import { bytesEqual, fromHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import { parseDisplayName, sniffAvatarType } from "../account/profile.ts";
import type { ClientDb, ContactState } from "../db/schema.ts";
import { type Encryption, touchConversation } from "./chat_store.ts";
import { inTx } from "../db/transaction.ts";
import type { ContentProfile } from "./content.ts";
import type { AttachmentRef } from "../attachments/attachment_ref.ts";
import { recordIncoming } from "../attachments/attachment_rows.ts";

type Db = Kysely<ClientDb>;

/** What every incoming item has, once its envelope opened. */
export interface IncomingItem {
  /** The item hash (hex), marked seen with the item's effect. */
  hash: string;
  /** The sender's Account ID. */
  sender: string;
  /** The signed sent-at time, ms (the sender's clock). */
  sentAt: number;
  /** When it is handled, ms (this node's clock). */
  now: number;
}

/** An incoming text, after the envelope opened. */
export interface IncomingText extends IncomingItem {
  /** The content id. */
  id: string;
  /** The text. */
  text: string;
  /** The id of the message it replies to, if any. */
  replyTo?: string;
  /** The disappearing timer it carries, seconds, if any. */
  expiresIn?: number;
  /** When the timer starts (absent: after_send). */
  mode?: "after_send" | "after_read";
  /** The sender's profile riding along, if any. */
  profile?: ContentProfile;
  /** How it came: in a session's message, or a sealed envelope alone (default). */
  encryption?: Encryption;
  /** Its files' manifests (recorded in state `remote`), if any. */
  attachments?: AttachmentRef[];
  /** Whether its one audio file is a voice clip. */
  voice?: boolean;
}

/**
 * What {@link storeIncoming} did: `stored`; `duplicate` (the message id was
 * already stored); `expired` (its after_send timer had already run out, so
 * it was dropped).
 */
export type StoreOutcome = "stored" | "duplicate" | "expired";

/** What {@link storeIncoming} changed. */
export interface StoredText {
  /** Whether the text was stored, and why not. */
  outcome: StoreOutcome;
  /** Whether a peer known before this text changed its name or avatar. */
  profileChanged: boolean;
}

/** An incoming receipt. */
export interface IncomingReceipt extends IncomingItem {
  /** `delivered` or `read`. */
  kind: "delivered" | "read";
  /** The ids of the owner's messages it names. */
  ids: string[];
}

/** An incoming profile update. */
export interface IncomingProfile extends IncomingItem {
  /** The sender's profile. */
  profile: ContentProfile;
}

/**
 * Whether an item hash (hex) was already handled.
 * @throws {HearthError} `bad_request` when the hash is not 32 bytes of hex
 */
export async function isSeen(db: Db, hash: string): Promise<boolean> {
  const row = await db.selectFrom("seen_hashes").select("seen_at")
    // A blob binds as a Uint8Array; the column type reads back as ArrayBuffer.
    .where("hash", "=", hexBytes(hash) as unknown as ArrayBuffer).executeTakeFirst();
  return row !== undefined;
}

/**
 * Remember an item hash as handled (idempotent).
 * @throws {HearthError} `bad_request` when the hash is not 32 bytes of hex
 */
export async function markSeen(db: Db, hash: string, now: number): Promise<void> {
  await db.insertInto("seen_hashes").values({ hash: hexBytes(hash), seen_at: now })
    .onConflict((oc) => oc.column("hash").doNothing()).execute();
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

/** A peer's state, or undefined when unknown. */
export async function contactState(db: Db, accountId: string): Promise<ContactState | undefined> {
  const row = await db.selectFrom("contacts").select("state")
    .where("account_id", "=", accountId).executeTakeFirst();
  return row?.state;
}

/**
 * When an incoming text disappears: `after_send` counts from its sent-at
 * time, but never from later than its arrival (a sender's clock running
 * ahead does not stretch the timer).
 * @returns the expiry, ms, or undefined when it has none (no timer, or after_read)
 */
export function incomingExpiry(m: IncomingText): number | undefined {
  if (m.expiresIn === undefined || m.mode === "after_read") return undefined;
  return Math.min(m.sentAt, m.now) + m.expiresIn * 1000;
}

/**
 * Store an incoming text and mark its item hash seen, in one transaction
 * (the caller's, when `db` is one).
 * An unknown sender becomes a message request; a declined one becomes a
 * request again. A riding profile updates the sender's name and avatar
 * (see {@link applyPeerProfile}). An after_send text whose timer already
 * ran out is dropped; an after_read one keeps its timer until read.
 * @returns what happened, and whether a known peer's profile changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function storeIncoming(db: Db, m: IncomingText): Promise<StoredText> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, m.hash, m.now);
    const dup = await tx.selectFrom("messages").select("id").where("id", "=", m.id)
      .executeTakeFirst();
    if (dup) return { outcome: "duplicate", profileChanged: false };
    const expiresAt = incomingExpiry(m);
    if (expiresAt !== undefined && expiresAt <= m.now) {
      return { outcome: "expired", profileChanged: false };
    }
    const known = await contactState(tx, m.sender);
    if (known === undefined) {
      await tx.insertInto("contacts").values({
        account_id: m.sender,
        display_name: null,
        state: "request",
        added_at: m.now,
      }).execute();
    } else if (known === "declined") {
      await tx.updateTable("contacts").set({ state: "request" })
        .where("account_id", "=", m.sender).execute();
    }
    const changed = m.profile ? await applyPeerProfile(tx, m.sender, m.profile) : false;
    await tx.insertInto("messages").values({
      id: m.id,
      conversation_id: m.sender,
      direction: "in",
      sender: m.sender,
      sent_at: m.sentAt,
      received_at: m.now,
      body_json: JSON.stringify({ text: m.text }),
      status: "delivered",
      reply_to: m.replyTo ?? null,
      edited_at: null,
      expires_at: expiresAt ?? null,
      expire_after_read: m.mode === "after_read" ? m.expiresIn ?? null : null,
      encryption: m.encryption ?? "sealed",
    }).execute();
    if (m.attachments) {
      await recordIncoming(tx, m.id, m.attachments, { now: m.now, voice: m.voice === true });
    }
    await touchConversation(tx, m.sender, m.sentAt, 1);
    return { outcome: "stored", profileChanged: known !== undefined && changed };
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
 * Mark outgoing messages to `peer` as read (from queued, sent or delivered;
 * a failed message stays failed).
 * @returns the ids that changed
 */
export async function markRead(db: Db, peer: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.updateTable("messages").set({ status: "read" })
    .where("id", "in", ids).where("conversation_id", "=", peer)
    .where("direction", "=", "out").where("status", "in", ["queued", "sent", "delivered"])
    .returning("id").execute();
  return rows.map((r) => r.id);
}

/**
 * Apply a receipt from its sender and mark its item hash seen, in one
 * transaction. Whether a `read` receipt applies at all (the owner's
 * `readReceipts` setting) is the caller's decision.
 * @returns the ids of the owner's messages whose status changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyReceipt(db: Db, r: IncomingReceipt): Promise<string[]> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, r.hash, r.now);
    return r.kind === "read"
      ? await markRead(tx, r.sender, r.ids)
      : await markDelivered(tx, r.sender, r.ids);
  });
}

/**
 * Apply a profile update from its sender and mark its item hash seen, in
 * one transaction (see {@link applyPeerProfile}).
 * @returns whether the sender's name or avatar changed
 * @throws {HearthError} `bad_request` when the item hash is not 32 bytes of hex
 */
export async function applyProfile(db: Db, p: IncomingProfile): Promise<boolean> {
  return await inTx(db, async (tx) => {
    await markSeen(tx, p.hash, p.now);
    return await applyPeerProfile(tx, p.sender, p.profile);
  });
}

/**
 * Update a known peer's name and avatar from the profile it sent (an
 * unknown peer is not added). A name that the owner API would refuse (a
 * control or text-direction character) is ignored. An avatar of zero bytes
 * clears it; other bytes are stored with their sniffed type, or ignored
 * when they are not PNG, JPEG or WebP; an absent avatar changes nothing.
 * Run it inside the caller's transaction.
 * @returns whether anything changed
 */
export async function applyPeerProfile(
  db: Db,
  peer: string,
  profile: ContentProfile,
): Promise<boolean> {
  const row = await db.selectFrom("contacts").select(["display_name", "avatar", "avatar_type"])
    .where("account_id", "=", peer).executeTakeFirst();
  if (!row) return false;
  const patch: { display_name?: string; avatar?: Uint8Array | null; avatar_type?: string | null } =
    {};
  const name = validName(profile.displayName);
  if (name !== undefined && name !== row.display_name) patch.display_name = name;
  const avatar = profile.avatar;
  if (avatar !== undefined && avatar.length === 0) {
    if (row.avatar !== null || row.avatar_type !== null) {
      patch.avatar = null;
      patch.avatar_type = null;
    }
  } else if (avatar !== undefined) {
    const type = sniffAvatarType(avatar);
    const same = row.avatar !== null && row.avatar_type === type &&
      bytesEqual(new Uint8Array(row.avatar), avatar);
    if (type !== undefined && !same) {
      patch.avatar = avatar;
      patch.avatar_type = type;
    }
  }
  if (Object.keys(patch).length === 0) return false;
  await db.updateTable("contacts").set(patch).where("account_id", "=", peer).execute();
  return true;
}

function validName(name: string): string | undefined {
  try {
    return parseDisplayName(name);
  } catch {
    return undefined;
  }
}

function hexBytes(hex: string): Uint8Array {
  try {
    return fromHex(hex, 32);
  } catch {
    throw new HearthError("bad_request", "Bad item hash");
  }
}
