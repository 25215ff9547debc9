import { assert, assertEquals } from "../../tests/assert.ts";
import { formatAccountId } from "../client/account/mod.ts";
import { newMessageId } from "../client/messages/content.ts";
import { testAccount } from "../client/messages/test_keys.ts";
import { assertError, type Json, okJson, withOwnerHarness } from "./test_owner_harness.ts";

Deno.test("GET /api/messages/search finds texts newest first, with a snippet, and opens nothing", async () => {
  await withOwnerHarness(async (h) => {
    const note = okJson(
      await h.call("POST", "/api/messages", { to: "self", text: "Buy oat MILK\nand bread" }),
      201,
    );
    await h.fromBob({ type: "text", id: newMessageId(), text: "milk from a stranger?" });
    const before = okJson(await h.call("GET", "/api/messages/search?q=milk"));
    // Bob is only a request: his texts are not searched until accepted.
    assertEquals((before.results as Json[]).map((r) => r.messageId), [note.id]);
    okJson(await h.call("POST", `/api/requests/${h.bobId}/accept`));
    const mine = okJson(
      await h.call("POST", "/api/messages", { to: h.bobId, text: "no milk" }),
      201,
    );
    const found = okJson(await h.call("GET", "/api/messages/search?q=%20Milk%20"));
    const results = found.results as Json[];
    assertEquals(found.complete, true);
    assertEquals(results.map((r) => r.messageId).slice(0, 1), [mine.id], "newest first");
    assertEquals(results.length, 3);
    const noteHit = results.find((r) => r.messageId === note.id)!;
    assertEquals(noteHit, {
      conversationId: "self",
      messageId: note.id,
      sender: h.me,
      direction: "out",
      sentAt: note.sentAt,
      snippet: "Buy oat MILK and bread",
      match: { start: 8, length: 4 },
    });
    const bobHit = results.find((r) => r.conversationId === h.bobId && r.direction === "in")!;
    assertEquals(bobHit.sender, h.bobId);
    for (let i = 1; i < results.length; i++) {
      assert((results[i - 1]!.sentAt as number) >= (results[i]!.sentAt as number));
    }
    const one = okJson(await h.call("GET", "/api/messages/search?q=milk&limit=1"));
    assertEquals((one.results as Json[]).map((r) => r.messageId), [mine.id]);
    assertEquals(
      okJson(await h.call("GET", `/api/messages/search?q=${encodeURIComponent("ü")}`)).results,
      [],
    );
    // Deleted for me: gone from the results too.
    okJson(await h.call("DELETE", `/api/messages/${note.id}?for=me`));
    const left = okJson(await h.call("GET", "/api/messages/search?q=oat")).results as Json[];
    assertEquals(left, []);
    // Searching reads nothing as read: Bob's message is still unread in the list.
    const listed = (okJson(await h.call("GET", "/api/conversations")).conversations as Json[])
      .find((c) => c.id === h.bobId)!;
    assertEquals(listed.unreadCount, 1);
  });
});

Deno.test("GET /api/messages/search refuses a bad q or limit with bad_request", async () => {
  await withOwnerHarness(async (h) => {
    const long = "x".repeat(101);
    for (
      const query of [
        "",
        "?q=",
        "?q=%20%20",
        `?q=${long}`,
        "?q=a&limit=0",
        "?q=a&limit=201",
        "?q=a&limit=-1",
        "?q=a&limit=1.5",
        "?q=a&limit=x",
        "?limit=5",
      ]
    ) {
      assertError(await h.call("GET", `/api/messages/search${query}`), 400, "bad_request", query);
    }
    okJson(await h.call("GET", `/api/messages/search?q=${"x".repeat(100)}&limit=200`));
    okJson(await h.call("POST", "/api/lock"));
    assertError(await h.call("GET", "/api/messages/search?q=a"), 423, "locked");
  });
});

Deno.test("GET /api/conversations lists Note to Self from the start, last until it has notes", async () => {
  await withOwnerHarness(async (h) => {
    const fresh = okJson(await h.call("GET", "/api/conversations")).conversations as Json[];
    assertEquals(fresh, [{
      id: "self",
      kind: "self",
      displayName: null,
      nickname: null,
      lastMessage: null,
      unreadCount: 0,
      disappearing: { mode: "off", seconds: 0 },
      muted: false,
    }]);
    assertEquals(okJson(await h.call("GET", "/api/conversations/self")), fresh[0]);
    okJson(await h.call("POST", "/api/messages", { to: h.bobId, text: "hi" }), 201);
    const two = okJson(await h.call("GET", "/api/conversations")).conversations as Json[];
    assertEquals(two.map((c) => c.id), [h.bobId, "self"]);
    okJson(await h.call("POST", "/api/messages", { to: "self", text: "note" }), 201);
    const three = okJson(await h.call("GET", "/api/conversations")).conversations as Json[];
    assertEquals(three.map((c) => c.id), ["self", h.bobId]);
    assertEquals(three.filter((c) => c.kind === "self").length, 1);
  });
});

Deno.test("POST /api/conversations/{id}/typing is a no-op for anyone but an accepted contact", async () => {
  await withOwnerHarness(async (h) => {
    okJson(await h.call("PATCH", "/api/settings", { typingIndicators: true }));
    const typing = (id: string) =>
      h.call("POST", `/api/conversations/${id}/typing`, { active: true });
    const stranger = formatAccountId((await testAccount()).signing.publicKey);
    assertEquals(okJson(await typing("self")), { sent: false }, "Note to Self, no notes yet");
    assertEquals(okJson(await typing(h.me)), { sent: false }, "the owner's own ID");
    assertEquals(okJson(await typing(stranger)), { sent: false }, "an unknown peer");
    await h.fromBob({ type: "text", id: newMessageId(), text: "hello?" });
    assertEquals(okJson(await typing(h.bobId)), { sent: false }, "a request");
    okJson(await h.call("POST", `/api/requests/${h.bobId}/decline`));
    assertEquals(okJson(await typing(h.bobId)), { sent: false }, "declined");
    okJson(await h.call("POST", `/api/contacts/${h.bobId}/block`));
    assertEquals(okJson(await typing(h.bobId)), { sent: false }, "blocked");
    okJson(await h.call("POST", `/api/contacts/${h.bobId}/unblock`));
    assertEquals(okJson(await typing(h.bobId)), { sent: true }, "a contact again");
    assertError(await typing("hearth1nope"), 400, "bad_account_id");
    assertError(await typing("hearthg1nope"), 400, "bad_request");
  });
});
