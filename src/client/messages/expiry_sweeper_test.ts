import { assert, assertEquals } from "../../../tests/assert.ts";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import type { RemovedMessages } from "./message_removal.ts";
import { ExpirySweeper, PRUNE_EVERY_MS, SEEN_HASH_MAX_AGE_MS } from "./expiry_sweeper.ts";

const T0 = 1_700_000_000_000;

async function withVault(fn: (vault: ClientVault) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-sweeper-" });
  const vault = await ClientVault.open(dir, { kdfParams: TEST_KDF });
  try {
    await vault.create(TEST_PASS);
    await fn(vault);
  } finally {
    await vault.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A message row with a reaction, and a reaction of the owner still queued
 * for it (an outbox row whose `target_id` names it) when not Note to Self;
 * unread when incoming. An outgoing message is `sent`, or `queued` with its
 * own outbox row.
 */
async function message(
  vault: ClientVault,
  m: {
    conversation: string;
    expiresAt: number | null;
    direction?: "in" | "out";
    status?: "queued" | "sent" | "failed";
  },
): Promise<string> {
  const id = toHex(randomBytes(16));
  const direction = m.direction ?? "out";
  const status = direction === "out" ? m.status ?? "sent" : "delivered";
  await vault.db.insertInto("conversations").values({
    id: m.conversation,
    kind: m.conversation === "self" ? "self" : "1:1",
    last_message_at: T0,
    unread_count: 0,
  }).onConflict((oc) => oc.column("id").doNothing()).execute();
  await vault.db.insertInto("messages").values({
    id,
    conversation_id: m.conversation,
    direction,
    sender: direction === "out" ? "me" : m.conversation,
    sent_at: T0,
    received_at: null,
    body_json: JSON.stringify({ text: "secret" }),
    status,
    reply_to: null,
    edited_at: null,
    expires_at: m.expiresAt,
  }).execute();
  if (direction === "in") {
    await vault.db.updateTable("conversations")
      .set((eb) => ({ unread_count: eb("unread_count", "+", 1) }))
      .where("id", "=", m.conversation).execute();
  }
  await vault.db.insertInto("reactions").values({
    message_id: id,
    sender: "me",
    emoji: "👍",
    reacted_at: T0,
  }).execute();
  if (m.conversation === "self") return id;
  const outbox = { recipient: m.conversation, envelope: randomBytes(256), last_error: null };
  const at = { created_at: T0, next_attempt_at: T0, ttl_ms: 60_000 };
  if (status === "queued") {
    await vault.db.insertInto("outbox").values({ id, message_id: id, ...outbox, ...at })
      .execute();
  }
  await vault.db.insertInto("outbox").values({
    id: toHex(randomBytes(16)),
    message_id: null,
    target_id: id,
    ...outbox,
    ...at,
  }).execute();
  return id;
}

async function ids(vault: ClientVault, table: "messages" | "reactions" | "outbox") {
  if (table === "outbox") {
    const rows = await vault.db.selectFrom("outbox").select(["message_id", "target_id"])
      .execute();
    return rows.map((r) => r.message_id ?? r.target_id).sort();
  }
  const col = table === "reactions" ? "message_id" : "id";
  const rows = await vault.db.selectFrom(table).select(col).execute();
  return rows.map((r) => (r as Record<string, string>)[col]).sort();
}

Deno.test("a sweep removes expired messages with their reactions and outbox rows, per conversation", async () => {
  await withVault(async (vault) => {
    let now = T0;
    const removed: RemovedMessages[] = [];
    const sweeper = new ExpirySweeper(vault.db, {
      clock: () => now,
      onRemoved: (r) => removed.push(r),
    });
    const a1 = await message(vault, { conversation: "peer-a", expiresAt: T0 + 1_000 });
    const a2 = await message(vault, {
      conversation: "peer-a",
      expiresAt: T0 + 1_000,
      direction: "in",
    });
    const self = await message(vault, { conversation: "self", expiresAt: T0 + 2_000 });
    const later = await message(vault, { conversation: "peer-b", expiresAt: T0 + 5_000 });
    const never = await message(vault, { conversation: "peer-b", expiresAt: null });

    assertEquals(await sweeper.runOnce(), T0 + 1_000, "nothing due: the next expiry");
    assertEquals(removed, []);
    now = T0 + 2_000;
    assertEquals(await sweeper.runOnce(), T0 + 5_000);
    assertEquals(
      removed.map((r) => ({ ...r, ids: r.ids.sort() })).sort((x, y) =>
        x.conversationId < y.conversationId ? -1 : 1
      ),
      [
        { conversationId: "peer-a", ids: [a1, a2].sort() },
        { conversationId: "self", ids: [self] },
      ],
    );
    assertEquals(await ids(vault, "messages"), [later, never].sort());
    assertEquals(await ids(vault, "reactions"), [later, never].sort());
    assertEquals(
      await ids(vault, "outbox"),
      [later, never].sort(),
      "the items queued for a removed message went with it",
    );
    const conv = await vault.db.selectFrom("conversations").select("unread_count")
      .where("id", "=", "peer-a").executeTakeFirstOrThrow();
    assertEquals(conv.unread_count, 0, "the unread message left the count");

    removed.length = 0;
    now = T0 + 10_000;
    assertEquals(await sweeper.runOnce(), undefined, "no timer left");
    assertEquals(removed, [{ conversationId: "peer-b", ids: [later] }]);
    assertEquals(await ids(vault, "messages"), [never]);
  });
});

Deno.test("an outgoing message still queued is not removed before it was sent or failed", async () => {
  await withVault(async (vault) => {
    let now = T0;
    const removed: RemovedMessages[] = [];
    const sweeper = new ExpirySweeper(vault.db, {
      clock: () => now,
      onRemoved: (r) => removed.push(r),
    });
    const queued = await message(vault, {
      conversation: "peer-a",
      expiresAt: T0 + 1_000,
      status: "queued",
    });
    const failed = await message(vault, {
      conversation: "peer-a",
      expiresAt: T0 + 1_000,
      status: "failed",
    });
    const other = await message(vault, { conversation: "peer-b", expiresAt: T0 + 9_000 });
    now = T0 + 5_000;
    assertEquals(await sweeper.runOnce(), T0 + 9_000, "the queued one is not due");
    assertEquals(removed, [{ conversationId: "peer-a", ids: [failed] }]);
    assertEquals(await ids(vault, "messages"), [other, queued].sort());
    assertEquals(await ids(vault, "outbox"), [other, queued, queued].sort());

    // The outbox worker sends it: the next pass removes it.
    await vault.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("outbox").where("message_id", "=", queued).execute();
      await tx.updateTable("messages").set({ status: "sent" }).where("id", "=", queued).execute();
    });
    removed.length = 0;
    assertEquals(await sweeper.runOnce(), T0 + 9_000);
    assertEquals(removed, [{ conversationId: "peer-a", ids: [queued] }]);
    assertEquals(await ids(vault, "messages"), [other]);
    assertEquals(await ids(vault, "outbox"), [other]);
  });
});

Deno.test("seen item hashes are pruned after 15 days, at the first sweep and then hourly", async () => {
  await withVault(async (vault) => {
    let now = T0;
    const sweeper = new ExpirySweeper(vault.db, { clock: () => now });
    const seen = async (at: number) => {
      const hash = randomBytes(32);
      await vault.db.insertInto("seen_hashes").values({ hash, seen_at: at }).execute();
    };
    const left = async () =>
      (await vault.db.selectFrom("seen_hashes").select("seen_at").orderBy("seen_at").execute())
        .map((r) => r.seen_at);
    await seen(T0 - SEEN_HASH_MAX_AGE_MS - 1);
    await seen(T0 - SEEN_HASH_MAX_AGE_MS + 60_000);
    await seen(T0 - 1_000);
    await sweeper.runOnce();
    assertEquals(await left(), [T0 - SEEN_HASH_MAX_AGE_MS + 60_000, T0 - 1_000]);

    now = T0 + 120_000; // the middle one is now over 15 days old, but the hour has not passed
    await sweeper.runOnce();
    assertEquals((await left()).length, 2);
    now = T0 + PRUNE_EVERY_MS;
    await sweeper.runOnce();
    assertEquals(await left(), [T0 - 1_000]);
  });
});

Deno.test("the loop sleeps until the next expiry, wakes when kicked, and stops promptly", async () => {
  await withVault(async (vault) => {
    const removed: RemovedMessages[] = [];
    const sweeper = new ExpirySweeper(vault.db, { onRemoved: (r) => removed.push(r) });
    sweeper.start();
    const waitFor = async (cond: () => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return cond();
    };
    // Added after the first sweep: only a kick makes the loop see it before a minute.
    await new Promise((r) => setTimeout(r, 50));
    const first = await message(vault, { conversation: "self", expiresAt: Date.now() + 150 });
    sweeper.kick();
    const second = await message(vault, { conversation: "self", expiresAt: Date.now() + 400 });
    assert(await waitFor(() => removed.length >= 1, 1_000), "removed after the kick");
    assertEquals(removed[0], { conversationId: "self", ids: [first] });
    assert(await waitFor(() => removed.length >= 2, 1_000), "removed at its own expiry");
    assertEquals(removed[1], { conversationId: "self", ids: [second] });
    const started = Date.now();
    await sweeper.stop();
    assert(Date.now() - started < 500, "stop does not wait out the sleep");
  });
});
