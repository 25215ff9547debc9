import { assert, assertEquals } from "../../../tests/assert.ts";
import { pause, WakeTimer } from "./wake_timer.ts";

/** How long `p` took, ms. */
async function timed(p: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await p();
  return performance.now() - started;
}

Deno.test("pause waits its time, or ends when the signal aborts", async () => {
  const never = new AbortController();
  assert(await timed(() => pause(30, never.signal)) >= 20, "the full time without an abort");

  const soon = new AbortController();
  setTimeout(() => soon.abort(), 10);
  assert(await timed(() => pause(10_000, soon.signal)) < 5_000, "ended by the abort");

  const already = new AbortController();
  already.abort();
  assert(await timed(() => pause(10_000, already.signal)) < 5_000, "already aborted: at once");
});

Deno.test("a kick ends the sleep in progress, or skips the next sleep of the pass", async () => {
  const timer = new WakeTimer();
  assert(timer.next());
  setTimeout(() => timer.kick(), 10);
  assert(await timed(() => timer.sleep(10_000)) < 5_000, "woken by the kick");

  // A kick during a pass: the sleep after it returns at once.
  assert(timer.next());
  timer.kick();
  assert(await timed(() => timer.sleep(10_000)) < 5_000, "kicked during the pass");

  // A kick before the pass began is forgotten by next().
  timer.kick();
  assert(timer.next());
  assert(await timed(() => timer.sleep(30)) >= 20, "an earlier kick does not cut this sleep");
});

Deno.test("stop ends the sleep in progress and the loop", async () => {
  const timer = new WakeTimer();
  assertEquals([timer.next(), timer.stopped], [true, false]);
  setTimeout(() => timer.stop(), 10);
  assert(await timed(() => timer.sleep(10_000)) < 5_000, "woken by the stop");
  assertEquals([timer.next(), timer.stopped], [false, true]);
  assert(await timed(() => timer.sleep(10_000)) < 5_000, "no sleep after a stop");
  timer.kick();
  assertEquals(timer.next(), false, "a kick does not restart a stopped loop");
});
