import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import { SwarmClient } from "../network/swarm_client.ts";
import { ChatService } from "./chat_service.ts";
import { backoffMs, OUTBOX_GIVE_UP_MS, OutboxWorker } from "./outbox_worker.ts";

interface Side {
  vault: ClientVault;
  keys: AccountKeys;
  chat: ChatService;
}

const noNodes = new SwarmClient({ nodes: () => [] });

async function side(dir: string, name: string): Promise<Side> {
  const vault = await ClientVault.open(`${dir}/${name}`, { kdfParams: TEST_KDF });
  await vault.create(TEST_PASS);
  const keys = await accountKeysFromSeed(createSeed());
  const chat = await ChatService.start({ db: vault.db, keys, displayName: name });
  return { vault, keys, chat };
}

/** Take every outbox envelope of `from` as retrieved items, and empty its outbox. */
async function drain(from: Side) {
  const rows = await from.vault.db.selectFrom("outbox").selectAll().orderBy("created_at")
    .orderBy("id").execute();
  await from.vault.db.deleteFrom("outbox").execute();
  return rows.map((r) => ({
    hash: toHex(randomBytes(32)),
    expiry: 0,
    data: new Uint8Array(r.envelope),
  }));
}

async function code(p: Promise<unknown>): Promise<string> {
  return (await assertRejects(() => p, HearthError)).code;
}

Deno.test("a first message is a request; accept sends receipts; duplicates and blocked senders are dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-chat-" });
  const a = await side(dir, "Ada");
  const b = await side(dir, "Bob");
  try {
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
    assertEquals(await b.chat.conversations(), []);
    const inbox = await b.chat.messages(a.keys.accountId);
    assertEquals(inbox.map((m) => [m.id, m.text, m.direction]), [[sent.id, "hello Bob", "in"]]);
    assertEquals(await drain(b), [], "no receipt to a stranger");

    await b.chat.decide(a.keys.accountId, "accept");
    assertEquals((await b.chat.conversations()).map((c) => c.id), [a.keys.accountId]);
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
      "delivered",
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
  } finally {
    await a.chat.stop();
    await b.chat.stop();
    await a.vault.close();
    await b.vault.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Note to Self stays local; bad input is refused with a code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-chat-" });
  const a = await side(dir, "Ada");
  try {
    const note = await a.chat.send(a.keys.accountId, "milk");
    assertEquals([note.status, note.conversationId], ["sent", "self"]);
    assertEquals(await drain(a), []);
    const list = await a.chat.conversations();
    assertEquals(list.map((c) => [c.id, c.kind, c.lastMessage?.text]), [["self", "self", "milk"]]);
    assertEquals((await a.chat.messages("self")).map((m) => m.text), ["milk"]);
    assertEquals(await code(a.chat.send("hearth1nope", "x")), "bad_account_id");
    assertEquals(await code(a.chat.send("self", "x".repeat(10_001))), "too_large");
    assertEquals(await code(a.chat.messages(toHex(randomBytes(8)))), "not_found");
    const other = await accountKeysFromSeed(createSeed());
    assertEquals(await code(a.chat.decide(other.accountId, "accept")), "not_found");
  } finally {
    await a.chat.stop();
    await a.vault.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the outbox retries with growing backoff and gives up as failed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-chat-" });
  const a = await side(dir, "Ada");
  try {
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
  } finally {
    await a.chat.stop();
    await a.vault.close();
    await Deno.remove(dir, { recursive: true });
  }
});
