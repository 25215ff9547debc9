import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { SseReader } from "../../bench/sse_client.ts";
import { accountKeysFromSeed, createSeed, parseAccountId } from "../client/account/mod.ts";
import type { ChatEvent } from "../client/messages/chat_events.ts";
import { encodeContent, newMessageId } from "../client/messages/content.ts";
import { sealEnvelope } from "../client/messages/envelope.ts";
import { randomBytes, toHex } from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";
import { Hono } from "hono";
import { eventRoutes, sseFrame } from "./event_routes.ts";
import { ownerRequest, quietLog, TEST_PASSPHRASE, TEST_TOKEN, withWebApp } from "./test_web_app.ts";

const WAIT_MS = 10_000;

function request(app: Hono, method: string, path: string, options: {
  body?: unknown;
  token?: string;
} = {}): Promise<Response> {
  return ownerRequest(app, method, path, {
    headers: { authorization: `Bearer ${options.token ?? TEST_TOKEN}` },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
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
  await withWebApp(async ({ messenger, app }) => {
    const none = await request(app, "GET", "/api/events", { token: "x".repeat(43) });
    assertEquals([none.status, (await none.json()).error], [401, "unauthorized"]);
    const absent = await request(app, "GET", "/api/events");
    assertEquals([absent.status, (await absent.json()).error], [404, "not_found"]);

    const created = await request(app, "POST", "/api/account", {
      body: { passphrase: TEST_PASSPHRASE },
    });
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
      // Listing reads the conversation: the message is now `read`.
      assertEquals(
        listed.messages[0],
        { ...message.data, status: "read" },
        "the same shape as the message list",
      );
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
  await withWebApp(async ({ messenger }) => {
    await messenger.createAccount({ passphrase: TEST_PASSPHRASE });
    // The live client gets room to lag on a loaded machine; the stalled one overflows at 2.
    const appOf = (maxQueue: number) => {
      const app = new Hono();
      app.route("/", eventRoutes({ messenger, log: quietLog, keepAliveMs: 20, maxQueue }));
      app.onError((err, c) =>
        c.json((err as HearthError).toJSON(), (err as HearthError).status as 400)
      );
      return app;
    };
    const chat = messenger.chat();

    const live = new SseReader((await appOf(1_000).request("/api/events")).body!);
    const stalled = new SseReader((await appOf(2).request("/api/events")).body!);
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

Deno.test("sseFrame: each event type carries its data", () => {
  const message = {
    id: "a".repeat(32),
    conversationId: "self",
    direction: "out" as const,
    sender: "hearth1x",
    text: "line one\nline two",
    sentAt: 1,
    receivedAt: null,
    status: "sent" as const,
    replyTo: null,
    reactions: [],
    editedAt: null,
    deleted: false,
    expiresAt: null,
    encryption: "local" as const,
    attachments: [],
  };
  const contact = {
    accountId: "hearth1y",
    displayName: "Bob",
    nickname: null,
    state: "contact" as const,
    addedAt: 2,
    hasAvatar: true,
  };
  const conversation = {
    id: "self",
    kind: "self" as const,
    displayName: null,
    nickname: null,
    lastMessage: null,
    unreadCount: 0,
    disappearing: { mode: "after_read" as const, seconds: 60 },
    muted: true,
  };
  const status = { id: "b".repeat(32), conversationId: "hearth1y", status: "read" as const };
  const progress = { id: "d".repeat(32), state: "uploading" as const, done: 65_536, total: 1e6 };
  const cases: [ChatEvent, unknown][] = [
    [{ type: "message", message }, message],
    [{ type: "update", message }, message],
    [{ type: "removed", conversationId: "self", ids: ["c".repeat(32)] }, {
      conversationId: "self",
      ids: ["c".repeat(32)],
    }],
    [{ type: "status", status }, status],
    [{ type: "request", request: contact }, contact],
    [{ type: "contact", contact }, contact],
    [{ type: "conversation", conversation }, conversation],
    [{ type: "typing", conversationId: "hearth1y", active: true }, {
      conversationId: "hearth1y",
      active: true,
    }],
    [{ type: "attachment", attachment: progress }, progress],
    [{ type: "locked" }, { state: "locked" }],
  ];
  for (const [event, data] of cases) {
    const frame = sseFrame(event);
    const lines = frame.split("\n");
    assertEquals(lines.length, 4, event.type);
    assertEquals([lines[0], lines[2], lines[3]], [`event: ${event.type}`, "", ""]);
    assert(lines[1]!.startsWith("data: "));
    assertEquals(JSON.parse(lines[1]!.slice("data: ".length)), data, event.type);
  }
});

Deno.test("GET /api/events streams updates, removals, conversation, contact and typing events", async () => {
  await withWebApp(async ({ messenger, app }) => {
    const created = await request(app, "POST", "/api/account", {
      body: { passphrase: TEST_PASSPHRASE },
    });
    const ada = (await created.json()).accountId as string;
    const bob = await accountKeysFromSeed(createSeed());
    const res = await request(app, "GET", "/api/events");
    const events = new SseReader(res.body!);
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await request(app, method, path, body === undefined ? {} : { body });
      assert(r.status < 300, `${method} ${path}: ${r.status}`);
      return await r.json();
    };
    try {
      const note = await call("POST", "/api/messages", { to: "self", text: "note" });
      await call("PUT", `/api/messages/${note.id}/reaction`, { emoji: "👍" });
      const update = await events.until((e) => e.event === "update", WAIT_MS);
      assertEquals([update.data.id, update.data.reactions], [note.id, [{
        sender: ada,
        emoji: "👍",
      }]]);

      await call("DELETE", `/api/messages/${note.id}`);
      const removed = await events.until((e) => e.event === "removed", WAIT_MS);
      assertEquals(removed.data, { conversationId: "self", ids: [note.id] });

      await call("PATCH", "/api/conversations/self", {
        disappearing: { mode: "after_send", seconds: 60 },
      });
      const conversation = await events.until((e) => e.event === "conversation", WAIT_MS);
      assertEquals([conversation.data.id, conversation.data.disappearing], ["self", {
        mode: "after_send",
        seconds: 60,
      }]);

      // Bob becomes a contact when the owner writes to him; then he renames and types.
      await call("POST", "/api/messages", { to: bob.accountId, text: "hi Bob" });
      await call("PATCH", "/api/settings", { typingIndicators: true });
      await messenger.chat().receive([
        await item(bob, ada, {
          type: "profile",
          id: newMessageId(),
          profile: { displayName: "B" },
        }),
        await item(bob, ada, { type: "typing", id: newMessageId(), active: true }),
      ]);
      const contact = await events.until((e) => e.event === "contact", WAIT_MS);
      assertEquals([contact.data.accountId, contact.data.displayName], [bob.accountId, "B"]);
      const typing = await events.until((e) => e.event === "typing", WAIT_MS);
      assertEquals(typing.data, { conversationId: bob.accountId, active: true });
    } finally {
      await events.cancel();
    }
  });
});
