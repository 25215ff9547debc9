import { assertEquals } from "../../../tests/assert.ts";
import { isPublicInbox, isPublicRead, isValidTtl, maxTtl, namespaceClass } from "./item.ts";

const DAY = 86_400_000;

Deno.test("namespace classes are pinned: inbox, public-read and owner-only", () => {
  const inbox = [0, 10, -10, 32_760, -32_760];
  const publicRead = [5, 15, -5, -15, 32_765, -32_765];
  const ownerOnly = [1, 2, 4, 6, 9, 11, -1, -4, -6, -9, 32_767, -32_768];
  for (const ns of inbox) {
    assertEquals([isPublicInbox(ns), isPublicRead(ns), namespaceClass(ns)], [true, false, "inbox"]);
  }
  for (const ns of publicRead) {
    // Only the owner stores there: it counts as owner-only for quotas and TTLs.
    assertEquals([isPublicInbox(ns), isPublicRead(ns), namespaceClass(ns)], [false, true, "owner"]);
  }
  for (const ns of ownerOnly) {
    assertEquals([isPublicInbox(ns), isPublicRead(ns), namespaceClass(ns)], [
      false,
      false,
      "owner",
    ]);
  }
});

Deno.test("public-read namespaces take the owner-only TTL bounds", () => {
  assertEquals(maxTtl(5), 30 * DAY);
  assertEquals(maxTtl(0), 14 * DAY);
  assertEquals([isValidTtl(5, 9_999), isValidTtl(5, 10_000)], [false, true]);
  assertEquals([isValidTtl(-5, 30 * DAY), isValidTtl(-5, 30 * DAY + 1)], [true, false]);
});
