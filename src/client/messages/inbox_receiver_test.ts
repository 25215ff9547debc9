import type { Kysely } from "kysely";
import { assert, assertEquals } from "../../../tests/assert.ts";
import { randomBytes, sha256, toHex } from "../../shared/crypto/mod.ts";
import {
  type AccountKeys,
  accountKeysFromSeed,
  createSeed,
  formatAccountId,
} from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { type RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import type { ChatEvent, StatusChange } from "./chat_events.ts";
import { queueOutgoing, setContactState } from "./chat_store.ts";
import { messageById, type MessageView } from "./chat_views.ts";
import {
  type ContentBody,
  type ContentProfile,
  encodeContent,
  type MessageContent,
  newMessageId,
} from "./content.ts";
import { openEnvelope, sealEnvelope } from "./envelope.ts";
import { InboxReceiver, type InboxReceiverOptions, TYPING_FRESH_MS } from "./inbox_receiver.ts";
import { contactState, isSeen } from "./incoming_store.ts";
import { writeSettings } from "./settings.ts";
import { withClientDb } from "./test_chat_db.ts";
import { type TestAccount, testAccount } from "./test_keys.ts";
import { openBundle, signBundle } from "../sessions/prekey_bundle.ts";
import { currentBundle, ensurePrekeys } from "../sessions/prekey_store.ts";
import { SessionManager } from "../sessions/session_manager.ts";

const START = 1_700_000_000_000;
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

/** What a peer puts in an item: a body and the common fields but the id (made here). */
type Sent = ContentBody & {
  profile?: ContentProfile;
  expiresIn?: number;
  mode?: "after_send" | "after_read";
};

interface Harness {
  db: Kysely<ClientDb>;
  owner: AccountKeys;
  peer: TestAccount;
  peerId: string;
  receiver: InboxReceiver;
  events: ChatEvent[];
  messages: Array<{ message: MessageView; request: boolean }>;
  delivered: Array<[string, string[]]>;
  /** The receiver's clock, ms; tests move it. */
  now: number;
  /** Seal content from `from` (the peer by default) to the owner as an inbox item. */
  item(content: Sent, options?: { sentAt?: number; from?: TestAccount }): Promise<RetrievedItem>;
  /** Seal and handle one item from the peer; the content's id. */
  send(content: Sent, options?: { sentAt?: number; from?: TestAccount }): Promise<string>;
}

async function withReceiver(
  fn: (h: Harness) => Promise<void>,
  options: Partial<InboxReceiverOptions> = {},
): Promise<void> {
  await withClientDb(async (db) => {
    const owner = await accountKeysFromSeed(createSeed());
    const peer = await testAccount();
    const h: Harness = {
      db,
      owner,
      peer,
      peerId: formatAccountId(peer.signing.publicKey),
      events: [],
      messages: [],
      delivered: [],
      now: START,
      receiver: undefined as unknown as InboxReceiver,
      async item(content, o = {}) {
        const bytes = encodeContent({ ...content, id: newMessageId() } as MessageContent);
        const data = await sealEnvelope(bytes, o.from ?? peer, owner.signing.publicKey, {
          now: o.sentAt ?? h.now,
        });
        return { hash: toHex(sha256(data)), expiry: h.now + 1_000_000, data };
      },
      async send(content, o = {}) {
        const it = await h.item(content, o);
        assertEquals(await h.receiver.handle([it]), [it.hash]);
        return idOf(it, h);
      },
    };
    h.receiver = new InboxReceiver(db, new SwarmClient({ nodes: () => [] }), {
      keys: owner,
      nodes: () => [],
      clock: () => h.now,
      onEvent: (event) => h.events.push(event),
      onMessage: (message, request) => h.messages.push({ message, request }),
      onDelivered: (sender, ids) => {
        h.delivered.push([sender, ids]);
        return Promise.resolve();
      },
      ...options,
    });
    await fn(h);
  });
}

/** The content id sealed in an item (read back through the owner's keys). */
async function idOf(it: RetrievedItem, h: Harness): Promise<string> {
  const opened = await openEnvelope(it.data, h.owner);
  return JSON.parse(new TextDecoder().decode(opened.content)).id;
}

/** Make the peer a contact of the owner (as if the owner had accepted it). */
async function befriend(h: Harness): Promise<void> {
  await h.send({ type: "text", text: "hello" });
  await setContactState(h.db, h.peerId, "contact");
  h.events.length = 0;
  h.messages.length = 0;
  h.delivered.length = 0;
}

/** Queue an outgoing text from the owner to the peer; its id. */
async function ownMessage(h: Harness): Promise<string> {
  const id = newMessageId();
  await queueOutgoing(h.db, {
    id,
    conversationId: h.peerId,
    sender: h.owner.accountId,
    text: "from the owner",
    sentAt: h.now - 10_000,
    envelope: randomBytes(256),
  }, h.now);
  return id;
}

function kinds(events: ChatEvent[]): string[] {
  return events.map((e) => e.type);
}

Deno.test("texts: a request, a reply with its quote, receipts only for contacts", async () => {
  await withReceiver(async (h) => {
    const first = await h.send({ type: "text", text: "hi", profile: { displayName: "Ada" } });
    assertEquals(h.messages.map((m) => [m.message.id, m.request]), [[first, true]]);
    assertEquals(await contactState(h.db, h.peerId), "request");
    assertEquals(h.delivered, [], "no receipt to a stranger");

    await setContactState(h.db, h.peerId, "contact");
    const reply = await h.send({ type: "text", text: "re", replyTo: first });
    const view = (await messageById(h.db, reply))!;
    assertEquals(view.replyTo, { id: first, sender: h.peerId, text: "hi" });
    assertEquals(h.messages[1]?.message.replyTo?.id, first);
    assertEquals(h.messages[1]?.request, false);
    assertEquals(h.delivered, [[h.peerId, [reply]]]);
    assertEquals(h.events, [], "an unchanged profile is no contact event");
  });
});

Deno.test("texts: an after_send timer is set, an expired one dropped, an after_read one kept", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const timed = await h.send({ type: "text", text: "soon", expiresIn: 60 }, {
      sentAt: h.now - 5_000,
    });
    assertEquals((await messageById(h.db, timed))?.expiresAt, h.now - 5_000 + 60_000);
    assertEquals(h.messages.map((m) => m.message.expiresAt), [h.now + 55_000]);

    const late = await h.item({ type: "text", text: "gone", expiresIn: 60, mode: "after_send" }, {
      sentAt: h.now - 60_000,
    });
    assertEquals(
      await h.receiver.handle([late]),
      [late.hash],
      "handled, so deleted from the swarm",
    );
    assertEquals(await messageById(h.db, await idOf(late, h)), undefined);
    assert(await isSeen(h.db, late.hash));
    assertEquals(h.messages.length, 1, "no message event for a dropped text");
    assertEquals(h.delivered.flatMap(([, ids]) => ids), [timed]);

    const read = await h.send({ type: "text", text: "later", expiresIn: 30, mode: "after_read" }, {
      sentAt: h.now - 3_600_000,
    });
    assertEquals((await messageById(h.db, read))?.expiresAt, null);
    const row = await h.db.selectFrom("messages").select("expire_after_read")
      .where("id", "=", read).executeTakeFirstOrThrow();
    assertEquals(row.expire_after_read, 30);
  });
});

Deno.test("edits and deletes for everyone: applied with update events, stale or foreign ignored", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const target = await h.send({ type: "text", text: "typo" }, { sentAt: h.now - 10_000 });
    h.events.length = 0;

    await h.send({ type: "edit", target, text: "fixed" }, { sentAt: h.now - 5_000 });
    assertEquals(kinds(h.events), ["update"]);
    const edited = (h.events[0] as Extract<ChatEvent, { type: "update" }>).message;
    assertEquals([edited.id, edited.text, edited.editedAt], [target, "fixed", h.now - 5_000]);

    // An older edit arriving late, and an edit by someone else: nothing changes.
    await h.send({ type: "edit", target, text: "older" }, { sentAt: h.now - 8_000 });
    const mallory = await testAccount();
    await h.send({ type: "edit", target, text: "forged" }, { from: mallory });
    assertEquals(kinds(h.events), ["update"]);
    assertEquals((await messageById(h.db, target))?.text, "fixed");

    // The owner's own message cannot be edited or deleted by the peer.
    const mine = await ownMessage(h);
    await h.send({ type: "edit", target: mine, text: "hijack" });
    await h.send({ type: "delete", target: mine });
    assertEquals((await messageById(h.db, mine))?.text, "from the owner");

    await h.send({ type: "delete", target });
    assertEquals(kinds(h.events), ["update", "update"]);
    const tomb = (await messageById(h.db, target))!;
    assertEquals([tomb.deleted, tomb.text], [true, ""]);
    const last = h.events[1] as Extract<ChatEvent, { type: "update" }>;
    assertEquals([last.message.id, last.message.deleted], [target, true]);
  });
});

Deno.test("reactions: add, replace, remove, and the newer wins out of order", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const mine = await ownMessage(h);
    const at = (s: number) => ({ sentAt: START + s * 1000 });
    const reactions = async () => (await messageById(h.db, mine))?.reactions;

    await h.send({ type: "reaction", target: mine, emoji: "👍" }, at(1));
    assertEquals(await reactions(), [{ sender: h.peerId, emoji: "👍" }]);
    await h.send({ type: "reaction", target: mine, emoji: "❤️" }, at(3));
    assertEquals(await reactions(), [{ sender: h.peerId, emoji: "❤️" }]);
    // Sent at 2 s, arriving after the one sent at 3 s: ignored.
    await h.send({ type: "reaction", target: mine, emoji: "😂" }, at(2));
    assertEquals(await reactions(), [{ sender: h.peerId, emoji: "❤️" }]);
    assertEquals(kinds(h.events), ["update", "update"]);
    const shown = (h.events[1] as Extract<ChatEvent, { type: "update" }>).message.reactions;
    assertEquals(shown, [{ sender: h.peerId, emoji: "❤️" }]);

    await h.send({ type: "reaction", target: mine, emoji: "❤️", remove: true }, at(4));
    assertEquals(await reactions(), []);
    assertEquals(kinds(h.events), ["update", "update", "update"]);

    // A reaction to a message of another conversation is ignored.
    const mallory = await testAccount();
    await h.send({ type: "reaction", target: mine, emoji: "💩" }, { ...at(5), from: mallory });
    assertEquals(await reactions(), []);
    assertEquals(h.events.length, 3);
  });
});

Deno.test("read receipts apply only when the owner's readReceipts is on", async () => {
  const statuses: StatusChange[] = [];
  await withReceiver(async (h) => {
    await befriend(h);
    const a = await ownMessage(h);
    const b = await ownMessage(h);
    await h.send({ type: "receipt", kind: "read", ids: [a] });
    assertEquals((await messageById(h.db, a))?.status, "queued");
    assertEquals(h.events, []);

    await writeSettings(h.db, { readReceipts: true });
    await h.send({ type: "receipt", kind: "read", ids: [a, b] });
    assertEquals((await messageById(h.db, a))?.status, "read");
    assertEquals((await messageById(h.db, b))?.status, "read");
    assertEquals(h.events, [], "statuses go to onStatus when it is given");
    assertEquals(statuses.map((s) => [s.id, s.status]).sort(), [[a, "read"], [b, "read"]].sort());

    // Delivered after read changes nothing.
    await h.send({ type: "receipt", kind: "delivered", ids: [a] });
    assertEquals(statuses.length, 2);
  }, { onStatus: (s) => statuses.push(s) });
});

Deno.test("without onStatus, status changes are status events", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const a = await ownMessage(h);
    await h.send({ type: "receipt", kind: "delivered", ids: [a] });
    assertEquals(h.events, [{
      type: "status",
      status: { id: a, conversationId: h.peerId, status: "delivered" },
    }]);
  });
});

Deno.test("typing shows only with typingIndicators on, from a contact, when fresh", async () => {
  await withReceiver(async (h) => {
    await h.send({ type: "text", text: "hi" });
    await writeSettings(h.db, { typingIndicators: true });
    await h.send({ type: "typing", active: true });
    assertEquals(h.events, [], "not from a message request");

    await setContactState(h.db, h.peerId, "contact");
    await writeSettings(h.db, { typingIndicators: false });
    await h.send({ type: "typing", active: true });
    assertEquals(h.events, [], "not with typing indicators off");

    await writeSettings(h.db, { typingIndicators: true });
    await h.send({ type: "typing", active: true }, { sentAt: h.now - TYPING_FRESH_MS });
    await h.send({ type: "typing", active: true }, { sentAt: h.now + TYPING_FRESH_MS });
    assertEquals(h.events, [], "not when stale (or from the future)");

    await h.send({ type: "typing", active: true }, { sentAt: h.now - TYPING_FRESH_MS + 1 });
    await h.send({ type: "typing", active: false });
    assertEquals(h.events, [
      { type: "typing", conversationId: h.peerId, active: true },
      { type: "typing", conversationId: h.peerId, active: false },
    ]);
    const stored = await h.db.selectFrom("messages").select("id").execute();
    assertEquals(stored.length, 1, "typing stores nothing");
  });
});

Deno.test("a request accept never makes the sender a contact; its profile applies", async () => {
  await withReceiver(async (h) => {
    // A stranger writes (a request), then claims the owner accepted it.
    await h.send({ type: "text", text: "hi" });
    await h.send({ type: "request-accept", profile: { displayName: "Ada" } });
    assertEquals(await contactState(h.db, h.peerId), "request", "still a request");
    assertEquals(h.events.length, 1);
    const event = h.events[0] as Extract<ChatEvent, { type: "contact" }>;
    assertEquals([event.type, event.contact.state, event.contact.displayName], [
      "contact",
      "request",
      "Ada",
    ]);
    await h.send({ type: "request-accept", profile: { displayName: "Ada" } });
    await h.send({ type: "request-accept" });
    assertEquals(h.events.length, 1, "nothing changed");
    assertEquals(await contactState(h.db, h.peerId), "request");

    // Texts from the request still get no delivery receipt.
    await h.send({ type: "text", text: "let me in" });
    assertEquals(h.delivered, []);
  });
});

Deno.test("a contact's timer change sets the conversation, with a conversation event", async () => {
  await withReceiver(async (h) => {
    const stranger = await h.item({ type: "disappearing", expiresIn: 60 });
    await h.receiver.handle([stranger]);
    assertEquals(h.events, [], "not from a stranger");

    await befriend(h);
    await h.send({ type: "disappearing", expiresIn: 3600, mode: "after_read" });
    assertEquals(kinds(h.events), ["conversation"]);
    const conv = (h.events[0] as Extract<ChatEvent, { type: "conversation" }>).conversation;
    assertEquals([conv.id, conv.disappearing], [h.peerId, { mode: "after_read", seconds: 3600 }]);

    await h.send({ type: "disappearing", expiresIn: 60 }, { sentAt: h.now + 1 });
    // Sent before the one in force, arriving after it: ignored.
    await h.send({ type: "disappearing", expiresIn: 90 }, { sentAt: h.now - 1 });
    await h.send({ type: "disappearing" }, { sentAt: h.now + 2 });
    const last = h.events.map((e) =>
      (e as Extract<ChatEvent, { type: "conversation" }>).conversation.disappearing
    );
    assertEquals(last, [
      { mode: "after_read", seconds: 3600 },
      { mode: "after_send", seconds: 60 },
      { mode: "off", seconds: 0 },
    ]);
  });
});

Deno.test("profiles: the avatar is set, cleared, or ignored when not an image", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const avatar = async () =>
      await h.db.selectFrom("contacts").select(["avatar", "avatar_type"])
        .where("account_id", "=", h.peerId).executeTakeFirstOrThrow();

    await h.send({ type: "profile", profile: { displayName: "Ada", avatar: PNG } });
    let row = await avatar();
    assertEquals([new Uint8Array(row.avatar!), row.avatar_type], [PNG, "image/png"]);
    assertEquals(kinds(h.events), ["contact"]);
    const shown = (h.events[0] as Extract<ChatEvent, { type: "contact" }>).contact;
    assertEquals([shown.displayName, shown.hasAvatar], ["Ada", true]);

    const junk = new TextEncoder().encode("<svg onload=alert(1)>");
    await h.send({ type: "profile", profile: { displayName: "Ada", avatar: junk } });
    row = await avatar();
    assertEquals(row.avatar_type, "image/png", "a non-image is ignored");
    assertEquals(h.events.length, 1);

    // Riding along with a text: an empty avatar removes it.
    await h.send({
      type: "text",
      text: "x",
      profile: { displayName: "Ada", avatar: new Uint8Array(0) },
    });
    row = await avatar();
    assertEquals([row.avatar, row.avatar_type], [null, null]);
    assertEquals(kinds(h.events), ["contact", "contact"]);
    const cleared = (h.events[1] as Extract<ChatEvent, { type: "contact" }>).contact;
    assertEquals(cleared.hasAvatar, false);
  });
});

Deno.test("a blocked sender's items are dropped; an item is handled once", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const mine = await ownMessage(h);
    const text = await h.item({ type: "text", text: "once" });
    assertEquals(await h.receiver.handle([text, text]), [text.hash, text.hash]);
    await h.receiver.handle([text]);
    assertEquals(h.messages.length, 1);
    assertEquals(h.delivered, [[h.peerId, [await idOf(text, h)]]]);

    const react = await h.item({ type: "reaction", target: mine, emoji: "👍" });
    await h.receiver.handle([react]);
    await h.db.deleteFrom("reactions").execute();
    await h.receiver.handle([react]);
    assertEquals(
      (await messageById(h.db, mine))?.reactions,
      [],
      "a seen hash is not applied again",
    );

    await setContactState(h.db, h.peerId, "blocked");
    h.events.length = 0;
    const items = [
      await h.item({ type: "text", text: "let me in" }),
      await h.item({ type: "reaction", target: mine, emoji: "👎" }),
      await h.item({ type: "profile", profile: { displayName: "Not Ada" } }),
    ];
    assertEquals(await h.receiver.handle(items), items.map((i) => i.hash));
    for (const i of items) assert(await isSeen(h.db, i.hash));
    assertEquals([h.messages.length, h.events.length], [1, 0]);
    assertEquals((await messageById(h.db, mine))?.reactions, []);
    const row = await h.db.selectFrom("contacts").select(["display_name", "state"])
      .executeTakeFirstOrThrow();
    assertEquals([row.display_name, row.state], [null, "blocked"]);
    const count = await h.db.selectFrom("messages").select("id").execute();
    assertEquals(count.length, 3, "hello, once and the owner's own");
  });
});

Deno.test("delivery receipts of a batch are sent even when a later item throws", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const text = await h.item({ type: "text", text: "stored" });
    const broken: RetrievedItem = { hash: "not a hash", expiry: h.now + 1_000, data: text.data };
    let threw = false;
    await h.receiver.handle([text, broken]).catch(() => threw = true);
    assert(threw, "the batch failed");
    assert(await isSeen(h.db, text.hash), "the text before it is committed");
    assertEquals(h.delivered, [[h.peerId, [await idOf(text, h)]]]);
  });
});

Deno.test("a delete that overtakes its text: the late text is dropped, no message event", async () => {
  await withReceiver(async (h) => {
    await befriend(h);
    const id = newMessageId();
    const text = await sealFrom(h, { type: "text", id, text: "regret" }, h.now - 2_000);
    const del = await sealFrom(
      h,
      { type: "delete", id: newMessageId(), target: id },
      h.now - 1_000,
    );
    assertEquals(await h.receiver.handle([del, text]), [del.hash, text.hash]);
    assertEquals(h.messages, [], "the text never shows");
    assertEquals(h.delivered, []);
    const tomb = (await messageById(h.db, id))!;
    assertEquals([tomb.deleted, tomb.text, tomb.sentAt], [true, "", h.now - 1_000]);
  });
});

/** Seal content with a chosen id from the peer to the owner, as an inbox item. */
async function sealFrom(h: Harness, content: MessageContent, sentAt: number) {
  const data = await sealEnvelope(encodeContent(content), h.peer, h.owner.signing.publicKey, {
    now: sentAt,
  });
  return { hash: toHex(sha256(data)), expiry: h.now + 1_000_000, data };
}

Deno.test("after a restore, a peer's new handshakes from a stale bundle get resets a minute apart", async () => {
  // The owner restored on a new node (newDb); the peer fetched the old node's bundle (oldDb),
  // whose prekeys the new node does not have: none of its prekey messages open.
  await withClientDb((oldDb) =>
    withClientDb((newDb) =>
      withClientDb(async (peerDb) => {
        let now = START;
        const owner = await accountKeysFromSeed(createSeed());
        const peer = await accountKeysFromSeed(createSeed());
        await ensurePrekeys(oldDb, { now });
        await ensurePrekeys(newDb, { now });
        const stale = await openBundle(
          await signBundle(owner, await currentBundle(oldDb)),
          owner.signing.publicKey,
        );
        const peerSessions = new SessionManager({
          db: peerDb,
          keys: peer,
          clock: () => now,
          bundles: () => Promise.resolve(stale),
        });
        const resets: number[] = [];
        const receiver = new InboxReceiver(newDb, new SwarmClient({ nodes: () => [] }), {
          keys: owner,
          nodes: () => [],
          clock: () => now,
          sessions: new SessionManager({ db: newDb, keys: owner, clock: () => now }),
          onUndecryptable: (sender) => {
            assertEquals(sender, peer.accountId);
            resets.push(now - START);
            return Promise.resolve();
          },
        });
        // The peer is a contact: its first text (sealed alone) was accepted.
        const hello = encodeContent({ type: "text", id: newMessageId(), text: "hello" });
        const first = await sealEnvelope(hello, peer, owner.signing.publicKey, { now });
        await receiver.handle([{
          hash: toHex(sha256(first)),
          expiry: now + 1_000_000,
          data: first,
        }]);
        await setContactState(newDb, peer.accountId, "contact");
        /** At `at` ms after the start, the peer sends a text (a new handshake when `fresh`). */
        const send = async (at: number, fresh: boolean) => {
          now = START + at;
          if (fresh) await peerDb.deleteFrom("sessions").execute();
          const content = encodeContent({ type: "text", id: newMessageId(), text: "hi" });
          const data = await peerSessions.seal(
            owner.accountId,
            content,
            { sentAt: now, handshake: true },
            (_tx, sealed) => {
              assertEquals(sealed.encryption, "session");
              return Promise.resolve(sealed.envelope);
            },
          );
          const item = { hash: toHex(sha256(data)), expiry: now + 1_000_000, data };
          assertEquals(await receiver.handle([item]), [item.hash]);
        };
        const MIN = 60_000;
        await send(0, true); // a first failure: a reset
        await send(10_000, false); // the same handshake again: nothing
        await send(30_000, true); // a new handshake, but under a minute since the reset
        await send(MIN + 30_000, false); // that handshake, now a minute on: a reset
        await send(3 * MIN, false); // answered already: nothing
        await send(5 * MIN, true); // another new one: a reset
        await send(5 * MIN + 50_000, true); // new, but too soon
        await send(7 * MIN, false); // that one, now unanswered for long enough: a reset
        await send(59 * MIN, false); // answered already, under the hour: nothing
        await send(67 * MIN, false); // an hour since the last reset: a reset
        assertEquals(resets, [0, MIN + 30_000, 5 * MIN, 7 * MIN, 67 * MIN]);
        assertEquals(await newDb.selectFrom("sessions").select("id").execute(), []);
      })
    )
  );
});
