import type { Kysely } from "kysely";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes, sha256, toHex } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb } from "../db/schema.ts";
import { queueOutgoing } from "./chat_store.ts";
import { newMessageId } from "./content.ts";
import {
  applyPeerProfile,
  applyProfile,
  applyReceipt,
  contactState,
  incomingExpiry,
  type IncomingItem,
  isSeen,
  markRead,
  storeIncoming,
} from "./incoming_store.ts";
import { withClientDb } from "./test_chat_db.ts";

const NOW = 1_700_000_000_000;
const PEER = "peer-account";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const WEBP = new Uint8Array([0x52, 0x49, 0x46, 0x46, 9, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 7]);

/** A fresh item from PEER: a random hash, sent `ago` ms before NOW. */
function item(ago = 1_000, sender = PEER): IncomingItem {
  return { hash: toHex(sha256(randomBytes(32))), sender, sentAt: NOW - ago, now: NOW };
}

async function row(db: Kysely<ClientDb>, id: string) {
  return await db.selectFrom("messages").selectAll().where("id", "=", id).executeTakeFirst();
}

async function contact(db: Kysely<ClientDb>, id = PEER) {
  return await db.selectFrom("contacts").selectAll().where("account_id", "=", id)
    .executeTakeFirst();
}

Deno.test("storeIncoming keeps reply_to, sets timers and drops a text whose timer ran out", async () => {
  await withClientDb(async (db) => {
    const first = { ...item(5_000), id: newMessageId(), text: "one" };
    assertEquals(await storeIncoming(db, first), { outcome: "stored", profileChanged: false });
    assertEquals((await contact(db))?.state, "request");

    const reply = { ...item(), id: newMessageId(), text: "two", replyTo: first.id };
    assertEquals((await storeIncoming(db, reply)).outcome, "stored");
    assertEquals((await row(db, reply.id))?.reply_to, first.id);
    assertEquals((await row(db, first.id))?.reply_to, null);

    // after_send counts from sent-at, or from arrival when the sender's clock is ahead.
    const timed = { ...item(2_000), id: newMessageId(), text: "t", expiresIn: 60 };
    assertEquals((await storeIncoming(db, timed)).outcome, "stored");
    assertEquals((await row(db, timed.id))?.expires_at, NOW - 2_000 + 60_000);
    assertEquals((await row(db, timed.id))?.expire_after_read, null);
    const ahead = { ...item(-30_000), id: newMessageId(), text: "a", expiresIn: 60 };
    assertEquals(incomingExpiry(ahead), NOW + 60_000);

    const late = {
      ...item(61_000),
      id: newMessageId(),
      text: "late",
      expiresIn: 60,
      mode: "after_send" as const,
    };
    assertEquals(await storeIncoming(db, late), { outcome: "expired", profileChanged: false });
    assertEquals(await row(db, late.id), undefined);
    assert(await isSeen(db, late.hash), "a dropped text is marked seen");

    // after_read: no expiry until read, however old.
    const read = {
      ...item(3_600_000),
      id: newMessageId(),
      text: "r",
      expiresIn: 60,
      mode: "after_read" as const,
    };
    assertEquals((await storeIncoming(db, read)).outcome, "stored");
    const stored = await row(db, read.id);
    assertEquals([stored?.expires_at, stored?.expire_after_read], [null, 60]);

    const conv = await db.selectFrom("conversations").selectAll().executeTakeFirstOrThrow();
    assertEquals([conv.id, conv.unread_count, conv.last_message_at], [PEER, 4, NOW - 1_000]);
  });
});

Deno.test("storeIncoming stores a message id once and makes a declined sender a request again", async () => {
  await withClientDb(async (db) => {
    const m = { ...item(), id: newMessageId(), text: "hi", profile: { displayName: "Ada" } };
    assertEquals(await storeIncoming(db, m), { outcome: "stored", profileChanged: false });
    assertEquals((await contact(db))?.display_name, "Ada");
    const again = { ...m, hash: item().hash, text: "other", profile: { displayName: "Eve" } };
    assertEquals(await storeIncoming(db, again), { outcome: "duplicate", profileChanged: false });
    assertEquals((await contact(db))?.display_name, "Ada", "a duplicate changes nothing");
    assert(await isSeen(db, again.hash));

    await db.updateTable("contacts").set({ state: "declined" }).execute();
    const next = { ...item(), id: newMessageId(), text: "x", profile: { displayName: "Ada L" } };
    assertEquals(await storeIncoming(db, next), { outcome: "stored", profileChanged: true });
    assertEquals(await contactState(db, PEER), "request");
    assertEquals((await contact(db))?.display_name, "Ada L");
    await assertRejects(() => storeIncoming(db, { ...next, hash: "zz" }), HearthError);
  });
});

Deno.test("applyPeerProfile sets, clears and ignores avatars and refuses spoofing names", async () => {
  await withClientDb(async (db) => {
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada" }), false);
    assertEquals(await contact(db), undefined, "an unknown peer is not added");
    await db.insertInto("contacts").values({
      account_id: PEER,
      display_name: "Ada",
      state: "contact",
      added_at: 1,
    }).execute();

    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada" }), false);
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada", avatar: PNG }), true);
    let c = await contact(db);
    assertEquals([new Uint8Array(c!.avatar!), c?.avatar_type], [PNG, "image/png"]);
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada", avatar: PNG }), false);
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada", avatar: WEBP }), true);
    assertEquals((await contact(db))?.avatar_type, "image/webp");

    const text = new TextEncoder().encode("not an image");
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Ada", avatar: text }), false);
    c = await contact(db);
    assertEquals([new Uint8Array(c!.avatar!), c?.avatar_type], [WEBP, "image/webp"]);

    const cleared = { displayName: "Ada", avatar: new Uint8Array(0) };
    assertEquals(await applyPeerProfile(db, PEER, cleared), true);
    c = await contact(db);
    assertEquals([c?.avatar, c?.avatar_type], [null, null]);
    assertEquals(await applyPeerProfile(db, PEER, cleared), false);

    // A right-to-left override would let a name render as another.
    assertEquals(await applyPeerProfile(db, PEER, { displayName: "Bob\u202Eevil" }), false);
    assertEquals((await contact(db))?.display_name, "Ada");
    const p = { ...item(), profile: { displayName: "Ada Lovelace" } };
    assertEquals(await applyProfile(db, p), true);
    assertEquals((await contact(db))?.display_name, "Ada Lovelace");
    assert(await isSeen(db, p.hash));
  });
});

Deno.test("receipts move only the owner's messages to that peer, never back", async () => {
  await withClientDb(async (db) => {
    const ids: string[] = [];
    for (const peer of [PEER, PEER, PEER, PEER, "other"]) {
      const id = newMessageId();
      ids.push(id);
      await queueOutgoing(db, {
        id,
        conversationId: peer,
        sender: "me",
        text: "x",
        sentAt: NOW,
        envelope: randomBytes(256),
      }, NOW);
    }
    const [queued, sent, delivered, failed, other] = ids as [
      string,
      string,
      string,
      string,
      string,
    ];
    await db.updateTable("messages").set({ status: "sent" }).where("id", "=", sent).execute();
    await db.updateTable("messages").set({ status: "delivered" }).where("id", "=", delivered)
      .execute();
    await db.updateTable("messages").set({ status: "failed" }).where("id", "=", failed).execute();

    const r = { ...item(), kind: "read" as const, ids };
    assertEquals((await applyReceipt(db, r)).sort(), [queued, sent, delivered].sort());
    assert(await isSeen(db, r.hash));
    const status = async (id: string) => (await row(db, id))?.status;
    assertEquals(await status(failed), "failed");
    assertEquals(await status(other), "queued", "another conversation's message stays");
    assertEquals(await markRead(db, PEER, ids), []);

    const d = { ...item(), kind: "delivered" as const, ids };
    assertEquals(await applyReceipt(db, d), [], "read is never lowered to delivered");
    assertEquals(await status(queued), "read");
  });
});
