import type { Kysely } from "kysely";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb, ContactState, GroupState } from "../db/schema.ts";
import {
  findInText,
  foldCase,
  MAX_QUERY_CHARS,
  parseSearchQuery,
  searchMessages,
  snippetAround,
} from "./message_search.ts";
import { withClientDb } from "./test_chat_db.ts";

const GROUP = `hearthg1${"q".repeat(58)}`;
let serial = 0;

/** Store a message row as the chat would (only the columns search reads matter). */
async function put(
  db: Kysely<ClientDb>,
  conversationId: string,
  text: string,
  sentAt: number,
  more: { deleted?: boolean; expiresAt?: number; body?: string } = {},
): Promise<string> {
  const id = (++serial).toString(16).padStart(32, "0");
  await db.insertInto("messages").values({
    id,
    conversation_id: conversationId,
    direction: "in",
    sender: conversationId === GROUP ? "hearth1member" : conversationId,
    sent_at: sentAt,
    received_at: sentAt,
    body_json: more.body ?? (more.deleted ? "{}" : JSON.stringify({ text })),
    status: "delivered",
    reply_to: null,
    edited_at: null,
    deleted: more.deleted ? 1 : 0,
    expires_at: more.expiresAt ?? null,
  }).execute();
  return id;
}

async function peer(db: Kysely<ClientDb>, id: string, state: ContactState): Promise<void> {
  await db.insertInto("contacts").values({
    account_id: id,
    display_name: null,
    state,
    added_at: 1,
  }).execute();
}

async function group(db: Kysely<ClientDb>, state: GroupState): Promise<void> {
  await db.insertInto("groups").values({
    id: GROUP,
    state,
    name: "G",
    access_seed: new Uint8Array(32),
    access_token: new Uint8Array(64),
    invited_by: null,
    created_at: 1,
  }).execute();
}

const ids = (answer: { results: { messageId: string }[] }) =>
  answer.results.map((r) => r.messageId);

Deno.test("search: case-insensitive beyond ASCII, offsets in the original text", () => {
  assertEquals(foldCase("ÄbΣ").folded, "äbσ");
  assertEquals(findInText("Grüße aus KÖLN", foldCase("köln").folded), { start: 10, end: 14 });
  assertEquals(findInText("ΟΔΟΣ", foldCase("οδος").folded), { start: 0, end: 4 }, "final sigma");
  // Folding "İ" makes two units; the match still maps back to the original.
  assertEquals(findInText("İstanbul x", foldCase("stanbul").folded), { start: 1, end: 8 });
  assertEquals(findInText("a 👍 b", foldCase("👍").folded), { start: 2, end: 4 });
  assertEquals(findInText("hello", foldCase("world").folded), undefined);
});

Deno.test("search: a snippet cuts long text around the match, never inside a code point", () => {
  const text = `${"😀".repeat(30)} the needle is here\nand then ${"x".repeat(200)}`;
  const match = findInText(text, "needle")!;
  const { snippet, match: at } = snippetAround(text, match);
  assertEquals(snippet.slice(at.start, at.start + at.length), "needle");
  assert(snippet.startsWith("…") && snippet.endsWith("…"), snippet);
  assert(snippet.isWellFormed(), "no lone surrogate");
  assert(!snippet.includes("\n"), "whitespace shown as spaces");
  assert(snippet.length <= 1 + 41 + 6 + 81 + 1, `${snippet.length}`);
  const short = snippetAround("a needle", findInText("a needle", "needle")!);
  assertEquals(short, { snippet: "a needle", match: { start: 2, length: 6 } });
});

Deno.test("search: the query is 1 to 100 characters of well-formed text", () => {
  assertEquals(parseSearchQuery("  Héllo \n"), "Héllo");
  assertEquals(parseSearchQuery("e\u0301"), "é", "NFC");
  assertEquals(parseSearchQuery("👍".repeat(MAX_QUERY_CHARS)).length, 2 * MAX_QUERY_CHARS);
  for (const bad of ["", "   ", "x".repeat(MAX_QUERY_CHARS + 1), "\ud800", 5, null]) {
    try {
      parseSearchQuery(bad);
      throw new Error(`accepted ${JSON.stringify(bad)}`);
    } catch (err) {
      assert(err instanceof HearthError && err.code === "bad_request", String(err));
    }
  }
});

Deno.test("search: newest first, only conversations the owner sees, no deleted or expired", async () => {
  await withClientDb(async (db) => {
    await peer(db, "hearth1contact", "contact");
    await peer(db, "hearth1request", "request");
    await peer(db, "hearth1blocked", "blocked");
    await peer(db, "hearth1declined", "declined");
    await group(db, "left");
    const note = await put(db, "self", "Apples in the note", 10);
    const fromContact = await put(db, "hearth1contact", "green APPLES", 30);
    const inGroup = await put(db, GROUP, "apples for the group", 20);
    await put(db, "hearth1request", "apples from a stranger", 40);
    await put(db, "hearth1blocked", "apples blocked", 41);
    await put(db, "hearth1declined", "apples declined", 42);
    await put(db, "hearth1contact", "", 43, { deleted: true });
    await put(db, "hearth1contact", "apples gone", 44, { expiresAt: 999 });
    const later = await put(db, "hearth1contact", "apples later", 45, { expiresAt: 5_000 });
    await put(db, "hearth1contact", "apples", 46, { body: "not json" });
    await put(db, "hearth1contact", "pears", 47);

    const found = await searchMessages(db, "apples", { now: 1_000 });
    assertEquals(ids(found), [later, fromContact, inGroup, note]);
    assertEquals(found.complete, true);
    assertEquals(found.results[1], {
      conversationId: "hearth1contact",
      messageId: fromContact,
      sender: "hearth1contact",
      direction: "in",
      sentAt: 30,
      snippet: "green APPLES",
      match: { start: 6, length: 6 },
    });
    assertEquals(ids(await searchMessages(db, "APPLES", { now: 1_000, limit: 2 })), [
      later,
      fromContact,
    ]);
    assertEquals(ids(await searchMessages(db, "kiwi", { now: 1_000 })), []);
    // A group the owner was only invited to is not searched.
    await db.updateTable("groups").set({ state: "invited" }).execute();
    assertEquals(ids(await searchMessages(db, "apples", { now: 1_000 })), [
      later,
      fromContact,
      note,
    ]);
    for (const limit of [0, 201, 1.5]) {
      const err = await assertRejects(
        () => searchMessages(db, "apples", { now: 1, limit }),
        HearthError,
      );
      assertEquals(err.code, "bad_request");
    }
  });
});

Deno.test("search: reads at most the newest scanLimit messages, in pages, and says so", async () => {
  await withClientDb(async (db) => {
    await peer(db, "hearth1contact", "contact");
    // 1,200 messages (more than two pages), equal times included: the order is by (time, id).
    const all: string[] = [];
    for (let i = 0; i < 1_200; i++) {
      all.push(await put(db, "hearth1contact", `message ${i} match`, Math.floor(i / 3)));
    }
    const newest = [...all].reverse();
    const every = await searchMessages(db, "match", { now: 1, limit: 200 });
    assertEquals(ids(every), newest.slice(0, 200));
    const bounded = await searchMessages(db, "match", { now: 1, limit: 200, scanLimit: 150 });
    assertEquals(ids(bounded), newest.slice(0, 150));
    assertEquals(bounded.complete, false, "older messages were left unread");
    const oldest = await searchMessages(db, "message 0 match", { now: 1, scanLimit: 1_100 });
    assertEquals([ids(oldest), oldest.complete], [[], false]);
    const whole = await searchMessages(db, "message 0 match", { now: 1, scanLimit: 1_200 });
    assertEquals([ids(whole), whole.complete], [[all[0]], true]);
    const deep = await searchMessages(db, "message 0 match", { now: 1 });
    assertEquals([ids(deep), deep.complete], [[all[0]], true], "the default bound reads all");
  });
});
