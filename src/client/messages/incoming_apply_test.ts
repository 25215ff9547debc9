import type { Kysely } from "kysely";
import { assert, assertEquals } from "../../../tests/assert.ts";
import { randomBytes, sha256, toHex } from "../../shared/crypto/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { queueOutgoing } from "./chat_store.ts";
import { newMessageId } from "./content.ts";
import {
  applyAccept,
  applyDelete,
  applyEdit,
  applyReaction,
  applyTimer,
} from "./incoming_apply.ts";
import { contactState, type IncomingItem, isSeen, storeIncoming } from "./incoming_store.ts";
import { withClientDb } from "./test_chat_db.ts";

const NOW = 1_700_000_000_000;
const PEER = "peer-account";
const OTHER = "other-account";

/** An item from `sender` with a random hash, sent at `sentAt`. */
function item(sentAt: number, sender = PEER): IncomingItem {
  return { hash: toHex(sha256(randomBytes(32))), sender, sentAt, now: NOW };
}

/** Store a text from `sender`, sent at `sentAt`; its id. */
async function incoming(db: Kysely<ClientDb>, sentAt: number, sender = PEER): Promise<string> {
  const id = newMessageId();
  await storeIncoming(db, { ...item(sentAt, sender), id, text: "original" });
  return id;
}

/** Store an outgoing text to `peer`; its id. */
async function outgoing(db: Kysely<ClientDb>, peer = PEER): Promise<string> {
  const id = newMessageId();
  await queueOutgoing(db, {
    id,
    conversationId: peer,
    sender: "me",
    text: "mine",
    sentAt: NOW - 500,
    envelope: randomBytes(256),
  }, NOW);
  return id;
}

async function row(db: Kysely<ClientDb>, id: string) {
  return await db.selectFrom("messages").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

async function reactions(db: Kysely<ClientDb>, id: string) {
  const rows = await db.selectFrom("reactions").select(["sender", "emoji", "reacted_at"])
    .where("message_id", "=", id).orderBy("sender").execute();
  return rows.map((r) => [r.sender, r.emoji, r.reacted_at]);
}

Deno.test("an edit applies only to the sender's own live message, and only when newer", async () => {
  await withClientDb(async (db) => {
    const id = await incoming(db, 100);
    const foreign = await incoming(db, 100, OTHER);
    const mine = await outgoing(db);

    const e = { ...item(200), target: id, text: "edited" };
    assertEquals(await applyEdit(db, e), true);
    assert(await isSeen(db, e.hash));
    let r = await row(db, id);
    assertEquals([JSON.parse(r.body_json), r.edited_at], [{ text: "edited" }, 200]);

    // Older than the last edit, equal to it, or before the message itself: ignored.
    for (const sentAt of [150, 200, 50]) {
      const old = { ...item(sentAt), target: id, text: "stale" };
      assertEquals(await applyEdit(db, old), false, `sentAt ${sentAt}`);
      assert(await isSeen(db, old.hash), "an ignored item is still marked seen");
    }
    r = await row(db, id);
    assertEquals([JSON.parse(r.body_json).text, r.edited_at], ["edited", 200]);

    // Someone else's message, the owner's own, and an unknown id: ignored.
    assertEquals(await applyEdit(db, { ...item(300), target: foreign, text: "x" }), false);
    assertEquals(await applyEdit(db, { ...item(300), target: mine, text: "x" }), false);
    assertEquals(await applyEdit(db, { ...item(300), target: newMessageId(), text: "x" }), false);
    assertEquals(JSON.parse((await row(db, foreign)).body_json).text, "original");
    assertEquals(JSON.parse((await row(db, mine)).body_json).text, "mine");

    await applyDelete(db, { ...item(400), target: id });
    assertEquals(await applyEdit(db, { ...item(500), target: id, text: "back" }), false);
    assertEquals((await row(db, id)).body_json, "{}", "a deleted message stays a tombstone");
  });
});

Deno.test("a delete for everyone leaves a tombstone without reactions; foreign ones are ignored", async () => {
  await withClientDb(async (db) => {
    const id = await incoming(db, 100);
    const foreign = await incoming(db, 100, OTHER);
    const mine = await outgoing(db);
    await applyReaction(db, { ...item(150), target: id, emoji: "👍", remove: false });
    assertEquals((await reactions(db, id)).length, 1);

    assertEquals(await applyDelete(db, { ...item(200), target: foreign }), false);
    assertEquals(await applyDelete(db, { ...item(200), target: mine }), false);
    assertEquals((await row(db, foreign)).deleted, 0);
    assertEquals((await row(db, mine)).deleted, 0);

    const d = { ...item(200), target: id };
    assertEquals(await applyDelete(db, d), true);
    assert(await isSeen(db, d.hash));
    const r = await row(db, id);
    assertEquals([r.body_json, r.deleted], ["{}", 1]);
    assertEquals(await reactions(db, id), []);
    assertEquals(await applyDelete(db, { ...item(300), target: id }), false);
  });
});

Deno.test("reactions: one per sender, the newer wins whatever the arrival order", async () => {
  await withClientDb(async (db) => {
    const theirs = await incoming(db, 100);
    const mine = await outgoing(db);
    const elsewhere = await outgoing(db, OTHER);
    const react = (target: string, sentAt: number, emoji: string, remove = false) =>
      applyReaction(db, { ...item(sentAt), target, emoji, remove });

    assertEquals(await react(mine, 200, "👍"), true);
    assertEquals(await reactions(db, mine), [[PEER, "👍", 200]]);
    assertEquals(await react(mine, 300, "❤️"), true, "a newer emoji replaces");
    assertEquals(await reactions(db, mine), [[PEER, "❤️", 300]]);
    assertEquals(await react(mine, 250, "😂"), false, "an older one arriving late is ignored");
    assertEquals(await react(mine, 250, "❤️", true), false, "so is an older removal");
    assertEquals(await reactions(db, mine), [[PEER, "❤️", 300]]);
    assertEquals(await react(mine, 400, "❤️", true), true);
    assertEquals(await reactions(db, mine), []);
    assertEquals(await react(mine, 500, "❤️", true), false, "nothing left to remove");

    // Either direction of the sender's conversation, not another one.
    assertEquals(await react(theirs, 200, "🎉"), true);
    assertEquals(await reactions(db, theirs), [[PEER, "🎉", 200]]);
    assertEquals(await react(elsewhere, 200, "🎉"), false);
    assertEquals(await reactions(db, elsewhere), []);

    await db.updateTable("messages").set({ deleted: 1 }).where("id", "=", mine).execute();
    assertEquals(await react(mine, 600, "👍"), false, "not on a deleted message");
  });
});

Deno.test("a timer change from a contact or request sets the conversation, creating it", async () => {
  await withClientDb(async (db) => {
    const conv = (id: string) =>
      db.selectFrom("conversations").select(["disappearing_mode", "disappearing_seconds"])
        .where("id", "=", id).executeTakeFirst();
    let sentAt = 100;
    const timer = (sender: string, mode: "off" | "after_send" | "after_read", seconds: number) =>
      applyTimer(db, { ...item(sentAt++, sender), mode, seconds });

    assertEquals(await timer(PEER, "after_send", 60), false, "not from a stranger");
    assertEquals(await conv(PEER), undefined);
    await db.insertInto("contacts").values({
      account_id: PEER,
      display_name: null,
      state: "contact",
      added_at: 1,
    }).execute();
    assertEquals(await timer(PEER, "after_read", 3600), true);
    assertEquals(await conv(PEER), { disappearing_mode: "after_read", disappearing_seconds: 3600 });
    assertEquals(await timer(PEER, "after_read", 3600), false, "unchanged");
    assertEquals(await timer(PEER, "off", 99), true);
    assertEquals(await conv(PEER), { disappearing_mode: "off", disappearing_seconds: 0 });

    await incoming(db, 100, OTHER);
    assertEquals(await timer(OTHER, "after_send", 30), true, "a request may set it too");
    await db.updateTable("contacts").set({ state: "declined" }).where("account_id", "=", OTHER)
      .execute();
    assertEquals(await timer(OTHER, "after_send", 90), false);
    assertEquals(await conv(OTHER), { disappearing_mode: "after_send", disappearing_seconds: 30 });
  });
});

Deno.test("timer changes: the newer wins by sent-at time, and a timer under 10 s is raised to 10 s", async () => {
  await withClientDb(async (db) => {
    await incoming(db, 100);
    const state = () =>
      db.selectFrom("conversations")
        .select(["disappearing_mode", "disappearing_seconds", "disappearing_at"])
        .where("id", "=", PEER).executeTakeFirstOrThrow();
    const timer = (sentAt: number, mode: "off" | "after_send" | "after_read", seconds: number) =>
      applyTimer(db, { ...item(sentAt), mode, seconds });

    assertEquals(await timer(2_000, "after_send", 3), true);
    assertEquals(await state(), {
      disappearing_mode: "after_send",
      disappearing_seconds: 10,
      disappearing_at: 2_000,
    }, "raised to the shortest timer; the change's sent-at time kept");
    // Sent before the timer in force (a crossing change arriving late): ignored.
    const late = { ...item(1_500), mode: "after_read" as const, seconds: 600 };
    assertEquals(await applyTimer(db, late), false);
    assert(await isSeen(db, late.hash));
    assertEquals(await timer(2_000, "off", 0), false, "not newer: equal");
    assertEquals((await state()).disappearing_seconds, 10);

    // The owner's own change at 3,000 (its clock): an older peer change loses to it.
    await db.updateTable("conversations")
      .set({ disappearing_mode: "after_read", disappearing_seconds: 60, disappearing_at: 3_000 })
      .where("id", "=", PEER).execute();
    assertEquals(await timer(2_500, "off", 0), false);
    assertEquals((await state()).disappearing_mode, "after_read");
    assertEquals(await timer(3_001, "after_read", 60), false, "newer but the same timer");
    assertEquals((await state()).disappearing_at, 3_001, "still recorded as the last setting");
    assertEquals(await timer(3_002, "off", 0), true);
    assertEquals(await state(), {
      disappearing_mode: "off",
      disappearing_seconds: 0,
      disappearing_at: 3_002,
    });
  });
});

Deno.test("a request accept never changes the sender's state; only its profile applies", async () => {
  await withClientDb(async (db) => {
    const a = { ...item(100) };
    assertEquals(await applyAccept(db, a), false, "a stranger stays unknown");
    assert(await isSeen(db, a.hash));
    assertEquals(await contactState(db, PEER), undefined);

    // A stranger that wrote first (a request) cannot promote itself by sending an accept.
    await incoming(db, 100);
    assertEquals(await contactState(db, PEER), "request");
    assertEquals(await applyAccept(db, item(200)), false);
    assertEquals(await contactState(db, PEER), "request");
    assertEquals(await applyAccept(db, { ...item(300), profile: { displayName: "Ada" } }), true);
    assertEquals(await contactState(db, PEER), "request", "the profile applies, not the state");
    assertEquals(await applyAccept(db, { ...item(400), profile: { displayName: "Ada" } }), false);

    // A contact (the owner wrote first) that accepts: its profile applies.
    await db.updateTable("contacts").set({ state: "contact" }).where("account_id", "=", PEER)
      .execute();
    assertEquals(await applyAccept(db, { ...item(500), profile: { displayName: "Ada L" } }), true);
    assertEquals(await contactState(db, PEER), "contact");

    await incoming(db, 100, OTHER);
    await db.updateTable("contacts").set({ state: "declined" }).where("account_id", "=", OTHER)
      .execute();
    assertEquals(await applyAccept(db, item(200, OTHER)), false);
    assertEquals(await contactState(db, OTHER), "declined");
  });
});

Deno.test("a delete before its text leaves a tombstone that drops the late text; an edit before it is ignored", async () => {
  await withClientDb(async (db) => {
    await incoming(db, 100);
    const early = newMessageId();
    const d = { ...item(250), target: early };
    assertEquals(await applyDelete(db, d), false, "no existing message changed");
    assert(await isSeen(db, d.hash));
    const tomb = await row(db, early);
    assertEquals(
      [tomb.direction, tomb.sender, tomb.conversation_id, tomb.deleted, tomb.body_json],
      ["in", PEER, PEER, 1, "{}"],
    );
    assertEquals([tomb.status, tomb.sent_at, tomb.received_at], ["delivered", 250, NOW]);
    assertEquals(await applyDelete(db, { ...item(260), target: early }), false, "once");
    const conv = await db.selectFrom("conversations").select(["unread_count", "last_message_at"])
      .where("id", "=", PEER).executeTakeFirstOrThrow();
    assertEquals(conv, { unread_count: 2, last_message_at: 250 }, "as if text, then delete");

    const late = await storeIncoming(db, { ...item(200), id: early, text: "regret" });
    assertEquals(late.outcome, "duplicate", "the late text is dropped");
    assertEquals((await row(db, early)).body_json, "{}");

    // An edit before its text is ignored: the text, when it comes, is the original.
    const unseen = newMessageId();
    assertEquals(await applyEdit(db, { ...item(300), target: unseen, text: "edited" }), false);
    assertEquals(
      await db.selectFrom("messages").select("id").where("id", "=", unseen).executeTakeFirst(),
      undefined,
    );

    // Only from a contact or a request: a stranger's or a declined peer's delete stores nothing.
    for (const [sender, declined] of [["stranger-account", false], [OTHER, true]] as const) {
      if (declined) {
        await incoming(db, 100, OTHER);
        await db.updateTable("contacts").set({ state: "declined" })
          .where("account_id", "=", OTHER).execute();
      }
      const target = newMessageId();
      assertEquals(await applyDelete(db, { ...item(300, sender), target }), false);
      assertEquals(
        await db.selectFrom("messages").select("id").where("id", "=", target).executeTakeFirst(),
        undefined,
        sender,
      );
    }
  });
});
