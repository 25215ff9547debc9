import { assert, assertEquals } from "../../../tests/assert.ts";
import { MAX_INBOX_TTL_MS, MIN_TTL_MS } from "../../shared/codec/limits.ts";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { accountKeysFromSeed, createSeed, parseAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { StatusChange } from "./chat_events.ts";
import {
  backoffMs,
  INBOX_NS,
  INBOX_TTL_MS,
  type InboxStore,
  OUTBOX_CONCURRENCY,
  OUTBOX_GIVE_UP_MS,
  OutboxWorker,
  storeTtlMs,
} from "./outbox_worker.ts";
import { withClientDb } from "./test_chat_db.ts";
import type { Kysely } from "kysely";

const T0 = 1_800_000_000_000;
const decoder = new TextDecoder();

/** One store call as the network edge saw it. */
interface StoreCall {
  recipient: string;
  ns: number;
  item: string;
  ttlMs: number;
}

/**
 * The network edge of the worker: records every store call, and on demand
 * fails a recipient's stores (`unavailable`) or holds them until released.
 */
class InboxDouble implements InboxStore {
  readonly calls: StoreCall[] = [];
  readonly failing = new Set<string>();
  readonly holding = new Set<string>();
  holdAll = false;
  active = 0;
  maxActive = 0;
  maxPerRecipient = 0;
  readonly #active = new Map<string, number>();
  readonly #byKey = new Map<string, string>();
  readonly #waiting: (() => void)[] = [];

  constructor(recipients: string[]) {
    for (const r of recipients) this.#byKey.set(toHex(swarmKeyOf(parseAccountId(r))), r);
  }

  /** Calls waiting to be released. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Let every held call go on. */
  release(): void {
    for (const go of this.#waiting.splice(0)) go();
  }

  async store(
    key: Uint8Array,
    ns: number,
    data: Uint8Array,
    options: { ttlMs: number },
  ): Promise<unknown> {
    const recipient = this.#byKey.get(toHex(key)) ?? "unknown";
    this.calls.push({ recipient, ns, item: decoder.decode(data), ttlMs: options.ttlMs });
    const mine = (this.#active.get(recipient) ?? 0) + 1;
    this.#active.set(recipient, mine);
    this.maxPerRecipient = Math.max(this.maxPerRecipient, mine);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    try {
      if (this.holdAll || this.holding.has(recipient)) {
        await new Promise<void>((go) => this.#waiting.push(go));
      }
      if (this.failing.has(recipient)) {
        throw new HearthError("unavailable", "No swarm member acknowledged the store");
      }
      return { hash: toHex(randomBytes(32)), expiry: T0 + options.ttlMs };
    } finally {
      this.active--;
      this.#active.set(recipient, this.#active.get(recipient)! - 1);
    }
  }

  /** The items stored for one recipient, in call order. */
  itemsOf(recipient: string): string[] {
    return this.calls.filter((c) => c.recipient === recipient).map((c) => c.item);
  }
}

interface Fixture {
  db: Kysely<ClientDb>;
  recipients: string[];
  inbox: InboxDouble;
  statuses: StatusChange[];
  clock: { now: number };
  worker: OutboxWorker;
}

/** Run `fn` over a fresh client database, `n` recipients and a worker with a settable clock. */
async function withWorker(n: number, fn: (f: Fixture) => Promise<void>): Promise<void> {
  await withClientDb(async (db) => {
    const recipients: string[] = [];
    for (let i = 0; i < n; i++) {
      recipients.push((await accountKeysFromSeed(createSeed())).accountId);
    }
    const inbox = new InboxDouble(recipients);
    const statuses: StatusChange[] = [];
    const clock = { now: T0 };
    const worker = new OutboxWorker(db, inbox, {
      clock: () => clock.now,
      onStatus: (s) => statuses.push(s),
    });
    try {
      await fn({ db, recipients, inbox, statuses, clock, worker });
    } finally {
      inbox.holding.clear();
      inbox.holdAll = false;
      inbox.release();
      await worker.stop();
    }
  });
}

/**
 * Queue an item as the sending side does: a message row (unless a control
 * item) and an outbox row whose envelope is the item's id, so a store call
 * names what it carries.
 */
async function queue(
  db: Kysely<ClientDb>,
  item: { id: string; to: string; at: number },
  options: { ttlMs?: number | null; control?: boolean } = {},
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (!options.control) {
      await tx.insertInto("messages").values({
        id: item.id,
        conversation_id: item.to,
        direction: "out",
        sender: "owner",
        sent_at: item.at,
        received_at: null,
        body_json: JSON.stringify({ text: item.id }),
        status: "queued",
        reply_to: null,
        edited_at: null,
        expires_at: null,
      }).execute();
    }
    await tx.insertInto("outbox").values({
      id: item.id,
      message_id: options.control ? null : item.id,
      recipient: item.to,
      envelope: new TextEncoder().encode(item.id),
      created_at: item.at,
      next_attempt_at: item.at,
      last_error: null,
      ttl_ms: options.ttlMs ?? null,
    }).execute();
  });
}

async function statusOf(db: Kysely<ClientDb>, id: string): Promise<string | undefined> {
  const row = await db.selectFrom("messages").select("status").where("id", "=", id)
    .executeTakeFirst();
  return row?.status;
}

async function outboxIds(db: Kysely<ClientDb>): Promise<string[]> {
  const rows = await db.selectFrom("outbox").select("id").orderBy("created_at").orderBy("id")
    .execute();
  return rows.map((r) => r.id);
}

/** Poll `check` until it holds, failing after `timeoutMs`. */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${options.what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("one recipient's items go one at a time in queue order; recipients go in parallel up to the limit", async () => {
  await withWorker(6, async ({ db, recipients, inbox, statuses, worker }) => {
    // Queued newest first, with a tie on created_at that the id breaks.
    const expected = new Map<string, string[]>();
    for (const [r, to] of recipients.entries()) {
      const ids = [`${r}-a`, `${r}-b`, `${r}-c`];
      expected.set(to, ids);
      await queue(db, { id: ids[2]!, to, at: T0 - 100 + r });
      await queue(db, { id: ids[1]!, to, at: T0 - 200 + r });
      await queue(db, { id: ids[0]!, to, at: T0 - 200 + r });
    }
    inbox.holdAll = true;
    let done = false;
    const pass = worker.runOnce().finally(() => done = true);
    await waitFor(() => inbox.waiting === OUTBOX_CONCURRENCY, { what: "the first sends" });
    assertEquals(
      inbox.calls.map((c) => c.recipient).sort(),
      recipients.slice(0, OUTBOX_CONCURRENCY).sort(),
      "the recipients with the oldest items go first, one item each",
    );
    while (!done) {
      await waitFor(() => done || inbox.waiting > 0, { what: "more sends" });
      assert(inbox.active <= OUTBOX_CONCURRENCY);
      inbox.release();
    }
    assertEquals(await pass, undefined);
    assertEquals(inbox.maxActive, OUTBOX_CONCURRENCY, "sends overlapped up to the limit");
    assertEquals(inbox.maxPerRecipient, 1, "never two at once to one recipient");
    for (const to of recipients) assertEquals(inbox.itemsOf(to), expected.get(to));
    assertEquals(await outboxIds(db), []);
    assertEquals(statuses.length, 18);
    assert(statuses.every((s) => s.status === "sent"));
    assertEquals(await statusOf(db, "5-c"), "sent");
    assertEquals(inbox.calls.every((c) => c.ns === INBOX_NS), true);
  });
});

Deno.test("the store call carries the item's TTL: its own, the inbox default, within the inbox bounds", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, worker }) => {
    await queue(db, { id: "default", to: to!, at: T0 - 4 });
    await queue(db, { id: "minute", to: to!, at: T0 - 3 }, { ttlMs: 60_000 });
    await queue(db, { id: "typing", to: to!, at: T0 - 2 }, { ttlMs: 10_000, control: true });
    await queue(db, { id: "short", to: to!, at: T0 - 1 }, { ttlMs: 5_000 });
    await queue(db, { id: "long", to: to!, at: T0 }, { ttlMs: 20 * 86_400_000 });
    assertEquals(await worker.runOnce(), undefined);
    assertEquals(inbox.calls.map((c) => [c.item, c.ttlMs]), [
      ["default", INBOX_TTL_MS],
      ["minute", 60_000 - 3], // what is left of it since it was queued
      ["typing", 10_000],
      ["short", MIN_TTL_MS],
      ["long", MAX_INBOX_TTL_MS],
    ]);
  });
});

Deno.test("a retried item is stored with what is left of its TTL since it was queued", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, clock, worker }) => {
    await queue(db, { id: "timed", to: to!, at: T0 }, { ttlMs: 60_000 });
    await queue(db, { id: "plain", to: to!, at: T0 + 1 });
    inbox.failing.add(to!);
    await worker.runOnce();
    clock.now = T0 + 45_000;
    await worker.runOnce();
    clock.now = T0 + 55_000;
    inbox.failing.clear();
    await worker.runOnce();
    assertEquals(inbox.calls.map((c) => [c.item, c.ttlMs]), [
      ["timed", 60_000],
      ["timed", 15_000],
      ["timed", MIN_TTL_MS], // 5 s left: never under the swarm's shortest TTL
      ["plain", INBOX_TTL_MS], // the default is not counted down
    ]);
    assertEquals(await statusOf(db, "timed"), "sent");
  });
});

Deno.test("storeTtlMs: the default, or what is left of the item's TTL, within the inbox bounds", () => {
  assertEquals(storeTtlMs({ created_at: T0, ttl_ms: null }, T0 + 86_400_000), INBOX_TTL_MS);
  assertEquals(storeTtlMs({ created_at: T0, ttl_ms: 60_000 }, T0 + 20_000), 40_000);
  assertEquals(storeTtlMs({ created_at: T0, ttl_ms: 60_000 }, T0 + 59_000), MIN_TTL_MS);
  assertEquals(storeTtlMs({ created_at: T0 + 5, ttl_ms: 60_000 }, T0), 60_000, "never more");
  assertEquals(storeTtlMs({ created_at: T0, ttl_ms: 30 * 86_400_000 }, T0), MAX_INBOX_TTL_MS);
});

Deno.test("an item past its TTL or its give-up age is not sent; its message fails with a status event", async () => {
  await withWorker(4, async ({ db, recipients, inbox, statuses, clock, worker }) => {
    const [r0, r1, r2, r3] = recipients as [string, string, string, string];
    await queue(db, { id: "minute", to: r0, at: T0 }, { ttlMs: 60_000 });
    await queue(db, { id: "typing", to: r1, at: T0 }, { ttlMs: 10_000, control: true });
    await queue(db, { id: "default", to: r2, at: T0 });
    await queue(db, { id: "long", to: r3, at: T0 }, { ttlMs: INBOX_TTL_MS });
    for (const r of [r0, r2, r3]) inbox.failing.add(r);

    clock.now = T0 + 10_000;
    await worker.runOnce();
    assertEquals(inbox.itemsOf(r1), [], "a typing indicator past its TTL is not sent");
    assertEquals(inbox.calls.map((c) => c.item).sort(), ["default", "long", "minute"]);
    assertEquals(statuses, [], "a control item has no status");

    clock.now = T0 + 60_000;
    await worker.runOnce();
    assertEquals(inbox.itemsOf(r0), ["minute"], "not attempted past its TTL");
    assertEquals(await statusOf(db, "minute"), "failed");
    assertEquals(statuses, [{ id: "minute", conversationId: r0, status: "failed" }]);

    clock.now = T0 + OUTBOX_GIVE_UP_MS;
    assertEquals(await worker.runOnce(), undefined);
    assertEquals(inbox.calls.length, 5, "the last pass attempted nothing");
    assertEquals(await statusOf(db, "default"), "failed");
    assertEquals(await statusOf(db, "long"), "failed", "a TTL longer than the give-up age");
    assertEquals(statuses.map((s) => [s.id, s.status]).sort(), [
      ["default", "failed"],
      ["long", "failed"],
      ["minute", "failed"],
    ]);
    assertEquals(await outboxIds(db), []);
  });
});

Deno.test("the next due time includes an item's give-up time", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, clock, worker }) => {
    inbox.failing.add(to!);
    await queue(db, { id: "stuck", to: to!, at: T0 }, { ttlMs: 10 * 86_400_000 });
    await queue(db, { id: "typing", to: to!, at: T0 + 1 }, { ttlMs: 10_000, control: true });
    for (let i = 1; i <= 4; i++) {
      clock.now = (await worker.runOnce())!;
    }
    // Tries at T0 and after 1 s, 2 s, 4 s of backoff: the typing item's give-up time
    // (T0 + 10,001) comes before the 5th try of the item ahead of it, at T0 + 15,000.
    assertEquals(inbox.itemsOf(to!), ["stuck", "stuck", "stuck", "stuck"]);
    assertEquals(clock.now, T0 + 10_001);
    assertEquals(await outboxIds(db), ["stuck", "typing"]);
    assertEquals(await worker.runOnce(), T0 + 15_000);
    assertEquals(await outboxIds(db), ["stuck"]);
    assertEquals(inbox.itemsOf(to!).length, 4);
  });
});

Deno.test("a failing recipient does not delay another", async () => {
  await withWorker(2, async ({ db, recipients, inbox, clock, worker }) => {
    const [bad, good] = recipients as [string, string];
    for (let i = 0; i < 3; i++) {
      await queue(db, { id: `bad-${i}`, to: bad, at: T0 - 3 + i });
      await queue(db, { id: `good-${i}`, to: good, at: T0 - 3 + i });
    }
    inbox.failing.add(bad);
    assertEquals(await worker.runOnce(), T0 + backoffMs(1));
    assertEquals(inbox.itemsOf(bad), ["bad-0"], "its later items wait behind the first");
    assertEquals(inbox.itemsOf(good), ["good-0", "good-1", "good-2"]);
    assertEquals(await outboxIds(db), ["bad-0", "bad-1", "bad-2"]);
    const rows = await db.selectFrom("outbox").select(["id", "attempts", "last_error"])
      .orderBy("id").execute();
    assertEquals(rows.map((r) => [r.id, r.attempts, r.last_error]), [
      ["bad-0", 1, "unavailable"],
      ["bad-1", 0, null],
      ["bad-2", 0, null],
    ]);

    inbox.failing.delete(bad);
    clock.now = T0 + backoffMs(1);
    assertEquals(await worker.runOnce(), undefined);
    assertEquals(inbox.itemsOf(bad), ["bad-0", "bad-0", "bad-1", "bad-2"]);
  });
});

Deno.test("the running worker sends to one recipient while another's send hangs", async () => {
  await withWorker(2, async ({ db, recipients, inbox, worker }) => {
    const [slow, fast] = recipients as [string, string];
    inbox.holding.add(slow);
    worker.start();
    await queue(db, { id: "slow-0", to: slow, at: T0 - 10 });
    await queue(db, { id: "slow-1", to: slow, at: T0 - 9 });
    worker.kick();
    await waitFor(() => inbox.waiting === 1, { what: "the slow send" });
    for (let i = 0; i < 3; i++) {
      await queue(db, { id: `fast-${i}`, to: fast, at: T0 - 8 + i });
      worker.kick();
    }
    await waitFor(async () => (await outboxIds(db)).every((id) => id.startsWith("slow")), {
      what: "the fast recipient's items",
    });
    assertEquals(inbox.itemsOf(fast), ["fast-0", "fast-1", "fast-2"]);
    assertEquals(inbox.itemsOf(slow), ["slow-0"]);
    inbox.holding.delete(slow);
    inbox.release();
    await waitFor(async () => (await outboxIds(db)).length === 0, { what: "the slow items" });
    assertEquals(inbox.itemsOf(slow), ["slow-0", "slow-1"]);
  });
});

Deno.test("an item whose message is gone is dropped unsent, without a status event", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, statuses, worker }) => {
    await queue(db, { id: "gone", to: to!, at: T0 - 5 });
    await queue(db, { id: "kept", to: to!, at: T0 - 4 });
    await queue(db, { id: "receipt", to: to!, at: T0 - 3 }, { control: true });
    await queue(db, { id: "gone-later", to: to!, at: T0 - 2 });
    await queue(db, { id: "last", to: to!, at: T0 - 1 });
    await db.deleteFrom("messages").where("id", "=", "gone").execute();

    // "gone-later" disappears while the lane is busy with an earlier item.
    inbox.holdAll = true;
    const pass = worker.runOnce();
    await waitFor(() => inbox.waiting === 1, { what: "the first send" });
    assertEquals(inbox.calls.map((c) => c.item), ["kept"]);
    await db.deleteFrom("messages").where("id", "=", "gone-later").execute();
    inbox.holdAll = false;
    inbox.release();
    assertEquals(await pass, undefined);
    assertEquals(inbox.calls.map((c) => c.item), ["kept", "receipt", "last"]);
    assertEquals(statuses.map((s) => s.id), ["kept", "last"]);
    assertEquals(await outboxIds(db), []);
  });
});

Deno.test("a failed send is retried with growing backoff, then sent", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, statuses, clock, worker }) => {
    await queue(db, { id: "m", to: to!, at: T0 });
    inbox.failing.add(to!);
    assertEquals(await worker.runOnce(), T0 + backoffMs(1));
    assertEquals(await worker.runOnce(), T0 + backoffMs(1), "not due yet: untouched");
    assertEquals(inbox.calls.length, 1);
    clock.now = T0 + backoffMs(1);
    assertEquals(await worker.runOnce(), clock.now + backoffMs(2));
    assert(backoffMs(2) > backoffMs(1));
    const row = await db.selectFrom("outbox").select(["attempts", "last_error"])
      .executeTakeFirstOrThrow();
    assertEquals([row.attempts, row.last_error], [2, "unavailable"]);
    assertEquals(statuses, []);
    assertEquals(await statusOf(db, "m"), "queued");

    inbox.failing.delete(to!);
    clock.now += backoffMs(2);
    assertEquals(await worker.runOnce(), undefined);
    assertEquals(inbox.calls.length, 3);
    assertEquals(statuses, [{ id: "m", conversationId: to!, status: "sent" }]);
    assertEquals(await statusOf(db, "m"), "sent");
  });
});

Deno.test("an item to a malformed Account ID fails at once", async () => {
  await withWorker(0, async ({ db, inbox, statuses, worker }) => {
    await queue(db, { id: "m", to: "hearth1nope", at: T0 });
    assertEquals(await worker.runOnce(), undefined);
    assertEquals(inbox.calls, []);
    assertEquals(statuses.map((s) => s.status), ["failed"]);
  });
});

Deno.test("stop waits for the send in flight and starts no other", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, statuses, worker }) => {
    inbox.holdAll = true;
    await queue(db, { id: "first", to: to!, at: T0 - 2 });
    await queue(db, { id: "second", to: to!, at: T0 - 1 });
    worker.start();
    await waitFor(() => inbox.waiting === 1, { what: "the first send" });
    let stopped = false;
    const stopping = worker.stop().then(() => stopped = true);
    // Give a broken stop every chance to return early.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    assertEquals(stopped, false, "stop returned with a send in flight");
    inbox.holdAll = false;
    inbox.release();
    await stopping;
    assertEquals(statuses.map((s) => [s.id, s.status]), [["first", "sent"]]);
    assertEquals(await outboxIds(db), ["second"]);
    assertEquals(inbox.calls.length, 1);
  });
});

Deno.test("an item that expires behind a send in flight is not sent after it", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, clock, worker }) => {
    await queue(db, { id: "text", to: to!, at: T0 - 2 });
    await queue(db, { id: "typing", to: to!, at: T0 - 1 }, { ttlMs: 10_000, control: true });
    inbox.holdAll = true;
    const pass = worker.runOnce();
    await waitFor(() => inbox.waiting === 1, { what: "the first send" });
    clock.now = T0 + 10_000;
    inbox.holdAll = false;
    inbox.release();
    assertEquals(await pass, undefined);
    assertEquals(inbox.itemsOf(to!), ["text"]);
    assertEquals(await outboxIds(db), []);
  });
});

Deno.test("deleting a stuck message lets the items behind it go at once", async () => {
  await withWorker(1, async ({ db, recipients: [to], inbox, statuses, worker }) => {
    await queue(db, { id: "stuck", to: to!, at: T0 - 2 });
    await queue(db, { id: "next", to: to!, at: T0 - 1 });
    inbox.failing.add(to!);
    assertEquals(await worker.runOnce(), T0 + backoffMs(1));
    inbox.failing.delete(to!);
    await db.deleteFrom("messages").where("id", "=", "stuck").execute();
    assertEquals(await worker.runOnce(), undefined, "no wait for the deleted item's backoff");
    assertEquals(inbox.itemsOf(to!), ["stuck", "next"]);
    assertEquals(statuses.map((s) => [s.id, s.status]), [["next", "sent"]]);
  });
});
