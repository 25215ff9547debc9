import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { SseReader } from "../../bench/sse_client.ts";
import { accountKeysFromSeed, createSeed, parseAccountId } from "../client/account/mod.ts";
import { TEST_KDF } from "../client/db/_test_helpers.ts";
import { Messenger } from "../client/messenger.ts";
import { encodeContent, newMessageId } from "../client/messages/content.ts";
import { sealEnvelope } from "../client/messages/envelope.ts";
import { randomBytes, toHex } from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";
import { createLogger } from "../shared/log.ts";
import { Hono } from "hono";
import { allowedHostsFor } from "./auth.ts";
import { eventRoutes } from "./event_routes.ts";
import { webApp } from "./web_app.ts";

const TOKEN = "t".repeat(43);
const HOST = "127.0.0.1:7080";
const PASS = "a long passphrase";
const WAIT_MS = 10_000;
const quiet = createLogger({ level: "error", sink: () => {} });

function request(app: Hono, method: string, path: string, options: {
  body?: unknown;
  token?: string;
} = {}): Promise<Response> {
  return Promise.resolve(app.request(`http://${HOST}${path}`, {
    method,
    headers: { host: HOST, authorization: `Bearer ${options.token ?? TOKEN}` },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  }));
}

async function withMessenger(fn: (messenger: Messenger, app: Hono) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hearth-events-" });
  const messenger = await Messenger.open(dir, { kdfParams: TEST_KDF });
  const app = webApp({
    messenger,
    token: TOKEN,
    nodeStatus: () => ({ id: "ab".repeat(32), reachable: true, directorySize: 7 }),
    hosts: () => allowedHostsFor({ host: "127.0.0.1", port: 7080 }),
    log: quiet,
  });
  try {
    await fn(messenger, app);
  } finally {
    await messenger.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** An item as the inbox receiver gets it, sealed by `from` to `to`. */
async function item(
  from: Awaited<ReturnType<typeof accountKeysFromSeed>>,
  to: string,
  content: Parameters<typeof encodeContent>[0],
) {
  const data = await sealEnvelope(encodeContent(content), from, parseAccountId(to));
  return { hash: toHex(randomBytes(32)), expiry: 0, data };
}

Deno.test("GET /api/events streams received messages, requests and status changes, and ends on lock", async () => {
  await withMessenger(async (messenger, app) => {
    const none = await request(app, "GET", "/api/events", { token: "x".repeat(43) });
    assertEquals([none.status, (await none.json()).error], [401, "unauthorized"]);
    const absent = await request(app, "GET", "/api/events");
    assertEquals([absent.status, (await absent.json()).error], [404, "not_found"]);

    const created = await request(app, "POST", "/api/account", { body: { passphrase: PASS } });
    const ada = (await created.json()).accountId as string;
    const bob = await accountKeysFromSeed(createSeed());

    const res = await request(app, "GET", "/api/events");
    assertEquals(res.status, 200);
    assert(res.headers.get("content-type")?.startsWith("text/event-stream"));
    const events = new SseReader(res.body!);
    try {
      // A first message from a stranger: the message, then the request.
      const id = newMessageId();
      await messenger.chat().receive([
        await item(bob, ada, { type: "text", id, text: "hi Ada", profile: { displayName: "Bob" } }),
      ]);
      const message = await events.until((e) => e.event === "message", WAIT_MS);
      assertEquals(
        [message.data.id, message.data.text, message.data.direction, message.data.sender],
        [id, "hi Ada", "in", bob.accountId],
      );
      const listed =
        await (await request(app, "GET", `/api/conversations/${bob.accountId}/messages`))
          .json();
      assertEquals(listed.messages[0], message.data, "the same shape as the message list");
      const req = await events.until((e) => e.event === "request", WAIT_MS);
      assertEquals([req.data.accountId, req.data.displayName], [bob.accountId, "Bob"]);

      // An outgoing message, then Bob's delivery receipt for it.
      const sent = await (await request(app, "POST", "/api/messages", {
        body: { to: bob.accountId, text: "hello Bob" },
      })).json();
      const out = await events.until((e) => e.event === "message", WAIT_MS);
      assertEquals([out.data.id, out.data.direction, out.data.status], [sent.id, "out", "queued"]);
      await messenger.chat().receive([
        await item(bob, ada, {
          type: "receipt",
          kind: "delivered",
          id: newMessageId(),
          ids: [sent.id],
        }),
      ]);
      const status = await events.until((e) => e.event === "status", WAIT_MS);
      assertEquals(status.data, {
        id: sent.id,
        conversationId: bob.accountId,
        status: "delivered",
      });

      assertEquals((await request(app, "POST", "/api/lock")).status, 200);
      const locked = await events.until((e) => e.event !== "message", WAIT_MS);
      assertEquals(locked.event, "locked");
      assertEquals(await events.next(WAIT_MS), undefined, "the stream ends");
      const again = await request(app, "GET", "/api/events");
      assertEquals([again.status, (await again.json()).error], [423, "locked"]);
    } finally {
      await events.cancel();
    }
  });
});

Deno.test("the event stream sends keep-alives, and drops a client that falls behind", async () => {
  await withMessenger(async (messenger) => {
    await messenger.createAccount({ passphrase: PASS });
    const app = new Hono();
    app.route("/", eventRoutes({ messenger, log: quiet, keepAliveMs: 20, maxQueue: 2 }));
    app.onError((err, c) =>
      c.json((err as HearthError).toJSON(), (err as HearthError).status as 400)
    );
    const chat = messenger.chat();

    const live = new SseReader((await app.request("/api/events")).body!);
    const stalled = new SseReader((await app.request("/api/events")).body!);
    try {
      const deadline = Date.now() + WAIT_MS;
      while (live.comments < 3 && Date.now() < deadline) {
        await live.next(50).catch(() => {});
      }
      assert(live.comments >= 3, "keep-alive comments arrive");
      // `stalled` is not read: its queue overflows and its stream errors.
      for (let i = 0; i < 4; i++) await chat.send("self", `note ${i}`);
      const got = await live.until((e) => e.data.text === "note 3", WAIT_MS);
      assertEquals(got.event, "message");
      await assertRejects(() => stalled.until(() => false, WAIT_MS));
    } finally {
      await live.cancel();
      await stalled.cancel();
    }
  });
});
