import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { REPLAY_TTL_MS, ReplayCache } from "./replay_cache.ts";

Deno.test("ReplayCache: a tag is fresh once, then a replay", () => {
  const cache = new ReplayCache({ clock: () => 1_000 });
  const tag = randomBytes(16);
  assertEquals(cache.admit(tag), "fresh");
  assertEquals(cache.admit(tag), "replay");
  assertEquals(cache.admit(tag.slice()), "replay", "compared by content");
  assertEquals(cache.admit(randomBytes(16)), "fresh");
  assertEquals(cache.size, 2);
});

Deno.test("ReplayCache: a tag is kept for the whole TTL and dropped after it", () => {
  let now = 0;
  const cache = new ReplayCache({ clock: () => now });
  const a = randomBytes(16);
  const b = randomBytes(16);
  assertEquals(cache.admit(a), "fresh");
  now = 60_000;
  assertEquals(cache.admit(b), "fresh");
  now = REPLAY_TTL_MS;
  assertEquals(cache.admit(a), "replay", "kept until strictly older than the TTL");
  now = REPLAY_TTL_MS + 1;
  assertEquals(cache.size, 2);
  assertEquals(cache.admit(a), "fresh", "expired, then recorded again");
  assertEquals(cache.admit(b), "replay");
  now = 60_000 + REPLAY_TTL_MS + 1;
  assertEquals(cache.admit(randomBytes(16)), "fresh");
  assertEquals(cache.size, 2, "b expired");
});

Deno.test("ReplayCache: when full it refuses new tags and forgets none", () => {
  let now = 0;
  const cache = new ReplayCache({ clock: () => now, maxEntries: 3 });
  const tags = [randomBytes(16), randomBytes(16), randomBytes(16)];
  for (const t of tags) assertEquals(cache.admit(t), "fresh");
  assertEquals(cache.admit(randomBytes(16)), "full");
  for (const t of tags) assertEquals(cache.admit(t), "replay");
  now = REPLAY_TTL_MS + 1;
  assertEquals(cache.admit(randomBytes(16)), "fresh", "room again once tags expire");
  assertEquals(cache.size, 1);
});

Deno.test("ReplayCache: an explicit time overrides the clock", () => {
  const cache = new ReplayCache({ clock: () => 0 });
  const tag = randomBytes(16);
  assertEquals(cache.admit(tag, 5), "fresh");
  assertEquals(cache.admit(tag, 5 + REPLAY_TTL_MS + 1), "fresh");
});

Deno.test("ReplayCache: tags are 16 bytes", () => {
  const cache = new ReplayCache();
  assertThrows(() => cache.admit(new Uint8Array(15)), RangeError);
  assertThrows(() => cache.admit(new Uint8Array(32)), RangeError);
});

Deno.test("ReplayCache: expiry keeps pace with a steady stream; a flood hits the cap", () => {
  let now = 0;
  const cache = new ReplayCache({ clock: () => now, maxEntries: 1_000, ttlMs: 100 });
  for (let i = 0; i < 10_000; i++) {
    now = i; // one tag per ms, 100 ms TTL: about 100 held
    assertEquals(cache.admit(randomBytes(16)), "fresh");
  }
  assertEquals(cache.size <= 101, true);
  let full = 0;
  for (let i = 0; i < 10_000; i++) {
    now = 10_000 + Math.floor(i / 20); // 20 tags per ms: 2,000 per TTL
    if (cache.admit(randomBytes(16)) === "full") full++;
    assertEquals(cache.size <= 1_000, true);
  }
  assertEquals(full > 0, true);
});
