import { assertEquals } from "../../../tests/assert.ts";
import { type ChatEvent, ChatEvents, IDLE } from "./chat_events.ts";

const status = (id: string): ChatEvent => ({
  type: "status",
  status: { id, conversationId: "peer", status: "sent" },
});

Deno.test("events reach every subscriber in order; close sends locked and ends them", async () => {
  const bus = new ChatEvents();
  const a = bus.subscribe();
  const b = bus.subscribe();
  const waiting = a.next(10_000);
  bus.emit(status("1"));
  assertEquals(await waiting, status("1"), "a waiting subscriber gets it at once");
  bus.emit(status("2"));
  assertEquals(await a.next(10_000), status("2"));
  assertEquals([await b.next(0), await b.next(0)], [status("1"), status("2")]);
  assertEquals(await b.next(1), IDLE);

  b.close();
  assertEquals(bus.size, 1);
  bus.emit(status("3"));
  assertEquals([b.ended, await b.next(10_000)], ["closed", undefined]);

  bus.close();
  assertEquals([a.ended, bus.size], ["locked", 0]);
  assertEquals(await a.next(10_000), status("3"), "the queue drains after the end");
  assertEquals(await a.next(10_000), { type: "locked" });
  assertEquals(await a.next(10_000), undefined);
  const late = bus.subscribe();
  assertEquals([await late.next(10_000), late.ended], [{ type: "locked" }, "locked"]);
});

Deno.test("a subscriber that falls behind its queue limit is dropped", async () => {
  const bus = new ChatEvents();
  const slow = bus.subscribe({ maxQueue: 3 });
  const fast = bus.subscribe({ maxQueue: 3 });
  const reasons: string[] = [];
  slow.onEnd((r) => reasons.push(r));
  for (let i = 0; i < 10; i++) {
    bus.emit(status(String(i)));
    if (i < 2) continue;
    assertEquals(await fast.next(0), status(String(i - 2)));
  }
  assertEquals([slow.ended, reasons, bus.size], ["overflow", ["overflow"], 1]);
  assertEquals(await slow.next(10_000), undefined, "nothing is kept for it");
  assertEquals(fast.ended, undefined);
  fast.close();
});
