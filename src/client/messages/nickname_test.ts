/**
 * The owner's nicknames for peers: set on any peer the owner has a row
 * for (contact, request, blocked, declined), shown beside the peer's own
 * name in the views, announced with a `contact` event, and never sent:
 * what the peer receives afterwards names the owner's profile only.
 */
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import { accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { side } from "../groups/_test_helpers.ts";
import { parseContent } from "./content.ts";
import { openEnvelope } from "./envelope.ts";
import { queuedEvents } from "./test_chat_events.ts";

async function code(p: Promise<unknown>): Promise<string> {
  return (await assertRejects(() => p, HearthError)).code;
}

Deno.test("nicknames: set, shown, cleared, refused when bad, and never sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-nickname-" });
  const a = await side(`${dir}/a`, "Ada");
  const b = await side(`${dir}/b`, "Bob");
  try {
    const bob = b.keys.accountId;
    await a.chat.send(bob, "hi");
    await a.vault.db.deleteFrom("outbox").execute();
    const events = a.chat.events();
    const set = await a.chat.setNickname(bob, "  Uncle\u0301 B ");
    assertEquals([set.accountId, set.nickname, set.state], [
      bob,
      "Uncle\u0301 B".normalize(),
      "contact",
    ]);
    const [event] = await queuedEvents(events);
    assertEquals(event, { type: "contact", contact: set });
    const listed = (await a.chat.conversations()).find((c) => c.id === bob);
    assertEquals([listed?.nickname, listed?.displayName], [set.nickname, null]);
    assertEquals((await a.chat.conversation(bob)).nickname, set.nickname);
    assertEquals((await a.chat.contacts())[0]?.nickname, set.nickname);
    assertEquals((await a.chat.conversation("self")).nickname, null);

    // Nothing was queued for the nickname; the next message carries only the owner's profile.
    assertEquals(await a.vault.db.selectFrom("outbox").select("id").execute(), []);
    await a.chat.send(bob, "still me");
    const rows = await a.vault.db.selectFrom("outbox").select("envelope").execute();
    assertEquals(rows.length, 1);
    const opened = await openEnvelope(new Uint8Array(rows[0]!.envelope), b.keys);
    const plain = new TextDecoder().decode(opened.content);
    assertEquals(plain.includes("Uncle"), false, plain);
    const content = parseContent(opened.content);
    assertEquals(content.type === "text" && content.profile?.displayName, "Ada");

    // Blank or null clears it.
    assertEquals((await a.chat.setNickname(bob, " ")).nickname, null);
    await a.chat.setNickname(bob, "B");
    assertEquals((await a.chat.setNickname(bob, null)).nickname, null);

    // Requests, blocked and declined peers can have one too; strangers and the owner cannot.
    const carol = (await accountKeysFromSeed(createSeed())).accountId;
    for (const state of ["request", "blocked", "declined"] as const) {
      await a.vault.db.insertInto("contacts").values({
        account_id: carol,
        display_name: "Carol",
        state,
        added_at: 1,
      }).onConflict((oc) => oc.column("account_id").doUpdateSet({ state })).execute();
      const view = await a.chat.setNickname(carol, `C ${state}`);
      assertEquals([view.state, view.nickname, view.displayName], [state, `C ${state}`, "Carol"]);
    }
    assertEquals((await a.chat.requests()).length, 0);
    const stranger = (await accountKeysFromSeed(createSeed())).accountId;
    assertEquals(await code(a.chat.setNickname(stranger, "X")), "not_found");
    assertEquals(await code(a.chat.setNickname(a.keys.accountId, "Me")), "not_found");
    assertEquals(await code(a.chat.setNickname("hearth1nope", "X")), "bad_account_id");
    for (const bad of ["x".repeat(65), "a\u202Eb", "tab\there", "\ud800", 5]) {
      assertEquals(
        await code(a.chat.setNickname(bob, bad as string)),
        "bad_request",
        JSON.stringify(bad),
      );
    }
    assertEquals((await a.chat.setNickname(bob, "x".repeat(64))).nickname, "x".repeat(64));
    events.close();
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});
