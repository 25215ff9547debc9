import { assertEquals } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { queueControl } from "./chat_store.ts";
import { newMessageId } from "./content.ts";
import { withClientDb } from "./test_chat_db.ts";

Deno.test("items queued in the same millisecond keep their order in the outbox", async () => {
  await withClientDb(async (db) => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const id = newMessageId();
      ids.push(id);
      // Random ids: with equal times, sorting by id would shuffle them.
      await queueControl(db, { id, recipient: "peer", envelope: randomBytes(8) }, 1_000);
    }
    await queueControl(
      db,
      { id: newMessageId(), recipient: "other", envelope: randomBytes(8) },
      1_000,
    );
    const rows = await db.selectFrom("outbox").select(["id", "created_at"])
      .where("recipient", "=", "peer").orderBy("created_at").orderBy("id").execute();
    assertEquals(rows.map((r) => r.id), ids, "the worker's send order is the queue order");
    const other = await db.selectFrom("outbox").select("created_at")
      .where("recipient", "=", "other").executeTakeFirstOrThrow();
    assertEquals(other.created_at, 1_000, "another recipient's clock is its own");
  });
});
