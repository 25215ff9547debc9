import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { WriteBatcher } from "./write_batcher.ts";

Deno.test("concurrent submits share commits and each gets its own results", async () => {
  const batches: number[][] = [];
  const batcher = new WriteBatcher<number, string>(async (entries) => {
    batches.push(entries);
    await new Promise((r) => setTimeout(r, 1));
    return entries.map((e) => `done ${e}`);
  }, { maxBatch: 64 });
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => batcher.submit([i, i + 1000])),
  );
  results.forEach((r, i) => assertEquals(r, [`done ${i}`, `done ${i + 1000}`]));
  assert(batches.length < 200, `${batches.length} commits for 200 submits`);
  for (const b of batches) assert(b.length <= 64, "a commit exceeded maxBatch");
  assertEquals(batches.flat().length, 400);
  await batcher.idle();
});

Deno.test("a failed commit rejects every caller in it, and later ones still run", async () => {
  let fail = true;
  const batcher = new WriteBatcher<number, number>((entries) => {
    if (fail) return Promise.reject(new Error("disk full"));
    return Promise.resolve(entries.map((e) => e * 2));
  });
  const a = batcher.submit([1]);
  const b = batcher.submit([2]);
  await assertRejects(() => a, Error, "disk full");
  await assertRejects(() => b, Error, "disk full");
  fail = false;
  assertEquals(await batcher.submit([3]), [6]);
  assertEquals(await batcher.submit([]), []);
});

Deno.test("a submit larger than maxBatch is committed alone, not split", async () => {
  const batches: number[] = [];
  const batcher = new WriteBatcher<number, number>((entries) => {
    batches.push(entries.length);
    return Promise.resolve(entries);
  }, { maxBatch: 4 });
  const [big, small] = await Promise.all([
    batcher.submit([1, 2, 3, 4, 5, 6]),
    batcher.submit([7]),
  ]);
  assertEquals(big, [1, 2, 3, 4, 5, 6]);
  assertEquals(small, [7]);
  assertEquals(batches, [6, 1]);
});
