import { assertEquals } from "../../tests/assert.ts";
import { formatAccountId } from "../client/account/mod.ts";
import { MAX_AVATAR_BYTES, newMessageId } from "../client/messages/content.ts";
import { testAccount } from "../client/messages/test_keys.ts";
import { toBase64 } from "../shared/crypto/mod.ts";
import { type Json, okJson, withOwnerHarness } from "./test_owner_harness.ts";

/** A 1×1 PNG's first bytes are enough: the type is told by its magic number. */
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 5, 6, 7, 8]);

const withHarness = withOwnerHarness;
const sent = okJson;

function unknownId(): string {
  return newMessageId();
}

Deno.test("POST /api/messages sends, replies, and quotes the replied-to message", async () => {
  await withHarness(async (h) => {
    const note = sent(await h.call("POST", "/api/messages", { to: "self", text: "note" }), 201);
    assertEquals([note.conversationId, note.direction, note.replyTo], ["self", "out", null]);
    assertEquals([note.reactions, note.editedAt, note.deleted], [[], null, false]);
    assertEquals(note.encryption, "local", "Note to Self never leaves the node");
    const reply = sent(
      await h.call("POST", "/api/messages", { to: h.me, text: "re", replyTo: note.id }),
      201,
    );
    assertEquals(reply.replyTo, { id: note.id, sender: h.me, text: "note" });
    const toBob = sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "hi" }), 201);
    assertEquals([toBob.conversationId, toBob.status], [h.bobId, "queued"]);
    // A reply names a message of the same conversation.
    const other = await h.call("POST", "/api/messages", {
      to: h.bobId,
      text: "re",
      replyTo: note.id,
    });
    assertEquals([other.status, other.json.error], [404, "not_found"]);
    const unknown = await h.call("POST", "/api/messages", {
      to: "self",
      text: "re",
      replyTo: unknownId(),
    });
    assertEquals([unknown.status, unknown.json.error], [404, "not_found"]);
    sent(await h.call("DELETE", `/api/messages/${toBob.id}?for=everyone`));
    const toTombstone = await h.call("POST", "/api/messages", {
      to: h.bobId,
      text: "re",
      replyTo: toBob.id,
    });
    assertEquals([toTombstone.status, toTombstone.json.error], [409, "conflict"]);
  });
});

Deno.test("PATCH /api/messages/{id} edits the owner's own text only", async () => {
  await withHarness(async (h) => {
    const mine = sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "helo" }), 201);
    const edited = sent(await h.call("PATCH", `/api/messages/${mine.id}`, { text: "hello" }));
    assertEquals([edited.id, edited.text, typeof edited.editedAt], [mine.id, "hello", "number"]);
    const listed = sent(await h.call("GET", `/api/conversations/${h.bobId}/messages`));
    assertEquals((listed.messages as Json[])[0]!.text, "hello");

    const theirs = newMessageId();
    await h.fromBob({ type: "text", id: theirs, text: "from Bob" });
    const notMine = await h.call("PATCH", `/api/messages/${theirs}`, { text: "changed" });
    assertEquals([notMine.status, notMine.json.error], [400, "bad_request"]);
    const unknown = await h.call("PATCH", `/api/messages/${unknownId()}`, { text: "x" });
    assertEquals([unknown.status, unknown.json.error], [404, "not_found"]);
    sent(await h.call("DELETE", `/api/messages/${mine.id}?for=everyone`));
    const gone = await h.call("PATCH", `/api/messages/${mine.id}`, { text: "again" });
    assertEquals([gone.status, gone.json.error], [409, "conflict"]);
  });
});

Deno.test("DELETE /api/messages/{id} deletes for me or leaves a tombstone for everyone", async () => {
  await withHarness(async (h) => {
    const a = sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "one" }), 201);
    const b = sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "two" }), 201);
    const theirs = newMessageId();
    await h.fromBob({ type: "text", id: theirs, text: "three" });

    assertEquals(sent(await h.call("DELETE", `/api/messages/${a.id}`)), { ok: true });
    assertEquals(sent(await h.call("DELETE", `/api/messages/${theirs}?for=me`)), { ok: true });
    const tombstone = sent(await h.call("DELETE", `/api/messages/${b.id}?for=everyone`));
    assertEquals([tombstone.id, tombstone.deleted, tombstone.text], [b.id, true, ""]);
    const left = sent(await h.call("GET", `/api/conversations/${h.bobId}/messages`));
    assertEquals((left.messages as Json[]).map((m) => [m.id, m.deleted]), [[b.id, true]]);

    await h.fromBob({ type: "text", id: newMessageId(), text: "four" });
    const incoming = (sent(await h.call("GET", `/api/conversations/${h.bobId}/messages`))
      .messages as Json[]).find((m) => m.direction === "in")!;
    const notMine = await h.call("DELETE", `/api/messages/${incoming.id}?for=everyone`);
    assertEquals([notMine.status, notMine.json.error], [400, "bad_request"]);
    const unknown = await h.call("DELETE", `/api/messages/${unknownId()}`);
    assertEquals([unknown.status, unknown.json.error], [404, "not_found"]);
  });
});

Deno.test("PUT and DELETE /api/messages/{id}/reaction: one reaction per sender", async () => {
  await withHarness(async (h) => {
    const note = sent(await h.call("POST", "/api/messages", { to: "self", text: "n" }), 201);
    const liked = sent(await h.call("PUT", `/api/messages/${note.id}/reaction`, { emoji: "👍" }));
    assertEquals(liked.reactions, [{ sender: h.me, emoji: "👍" }]);
    const changed = sent(
      await h.call("PUT", `/api/messages/${note.id}/reaction`, { emoji: "🎉" }),
    );
    assertEquals(changed.reactions, [{ sender: h.me, emoji: "🎉" }]);
    const removed = sent(await h.call("DELETE", `/api/messages/${note.id}/reaction`));
    assertEquals(removed.reactions, []);

    const toBob = sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "hi" }), 201);
    const onPeer = sent(await h.call("PUT", `/api/messages/${toBob.id}/reaction`, { emoji: "❤️" }));
    assertEquals(onPeer.reactions, [{ sender: h.me, emoji: "❤️" }]);

    const unknown = await h.call("PUT", `/api/messages/${unknownId()}/reaction`, { emoji: "👍" });
    assertEquals([unknown.status, unknown.json.error], [404, "not_found"]);
    const unknownDel = await h.call("DELETE", `/api/messages/${unknownId()}/reaction`);
    assertEquals([unknownDel.status, unknownDel.json.error], [404, "not_found"]);
    sent(await h.call("DELETE", `/api/messages/${toBob.id}?for=everyone`));
    const gone = await h.call("PUT", `/api/messages/${toBob.id}/reaction`, { emoji: "👍" });
    assertEquals([gone.status, gone.json.error], [409, "conflict"]);
  });
});

Deno.test("GET and PATCH /api/conversations/{id}: timer and mute", async () => {
  await withHarness(async (h) => {
    sent(await h.call("POST", "/api/messages", { to: "self", text: "first" }), 201);
    const self = sent(await h.call("GET", "/api/conversations/self"));
    assertEquals([self.id, self.kind, self.muted], ["self", "self", false]);
    assertEquals(self.disappearing, { mode: "off", seconds: 0 });
    assertEquals(sent(await h.call("GET", `/api/conversations/${h.me}`)).id, "self");

    const muted = sent(await h.call("PATCH", "/api/conversations/self", { muted: true }));
    assertEquals(muted.muted, true);
    const timed = sent(
      await h.call("PATCH", "/api/conversations/self", {
        disappearing: { mode: "after_send", seconds: 3600 },
      }),
    );
    assertEquals([timed.disappearing, timed.muted], [{ mode: "after_send", seconds: 3600 }, true]);
    const note = sent(await h.call("POST", "/api/messages", { to: "self", text: "n" }), 201);
    assertEquals(note.expiresAt, (note.sentAt as number) + 3_600_000);
    const unchanged = sent(await h.call("PATCH", "/api/conversations/self", {}));
    assertEquals(unchanged.disappearing, { mode: "after_send", seconds: 3600 });
    const off = sent(
      await h.call("PATCH", "/api/conversations/self", { disappearing: { mode: "off" } }),
    );
    assertEquals(off.disappearing, { mode: "off", seconds: 0 });

    sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "hi" }), 201);
    const withBob = sent(
      await h.call("PATCH", `/api/conversations/${h.bobId}`, {
        disappearing: { mode: "after_read", seconds: 60 },
      }),
    );
    assertEquals([withBob.id, withBob.kind], [h.bobId, "1:1"]);
    // An Account ID in upper case names the same conversation.
    const upper = sent(await h.call("GET", `/api/conversations/${h.bobId.toUpperCase()}`));
    assertEquals([upper.id, upper.disappearing], [h.bobId, withBob.disappearing]);
    assertEquals(withBob.disappearing, { mode: "after_read", seconds: 60 });

    const stranger = formatAccountId((await testAccount()).signing.publicKey);
    for (const [method, body] of [["GET", undefined], ["PATCH", { muted: true }]] as const) {
      const r = await h.call(method, `/api/conversations/${stranger}`, body);
      assertEquals([r.status, r.json.error], [404, "not_found"], method);
    }
    const badId = await h.call("GET", "/api/conversations/hearth1nope");
    assertEquals([badId.status, badId.json.error], [400, "bad_account_id"]);
  });
});

Deno.test("group conversations: delete for me and mute work; the rest is conflict", async () => {
  await withHarness(async (h) => {
    const group = sent(
      await h.call("POST", "/api/groups", { name: "Club", members: [h.bobId] }),
      201,
    );
    const id = group.id as string;
    const one = sent(await h.call("POST", "/api/messages", { to: id, text: "one" }), 201);
    const two = sent(await h.call("POST", "/api/messages", { to: id, text: "two" }), 201);

    assertEquals(sent(await h.call("DELETE", `/api/messages/${one.id}?for=me`)), { ok: true });
    const left = sent(await h.call("GET", `/api/conversations/${id}/messages`));
    assertEquals((left.messages as Json[]).map((m) => m.id), [two.id]);

    const muted = sent(await h.call("PATCH", `/api/conversations/${id}`, { muted: true }));
    assertEquals([muted.id, muted.kind, muted.muted], [id, "group", true]);
    assertEquals(sent(await h.call("GET", `/api/conversations/${id}`)).muted, true);

    const refused = [
      [await h.call("PUT", `/api/messages/${two.id}/reaction`, { emoji: "👍" }), "Reactions are"],
      [await h.call("DELETE", `/api/messages/${two.id}/reaction`), "Reactions are"],
      [await h.call("PATCH", `/api/messages/${two.id}`, { text: "edited" }), "Edits are"],
      [await h.call("DELETE", `/api/messages/${two.id}?for=everyone`), "Deleting for everyone is"],
      [
        await h.call("PATCH", `/api/conversations/${id}`, {
          disappearing: { mode: "after_send", seconds: 3600 },
        }),
        "Disappearing messages are",
      ],
    ] as const;
    for (const [r, subject] of refused) {
      assertEquals([r.status, r.json.error, r.json.message], [
        409,
        "conflict",
        `${subject} not supported in groups yet`,
      ]);
    }
    const still = sent(await h.call("GET", `/api/conversations/${id}/messages`));
    assertEquals((still.messages as Json[]).map((m) => [m.text, m.deleted]), [["two", false]]);
    const conv = sent(await h.call("GET", `/api/conversations/${id}`));
    assertEquals(conv.disappearing, { mode: "off", seconds: 0 });
  });
});

Deno.test("POST /api/conversations/{id}/typing is sent only with typing indicators on", async () => {
  await withHarness(async (h) => {
    sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "hi" }), 201);
    const path = `/api/conversations/${h.bobId}/typing`;
    assertEquals(sent(await h.call("POST", path, { active: true })), { sent: false });
    sent(await h.call("PATCH", "/api/settings", { typingIndicators: true }));
    assertEquals(sent(await h.call("POST", path, { active: true })), { sent: true });
    assertEquals(sent(await h.call("POST", path, { active: false })), { sent: true });
    // Not an accepted contact: nothing leaves the node, and it is not an error.
    const stranger = formatAccountId((await testAccount()).signing.publicKey);
    const unknown = await h.call("POST", `/api/conversations/${stranger}/typing`, {
      active: true,
    });
    assertEquals(sent(unknown), { sent: false });
  });
});

Deno.test("GET and PATCH /api/settings", async () => {
  await withHarness(async (h) => {
    const defaults = { readReceipts: false, typingIndicators: false };
    assertEquals(sent(await h.call("GET", "/api/settings")), defaults);
    assertEquals(sent(await h.call("PATCH", "/api/settings", { readReceipts: true })), {
      readReceipts: true,
      typingIndicators: false,
    });
    assertEquals(sent(await h.call("PATCH", "/api/settings", { typingIndicators: true })), {
      readReceipts: true,
      typingIndicators: true,
    });
    assertEquals(sent(await h.call("PATCH", "/api/settings", {})), {
      readReceipts: true,
      typingIndicators: true,
    });
    assertEquals(
      sent(
        await h.call("PATCH", "/api/settings", { readReceipts: false, typingIndicators: false }),
      ),
      defaults,
    );
    assertEquals(sent(await h.call("GET", "/api/settings")), defaults);
  });
});

Deno.test("PATCH /api/account changes the name and the avatar, served at /api/account/avatar", async () => {
  await withHarness(async (h) => {
    const before = sent(await h.call("GET", "/api/account"));
    assertEquals([before.displayName, before.hasAvatar], ["Ada", false]);
    const none = await h.call("GET", "/api/account/avatar");
    assertEquals([none.status, none.json.error], [404, "not_found"]);

    const renamed = sent(await h.call("PATCH", "/api/account", { displayName: " Ada L. " }));
    assertEquals([renamed.accountId, renamed.displayName], [h.me, "Ada L."]);
    const withAvatar = sent(await h.call("PATCH", "/api/account", { avatar: toBase64(PNG) }));
    assertEquals([withAvatar.displayName, withAvatar.hasAvatar], ["Ada L.", true]);
    const image = await h.call("GET", "/api/account/avatar");
    assertEquals([image.status, image.headers.get("content-type")], [200, "image/png"]);
    assertEquals(image.bytes, PNG);
    const biggest = new Uint8Array(MAX_AVATAR_BYTES);
    biggest.set(JPEG);
    sent(await h.call("PATCH", "/api/account", { displayName: "Ada", avatar: toBase64(biggest) }));
    const jpeg = await h.call("GET", "/api/account/avatar");
    assertEquals([jpeg.headers.get("content-type"), jpeg.bytes], ["image/jpeg", biggest]);
    assertEquals(sent(await h.call("GET", "/api/account")).displayName, "Ada");

    const removed = sent(await h.call("PATCH", "/api/account", { avatar: null }));
    assertEquals(removed.hasAvatar, false);
    assertEquals((await h.call("GET", "/api/account/avatar")).status, 404);
    assertEquals(sent(await h.call("PATCH", "/api/account", {})).displayName, "Ada");
  });
});

Deno.test("contacts: block, unblock and a peer's avatar", async () => {
  await withHarness(async (h) => {
    await h.fromBob({
      type: "text",
      id: newMessageId(),
      text: "hi",
      profile: { displayName: "Bob", avatar: JPEG },
    });
    const image = await h.call("GET", `/api/contacts/${h.bobId}/avatar`);
    assertEquals([image.status, image.headers.get("content-type")], [200, "image/jpeg"]);
    assertEquals(image.bytes, JPEG);

    const blocked = sent(await h.call("POST", `/api/contacts/${h.bobId}/block`));
    assertEquals([blocked.accountId, blocked.state, blocked.hasAvatar], [h.bobId, "blocked", true]);
    const unblocked = sent(await h.call("POST", `/api/contacts/${h.bobId}/unblock`));
    assertEquals([unblocked.state, unblocked.displayName], ["contact", "Bob"]);
    const contacts = sent(await h.call("GET", "/api/contacts")).contacts as Json[];
    assertEquals(contacts.map((c) => [c.accountId, c.state]), [[h.bobId, "contact"]]);

    await h.fromBob({
      type: "profile",
      id: newMessageId(),
      profile: { displayName: "Bob", avatar: new Uint8Array(0) },
    });
    const cleared = await h.call("GET", `/api/contacts/${h.bobId}/avatar`);
    assertEquals([cleared.status, cleared.json.error], [404, "not_found"]);

    const stranger = formatAccountId((await testAccount()).signing.publicKey);
    for (const path of ["block", "unblock", "avatar"]) {
      const r = await h.call(
        path === "avatar" ? "GET" : "POST",
        `/api/contacts/${stranger}/${path}`,
      );
      assertEquals([r.status, r.json.error], [404, "not_found"], path);
      const bad = await h.call(path === "avatar" ? "GET" : "POST", `/api/contacts/nope/${path}`);
      assertEquals([bad.status, bad.json.error], [400, "bad_account_id"], path);
    }
  });
});

Deno.test("bad input to the new routes gets its status and code and changes nothing", async () => {
  await withHarness(async (h) => {
    const note = sent(await h.call("POST", "/api/messages", { to: "self", text: "keep" }), 201);
    sent(await h.call("POST", "/api/messages", { to: h.bobId, text: "keep too" }), 201);
    const id = note.id as string;
    const snapshot = async () =>
      JSON.stringify([
        await h.call("GET", "/api/conversations/self/messages"),
        await h.call("GET", `/api/conversations/${h.bobId}/messages`),
        await h.call("GET", "/api/conversations"),
        await h.call("GET", "/api/settings"),
        await h.call("GET", "/api/account"),
        await h.call("GET", "/api/contacts"),
      ].map((a) => [a.status, a.json]));
    const before = await snapshot();
    const png = (n: number) => {
      const bytes = new Uint8Array(n);
      bytes.set(PNG);
      return toBase64(bytes);
    };
    const bigName = "x".repeat(25_000);
    const cases: [string, string, unknown, number, string][] = [
      // POST /api/messages
      ["POST", "/api/messages", { to: "self", text: 5 }, 400, "bad_request"],
      ["POST", "/api/messages", { to: "self", text: " " }, 400, "bad_request"],
      ["POST", "/api/messages", { to: "self", text: "x", replyTo: 5 }, 400, "bad_request"],
      ["POST", "/api/messages", { to: "self", text: "x", replyTo: "abc" }, 400, "bad_request"],
      [
        "POST",
        "/api/messages",
        { to: "self", text: "x", replyTo: id.toUpperCase() },
        400,
        "bad_request",
      ],
      ["POST", "/api/messages", { to: "self", text: "x".repeat(10_001) }, 413, "too_large"],
      ["POST", "/api/messages", { to: "hearth1nope", text: "x" }, 400, "bad_account_id"],
      // PATCH /api/messages/{id}
      ["PATCH", `/api/messages/${id.slice(1)}`, { text: "x" }, 400, "bad_request"],
      ["PATCH", `/api/messages/${id.toUpperCase()}`, { text: "x" }, 400, "bad_request"],
      ["PATCH", `/api/messages/${id}g`, { text: "x" }, 400, "bad_request"],
      ["PATCH", `/api/messages/${id}`, { text: 1 }, 400, "bad_request"],
      ["PATCH", `/api/messages/${id}`, { text: "" }, 400, "bad_request"],
      ["PATCH", `/api/messages/${id}`, {}, 400, "bad_request"],
      ["PATCH", `/api/messages/${id}`, "not json", 400, "bad_request"],
      ["PATCH", `/api/messages/${id}`, { text: "x".repeat(10_001) }, 413, "too_large"],
      ["PATCH", `/api/messages/${id}`, { text: "x".repeat(70_000) }, 413, "too_large"],
      // DELETE /api/messages/{id}
      ["DELETE", `/api/messages/${id}?for=all`, undefined, 400, "bad_request"],
      ["DELETE", `/api/messages/${id}?for=`, undefined, 400, "bad_request"],
      ["DELETE", `/api/messages/${id}?for=ME`, undefined, 400, "bad_request"],
      ["DELETE", "/api/messages/self", undefined, 400, "bad_request"],
      // PUT and DELETE /api/messages/{id}/reaction
      ["PUT", `/api/messages/${id}/reaction`, { emoji: 1 }, 400, "bad_request"],
      ["PUT", `/api/messages/${id}/reaction`, { emoji: "" }, 400, "bad_request"],
      ["PUT", `/api/messages/${id}/reaction`, {}, 400, "bad_request"],
      ["PUT", `/api/messages/${id}/reaction`, { emoji: "x".repeat(17) }, 400, "bad_request"],
      ["PUT", `/api/messages/${id}/reaction`, { emoji: "\ud800" }, 400, "bad_request"],
      ["PUT", `/api/messages/${id}/reaction`, "[]", 400, "bad_request"],
      ["PUT", "/api/messages/123/reaction", { emoji: "👍" }, 400, "bad_request"],
      ["DELETE", `/api/messages/${id.slice(2)}/reaction`, undefined, 400, "bad_request"],
      // PATCH /api/conversations/{id}
      ["PATCH", "/api/conversations/self", { muted: "yes" }, 400, "bad_request"],
      ["PATCH", "/api/conversations/self", { muted: null }, 400, "bad_request"],
      ["PATCH", "/api/conversations/self", { disappearing: "off" }, 400, "bad_request"],
      ["PATCH", "/api/conversations/self", { disappearing: null }, 400, "bad_request"],
      ["PATCH", "/api/conversations/self", { disappearing: [] }, 400, "bad_request"],
      ["PATCH", "/api/conversations/self", { disappearing: {} }, 400, "bad_request"],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "never", seconds: 60 } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "after_send", seconds: 60.5 } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "after_send", seconds: "60" } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "after_read" } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "after_send", seconds: 9 } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "after_send", seconds: 365 * 86_400 + 1 } },
        400,
        "bad_request",
      ],
      [
        "PATCH",
        "/api/conversations/self",
        { disappearing: { mode: "off", seconds: 1.5 } },
        400,
        "bad_request",
      ],
      ["PATCH", "/api/conversations/self", { muted: true, disappearing: 1 }, 400, "bad_request"],
      ["PATCH", "/api/conversations/hearth1nope", { muted: true }, 400, "bad_account_id"],
      // POST /api/conversations/{id}/typing
      ["POST", "/api/conversations/self/typing", {}, 400, "bad_request"],
      ["POST", "/api/conversations/self/typing", { active: "true" }, 400, "bad_request"],
      ["POST", "/api/conversations/self/typing", { active: 1 }, 400, "bad_request"],
      ["POST", "/api/conversations/self/typing", "", 400, "bad_request"],
      // PATCH /api/settings
      ["PATCH", "/api/settings", { readReceipts: "on" }, 400, "bad_request"],
      ["PATCH", "/api/settings", { readReceipts: null }, 400, "bad_request"],
      ["PATCH", "/api/settings", { typingIndicators: 0 }, 400, "bad_request"],
      ["PATCH", "/api/settings", { sounds: true }, 400, "bad_request"],
      ["PATCH", "/api/settings", { readReceipts: true, sounds: true }, 400, "bad_request"],
      ["PATCH", "/api/settings", "[true]", 400, "bad_request"],
      // PATCH /api/account
      ["PATCH", "/api/account", { displayName: 5 }, 400, "bad_request"],
      ["PATCH", "/api/account", { displayName: null }, 400, "bad_request"],
      ["PATCH", "/api/account", { displayName: "" }, 400, "bad_request"],
      ["PATCH", "/api/account", { displayName: "a\u202Eb" }, 400, "bad_request"],
      ["PATCH", "/api/account", { displayName: "x".repeat(65) }, 400, "bad_request"],
      ["PATCH", "/api/account", { avatar: 5 }, 400, "bad_request"],
      ["PATCH", "/api/account", { avatar: "!!!!" }, 400, "bad_encoding"],
      ["PATCH", "/api/account", { avatar: "abc" }, 400, "bad_encoding"],
      ["PATCH", "/api/account", { avatar: "" }, 400, "bad_request"],
      ["PATCH", "/api/account", { avatar: toBase64(new Uint8Array(64)) }, 400, "bad_request"],
      ["PATCH", "/api/account", { avatar: png(MAX_AVATAR_BYTES + 1) }, 413, "too_large"],
      ["PATCH", "/api/account", { avatar: png(12_000) }, 413, "too_large"],
      ["PATCH", "/api/account", { avatar: png(100), displayName: 1 }, 400, "bad_request"],
      ["PATCH", "/api/account", { displayName: bigName }, 413, "too_large"],
      // Contacts
      ["POST", "/api/contacts/hearth1nope/block", undefined, 400, "bad_account_id"],
      ["GET", "/api/contacts/nope/avatar", undefined, 400, "bad_account_id"],
      // Methods that are not routes
      ["POST", `/api/messages/${id}`, { text: "x" }, 404, "not_found"],
      ["GET", `/api/messages/${id}/reaction`, undefined, 404, "not_found"],
      ["PUT", "/api/settings", { readReceipts: true }, 404, "not_found"],
      ["DELETE", "/api/account/avatar", undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const what = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
      const r = typeof body === "string"
        ? await h.raw(method, path, body)
        : await h.call(method, path, body);
      assertEquals([r.status, r.json.error], [status, code], what);
      assertEquals(typeof r.json.message, "string", what);
    }
    assertEquals(await snapshot(), before);
  });
});

Deno.test("the new routes answer 423 locked while locked", async () => {
  await withHarness(async (h) => {
    const id = newMessageId();
    sent(await h.call("POST", "/api/lock"));
    for (
      const [method, path, body] of [
        ["GET", "/api/conversations/self", undefined],
        ["PATCH", "/api/conversations/self", { muted: true }],
        ["POST", "/api/conversations/self/typing", { active: true }],
        ["PATCH", `/api/messages/${id}`, { text: "x" }],
        ["DELETE", `/api/messages/${id}`, undefined],
        ["PUT", `/api/messages/${id}/reaction`, { emoji: "👍" }],
        ["DELETE", `/api/messages/${id}/reaction`, undefined],
        ["GET", "/api/settings", undefined],
        ["PATCH", "/api/settings", { readReceipts: true }],
        ["PATCH", "/api/account", { displayName: "X" }],
        ["GET", "/api/account/avatar", undefined],
        ["POST", `/api/contacts/${h.bobId}/block`, undefined],
        ["POST", `/api/contacts/${h.bobId}/unblock`, undefined],
        ["GET", `/api/contacts/${h.bobId}/avatar`, undefined],
      ] as const
    ) {
      const r = await h.call(method, path, body);
      assertEquals([r.status, r.json.error], [423, "locked"], `${method} ${path}`);
    }
  });
});
