import { sql } from "kysely";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { type ClientDb, clientMigrations } from "./schema.ts";

async function withDb(fn: (db: Awaited<ReturnType<typeof open>>["db"]) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hearth-schema-" });
  const opened = await open(dir);
  try {
    await fn(opened.db);
  } finally {
    await opened.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function open(dir: string) {
  return openDatabase<ClientDb>(`${dir}/client.db`, clientMigrations);
}

Deno.test("every table takes a row and gives it back, with defaults", async () => {
  await withDb(async (db) => {
    const seed = randomBytes(32);
    await db.insertInto("account").values({ id: 1, seed, created_at: 5 }).execute();
    const account = await db.selectFrom("account").selectAll().executeTakeFirstOrThrow();
    assert(account.seed instanceof ArrayBuffer, "blobs come back as ArrayBuffer");
    assertEquals(new Uint8Array(account.seed), seed);
    assertEquals(account.display_name, "");
    assertEquals(account.avatar, null);

    await db.insertInto("contacts").values({
      account_id: "peer",
      display_name: null,
      avatar_type: null,
      state: "request",
      added_at: 1,
    }).execute();
    await db.insertInto("conversations").values({ id: "peer", kind: "1:1", last_message_at: 3 })
      .execute();
    const conv = await db.selectFrom("conversations").selectAll().executeTakeFirstOrThrow();
    assertEquals(conv, {
      id: "peer",
      kind: "1:1",
      last_message_at: 3,
      unread_count: 0,
      disappearing_mode: "off",
      disappearing_seconds: 0,
      muted: 0,
      disappearing_at: 0,
    });
    await db.insertInto("messages").values({
      id: "m",
      conversation_id: "peer",
      direction: "in",
      sender: "peer",
      sent_at: 3,
      received_at: 4,
      body_json: "{}",
      status: "delivered",
      reply_to: null,
      edited_at: null,
      expires_at: null,
    }).execute();
    const message = await db.selectFrom("messages").select(["deleted"]).executeTakeFirstOrThrow();
    assertEquals(message.deleted, 0);
    await db.insertInto("reactions").values({
      message_id: "m",
      sender: "peer",
      emoji: "👍",
      reacted_at: 5,
    }).execute();
    await db.insertInto("outbox").values({
      id: "o",
      message_id: "m",
      recipient: "peer",
      envelope: randomBytes(10),
      created_at: 1,
      next_attempt_at: 2,
      last_error: null,
    }).execute();
    const out = await db.selectFrom("outbox").selectAll().executeTakeFirstOrThrow();
    assertEquals([out.attempts, out.ttl_ms, out.target_id], [0, null, null]);
    await db.insertInto("seen_hashes").values({ hash: randomBytes(32), seen_at: 1 }).execute();
    await db.insertInto("settings").values({ key: "readReceipts", value_json: "false" }).execute();
    await db.insertInto("paths").values({
      node_id: "ab",
      role: "guard",
      addr: "127.0.0.1:7000",
      pinned_at: 1,
    }).execute();
    const path = await db.selectFrom("paths").selectAll().executeTakeFirstOrThrow();
    assertEquals(path.failures, 0);
  });
});

Deno.test("the account table holds one row; a reaction per sender per message", async () => {
  await withDb(async (db) => {
    await db.insertInto("account").values({ id: 1, seed: randomBytes(32), created_at: 1 })
      .execute();
    await assertRejects(() =>
      db.insertInto("account").values({ id: 1, seed: randomBytes(32), created_at: 2 }).execute()
    );
    const raw = sql`INSERT INTO account (id, seed, created_at) VALUES (2, x'00', 3)`;
    await assertRejects(() => raw.execute(db));
    const reaction = { message_id: "m", sender: "s", emoji: "👍", reacted_at: 1 };
    await db.insertInto("reactions").values(reaction).execute();
    await assertRejects(() => db.insertInto("reactions").values(reaction).execute());
  });
});

Deno.test("the obvious queries use indexes", async () => {
  await withDb(async (db) => {
    const plan = async (query: string) => {
      const rows = await sql.raw<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`).execute(db);
      return rows.rows.map((r) => r.detail).join(" | ");
    };
    const checks: Array<[string, string]> = [
      [
        "SELECT * FROM messages WHERE conversation_id = 'x' ORDER BY sent_at DESC LIMIT 50",
        "messages_conversation_sent",
      ],
      ["SELECT * FROM outbox WHERE next_attempt_at <= 5 ORDER BY next_attempt_at", "outbox_next"],
      [
        "SELECT * FROM messages WHERE expires_at IS NOT NULL AND expires_at <= 5",
        "messages_expires",
      ],
      ["DELETE FROM seen_hashes WHERE seen_at < 5", "seen_hashes_seen"],
      ["SELECT * FROM contacts WHERE state = 'request'", "contacts_state"],
      ["DELETE FROM outbox WHERE target_id IN ('a', 'b')", "outbox_target"],
      [
        "SELECT * FROM messages WHERE (sent_at, id) < (5, 'x') ORDER BY sent_at DESC, id DESC",
        "messages_sent",
      ],
    ];
    for (const [query, index] of checks) {
      const detail = await plan(query);
      assert(detail.includes(index), `${query}: ${detail}`);
    }
  });
});

Deno.test("v3 adds outbox.target_id and conversations.disappearing_at to a v2 database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-schema-" });
  try {
    const v2 = await openDatabase<ClientDb>(`${dir}/client.db`, clientMigrations.slice(0, 2));
    await sql`INSERT INTO conversations (id, kind, last_message_at) VALUES ('peer', '1:1', 3)`
      .execute(v2.db);
    await sql`INSERT INTO outbox (id, message_id, recipient, envelope, created_at, next_attempt_at)
      VALUES ('o', NULL, 'peer', x'00', 1, 1)`.execute(v2.db);
    await v2.close();
    const v3 = await open(dir);
    try {
      const conv = await v3.db.selectFrom("conversations").select("disappearing_at")
        .executeTakeFirstOrThrow();
      assertEquals(conv.disappearing_at, 0);
      const out = await v3.db.selectFrom("outbox").select("target_id").executeTakeFirstOrThrow();
      assertEquals(out.target_id, null);
      await v3.db.updateTable("outbox").set({ target_id: "m" }).execute();
      const version = await sql<{ v: number }>`SELECT MAX(version) AS v FROM schema_version`
        .execute(v3.db);
      assertEquals(version.rows[0]?.v, clientMigrations.at(-1)!.version);
    } finally {
      await v3.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("v7 adds contacts.nickname (null for known peers) to a v6 database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-schema-" });
  try {
    const v6 = await openDatabase<ClientDb>(`${dir}/client.db`, clientMigrations.slice(0, 6));
    await sql`INSERT INTO contacts (account_id, display_name, state, added_at)
      VALUES ('peer', 'Bob', 'contact', 1)`.execute(v6.db);
    await v6.close();
    const v7 = await open(dir);
    try {
      const row = await v7.db.selectFrom("contacts").select(["display_name", "nickname"])
        .executeTakeFirstOrThrow();
      assertEquals(row, { display_name: "Bob", nickname: null });
    } finally {
      await v7.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
