/**
 * In-process wake-ups for long-poll retrieves: a retrieve subscribes to
 * (key, namespace) before it reads, then waits; the store notifies when an
 * item for that (key, namespace) is committed. Waiters are bounded.
 * @module
 */
import { toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";

/** One registered interest in a (key, namespace). */
export interface Subscription {
  /**
   * Wait until an item arrives (`true`), or the time is up or `signal`
   * aborts (`false`). Resolves at once when an item arrived since
   * subscribing. Ends the subscription.
   */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** End the subscription without waiting. */
  cancel(): void;
}

interface Waiter {
  fired: boolean;
  wake: (() => void) | undefined;
}

/** Wakes long-poll waiters when items arrive. */
export class Notifier {
  #topics = new Map<string, Set<Waiter>>();
  #count = 0;
  #maxWaiters: number;

  /**
   * Create a notifier with no subscriptions.
   * @param options.maxWaiters most subscriptions at once (default 10,000)
   */
  constructor(options: { maxWaiters?: number } = {}) {
    this.#maxWaiters = options.maxWaiters ?? 10_000;
  }

  /** How many subscriptions are open. */
  get size(): number {
    return this.#count;
  }

  /**
   * Register interest in items for (key, ns).
   * @throws {HearthError} `unavailable` when too many requests are waiting
   */
  subscribe(key: Uint8Array, ns: number): Subscription {
    if (this.#count >= this.#maxWaiters) {
      throw new HearthError("unavailable", "Too many requests are waiting");
    }
    const topic = topicOf(key, ns);
    const waiter: Waiter = { fired: false, wake: undefined };
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    set.add(waiter);
    this.#count++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#remove(topic, waiter);
    };
    return {
      wait: (timeoutMs, signal) => {
        if (ended) return Promise.resolve(waiter.fired);
        if (waiter.fired || signal?.aborted || timeoutMs <= 0) {
          end();
          return Promise.resolve(waiter.fired);
        }
        return new Promise<boolean>((resolve) => {
          const finish = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", finish);
            waiter.wake = undefined;
            end();
            resolve(waiter.fired);
          };
          const timer = setTimeout(finish, timeoutMs);
          signal?.addEventListener("abort", finish, { once: true });
          waiter.wake = finish;
        });
      },
      cancel: end,
    };
  }

  /** Wake every waiter of (key, ns). */
  notify(key: Uint8Array, ns: number): void {
    const set = this.#topics.get(topicOf(key, ns));
    if (!set) return;
    for (const waiter of [...set]) {
      waiter.fired = true;
      waiter.wake?.();
    }
  }

  #remove(topic: string, waiter: Waiter): void {
    const set = this.#topics.get(topic);
    if (!set?.delete(waiter)) return;
    this.#count--;
    if (set.size === 0) this.#topics.delete(topic);
  }
}

function topicOf(key: Uint8Array, ns: number): string {
  return `${toHex(key)}/${ns}`;
}
