/**
 * The simulated clock and its event queue: events run in time order (ties
 * in the order they were scheduled), and time only moves when the next
 * event is taken. Nothing here waits for real time.
 * @module
 */

/** A scheduled event; cancel it with {@link SimClock.cancel}. */
export interface SimEvent {
  readonly at: number;
  readonly seq: number;
  run: (() => void) | undefined;
}

/** A simulated clock in ms with a binary-heap event queue. */
export class SimClock {
  #now: number;
  #heap: SimEvent[] = [];
  #seq = 0;

  /**
   * Create a clock.
   * @param start the time at start, ms
   */
  constructor(start: number) {
    this.#now = start;
  }

  /** The current simulated time, ms. */
  get now(): number {
    return this.#now;
  }

  /**
   * The clock as a function, for the `clock` option of the real classes:
   * whole milliseconds, as Date.now gives.
   */
  readonly fn = (): number => Math.floor(this.#now);

  /** Events waiting. */
  get pending(): number {
    return this.#heap.length;
  }

  /** When the next event is due, or Infinity when none is. */
  get nextAt(): number {
    return this.#heap[0]?.at ?? Infinity;
  }

  /**
   * Run `run` `delayMs` from now.
   * @param delayMs a non-negative delay
   * @param run what to do; it runs with the clock set to its time
   * @throws {RangeError} on a negative or non-finite delay
   */
  schedule(delayMs: number, run: () => void): SimEvent {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
      throw new RangeError("Delay must be a finite non-negative number");
    }
    const event: SimEvent = { at: this.#now + delayMs, seq: this.#seq++, run };
    this.#push(event);
    return event;
  }

  /**
   * Forget a scheduled event (it stays in the queue but does nothing).
   * @param event what {@link schedule} returned
   */
  cancel(event: SimEvent): void {
    event.run = undefined;
  }

  /**
   * Take the next event due at or before `until`, moving the clock to its
   * time; undefined when there is none.
   * @param until the latest time to take, ms
   */
  take(until: number): SimEvent | undefined {
    const first = this.#heap[0];
    if (!first || first.at > until) return undefined;
    return this.#pop(first);
  }

  #pop(first: SimEvent): SimEvent {
    const last = this.#heap.pop()!;
    if (this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#down(0);
    }
    this.#now = Math.max(this.#now, first.at);
    return first;
  }

  /**
   * Move the clock forward to `t` (when no event is due before it).
   * @param t the new time
   */
  advanceTo(t: number): void {
    if (t > this.#now) this.#now = t;
  }

  #push(event: SimEvent): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  #down(start: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[start]!;
    let i = start;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[child]!, item)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
