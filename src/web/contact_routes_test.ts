import { assertEquals } from "../../tests/assert.ts";
import { formatAccountId } from "../client/account/mod.ts";
import { newMessageId } from "../client/messages/content.ts";
import { testAccount } from "../client/messages/test_keys.ts";
import { assertError, type Json, okJson, withOwnerHarness } from "./test_owner_harness.ts";

Deno.test("PATCH /api/contacts/{id} sets and clears a nickname, shown beside the peer's name", async () => {
  await withOwnerHarness(async (h) => {
    await h.fromBob({
      type: "text",
      id: newMessageId(),
      text: "hi",
      profile: { displayName: "Bob" },
    });
    okJson(await h.call("POST", `/api/requests/${h.bobId}/accept`));
    const events = h.messenger.chat().events();
    const path = `/api/contacts/${h.bobId}`;
    const set = okJson(await h.call("PATCH", path, { nickname: "  Uncle B  ", other: 1 }));
    assertEquals([set.accountId, set.displayName, set.nickname, set.state], [
      h.bobId,
      "Bob",
      "Uncle B",
      "contact",
    ]);
    const event = await events.next(1_000);
    assertEquals(event, { type: "contact", contact: set } as unknown);
    events.close();
    const contacts = okJson(await h.call("GET", "/api/contacts")).contacts as Json[];
    assertEquals(contacts.map((c) => [c.displayName, c.nickname]), [["Bob", "Uncle B"]]);
    const listed = (okJson(await h.call("GET", "/api/conversations")).conversations as Json[])
      .find((c) => c.id === h.bobId)!;
    assertEquals([listed.displayName, listed.nickname], ["Bob", "Uncle B"]);
    const one = okJson(await h.call("GET", `/api/conversations/${h.bobId}`));
    assertEquals([one.displayName, one.nickname], ["Bob", "Uncle B"]);
    // The upper-case form of the ID names the same contact.
    const upper = okJson(
      await h.call("PATCH", `/api/contacts/${h.bobId.toUpperCase()}`, {
        nickname: "B",
      }),
    );
    assertEquals(upper.nickname, "B");
    // null and "" clear it.
    assertEquals(okJson(await h.call("PATCH", path, { nickname: null })).nickname, null);
    okJson(await h.call("PATCH", path, { nickname: "B" }));
    assertEquals(okJson(await h.call("PATCH", path, { nickname: "" })).nickname, null);
    assertEquals(okJson(await h.call("PATCH", path, { nickname: "   " })).nickname, null);
  });
});

Deno.test("PATCH /api/contacts/{id} works on a request; refuses bad input with stable codes", async () => {
  await withOwnerHarness(async (h) => {
    await h.fromBob({
      type: "text",
      id: newMessageId(),
      text: "hi",
      profile: { displayName: "Bob" },
    });
    const path = `/api/contacts/${h.bobId}`;
    okJson(await h.call("PATCH", path, { nickname: "From the shop" }));
    const requests = okJson(await h.call("GET", "/api/requests")).requests as Json[];
    assertEquals(requests.map((r) => [r.state, r.nickname]), [["request", "From the shop"]]);

    const stranger = formatAccountId((await testAccount()).signing.publicKey);
    const cases: [string, string, unknown, number, string][] = [
      [path, "PATCH", { nickname: "x".repeat(65) }, 400, "bad_request"],
      [path, "PATCH", { nickname: "a\u202Eb" }, 400, "bad_request"],
      [path, "PATCH", { nickname: "line\nbreak" }, 400, "bad_request"],
      [path, "PATCH", { nickname: "\u0000" }, 400, "bad_request"],
      [path, "PATCH", { nickname: 5 }, 400, "bad_request"],
      [path, "PATCH", { nickname: ["B"] }, 400, "bad_request"],
      [path, "PATCH", {}, 400, "bad_request"],
      [path, "PATCH", [], 400, "bad_request"],
      [`/api/contacts/${stranger}`, "PATCH", { nickname: "X" }, 404, "not_found"],
      [`/api/contacts/${h.me}`, "PATCH", { nickname: "Me" }, 404, "not_found"],
      ["/api/contacts/hearth1nope", "PATCH", { nickname: "X" }, 400, "bad_account_id"],
      ["/api/contacts/self", "PATCH", { nickname: "X" }, 400, "bad_account_id"],
    ];
    for (const [p, method, body, status, code] of cases) {
      assertError(
        await h.call(method, p, body),
        status,
        code,
        `${method} ${p} ${JSON.stringify(body)}`,
      );
    }
    assertError(await h.raw("PATCH", path, "{nickname"), 400, "bad_request", "not JSON");
    assertError(
      await h.raw("PATCH", path, JSON.stringify({ nickname: "x".repeat(20_000) })),
      413,
      "too_large",
    );
    // Nothing changed by the refused ones; 64 characters are fine.
    const after = okJson(await h.call("GET", "/api/requests")).requests as Json[];
    assertEquals(after[0]?.nickname, "From the shop");
    const longest = "é".repeat(64);
    assertEquals(okJson(await h.call("PATCH", path, { nickname: longest })).nickname, longest);

    okJson(await h.call("POST", "/api/lock"));
    assertError(await h.call("PATCH", path, { nickname: "X" }), 423, "locked");
  });
});
