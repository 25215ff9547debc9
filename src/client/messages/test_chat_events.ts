/**
 * Reading a chat subscription in tests: everything queued on it right now,
 * without waiting. Not used outside tests.
 * @module
 */
import type { ChatEvent, ChatSubscription } from "./chat_events.ts";

/**
 * Every event queued on a subscription right now (it never waits).
 * @param sub the subscription
 * @returns the events, oldest first
 */
export async function queuedEvents(sub: ChatSubscription): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for (;;) {
    const e = await sub.next(0);
    if (e === undefined || e === "idle") return out;
    out.push(e);
  }
}
