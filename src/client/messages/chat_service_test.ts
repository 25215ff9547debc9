import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  type AccountKeys,
  accountKeysFromSeed,
  createSeed,
  parseAccountId,
} from "../account/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import { SwarmClient } from "../network/swarm_client.ts";
import type { ChatEvent } from "./chat_events.ts";
import { queuedEvents } from "./test_chat_events.ts";
import { ChatService, MIN_DISAPPEARING_S, outgoingTimer } from "./chat_service.ts";
import { MAX_EXPIRES_IN_S, type MessageContent, parseContent } from "./content.ts";
import { openEnvelope } from "./envelope.ts";
import { backoffMs, INBOX_TTL_MS, OUTBOX_GIVE_UP_MS, OutboxWorker } from "./outbox_worker.ts";

interface Side {
  vault: ClientVault;
  keys: AccountKeys;
  chat: ChatService;
}

const noNodes = new SwarmClient({ nodes: () => [] });

/** A PNG avatar: the magic bytes, then noise. */
function png(size = 200): Uint8Array {
  const bytes = randomBytes(size);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return bytes;
}

/** How a side is made: an avatar, a clock. */
interface SideOptions {
  avatar?: Uint8Array;
  clock?: () => number;
}

/** A client with an account row (name "" for none) and a local-only chat. */
async function openSide(dir: string, name: string, options: SideOptions = {}): Promise<Side> {
  const vault = await ClientVault.open(`${dir}/${name || "anon"}`, { kdfParams: TEST_KDF });
  await vault.create(TEST_PASS);
  const seed = createSeed();
  const keys = await accountKeysFromSeed(seed);
  await vault.db.insertInto("account").values({
    id: 1,
    seed,
    display_name: name,
    created_at: 1,
    ...(options.avatar ? { avatar: options.avatar, avatar_type: "image/png" } : {}),
  }).execute();
  const chat = await ChatService.start({
    db: vault.db,
    keys,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { vault, keys, chat };
}

/** A side to make: its display name ("" for none), or that with options. */
type SideSpec = string | ({ name: string } & SideOptions);

/**
 * Run `fn` with a side for each spec, made in order in a fresh folder;
 * every side made is stopped and closed, and the folder removed, after.
 */
async function withSides<const S extends readonly SideSpec[]>(
  specs: S,
  fn: (sides: { -readonly [K in keyof S]: Side }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-chat-" });
  const made: Side[] = [];
  try {
    for (const spec of specs) {
      const { name, ...options } = typeof spec === "string" ? { name: spec } : spec;
      made.push(await openSide(dir, name, options));
    }
    await fn(made as { -readonly [K in keyof S]: Side });
  } finally {
    for (const s of made) {
      await s.chat.stop();
      await s.vault.close();
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every outbox row of `from`, in queue order; empties its outbox. */
async function takeOutbox(from: Side) {
  const rows = await from.vault.db.selectFrom("outbox").selectAll().orderBy("created_at")
    .orderBy("id").execute();
  await from.vault.db.deleteFrom("outbox").execute();
  return rows;
}

/** Take every outbox envelope of `from` as retrieved items, and empty its outbox. */
async function drain(from: Side) {
  const rows = await takeOutbox(from);
  return rows.map((r) => ({
    hash: toHex(randomBytes(32)),
    expiry: 0,
    data: new Uint8Array(r.envelope),
  }));
}

interface Queued {
  content: MessageContent;
  sentAt: number;
  ttlMs: number | null;
  messageId: string | null;
  recipient: string;
}

/** Open every outbox row of `from` with the keys of `to`, in queue order; empties the outbox. */
async function queued(from: Side, to: Side): Promise<Queued[]> {
  const rows = await takeOutbox(from);
  const out: Queued[] = [];
  for (const r of rows) {
    const opened = await openEnvelope(new Uint8Array(r.envelope), to.keys);
    assertEquals(opened.sender, from.keys.signing.publicKey);
    out.push({
      content: parseContent(opened.content),
      sentAt: opened.sentAt,
      ttlMs: r.ttl_ms,
      messageId: r.message_id,
      recipient: r.recipient,
    });
  }
  return out;
}

async function code(p: Promise<unknown>): Promise<string> {
  return (await assertRejects(() => p, HearthError)).code;
}

/** An incoming message stored directly, as the receiver would have. */
async function incoming(
  at: Side,
  from: Side,
  more: { expireAfterRead?: number; sentAt?: number } = {},
): Promise<string> {
  const id = toHex(randomBytes(16));
  await at.vault.db.insertInto("contacts").values({
    account_id: from.keys.accountId,
    display_name: null,
    state: "contact",
    added_at: 1,
  }).onConflict((oc) => oc.column("account_id").doNothing()).execute();
  await at.vault.db.insertInto("messages").values({
    id,
    conversation_id: from.keys.accountId,
    direction: "in",
    sender: from.keys.accountId,
    sent_at: more.sentAt ?? Date.now(),
    received_at: Date.now(),
    body_json: JSON.stringify({ text: "from " + id.slice(0, 4) }),
    status: "delivered",
    reply_to: null,
    edited_at: null,
    expires_at: null,
    expire_after_read: more.expireAfterRead ?? null,
  }).execute();
  await at.vault.db.insertInto("conversations").values({
    id: from.keys.accountId,
    kind: "1:1",
    last_message_at: Date.now(),
    unread_count: 1,
  }).onConflict((oc) =>
    oc.column("id").doUpdateSet((eb) => ({
      unread_count: eb("conversations.unread_count", "+", 1),
    }))
  ).execute();
  return id;
}

Deno.test("a first message is a request; accept sends receipts; duplicates and blocked senders are dropped", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const sent = await a.chat.send(b.keys.accountId, "hello Bob");
    assertEquals([sent.status, sent.conversationId, sent.text], [
      "queued",
      b.keys.accountId,
      "hello Bob",
    ]);
    assertEquals((await a.chat.contacts()).map((c) => c.state), ["contact"]);
    const items = await drain(a);
    assertEquals(items.length, 1);

    // Delivered twice (same hash), and once more under another hash: one message.
    await b.chat.receive(items);
    await b.chat.receive(items);
    await b.chat.receive([{ ...items[0]!, hash: toHex(randomBytes(32)) }]);
    await b.chat.receive([{ hash: toHex(randomBytes(32)), expiry: 0, data: randomBytes(600) }]);
    const requests = await b.chat.requests();
    assertEquals(requests.map((r) => [r.accountId, r.displayName]), [[a.keys.accountId, "Ada"]]);
    assertEquals(
      (await b.chat.conversations()).map((c) => c.id),
      ["self"],
      "a request is not listed",
    );
    const inbox = await b.chat.messages(a.keys.accountId);
    assertEquals(inbox.map((m) => [m.id, m.text, m.direction]), [[sent.id, "hello Bob", "in"]]);
    assertEquals(await drain(b), [], "no receipt to a stranger");

    await b.chat.decide(a.keys.accountId, "accept");
    assertEquals((await b.chat.conversations()).map((c) => c.id), [a.keys.accountId, "self"]);
    assertEquals(await code(b.chat.decide(a.keys.accountId, "decline")), "not_found");
    await a.chat.receive(await drain(b));
    const mine = await a.chat.messages(b.keys.accountId);
    assertEquals(mine.map((m) => m.status), ["delivered"]);

    // A reply from a contact gets a receipt at once.
    await b.chat.send(a.keys.accountId, "hi Ada");
    await a.chat.receive(await drain(b));
    assertEquals((await a.chat.messages(b.keys.accountId)).map((m) => m.text), [
      "hello Bob",
      "hi Ada",
    ]);
    await b.chat.receive(await drain(a));
    assertEquals((await b.chat.messages(a.keys.accountId)).map((m) => m.status), [
      "read", // incoming, and read by listing it
      "delivered",
    ]);

    await b.chat.decide(a.keys.accountId, "block");
    const later = await a.chat.send(b.keys.accountId, "are you there?");
    await b.chat.receive(await drain(a));
    const row = await b.vault.db.selectFrom("messages").select("id").where("id", "=", later.id)
      .executeTakeFirst();
    assertEquals(row, undefined);
    assertEquals(await code(b.chat.messages(a.keys.accountId)), "not_found");
    assertEquals((await b.chat.contacts()).map((c) => c.state), ["blocked"]);
  });
});

Deno.test("Note to Self stays local; bad input is refused with a code", async () => {
  await withSides(["Ada"], async ([a]) => {
    const note = await a.chat.send(a.keys.accountId, "milk");
    assertEquals([note.status, note.conversationId], ["sent", "self"]);
    assertEquals(await drain(a), []);
    const list = await a.chat.conversations();
    assertEquals(list.map((c) => [c.id, c.kind, c.lastMessage?.text]), [["self", "self", "milk"]]);
    assertEquals((await a.chat.messages("self")).map((m) => m.text), ["milk"]);
    assertEquals(await code(a.chat.send("hearth1nope", "x")), "bad_account_id");
    assertEquals(await code(a.chat.send("self", "x".repeat(10_001))), "too_large");
    const other = await accountKeysFromSeed(createSeed());
    assertEquals(await code(a.chat.messages(toHex(randomBytes(8)))), "bad_account_id");
    assertEquals(await code(a.chat.messages(other.accountId)), "not_found");
    assertEquals(await code(a.chat.decide(other.accountId, "accept")), "not_found");
  });
});

Deno.test("the outbox retries with growing backoff and gives up as failed", async () => {
  await withSides(["Ada"], async ([a]) => {
    const other = await accountKeysFromSeed(createSeed());
    const msg = await a.chat.send(other.accountId, "one");
    let now = Date.now();
    const worker = new OutboxWorker(a.vault.db, noNodes, { clock: () => now });
    const first = await worker.runOnce();
    const row = await a.vault.db.selectFrom("outbox").selectAll().executeTakeFirstOrThrow();
    assertEquals([row.attempts, row.last_error, first], [1, "unavailable", now + backoffMs(1)]);
    assertEquals(await worker.runOnce(), now + backoffMs(1), "not due yet: untouched");
    now += backoffMs(1);
    assertEquals(await worker.runOnce(), now + backoffMs(2));
    assert(backoffMs(2) > backoffMs(1));
    now += OUTBOX_GIVE_UP_MS;
    assertEquals(await worker.runOnce(), undefined);
    assertEquals((await a.chat.messages(other.accountId)).map((m) => [m.id, m.status]), [
      [msg.id, "failed"],
    ]);
  });
});

Deno.test("texts carry the profile; the avatar goes once per profile version, and with an accept", async () => {
  const avatar = png();
  await withSides([{ name: "Ada", avatar }, "Bob", ""], async ([a, b, n]) => {
    const to = b.keys.accountId;
    await a.chat.send(to, "one");
    await a.chat.send(to, "two");
    const [first, second] = await queued(a, b);
    assertEquals(first!.content.profile, { displayName: "Ada", avatar });
    assertEquals(second!.content.profile, { displayName: "Ada" }, "the avatar went once");
    const sent = async () =>
      (await a.vault.db.selectFrom("contacts").select("profile_sent")
        .where("account_id", "=", to).executeTakeFirstOrThrow()).profile_sent;
    assertEquals(await sent(), 1);

    // A profile change (version 2) removes the avatar: zero bytes go once.
    await a.vault.db.updateTable("account").set({
      avatar: null,
      avatar_type: null,
      profile_version: 2,
    })
      .execute();
    await a.chat.send(to, "three");
    await a.chat.send(to, "four");
    const [third, fourth] = await queued(a, b);
    assertEquals(third!.content.profile, { displayName: "Ada", avatar: new Uint8Array(0) });
    assertEquals(fourth!.content.profile, { displayName: "Ada" });
    assertEquals(await sent(), 2);

    // No name, no profile (and no avatar either).
    await n.chat.send(to, "anonymous");
    const [anon] = await queued(n, b);
    assertEquals(anon!.content.profile, undefined);
    assertEquals(anon!.content.type, "text");

    // Note to Self carries nothing and queues nothing.
    await a.chat.send("self", "note");
    assertEquals(await queued(a, b), []);

    // Accepting a request sends the accepter's profile, avatar included, once.
    await b.vault.db.updateTable("account").set({ avatar: png(300), avatar_type: "image/png" })
      .execute();
    await b.chat.receive(await drain(a).then(async (x) => x.concat(await drain(n))));
    await a.chat.send(to, "five");
    await b.chat.receive(await drain(a));
    const items = await drain(b);
    assertEquals(items, [], "nothing is sent to a request");
    await b.chat.decide(a.keys.accountId, "accept");
    const fromBob = await queued(b, a);
    const accept = fromBob.find((q) => q.content.type === "request-accept")!;
    assertEquals(accept.content.profile?.displayName, "Bob");
    assertEquals(accept.content.profile?.avatar?.length, 300);
    assert(fromBob.some((q) => q.content.type === "receipt"));
    await b.chat.send(a.keys.accountId, "hi");
    const [reply] = await queued(b, a);
    assertEquals(reply!.content.profile, { displayName: "Bob" });
  });
});

Deno.test("a reply names a message of the same conversation", async () => {
  await withSides(["Ada", "Bob", "Cy"], async ([a, b, c]) => {
    const first = await a.chat.send(b.keys.accountId, "question");
    const reply = await a.chat.send(b.keys.accountId, "and?", { replyTo: first.id });
    assertEquals(reply.replyTo, { id: first.id, sender: a.keys.accountId, text: "question" });
    const [, item] = await queued(a, b);
    assertEquals(item!.content.type === "text" && item!.content.replyTo, first.id);
    const incomingId = await incoming(a, b);
    const answer = await a.chat.send(b.keys.accountId, "yes", { replyTo: incomingId });
    assertEquals(answer.replyTo?.sender, b.keys.accountId);

    const other = await a.chat.send(c.keys.accountId, "elsewhere");
    assertEquals(
      await code(a.chat.send(b.keys.accountId, "x", { replyTo: other.id })),
      "not_found",
    );
    assertEquals(
      await code(a.chat.send(b.keys.accountId, "x", { replyTo: toHex(randomBytes(16)) })),
      "not_found",
    );
    assertEquals(
      await code(a.chat.send(b.keys.accountId, "x", { replyTo: "nope" })),
      "bad_request",
    );
    await a.chat.deleteMessage(first.id, "everyone");
    assertEquals(await code(a.chat.send(b.keys.accountId, "x", { replyTo: first.id })), "conflict");
    const listed = await a.chat.messages(b.keys.accountId);
    assertEquals(listed.find((m) => m.id === reply.id)?.replyTo, {
      id: first.id,
      sender: null,
      text: null,
    });
    const note = await a.chat.send("self", "n1");
    assertEquals((await a.chat.send("self", "n2", { replyTo: note.id })).replyTo?.text, "n1");
    assertEquals(await code(a.chat.send("self", "x", { replyTo: reply.id })), "not_found");
    assertEquals(await code(a.chat.send("self", "")), "bad_request");
  });
});

Deno.test("outgoingTimer: the sender's expiry in both modes; the swarm TTL only after send", () => {
  assertEquals(outgoingTimer({ mode: "off", seconds: 30 }, 1_000), {
    expiresAt: null,
    ttlMs: null,
  });
  assertEquals(outgoingTimer({ mode: "after_send", seconds: 60 }, 1_000), {
    expiresIn: 60,
    mode: "after_send",
    expiresAt: 61_000,
    ttlMs: 60_000,
  });
  assertEquals(outgoingTimer({ mode: "after_read", seconds: 60 }, 1_000), {
    expiresIn: 60,
    mode: "after_read",
    expiresAt: 61_000,
    ttlMs: null,
  });
  assertEquals(outgoingTimer({ mode: "after_send", seconds: 1 }, 0).ttlMs, 10_000);
  assertEquals(
    outgoingTimer({ mode: "after_send", seconds: MAX_EXPIRES_IN_S }, 0).ttlMs,
    INBOX_TTL_MS,
  );
});

Deno.test("a conversation's timer: validated, shared with the contact, applied to later texts", async () => {
  let now = 1_700_000_000_000;
  await withSides([{ name: "Ada", clock: () => now }, "Bob", "Cy"], async ([a, b, c]) => {
    const to = b.keys.accountId;
    const before = await a.chat.send(to, "before");
    assertEquals(before.expiresAt, null);
    await queued(a, b);
    const sub = a.chat.events();

    const view = await a.chat.updateConversation(to, {
      disappearing: { mode: "after_send", seconds: 60 },
    });
    assertEquals(view.disappearing, { mode: "after_send", seconds: 60 });
    assertEquals((await queuedEvents(sub)).map((e) => e.type), ["conversation"]);
    const [timerItem] = await queued(a, b);
    assertEquals(timerItem!.content.type, "disappearing");
    assertEquals([timerItem!.content.expiresIn, timerItem!.content.mode], [60, "after_send"]);
    assertEquals(timerItem!.messageId, null);

    // The same timer again tells nobody anything; muting is local.
    await a.chat.updateConversation(to, { disappearing: { mode: "after_send", seconds: 60 } });
    const muted = await a.chat.updateConversation(to, { muted: true });
    assertEquals([muted.muted, muted.disappearing.seconds], [true, 60]);
    assertEquals(await queued(a, b), []);

    now += 1_000;
    const text = await a.chat.send(to, "gone in a minute");
    assertEquals(text.expiresAt, text.sentAt + 60_000);
    const [textItem] = await queued(a, b);
    assertEquals([textItem!.content.expiresIn, textItem!.content.mode], [60, "after_send"]);
    assertEquals([textItem!.ttlMs, textItem!.messageId], [60_000, text.id]);
    assertEquals((await a.chat.messages(to)).find((m) => m.id === before.id)?.expiresAt, null);

    await a.chat.updateConversation(to, { disappearing: { mode: "after_read", seconds: 3600 } });
    const [readTimer] = await queued(a, b);
    assertEquals([readTimer!.content.expiresIn, readTimer!.content.mode], [3600, "after_read"]);
    const later = await a.chat.send(to, "gone an hour after reading");
    assertEquals(later.expiresAt, later.sentAt + 3_600_000, "the sender has read what it wrote");
    const [laterItem] = await queued(a, b);
    assertEquals([laterItem!.content.mode, laterItem!.ttlMs], ["after_read", null]);

    const off = await a.chat.updateConversation(to, { disappearing: { mode: "off", seconds: 99 } });
    assertEquals(off.disappearing, { mode: "off", seconds: 0 });
    const [offItem] = await queued(a, b);
    assertEquals(offItem!.content.type, "disappearing");
    assertEquals([offItem!.content.expiresIn, offItem!.content.mode], [undefined, undefined]);
    assertEquals((await a.chat.send(to, "stays")).expiresAt, null);

    // Note to Self: a local timer, nothing queued; its row is made on first use.
    const self = await a.chat.updateConversation(a.keys.accountId, {
      disappearing: { mode: "after_send", seconds: MIN_DISAPPEARING_S },
    });
    assertEquals([self.id, self.disappearing.seconds], ["self", 10]);
    const note = await a.chat.send("self", "brief");
    assertEquals(note.expiresAt, note.sentAt + 10_000);
    assertEquals((await a.chat.conversation("self")).disappearing.mode, "after_send");

    const bad = [
      { disappearing: { mode: "sometimes", seconds: 60 } },
      { disappearing: { mode: "after_send", seconds: MIN_DISAPPEARING_S - 1 } },
      { disappearing: { mode: "after_read", seconds: MAX_EXPIRES_IN_S + 1 } },
      { disappearing: { mode: "after_send", seconds: 12.5 } },
      { disappearing: null },
      { muted: "yes" },
    ];
    for (const patch of bad) {
      // deno-lint-ignore no-explicit-any
      assertEquals(await code(a.chat.updateConversation(to, patch as any)), "bad_request");
    }
    assertEquals(
      (await a.chat.updateConversation(to, {
        disappearing: { mode: "after_read", seconds: MAX_EXPIRES_IN_S },
      }))
        .disappearing.seconds,
      MAX_EXPIRES_IN_S,
    );
    assertEquals(
      await code(a.chat.updateConversation(c.keys.accountId, { muted: true })),
      "not_found",
    );
    assertEquals(await code(a.chat.conversation(c.keys.accountId)), "not_found");
    assertEquals(await code(a.chat.conversation("self-ish")), "bad_account_id");
    sub.close();
  });
});

Deno.test("reactions: one per sender, replaced, removed; refused on deleted messages and requests", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const msg = await a.chat.send(to, "react to me");
    await queued(a, b);
    const sub = a.chat.events();
    const liked = await a.chat.react(msg.id, "👍");
    assertEquals(liked.reactions, [{ sender: a.keys.accountId, emoji: "👍" }]);
    assertEquals((await queuedEvents(sub)).map((e) => e.type), ["update"]);
    const loved = await a.chat.react(msg.id, "❤️");
    assertEquals(loved.reactions, [{ sender: a.keys.accountId, emoji: "❤️" }]);
    assertEquals((await a.chat.react(msg.id, "❤️")).reactions.length, 1, "same emoji: no change");
    const cleared = await a.chat.react(msg.id, null);
    assertEquals(cleared.reactions, []);
    await a.chat.react(msg.id, null);
    const items = await queued(a, b);
    assertEquals(items.map((q) => q.content), [
      { type: "reaction", id: items[0]!.content.id, target: msg.id, emoji: "👍" },
      { type: "reaction", id: items[1]!.content.id, target: msg.id, emoji: "❤️" },
      { type: "reaction", id: items[2]!.content.id, target: msg.id, emoji: "❤️", remove: true },
    ]);
    assert(items[0]!.sentAt < items[1]!.sentAt && items[1]!.sentAt < items[2]!.sentAt);

    // The peer's reaction stays beside the owner's.
    const theirs = await incoming(a, b);
    await a.vault.db.insertInto("reactions").values({
      message_id: theirs,
      sender: to,
      emoji: "😂",
      reacted_at: 1,
    }).execute();
    const both = await a.chat.react(theirs, "😂");
    assertEquals(both.reactions.map((r) => r.sender).sort(), [a.keys.accountId, to].sort());

    assertEquals(await code(a.chat.react(msg.id, "")), "bad_request");
    assertEquals(await code(a.chat.react(msg.id, "x".repeat(17))), "bad_request");
    assertEquals(await code(a.chat.react("not-an-id", "👍")), "bad_request");
    assertEquals(await code(a.chat.react(toHex(randomBytes(16)), "👍")), "not_found");
    await a.chat.deleteMessage(msg.id, "everyone");
    assertEquals(await code(a.chat.react(msg.id, "👍")), "conflict");

    // Bob has a request from Ada: no reaction before accepting.
    const other = await a.chat.send(to, "another");
    await b.chat.receive(await drain(a));
    assertEquals(await code(b.chat.react(other.id, "👍")), "conflict");
    await b.chat.decide(a.keys.accountId, "block");
    assertEquals(await code(b.chat.react(other.id, "👍")), "not_found", "hidden when blocked");

    // Note to Self: local only.
    const note = await a.chat.send("self", "mine");
    assertEquals((await a.chat.react(note.id, "✅")).reactions.length, 1);
    assertEquals(await queued(a, b), []);
    sub.close();
  });
});

Deno.test("edits: only the owner's own undeleted texts, sent with editedAt as their time", async () => {
  let now = 1_700_000_000_000;
  await withSides([{ name: "Ada", clock: () => now }, "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const msg = await a.chat.send(to, "helo");
    await queued(a, b);
    now += 5_000;
    const edited = await a.chat.edit(msg.id, "hello");
    assertEquals([edited.text, edited.editedAt, edited.sentAt], ["hello", now, msg.sentAt]);
    const [item] = await queued(a, b);
    assertEquals(item!.content, {
      type: "edit",
      id: item!.content.id,
      target: msg.id,
      text: "hello",
    });
    assertEquals(item!.sentAt, now);
    // Twice in the same millisecond: the second is still later.
    const again = await a.chat.edit(msg.id, "hello!");
    assert(again.editedAt! > edited.editedAt!);
    await queued(a, b);

    assertEquals(await code(a.chat.edit(msg.id, "")), "bad_request");
    assertEquals(await code(a.chat.edit(msg.id, "x".repeat(10_001))), "too_large");
    assertEquals(await code(a.chat.edit(await incoming(a, b), "mine now")), "bad_request");
    assertEquals(await code(a.chat.edit(toHex(randomBytes(16)), "x")), "not_found");
    await a.chat.deleteMessage(msg.id, "everyone");
    assertEquals(await code(a.chat.edit(msg.id, "x")), "conflict");

    const note = await a.chat.send("self", "draft");
    assertEquals((await a.chat.edit(note.id, "final")).text, "final");
    assertEquals((await queued(a, b)).map((q) => q.content.type), ["delete"]);
  });
});

Deno.test("delete for everyone leaves a tombstone; delete for me removes the row and its outbox item", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const msg = await a.chat.send(to, "oops");
    await a.chat.react(msg.id, "🙈");
    await queued(a, b);
    const sub = a.chat.events();
    const tomb = (await a.chat.deleteMessage(msg.id, "everyone"))!;
    assertEquals([tomb.deleted, tomb.text, tomb.reactions], [true, "", []]);
    const row = await a.vault.db.selectFrom("messages").select("body_json")
      .where("id", "=", msg.id).executeTakeFirstOrThrow();
    assertEquals(row.body_json, "{}");
    const [item] = await queued(a, b);
    assertEquals(item!.content, { type: "delete", id: item!.content.id, target: msg.id });
    assertEquals((await a.chat.deleteMessage(msg.id, "everyone"))?.deleted, true);
    assertEquals(await queued(a, b), [], "a second delete sends nothing");
    assertEquals((await queuedEvents(sub)).map((e) => e.type), ["update"]);

    const theirs = await incoming(a, b);
    assertEquals(await code(a.chat.deleteMessage(theirs, "everyone")), "bad_request");
    // deno-lint-ignore no-explicit-any
    assertEquals(await code(a.chat.deleteMessage(theirs, "them" as any)), "bad_request");
    await a.vault.db.insertInto("reactions").values({
      message_id: theirs,
      sender: to,
      emoji: "👋",
      reacted_at: 1,
    }).execute();
    assertEquals((await a.chat.conversation(to)).unreadCount, 1);
    assertEquals(await a.chat.deleteMessage(theirs, "me"), null);
    assertEquals(await queuedEvents(sub), [{ type: "removed", conversationId: to, ids: [theirs] }]);
    assertEquals(
      (await a.chat.conversation(to)).unreadCount,
      0,
      "an unread message left the count",
    );

    // A queued message deleted for me is never sent.
    const unsent = await a.chat.send(to, "never mind");
    await a.chat.deleteMessage(unsent.id, "me");
    assertEquals(await queued(a, b), []);
    assertEquals(
      await a.vault.db.selectFrom("reactions").select("message_id").execute(),
      [],
    );
    assertEquals((await a.chat.messages(to)).map((m) => m.id), [msg.id]);
    assertEquals(await code(a.chat.deleteMessage(unsent.id, "me")), "not_found");

    const note = await a.chat.send("self", "temp");
    assertEquals((await a.chat.deleteMessage(note.id, "everyone"))?.deleted, true);
    assertEquals(await queued(a, b), []);
    sub.close();
  });
});

Deno.test("typing indicators go only to contacts, only when enabled, and live 10 s", async () => {
  await withSides(["Ada", "Bob", "Cy"], async ([a, b, c]) => {
    const to = b.keys.accountId;
    await a.chat.send(to, "hi");
    await queued(a, b);
    assertEquals(await a.chat.typing(to, true), false, "off by default");
    assertEquals(await queued(a, b), []);
    await a.chat.updateSettings({ typingIndicators: true });
    assertEquals(await a.chat.typing(to, true), true);
    assertEquals(await a.chat.typing(to, false), true);
    const items = await queued(a, b);
    assertEquals(items.map((q) => [q.content.type === "typing" && q.content.active, q.ttlMs]), [
      [true, 10_000],
      [false, 10_000],
    ]);
    // Anyone but an accepted contact: nothing is sent, and it is not an error.
    assertEquals(await a.chat.typing(c.keys.accountId, true), false, "an unknown peer");
    assertEquals(await a.chat.typing("self", true), false, "no notes yet");
    await a.chat.send("self", "note");
    assertEquals(await a.chat.typing("self", true), false);
    assertEquals(await queued(a, c), []);

    // Bob has only a request from Ada: nothing goes to a stranger.
    await a.chat.send(to, "still there?");
    await b.chat.receive(await drain(a));
    assertEquals((await b.chat.requests()).length, 1);
    await b.chat.updateSettings({ typingIndicators: true });
    assertEquals(await b.chat.typing(a.keys.accountId, true), false);
    assertEquals(await drain(b), []);
    // deno-lint-ignore no-explicit-any
    assertEquals(await code(a.chat.typing(to, "yes" as any)), "bad_request");
  });
});

Deno.test("reading marks read, starts after-read timers, and sends read receipts only when enabled", async () => {
  let now = 1_700_000_000_000;
  await withSides([{ name: "Ada", clock: () => now }, "Bob", "Rae"], async ([a, b, r]) => {
    const from = b.keys.accountId;
    const plain = await incoming(a, b, { sentAt: 1 });
    const timed = await incoming(a, b, { sentAt: 2, expireAfterRead: 30 });
    assertEquals((await a.chat.conversations())[0]?.unreadCount, 2);
    const sub = a.chat.events();
    const list = await a.chat.messages(from);
    assertEquals(list.map((m) => [m.id, m.status, m.expiresAt]), [
      [plain, "read", null],
      [timed, "read", now + 30_000],
    ]);
    const events = await queuedEvents(sub);
    assertEquals(events.map((e) => e.type === "update" && e.message.id), [timed]);
    assertEquals((await a.chat.conversations())[0]?.unreadCount, 0);
    assertEquals(await queued(a, b), [], "read receipts are off by default");

    // Reading again changes nothing: the timer keeps its start.
    now += 5_000;
    assertEquals((await a.chat.messages(from))[1]?.expiresAt, now - 5_000 + 30_000);
    assertEquals(await queuedEvents(sub), []);

    await a.chat.updateSettings({ readReceipts: true });
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) ids.push(await incoming(a, b, { sentAt: 10 + i }));
    await a.chat.messages(from, { limit: 1 });
    const receipts = await queued(a, b);
    assertEquals(receipts.map((q) => q.content.type === "receipt" && q.content.kind), [
      "read",
      "read",
    ]);
    assertEquals(
      receipts.flatMap((q) => q.content.type === "receipt" ? q.content.ids : []),
      ids,
      "every id that became read, oldest first, at most 100 per receipt",
    );
    await a.chat.messages(from);
    assertEquals(await queued(a, b), [], "only what became read");

    // A request's messages are marked read, but the stranger gets no receipt.
    const req = await incoming(a, r);
    await a.vault.db.updateTable("contacts").set({ state: "request" })
      .where("account_id", "=", r.keys.accountId).execute();
    assertEquals((await a.chat.messages(r.keys.accountId)).map((m) => [m.id, m.status]), [
      [req, "read"],
    ]);
    assertEquals(await queued(a, r), []);
    assertEquals(await a.chat.messages("self"), [], "Note to Self is there before the first note");
    assertEquals((await a.chat.conversation("self")).lastMessage, null);
    assertEquals(await code(a.chat.messages("hearth1nope")), "bad_account_id");
    sub.close();
  });
});

Deno.test("block and unblock a peer; peers' avatars", async () => {
  await withSides(["Ada", "Bob", "Cy"], async ([a, b, c]) => {
    const to = b.keys.accountId;
    const hi = await a.chat.send(to, "hi");
    const sub = a.chat.events();
    const blocked = await a.chat.setBlocked(to, true);
    assertEquals([blocked.accountId, blocked.state], [to, "blocked"]);
    assertEquals((await a.chat.setBlocked(to, true)).state, "blocked", "idempotent");
    assertEquals((await queuedEvents(sub)).map((e) => e.type === "contact" ? e.contact.state : e), [
      { type: "status", status: { id: hi.id, conversationId: to, status: "failed" } },
      "blocked",
      "blocked",
    ]);
    assertEquals((await a.chat.conversations()).map((v) => v.id), ["self"]);
    assertEquals(await code(a.chat.messages(to)), "not_found");
    assertEquals((await a.chat.setBlocked(to, false)).state, "contact");
    assertEquals((await a.chat.conversations()).map((v) => v.id), [to, "self"]);
    assertEquals(await code(a.chat.setBlocked(to, false)), "not_found", "not blocked");
    assertEquals(await code(a.chat.setBlocked(c.keys.accountId, true)), "not_found");
    assertEquals(await code(a.chat.setBlocked("hearth1nope", true)), "bad_account_id");

    assertEquals(await a.chat.avatar(to), null);
    const bytes = png(120);
    await a.vault.db.updateTable("contacts").set({ avatar: bytes, avatar_type: "image/png" })
      .where("account_id", "=", to).execute();
    assertEquals(await a.chat.avatar(to), { type: "image/png", bytes });
    assertEquals((await a.chat.contacts())[0]?.hasAvatar, true);
    assertEquals(await code(a.chat.avatar(c.keys.accountId)), "not_found");
    assertEquals(await code(a.chat.avatar("hearth1nope")), "bad_account_id");
    assert(parseAccountId(to).length === 32);
    sub.close();
  });
});

Deno.test("blocking deletes what is queued to the peer, and sending to it is refused until unblocked", async () => {
  await withSides(["Ada", "Bob", "Cy"], async ([a, b, c]) => {
    const to = b.keys.accountId;
    const hi = await a.chat.send(to, "hi");
    await a.chat.react(hi.id, "👋");
    await a.chat.send(c.keys.accountId, "to someone else");
    await a.chat.setBlocked(to, true);
    assertEquals(
      (await takeOutbox(a)).map((r) => r.recipient),
      [c.keys.accountId],
      "every row to the blocked peer went; others stay",
    );
    const refused = await assertRejects(() => a.chat.send(to, "still?"), HearthError);
    assertEquals(refused.code, "conflict");
    assert(refused.message.startsWith("Unblock"), refused.message);
    const rows = await a.vault.db.selectFrom("messages").select("id")
      .where("conversation_id", "=", to).execute();
    assertEquals(rows.map((r) => r.id), [hi.id], "a refused send writes nothing");
    assertEquals(
      (await a.chat.send("self", "fine")).status,
      "sent",
      "Note to Self is never blocked",
    );

    await a.chat.setBlocked(to, false);
    assertEquals((await a.chat.messages(to)).map((m) => m.status), ["failed"]);
    assertEquals((await a.chat.send(to, "back")).status, "queued");
    assertEquals((await queued(a, b)).map((q) => q.content.type), ["text"]);

    // Blocking by a request decision drops what was queued to the peer too.
    await a.vault.db.updateTable("contacts").set({ state: "request" })
      .where("account_id", "=", c.keys.accountId).execute();
    await a.vault.db.insertInto("outbox").values({
      id: toHex(randomBytes(16)),
      message_id: null,
      recipient: c.keys.accountId,
      envelope: randomBytes(256),
      created_at: 1,
      next_attempt_at: 1,
      last_error: null,
    }).execute();
    await a.chat.decide(c.keys.accountId, "block");
    assertEquals(await takeOutbox(a), []);
    assertEquals(await code(a.chat.send(c.keys.accountId, "x")), "conflict");
  });
});

Deno.test("edits, reactions and deletes of a disappearing message live no longer than it in the swarm", async () => {
  let now = 1_700_000_000_000;
  await withSides([{ name: "Ada", clock: () => now }, "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const plain = await a.chat.send(to, "stays");
    await a.chat.updateConversation(to, { disappearing: { mode: "after_send", seconds: 600 } });
    const timed = await a.chat.send(to, "goes");
    await queued(a, b);
    now += 300_000;
    await a.chat.edit(timed.id, "goes, edited");
    await a.chat.react(timed.id, "🔥");
    now += 295_000;
    await a.chat.react(timed.id, null);
    await a.chat.deleteMessage(timed.id, "everyone");
    await a.chat.edit(plain.id, "stays, edited");
    const items = await queued(a, b);
    const left = timed.expiresAt! - (now - 295_000); // at the first edit (sent-at times count up)
    assert(left >= 300_000 && left < 300_010, `${left}`);
    assertEquals(items.map((q) => [q.content.type, q.ttlMs]), [
      ["edit", left],
      ["reaction", left],
      ["reaction", 10_000], // about 5 s left: the swarm's shortest TTL
      ["delete", 10_000],
      ["edit", null], // no timer: the inbox default
    ]);

    // A reaction to the peer's disappearing message: the TTL follows its expiry here.
    const theirs = await incoming(a, b);
    await a.vault.db.updateTable("messages").set({ expires_at: now + 42_000 })
      .where("id", "=", theirs).execute();
    await a.chat.react(theirs, "👀");
    assertEquals((await queued(a, b)).map((q) => q.ttlMs), [42_000]);
  });
});

Deno.test("items queued for a message go with it: delete for me, delete for everyone before it was sent", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const sent = await a.chat.send(to, "first");
    await queued(a, b);
    await a.chat.edit(sent.id, "first, edited");
    await a.chat.react(sent.id, "👍");
    const other = await a.chat.send(to, "second");
    const rows = await a.vault.db.selectFrom("outbox").select(["message_id", "target_id"])
      .orderBy("created_at").execute();
    assertEquals(rows, [
      { message_id: null, target_id: sent.id },
      { message_id: null, target_id: sent.id },
      { message_id: other.id, target_id: null },
    ]);
    await a.chat.deleteMessage(sent.id, "me");
    assertEquals(
      (await queued(a, b)).map((q) => [q.content.type, q.messageId]),
      [["text", other.id]],
      "the edit and the reaction of a message deleted for me are never sent",
    );

    // Deleted for everyone while still queued: the text never leaves, the delete still does.
    const oops = await a.chat.send(to, "oops");
    await a.chat.deleteMessage(oops.id, "everyone");
    const items = await queued(a, b);
    assertEquals(items.map((q) => q.content), [
      { type: "delete", id: items[0]!.content.id, target: oops.id },
    ]);
  });
});

Deno.test("timer changes: the owner's change is stamped, and an older change from the peer loses", async () => {
  let now = 1_700_000_000_000;
  await withSides([{ name: "Ada", clock: () => now }, "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    await a.chat.send(to, "hi");
    await b.chat.receive(await drain(a));
    await b.chat.decide(a.keys.accountId, "accept");
    await a.chat.receive(await drain(b));
    // Bob sets a timer first (by his clock), Ada a little later (by hers); Bob's arrives after.
    await b.chat.updateConversation(a.keys.accountId, {
      disappearing: { mode: "after_read", seconds: 60 },
    });
    const bobsItems = await drain(b);
    now = Date.now() + 60_000;
    await a.chat.updateConversation(to, { disappearing: { mode: "after_send", seconds: 600 } });
    const row = await a.vault.db.selectFrom("conversations").select("disappearing_at")
      .where("id", "=", to).executeTakeFirstOrThrow();
    const [item] = await queued(a, b);
    assertEquals(row.disappearing_at, item!.sentAt, "stamped with the time the peer gets");
    await a.chat.receive(bobsItems);
    assertEquals(
      (await a.chat.conversation(to)).disappearing,
      { mode: "after_send", seconds: 600 },
      "the older change from the peer is ignored",
    );
    // Re-setting the same timer changes nothing, not even the stamp.
    now += 1_000;
    await a.chat.updateConversation(to, { disappearing: { mode: "after_send", seconds: 600 } });
    const again = await a.vault.db.selectFrom("conversations").select("disappearing_at")
      .where("id", "=", to).executeTakeFirstOrThrow();
    assertEquals(again.disappearing_at, row.disappearing_at);
  });
});

Deno.test("a contact without a conversation row yet has the default conversation", async () => {
  await withSides(["Ada", "Bob", "Cy"], async ([a, b, c]) => {
    const contact = b.keys.accountId;
    await a.vault.db.insertInto("contacts").values({
      account_id: contact,
      display_name: "Bob",
      state: "contact",
      added_at: 1,
    }).execute();
    assertEquals(await a.chat.conversation(contact), {
      id: contact,
      kind: "1:1",
      displayName: "Bob",
      nickname: null,
      lastMessage: null,
      unreadCount: 0,
      disappearing: { mode: "off", seconds: 0 },
      muted: false,
    });
    const other = c.keys.accountId;
    await a.vault.db.insertInto("contacts").values({
      account_id: other,
      display_name: null,
      state: "request",
      added_at: 1,
    }).execute();
    for (const state of ["request", "declined", "blocked"] as const) {
      await a.vault.db.updateTable("contacts").set({ state }).where("account_id", "=", other)
        .execute();
      assertEquals(await code(a.chat.conversation(other)), "not_found", state);
      assertEquals(await code(a.chat.messages(other)), "not_found", state);
    }
    assertEquals(await a.chat.messages(contact), [], "a contact's conversation lists, empty");
    const stranger = (await accountKeysFromSeed(createSeed())).accountId;
    assertEquals(await code(a.chat.conversation(stranger)), "not_found");
    assertEquals(await code(a.chat.messages(stranger)), "not_found");
  });
});

Deno.test("a reply, reaction, edit, delete and timer reach the peer end to end", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const to = b.keys.accountId;
    const first = await a.chat.send(to, "first");
    await b.chat.receive(await drain(a));
    await b.chat.decide(a.keys.accountId, "accept");
    await a.chat.receive(await drain(b));
    const reply = await b.chat.send(a.keys.accountId, "re", { replyTo: first.id });
    await b.chat.react(first.id, "👍");
    await a.chat.receive(await drain(b));
    const atAda = await a.chat.messages(to);
    assertEquals(atAda.map((m) => [m.id, m.reactions.map((r) => r.emoji)]), [
      [first.id, ["👍"]],
      [reply.id, []],
    ]);
    assertEquals(atAda[1]!.replyTo?.text, "first");

    await a.chat.edit(first.id, "first, edited");
    await a.chat.updateConversation(to, { disappearing: { mode: "after_send", seconds: 600 } });
    const timed = await a.chat.send(to, "timed");
    await b.chat.receive(await drain(a));
    const atBob = await b.chat.messages(a.keys.accountId);
    assertEquals(atBob.find((m) => m.id === first.id)?.text, "first, edited");
    assertEquals((await b.chat.conversation(a.keys.accountId)).disappearing.seconds, 600);
    assert(atBob.find((m) => m.id === timed.id)?.expiresAt !== null);

    await a.chat.deleteMessage(first.id, "everyone");
    await b.chat.receive(await drain(a));
    assertEquals(
      (await b.chat.messages(a.keys.accountId)).find((m) => m.id === first.id)?.deleted,
      true,
    );
  });
});

Deno.test("an after-read timer started by reading wakes the sweeper, which removes the message", async () => {
  await withSides(["Ada", "Bob"], async ([a, b]) => {
    const id = await incoming(a, b, { expireAfterRead: 1 });
    const sub = a.chat.events();
    await a.chat.messages(b.keys.accountId);
    const seen: ChatEvent[] = [];
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && !seen.some((e) => e.type === "removed")) {
      const e = await sub.next(deadline - Date.now());
      if (e && e !== "idle") seen.push(e);
    }
    assertEquals(seen.map((e) => e.type), ["update", "removed"]);
    assertEquals(seen[1], { type: "removed", conversationId: b.keys.accountId, ids: [id] });
    assertEquals(await a.chat.messages(b.keys.accountId), []);
    sub.close();
  });
});
