import { assertEquals } from "../tests/assert.ts";
import { scheduleReadings } from "./timed_readings.ts";

function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) =>
    timer = setTimeout(() => resolve("pending"), ms)
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("a reading whose time has not come is taken when the readings settle", async () => {
  let count = 0;
  const now = performance.now();
  const timed = scheduleReadings(() => Promise.resolve(++count), [now, now + 60_000]);
  await new Promise((r) => setTimeout(r, 20));
  timed.settle();
  // The end reading would otherwise wait a minute (or forever, had its timer been cancelled).
  assertEquals(await within(Promise.all(timed.readings), 1_000), [1, 2]);
  timed.settle();
  assertEquals(count, 2, "each reading is taken once");
});

Deno.test("readings due in time are taken by their timers, once", async () => {
  let count = 0;
  const now = performance.now();
  const timed = scheduleReadings(() => Promise.resolve(++count), [now + 5, now + 10]);
  assertEquals(await within(Promise.all(timed.readings), 1_000), [1, 2]);
  timed.settle();
  assertEquals(count, 2);
});
