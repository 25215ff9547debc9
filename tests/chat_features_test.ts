/**
 * The chat features on a real devnet of 5 node processes, through the
 * owner API: read receipts (and their reciprocity), replies, reactions,
 * edits, delete for me and for everyone, typing indicators, profile and
 * avatar changes, a declined request, disappearing messages (after send,
 * after read, and the swarm copy's TTL while the recipient is locked), and
 * that received items leave every relay's database.
 */
import { createClient } from "@libsql/client";
import { assert, assertEquals } from "./assert.ts";
import { type Devnet, type NodeProcess, waitFor, withDevnet } from "../tools/devnet_lib.ts";
import { createAccount, EventLog, ownerApi } from "../bench/owner_api.ts";
import { parseAccountId } from "../src/client/account/account_id.ts";
import { fromBase64 } from "../src/shared/crypto/bytes.ts";
import { swarmKeyOf } from "../src/shared/swarm_map.ts";

const PASS = "chat features test passphrase";
const WAIT_MS = 60_000;
const HOUR = 3_600_000;
/** A valid 1×1 PNG. */
const PNG_B64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

type Quote = { id: string; sender: string | null; text: string | null };
type Msg = {
  id: string;
  direction: string;
  sender: string;
  text: string;
  sentAt: number;
  status: string;
  replyTo: Quote | null;
  reactions: { sender: string; emoji: string }[];
  editedAt: number | null;
  deleted: boolean;
  expiresAt: number | null;
};
type Timer = { mode: string; seconds: number };
type Conversation = {
  displayName: string | null;
  lastMessage: Msg | null;
  unreadCount: number;
  disappearing: Timer;
};
type Contact = { accountId: string; displayName: string | null; state: string; hasAvatar: boolean };

/** Poll until `check` holds, for at most a minute. */
function until(what: string, check: () => Promise<boolean>): Promise<void> {
  return waitFor(check, { timeoutMs: WAIT_MS, intervalMs: 100, what });
}

/** One owner API call that must answer `status`; returns its JSON. */
async function call(
  node: NodeProcess,
  method: string,
  path: string,
  options: { body?: unknown; status?: number } = {},
): Promise<Record<string, unknown>> {
  const res = await ownerApi(node, method, path, options.body);
  assertEquals(res.status, options.status ?? 200, `${method} ${path}: ${JSON.stringify(res.json)}`);
  return res.json;
}

/** One owner API call that must be refused with `[status, code]`. */
async function refused(
  node: NodeProcess,
  request: [method: string, path: string, body?: unknown],
  expected: [number, string],
): Promise<void> {
  const [method, path, body] = request;
  const res = await ownerApi(node, method, path, body);
  assertEquals([res.status, res.json.error], expected, `${method} ${path}`);
}

async function send(node: NodeProcess, to: string, text: string, replyTo?: string): Promise<Msg> {
  const body = replyTo === undefined ? { to, text } : { to, text, replyTo };
  return await call(node, "POST", "/api/messages", { body, status: 201 }) as unknown as Msg;
}

/** A conversation's messages (this reads them: it marks the conversation read). */
async function messages(node: NodeProcess, peer: string): Promise<Msg[]> {
  return (await call(node, "GET", `/api/conversations/${peer}/messages`)).messages as Msg[];
}

async function messageOf(node: NodeProcess, peer: string, id: string): Promise<Msg | undefined> {
  return (await messages(node, peer)).find((m) => m.id === id);
}

/** A conversation without reading it. */
async function peek(node: NodeProcess, peer: string): Promise<Conversation | undefined> {
  const res = await ownerApi(node, "GET", `/api/conversations/${peer}`);
  return res.status === 200 ? res.json as unknown as Conversation : undefined;
}

async function contactOf(node: NodeProcess, peer: string): Promise<Contact | undefined> {
  const list = (await call(node, "GET", "/api/contacts")).contacts as Contact[];
  return list.find((c) => c.accountId === peer);
}

async function isRequest(node: NodeProcess, peer: string): Promise<boolean> {
  const list = (await call(node, "GET", "/api/requests")).requests as Contact[];
  return list.some((r) => r.accountId === peer);
}

/** An image route's answer: status, media type, caching and bytes. */
async function image(node: NodeProcess, path: string) {
  const res = await fetch(`http://${node.webAddr}${path}`, {
    headers: { authorization: `Bearer ${node.ownerToken}` },
    signal: AbortSignal.timeout(30_000),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    cache: res.headers.get("cache-control"),
    bytes,
  };
}

/**
 * The items of an account's inbox (namespace 0) in every running node's
 * relay.db, read-only; relays key items by the swarm key
 * `H("hearth/swarm-key/v1", account key)` (PROTOCOL §4).
 */
async function inboxItems(devnet: Devnet, accountId: string): Promise<{ expiry: number }[]> {
  const key = swarmKeyOf(parseAccountId(accountId));
  const out: { expiry: number }[] = [];
  for (const node of devnet.nodes.filter((n) => !n.exited)) {
    const db = createClient({ url: `file:${node.dataDir}/relay.db` });
    try {
      await db.execute("PRAGMA query_only = 1");
      const rows = await db.execute({
        sql: "SELECT expiry FROM items WHERE key = ? AND ns = 0",
        args: [key],
      });
      out.push(...rows.rows.map((r) => ({ expiry: Number(r.expiry) })));
    } finally {
      db.close();
    }
  }
  return out;
}

/** Wait until no relay holds an item of the account's inbox (received items are deleted). */
function inboxEmptied(devnet: Devnet, accountId: string, who: string): Promise<void> {
  return waitFor(async () => (await inboxItems(devnet, accountId)).length === 0, {
    timeoutMs: 90_000,
    intervalMs: 250,
    what: `${who}'s inbox to leave every relay`,
  });
}

Deno.test({
  name: "chat features work end to end between accounts on different nodes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await withDevnet(5, async (devnet) => {
      const [nodeA, nodeB, nodeC] = [devnet.nodes[1]!, devnet.nodes[2]!, devnet.nodes[3]!];
      const alice = await createAccount(nodeA, { passphrase: PASS, displayName: "Alice" });
      const bob = await createAccount(nodeB, { passphrase: PASS, displayName: "Bob" });
      const carol = await createAccount(nodeC, { passphrase: PASS, displayName: "Carol" });
      const eventsA = await EventLog.open(nodeA);
      const eventsB = await EventLog.open(nodeB);
      try {
        let healthy = true;
        const step = async (name: string, fn: () => Promise<void>) => {
          healthy = await t.step({ name, ignore: !healthy, fn }) && healthy;
        };

        await step("Alice and Bob become contacts", async () => {
          const hello = await send(nodeA, bob, "hello Bob");
          await until("Bob's request", () => isRequest(nodeB, alice));
          await call(nodeB, "POST", `/api/requests/${alice}/accept`);
          await until(
            "hello delivered",
            async () => (await messageOf(nodeA, bob, hello.id))?.status === "delivered",
          );
        });

        await step("read receipts, reciprocal and off by default", async () => {
          const off = { readReceipts: false, typingIndicators: false };
          assertEquals(await call(nodeA, "GET", "/api/settings"), off);
          await refused(nodeA, ["PATCH", "/api/settings", { readReceipts: "yes" }], [
            400,
            "bad_request",
          ]);
          for (const node of [nodeA, nodeB]) {
            const on = await call(node, "PATCH", "/api/settings", { body: { readReceipts: true } });
            assertEquals(on, { readReceipts: true, typingIndicators: false });
          }
          const statusAtAlice = async (id: string) => (await messageOf(nodeA, bob, id))?.status;
          const arrived = (id: string) => async () =>
            (await peek(nodeB, alice))?.lastMessage?.id === id;

          const r1 = await send(nodeA, bob, "read me");
          await until("r1 at Bob", arrived(r1.id));
          assertEquals((await messageOf(nodeB, alice, r1.id))?.status, "read");
          await until("r1 read at Alice", async () => await statusAtAlice(r1.id) === "read");

          // Bob's setting off: he reads, sends no read receipt.
          await call(nodeB, "PATCH", "/api/settings", { body: { readReceipts: false } });
          const r2 = await send(nodeA, bob, "read without a receipt");
          await until("r2 at Bob", arrived(r2.id));
          await messages(nodeB, alice);
          const r3 = await send(nodeA, bob, "a later one");
          await until("r3 delivered", async () => await statusAtAlice(r3.id) === "delivered");
          assertEquals(await statusAtAlice(r2.id), "delivered");

          // Alice's setting off: Bob's read receipt comes but is not shown.
          await call(nodeB, "PATCH", "/api/settings", { body: { readReceipts: true } });
          await call(nodeA, "PATCH", "/api/settings", { body: { readReceipts: false } });
          const r4 = await send(nodeA, bob, "read, receipt not shown");
          await until("r4 at Bob", arrived(r4.id));
          await messages(nodeB, alice);
          const r5 = await send(nodeA, bob, "one more");
          await until("r5 delivered", async () => await statusAtAlice(r5.id) === "delivered");
          assertEquals(await statusAtAlice(r4.id), "delivered");
          await call(nodeA, "PATCH", "/api/settings", { body: { readReceipts: true } });
        });

        await step("received items leave every relay", () => inboxEmptied(devnet, bob, "Bob"));

        await step("reply, reactions, edit, delete for everyone and for me", async () => {
          const base = await send(nodeA, bob, "quote me");
          await until(
            "base at Bob",
            async () => (await messageOf(nodeB, alice, base.id)) !== undefined,
          );
          const unknown = "0".repeat(32);
          await refused(nodeB, ["POST", "/api/messages", {
            to: alice,
            text: "x",
            replyTo: unknown,
          }], [
            404,
            "not_found",
          ]);
          await refused(
            nodeB,
            ["POST", "/api/messages", { to: alice, text: "x", replyTo: "xyz" }],
            [
              400,
              "bad_request",
            ],
          );
          const reply = await send(nodeB, alice, "a reply", base.id);
          const quote = { id: base.id, sender: alice, text: "quote me" };
          assertEquals(reply.replyTo, quote);
          await until("the reply at Alice", async () => {
            const got = await messageOf(nodeA, bob, reply.id);
            return got !== undefined && JSON.stringify(got.replyTo) === JSON.stringify(quote);
          });

          const reactionsAtBob = (expected: Msg["reactions"]) => async () =>
            JSON.stringify((await messageOf(nodeB, alice, reply.id))?.reactions) ===
              JSON.stringify(expected);
          const path = `/api/messages/${reply.id}/reaction`;
          for (const emoji of ["👍", "🎉"]) {
            const reacted = await call(nodeA, "PUT", path, { body: { emoji } }) as unknown as Msg;
            assertEquals(reacted.reactions, [{ sender: alice, emoji }]);
            await until(`reaction ${emoji} at Bob`, reactionsAtBob([{ sender: alice, emoji }]));
          }
          const removed = await call(nodeA, "DELETE", path) as unknown as Msg;
          assertEquals(removed.reactions, []);
          await until("reaction removed at Bob", reactionsAtBob([]));
          await refused(nodeA, ["PUT", `/api/messages/${unknown}/reaction`, { emoji: "👍" }], [
            404,
            "not_found",
          ]);

          const edited = await call(nodeA, "PATCH", `/api/messages/${base.id}`, {
            body: { text: "quote me, edited" },
          }) as unknown as Msg;
          assertEquals(edited.text, "quote me, edited");
          assert(edited.editedAt !== null, "the sender's copy is marked edited");
          await refused(nodeB, ["PATCH", `/api/messages/${base.id}`, { text: "not mine" }], [
            400,
            "bad_request",
          ]);
          await refused(nodeA, ["PATCH", "/api/messages/xyz", { text: "x" }], [400, "bad_request"]);
          await until("the edit at Bob", async () => {
            const got = await messageOf(nodeB, alice, base.id);
            return got?.text === "quote me, edited" && got.editedAt !== null;
          });
          const requote = (await messageOf(nodeB, alice, reply.id))?.replyTo;
          assertEquals(requote, { ...quote, text: "quote me, edited" });

          await refused(nodeB, ["DELETE", `/api/messages/${base.id}?for=everyone`], [
            400,
            "bad_request",
          ]);
          const tomb = await call(nodeA, "DELETE", `/api/messages/${base.id}?for=everyone`);
          assertEquals([tomb.id, tomb.deleted, tomb.text], [base.id, true, ""]);
          await until("the tombstone at Bob", async () => {
            const got = await messageOf(nodeB, alice, base.id);
            return got?.deleted === true && got.text === "";
          });
          assertEquals(
            (await messageOf(nodeB, alice, reply.id))?.replyTo,
            { id: base.id, sender: null, text: null },
          );
          const gone: [number, string] = [409, "conflict"];
          await refused(nodeA, ["PUT", `/api/messages/${base.id}/reaction`, { emoji: "👍" }], gone);
          await refused(nodeA, ["PATCH", `/api/messages/${base.id}`, { text: "again" }], gone);
          await refused(
            nodeA,
            ["POST", "/api/messages", { to: bob, text: "x", replyTo: base.id }],
            gone,
          );

          // Delete for me: gone at Bob only.
          assertEquals(await call(nodeB, "DELETE", `/api/messages/${reply.id}`), { ok: true });
          assertEquals(await messageOf(nodeB, alice, reply.id), undefined);
          await refused(nodeB, ["DELETE", `/api/messages/${reply.id}`], [404, "not_found"]);
          const later = await send(nodeB, alice, "after deleting for me");
          await until("Bob's later message", async () => !!await messageOf(nodeA, bob, later.id));
          const kept = await messageOf(nodeA, bob, reply.id);
          assertEquals([kept?.text, kept?.deleted], ["a reply", false]);
        });

        await step("typing indicators, reciprocal and off by default", async () => {
          const typing = `/api/conversations/${alice}/typing`;
          assertEquals(await call(nodeB, "POST", typing, { body: { active: true } }), {
            sent: false,
          });
          for (const node of [nodeA, nodeB]) {
            await call(node, "PATCH", "/api/settings", { body: { typingIndicators: true } });
          }
          for (const active of [true, false]) {
            // A UI repeats the indicator while the owner types; so does the test, until one shows.
            const deadline = Date.now() + WAIT_MS;
            while (true) {
              assertEquals(await call(nodeB, "POST", typing, { body: { active } }), { sent: true });
              try {
                const shown = await eventsA.waitFor(
                  (e) => e.event === "typing" && e.data.active === active,
                  10_000,
                );
                assertEquals(shown.data, { conversationId: bob, active });
                break;
              } catch (err) {
                if (Date.now() > deadline) throw err;
              }
            }
          }
        });

        await step("a new name and avatar reach the contact", async () => {
          const png = fromBase64(PNG_B64);
          await refused(nodeA, ["PATCH", "/api/account", { avatar: btoa("not an image") }], [
            400,
            "bad_request",
          ]);
          const account = await call(nodeA, "PATCH", "/api/account", {
            body: { displayName: "Alice B", avatar: PNG_B64 },
          });
          assertEquals([account.displayName, account.hasAvatar], ["Alice B", true]);
          const own = await image(nodeA, "/api/account/avatar");
          assertEquals([own.status, own.type, own.bytes], [200, "image/png", png]);
          await send(nodeA, bob, "new look");
          await until("the new profile at Bob", async () => {
            const c = await contactOf(nodeB, alice);
            return c?.displayName === "Alice B" && c.hasAvatar;
          });
          assertEquals((await peek(nodeB, alice))?.displayName, "Alice B");
          const seen = await image(nodeB, `/api/contacts/${alice}/avatar`);
          assertEquals([seen.status, seen.type, seen.cache, seen.bytes], [
            200,
            "image/png",
            "no-store",
            png,
          ]);

          const removed = await call(nodeA, "PATCH", "/api/account", { body: { avatar: null } });
          assertEquals(removed.hasAvatar, false);
          assertEquals((await image(nodeA, "/api/account/avatar")).status, 404);
          await send(nodeA, bob, "no face");
          await until("the avatar removed at Bob", async () => {
            const c = await contactOf(nodeB, alice);
            return c?.displayName === "Alice B" && !c.hasAvatar;
          });
          await refused(nodeB, ["GET", `/api/contacts/${alice}/avatar`], [404, "not_found"]);
        });

        await step("a declined request comes back with a new message", async () => {
          await send(nodeC, bob, "hi, it's Carol");
          await until("Carol's request", () => isRequest(nodeB, carol));
          await call(nodeB, "POST", `/api/requests/${carol}/decline`);
          assertEquals(await isRequest(nodeB, carol), false);
          assertEquals((await contactOf(nodeB, carol))?.state, "declined");
          await refused(nodeB, ["GET", `/api/conversations/${carol}/messages`], [404, "not_found"]);
          const again = await send(nodeC, bob, "me again");
          await until("Carol's request again", () => isRequest(nodeB, carol));
          assert(
            (await messages(nodeB, carol)).some((m) => m.id === again.id && m.text === "me again"),
          );
        });

        await step("disappearing messages, on both sides and in the swarm", async () => {
          // Carol is locked: Alice's after_send message waits in her swarm with a 30 s TTL.
          assertEquals(await call(nodeC, "POST", "/api/lock"), { state: "locked" });
          await send(nodeA, carol, "hello Carol");
          const timer30 = { mode: "after_send", seconds: 30 };
          const setC = await call(nodeA, "PATCH", `/api/conversations/${carol}`, {
            body: { disappearing: timer30 },
          });
          assertEquals(setC.disappearing, timer30);
          const before = Date.now();
          const x = await send(nodeA, carol, "short-lived");
          assertEquals(x.expiresAt, x.sentAt + 30_000);
          const shortLived = async () =>
            (await inboxItems(devnet, carol)).filter((i) => i.expiry < Date.now() + HOUR);
          await until(
            "the short-lived item on a write quorum",
            async () => (await shortLived()).length >= 3,
          );
          const after = Date.now();
          for (const item of await shortLived()) {
            assert(
              item.expiry >= before + 30_000 - 1_000 && item.expiry <= after + 30_000 + 1_000,
              "the swarm copy's TTL is the timer",
            );
          }

          // after_send with Bob online: both copies go at sentAt + 30 s.
          await refused(nodeA, ["PATCH", `/api/conversations/${bob}`, {
            disappearing: { mode: "after_send", seconds: 5 },
          }], [400, "bad_request"]);
          await call(nodeA, "PATCH", `/api/conversations/${bob}`, {
            body: { disappearing: timer30 },
          });
          await until(
            "Bob's timer",
            async () =>
              JSON.stringify((await peek(nodeB, alice))?.disappearing) === JSON.stringify(timer30),
          );
          const s = await send(nodeA, bob, "gone 30 s after sending");
          assertEquals(s.expiresAt, s.sentAt + 30_000);
          const got = await eventsB.waitFor(
            (e) => e.event === "message" && e.data.id === s.id,
            WAIT_MS,
          );
          assertEquals(got.data.expiresAt, s.sentAt + 30_000);

          // after_read: Bob's copy starts its 10 s when he reads, not when it arrives.
          const timer10 = { mode: "after_read", seconds: 10 };
          await call(nodeA, "PATCH", `/api/conversations/${bob}`, {
            body: { disappearing: timer10 },
          });
          await until(
            "Bob's after_read timer",
            async () =>
              JSON.stringify((await peek(nodeB, alice))?.disappearing) === JSON.stringify(timer10),
          );
          const r = await send(nodeA, bob, "gone 10 s after reading");
          assertEquals(r.expiresAt, r.sentAt + 10_000);
          await until(
            "r at Bob, unread",
            async () => (await peek(nodeB, alice))?.lastMessage?.id === r.id,
          );
          await until("Alice's copy of r gone", async () => !await messageOf(nodeA, bob, r.id));
          const unread = await peek(nodeB, alice);
          assertEquals([unread?.lastMessage?.id, unread?.lastMessage?.expiresAt], [r.id, null]);
          assert(unread!.unreadCount >= 1, "r is still unread at Bob");
          const readAt = Date.now();
          const read = await messageOf(nodeB, alice, r.id);
          assert(read !== undefined && read.expiresAt !== null, "reading starts Bob's timer");
          assert(read.expiresAt! >= readAt + 10_000, "Bob's timer starts when he reads");

          for (const [node, peer] of [[nodeA, bob], [nodeB, alice]] as const) {
            await until("s and r gone on both sides", async () => {
              const ids = (await messages(node, peer)).map((m) => m.id);
              return !ids.includes(s.id) && !ids.includes(r.id);
            });
          }
          await eventsB.waitFor(
            (e) => e.event === "removed" && (e.data.ids as string[]).includes(s.id),
            WAIT_MS,
          );
          await inboxEmptied(devnet, bob, "Bob");

          // The locked recipient's copy expired in the swarm: Carol never sees it.
          await until(
            "the short-lived item gone from every relay",
            async () => (await shortLived()).length === 0,
          );
          await call(nodeC, "POST", "/api/unlock", { body: { passphrase: PASS } });
          await until("Alice's request at Carol", () => isRequest(nodeC, alice));
          await until(
            "Carol's timer",
            async () =>
              JSON.stringify((await peek(nodeC, alice))?.disappearing) === JSON.stringify(timer30),
          );
          assertEquals((await messages(nodeC, alice)).map((m) => m.text), ["hello Carol"]);
          assertEquals(await messageOf(nodeA, carol, x.id), undefined);
          await inboxEmptied(devnet, carol, "Carol");
        });
      } finally {
        await eventsA.close();
        await eventsB.close();
      }
    }, { prefix: "hearth-chat-features-" });
  },
});
