import { assertEquals } from "../../../tests/assert.ts";
import { chunkKey } from "../../shared/storage/namespaces.ts";
import {
  isAddressedRight,
  isContent,
  isPublicInbox,
  isPublicRead,
  isValidTtl,
  maxTtl,
  namespaceClass,
} from "./item.ts";

const DAY = 86_400_000;

Deno.test("namespace classes are pinned by |ns % 10|", () => {
  const inbox = [0, 10, -10, 32_760, -32_760];
  const publicRead = [5, 15, -5, -15, 32_765, -32_765];
  const member = [1, 11, -1, -11, 32_761];
  const memberRead = [3, 13, -3, -13];
  const content = [7, 17, -7, -17, 32_767];
  const ownerOnly = [2, 4, 6, 8, 9, 14, -4, -6, -9, -32_768];
  const pin = (ns: number) => [isPublicInbox(ns), isPublicRead(ns), isContent(ns)];
  for (const ns of inbox) {
    assertEquals([...pin(ns), namespaceClass(ns)], [true, false, false, "inbox"]);
  }
  for (const ns of publicRead) {
    // Only the owner stores there: it counts as owner-only for quotas and TTLs.
    assertEquals([...pin(ns), namespaceClass(ns)], [false, true, false, "owner"]);
  }
  for (const ns of member) {
    assertEquals([...pin(ns), namespaceClass(ns)], [false, false, false, "member"]);
  }
  for (const ns of [...memberRead, ...ownerOnly]) {
    assertEquals([...pin(ns), namespaceClass(ns)], [false, false, false, "owner"]);
  }
  for (const ns of content) {
    assertEquals([...pin(ns), namespaceClass(ns)], [false, false, true, "content"]);
  }
});

Deno.test("member-write and content namespaces take the inbox TTL bounds", () => {
  for (const ns of [1, -11, 7, 17, 0]) assertEquals(maxTtl(ns), 14 * DAY);
  for (const ns of [2, 3, 13, 14, 5]) assertEquals(maxTtl(ns), 30 * DAY);
});

Deno.test("a content-addressed item is held only under the hash of its data", () => {
  const data = new TextEncoder().encode("chunk");
  const key = chunkKey(data);
  assertEquals(isAddressedRight(key, 7, data), true);
  assertEquals(isAddressedRight(key, -17, data), true);
  assertEquals(isAddressedRight(chunkKey(new Uint8Array(1)), 7, data), false);
  // Other classes do not care.
  assertEquals(isAddressedRight(chunkKey(new Uint8Array(1)), 0, data), true);
});

Deno.test("public-read namespaces take the owner-only TTL bounds", () => {
  assertEquals(maxTtl(5), 30 * DAY);
  assertEquals(maxTtl(0), 14 * DAY);
  assertEquals([isValidTtl(5, 9_999), isValidTtl(5, 10_000)], [false, true]);
  assertEquals([isValidTtl(-5, 30 * DAY), isValidTtl(-5, 30 * DAY + 1)], [true, false]);
});
