import { assertEquals } from "../../../tests/assert.ts";
import { FileGuardStore, MemoryGuardStore, parsePinnedGuard } from "./guard_store.ts";

const GUARD = {
  id: "ab".repeat(32),
  addr: "203.0.113.9:7000",
  pinnedAt: 1_700_000_000_000,
  failures: 1,
};

Deno.test("MemoryGuardStore keeps a copy", async () => {
  const store = new MemoryGuardStore();
  assertEquals(await store.load(), undefined);
  const guard = { ...GUARD };
  await store.save(guard);
  guard.failures = 9;
  assertEquals(await store.load(), GUARD);
  await store.save(undefined);
  assertEquals(await store.load(), undefined);
});

Deno.test("FileGuardStore round-trips through a 0600 file and reads junk as no guard", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hearth-guard-" });
  try {
    const path = `${dir}/guard.json`;
    const store = new FileGuardStore(path);
    assertEquals(await store.load(), undefined);
    await store.save(GUARD);
    assertEquals(await new FileGuardStore(path).load(), GUARD);
    if (Deno.build.os !== "windows") assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    // No temp file is left behind.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["guard.json"]);

    await store.save(undefined);
    assertEquals(await store.load(), undefined);
    for (const junk of ["{", "[]", '{"id":"zz","addr":"a","pinnedAt":1,"failures":0}', ""]) {
      await Deno.writeTextFile(path, junk);
      assertEquals(await store.load(), undefined, junk);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parsePinnedGuard checks every field", () => {
  assertEquals(parsePinnedGuard(GUARD), GUARD);
  assertEquals(parsePinnedGuard({ ...GUARD, failures: undefined }), { ...GUARD, failures: 0 });
  for (
    const bad of [
      null,
      "x",
      { ...GUARD, id: "AB".repeat(32) },
      { ...GUARD, id: "ab" },
      { ...GUARD, addr: 5 },
      { ...GUARD, pinnedAt: 1.5 },
      { ...GUARD, pinnedAt: "1" },
      { ...GUARD, failures: -1 },
    ]
  ) {
    assertEquals(parsePinnedGuard(bad), undefined, JSON.stringify(bad));
  }
});
