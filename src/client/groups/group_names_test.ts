/**
 * A group member's name as the owner sees it: the name a member sends
 * along with its messages is remembered, and a new or changed one is
 * announced with a `group` event before the message's own event (so a UI
 * showing the sender by a short ID can switch to the name); the owner's
 * nickname for a member shows in the group view beside it.
 */
import { assertEquals } from "../../../tests/assert.ts";
import { accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { encodeContent, newMessageId } from "../messages/content.ts";
import { queuedEvents } from "../messages/test_chat_events.ts";
import { groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { sealGroupMessage } from "./group_message.ts";
import { groupKey, groupRow, parseLocalState } from "./group_rows.ts";
import { hash, side } from "./_test_helpers.ts";

Deno.test("groups: a member's new name comes as a group event before its message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-group-names-" });
  const a = await side(`${dir}/a`, "Alice");
  try {
    const bob = await accountKeysFromSeed(createSeed());
    const groups = a.chat.groups();
    const { id } = await groups.create("Names", [bob.accountId]);
    const generation = parseLocalState((await groupRow(a.vault.db, id))!.state_json).generation;
    const key = (await groupKey(a.vault.db, id, generation))!;
    /** A text from Bob as his node would store it, with his name riding along. */
    const fromBob = async (text: string, displayName: string) => ({
      hash: hash(),
      expiry: 0,
      data: await sealGroupMessage(bob.signing, {
        swarmKey: groupSwarmKey(parseGroupId(id)),
        generation,
        key,
        sentAt: Date.now(),
        content: encodeContent({
          type: "text",
          id: newMessageId(),
          text,
          profile: { displayName },
        }),
      }),
    });
    const member = async () =>
      (await groups.get(id)).members.find((m) => m.accountId === bob.accountId);
    assertEquals(await member(), { accountId: bob.accountId, admin: false });

    const events = a.chat.events();
    await groups.receiveMessages(id, [await fromBob("first", "Bob")]);
    const first = await queuedEvents(events);
    assertEquals(first.map((e) => e.type), ["group", "message"]);
    if (first[0]?.type !== "group") throw new Error("not a group event");
    assertEquals(
      first[0].group.members.find((m) => m.accountId === bob.accountId)?.displayName,
      "Bob",
    );

    // The same name again: only the message.
    await groups.receiveMessages(id, [await fromBob("second", "Bob")]);
    assertEquals((await queuedEvents(events)).map((e) => e.type), ["message"]);

    // A changed name: announced again.
    await groups.receiveMessages(id, [await fromBob("third", "Robert")]);
    assertEquals((await queuedEvents(events)).map((e) => e.type), ["group", "message"]);
    assertEquals((await member())?.displayName, "Robert");

    // The owner's nickname for a member it has a contact row for shows beside the name.
    await a.vault.db.insertInto("contacts").values({
      account_id: bob.accountId,
      display_name: null,
      state: "request",
      added_at: 1,
    }).execute();
    await a.chat.setNickname(bob.accountId, "Uncle B");
    assertEquals(await member(), {
      accountId: bob.accountId,
      admin: false,
      displayName: "Robert",
      nickname: "Uncle B",
    });
    events.close();
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
