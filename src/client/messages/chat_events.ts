/**
 * The chat's in-process event bus: what the owner API streams at
 * `GET /api/events`. Each subscriber has a bounded queue; a subscriber that
 * falls more than its limit behind is dropped (ended with reason
 * `overflow`) rather than buffered without bound. Closing the bus (on lock
 * or close) sends every subscriber a `locked` event and ends it.
 * @module
 */
import type { MessageStatus } from "../db/schema.ts";
import type { AttachmentProgress } from "../attachments/attachment_service.ts";
import type { ContactView, ConversationView, MessageView } from "./chat_views.ts";
import type { GroupView } from "../groups/group_rows.ts";

/** A message's status change. */
export interface StatusChange {
  /** The message id. */
  id: string;
  /** The peer's Account ID. */
  conversationId: string;
  /** The new status. */
  status: MessageStatus;
}

/** One event of the bus. */
export type ChatEvent =
  /** A new message, incoming or outgoing. */
  | { type: "message"; message: MessageView }
  /** A message changed: edited, deleted for everyone, a reaction, or its timer started. */
  | { type: "update"; message: MessageView }
  /** Messages are gone from this node: they disappeared, or the owner deleted them for themself. */
  | { type: "removed"; conversationId: string; ids: string[] }
  /** An outgoing message's status changed. */
  | { type: "status"; status: StatusChange }
  /** A new message request (or a declined peer wrote again). */
  | { type: "request"; request: ContactView }
  /** A known peer changed: its name, avatar or state (e.g. it accepted the owner's request). */
  | { type: "contact"; contact: ContactView }
  /** A conversation's settings changed, by the owner or by the peer's timer change. */
  | { type: "conversation"; conversation: ConversationView }
  /** The peer is typing (active) or stopped; a UI drops `active` after 15 s without a refresh. */
  | { type: "typing"; conversationId: string; active: boolean }
  /** A file's transfer progressed (at most every 250 ms per file) or changed state. */
  | { type: "attachment"; attachment: AttachmentProgress }
  /** A group changed: an invitation, joining, leaving, removal, its members, name or picture. */
  | { type: "group"; group: GroupView }
  /** The client database was locked: the stream ends. */
  | { type: "locked" };

/** Why a subscription ended: closed by its owner, the bus locked, or it fell behind. */
export type EndReason = "closed" | "locked" | "overflow";

/** The default limit of a subscriber's queue, events. */
export const DEFAULT_MAX_QUEUE = 256;

/** What {@link ChatSubscription.next} answers when nothing came within its wait. */
export const IDLE = "idle";

/** One subscriber's view of the bus. */
export class ChatSubscription {
  readonly #queue: ChatEvent[] = [];
  readonly #max: number;
  readonly #detach: (sub: ChatSubscription) => void;
  #ended: EndReason | undefined;
  #waiter: ((value: ChatEvent | typeof IDLE | undefined) => void) | undefined;
  #onEnd: ((reason: EndReason) => void) | undefined;

  /** @internal made by {@link ChatEvents.subscribe} */
  constructor(max: number, detach: (sub: ChatSubscription) => void) {
    this.#max = max;
    this.#detach = detach;
  }

  /** Why it ended, or undefined while live. */
  get ended(): EndReason | undefined {
    return this.#ended;
  }

  /** Call `fn` once when the subscription ends (at once if it already has). */
  onEnd(fn: (reason: EndReason) => void): void {
    if (this.#ended) fn(this.#ended);
    else this.#onEnd = fn;
  }

  /**
   * The next event, {@link IDLE} when none came within `waitMs`, or
   * undefined once ended and drained (an overflowed subscription is not drained).
   * @param waitMs how long to wait, ms
   */
  next(waitMs: number): Promise<ChatEvent | typeof IDLE | undefined> {
    const head = this.#queue.shift();
    if (head) return Promise.resolve(head);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(IDLE), waitMs);
      const finish = (value: ChatEvent | typeof IDLE | undefined) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(value);
      };
      this.#waiter = finish;
    });
  }

  /** Stop receiving events. Idempotent. */
  close(): void {
    this.end("closed");
  }

  /** @internal deliver an event */
  push(event: ChatEvent): void {
    if (this.#ended) return;
    if (this.#waiter) return this.#waiter(event);
    if (this.#queue.length >= this.#max) {
      this.#queue.length = 0;
      return this.end("overflow");
    }
    this.#queue.push(event);
  }

  /** @internal end it, keeping the queue unless it overflowed */
  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = reason;
    this.#detach(this);
    this.#waiter?.(this.#queue.shift());
    const fn = this.#onEnd;
    this.#onEnd = undefined;
    fn?.(reason);
  }
}

/** The bus: typed events to bounded subscribers. */
export class ChatEvents {
  readonly #subs = new Set<ChatSubscription>();
  #closed = false;

  /** How many subscribers are live. */
  get size(): number {
    return this.#subs.size;
  }

  /**
   * Subscribe. On a closed bus the subscription gets `locked` and ends at once.
   * @param options.maxQueue the queue limit, events (default {@link DEFAULT_MAX_QUEUE})
   */
  subscribe(options: { maxQueue?: number } = {}): ChatSubscription {
    const sub = new ChatSubscription(
      Math.max(1, options.maxQueue ?? DEFAULT_MAX_QUEUE),
      (s) => this.#subs.delete(s),
    );
    if (this.#closed) {
      sub.push({ type: "locked" });
      sub.end("locked");
    } else {
      this.#subs.add(sub);
    }
    return sub;
  }

  /** Deliver an event to every subscriber. */
  emit(event: ChatEvent): void {
    if (this.#closed) return;
    for (const sub of [...this.#subs]) sub.push(event);
  }

  /** Send `locked` to every subscriber and end them; later emits are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of [...this.#subs]) {
      sub.push({ type: "locked" });
      sub.end("locked");
    }
  }
}
