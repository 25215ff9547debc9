/**
 * The owner API's event stream: `GET /api/events` as server-sent events
 * (new and changed messages, removals, status changes, message requests,
 * peer and conversation changes, typing, and `locked` before the stream
 * ends). A keep-alive comment goes out when nothing else did
 * for {@link KEEP_ALIVE_MS}. A client that falls more than
 * {@link MAX_EVENT_QUEUE} events behind is disconnected. Answers 423
 * `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import { type ChatEvent, IDLE } from "../client/messages/chat_events.ts";
import type { Logger } from "../shared/log.ts";

/** How long the stream may stay silent before a keep-alive comment, ms. */
export const KEEP_ALIVE_MS = 15_000;

/** How many events a client may fall behind before it is disconnected. */
export const MAX_EVENT_QUEUE = 256;

/** What {@link eventRoutes} needs. */
export interface EventRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
  /** The keep-alive interval, ms (default {@link KEEP_ALIVE_MS}; tests pass less). */
  keepAliveMs?: number;
  /** The queue limit, events (default {@link MAX_EVENT_QUEUE}). */
  maxQueue?: number;
}

/**
 * The route `GET /api/events`.
 * @param deps the messenger, a logger and the stream's limits
 * @returns a sub-app to mount at "/"
 */
export function eventRoutes(deps: EventRoutesDeps): Hono {
  const { messenger, log } = deps;
  const keepAliveMs = deps.keepAliveMs ?? KEEP_ALIVE_MS;
  const app = new Hono();

  app.get("/api/events", () => {
    const sub = messenger.chat().events({ maxQueue: deps.maxQueue ?? MAX_EVENT_QUEUE });
    const encoder = new TextEncoder();
    log.debug("events.open");
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        sub.onEnd((reason) => {
          if (reason !== "overflow") return;
          log.info("events.overflow");
          try {
            controller.error(new Error("Event stream fell behind"));
          } catch { /* already closed */ }
        });
        controller.enqueue(encoder.encode(": hearth events\n\n"));
      },
      async pull(controller) {
        const next = await sub.next(keepAliveMs);
        if (sub.ended === "overflow") return;
        if (next === undefined) return controller.close();
        if (next === IDLE) return controller.enqueue(encoder.encode(": keep-alive\n\n"));
        controller.enqueue(encoder.encode(sseFrame(next)));
        if (next.type === "locked") controller.close();
      },
      cancel() {
        sub.close();
        log.debug("events.closed");
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Accel-Buffering": "no",
      },
    });
  });

  return app;
}

/**
 * One event as an SSE frame: `event:` with the type and one `data:` line
 * of JSON (JSON.stringify never writes a raw newline).
 * @param event the event
 * @returns the frame, ending in a blank line
 */
export function sseFrame(event: ChatEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(eventData(event))}\n\n`;
}

/** What an event's `data:` line carries. */
function eventData(event: ChatEvent): unknown {
  switch (event.type) {
    case "message":
    case "update":
      return event.message;
    case "removed":
      return { conversationId: event.conversationId, ids: event.ids };
    case "status":
      return event.status;
    case "request":
      return event.request;
    case "contact":
      return event.contact;
    case "conversation":
      return event.conversation;
    case "typing":
      return { conversationId: event.conversationId, active: event.active };
    case "attachment":
      return event.attachment;
    case "group":
      return event.group;
    case "locked":
      return { state: "locked" };
  }
}
