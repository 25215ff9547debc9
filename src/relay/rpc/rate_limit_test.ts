import { assertEquals } from "../../../tests/assert.ts";
import { TokenBuckets } from "./rate_limit.ts";

Deno.test("TokenBuckets allows the burst, then the rate, per peer", () => {
  let now = 0;
  const b = new TokenBuckets({ ratePerSecond: 10, burst: 20, clock: () => now });
  let allowed = 0;
  for (let i = 0; i < 50; i++) if (b.take("a")) allowed++;
  assertEquals(allowed, 20);
  assertEquals(b.take("b"), true, "another peer has its own bucket");
  now += 1000;
  allowed = 0;
  for (let i = 0; i < 50; i++) if (b.take("a")) allowed++;
  assertEquals(allowed, 10);
});

Deno.test("TokenBuckets bounds the peers it tracks and forgets idle ones", () => {
  let now = 0;
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 2, maxPeers: 3, clock: () => now });
  for (const p of ["a", "b", "c"]) assertEquals(b.take(p), true);
  assertEquals(b.take("d"), false, "table full of active peers");
  now += 10_000;
  assertEquals(b.take("d"), true, "idle peers were swept");
  assertEquals(b.size <= 3, true);
});
