/**
 * Runs the real node code on the simulated clock. Two things in the
 * process are redirected while a simulation runs, and restored after:
 *
 * - `AbortSignal.timeout` (what PeerClient's request timeouts use) fires
 *   on the simulated clock;
 * - `crypto.subtle` calls are counted and their results delivered in the
 *   order the calls were made. WebCrypto answers on a later macrotask, in
 *   an order the simulation does not control; delivering in call order
 *   keeps runs repeatable, and the count says when real work is done.
 *
 * Events are taken in windows no longer than the shortest delay anything
 * schedules (the smallest one-way latency): what an event in a window
 * causes lands after the window, so the events of one window can run
 * together, and the real work they start (microtasks, crypto) settles
 * before the clock moves on.
 * @module
 */
import { setImmediate } from "node:timers";
import type { SimClock } from "./clock.ts";

/** Options of {@link SimRuntime}. */
export interface SimRuntimeOptions {
  /**
   * Events within this many ms of the first one of a window run together;
   * at most the shortest delay anything schedules (default 1 ms).
   */
  windowMs?: number;
}

/** Counters of one runtime. */
export interface RuntimeStats {
  /** Events run. */
  events: number;
  /** Windows (settles). */
  windows: number;
  /** Events that threw or rejected. */
  eventErrors: number;
  /** Crypto calls made while installed. */
  cryptoCalls: number;
}

const MAX_YIELDS = 1_000_000;

/** The simulated process environment: install, run events, restore. */
export class SimRuntime {
  readonly clock: SimClock;
  readonly stats: RuntimeStats = { events: 0, windows: 0, eventErrors: 0, cryptoCalls: 0 };
  #windowMs: number;
  #inFlight = 0;
  /** Crypto calls and answers so far. */
  #activity = 0;
  #restore: (() => void)[] = [];

  /**
   * Create a runtime over a clock; call {@link install} before running.
   * @param clock the simulated clock
   * @param options the window length
   */
  constructor(clock: SimClock, options: SimRuntimeOptions = {}) {
    this.clock = clock;
    this.#windowMs = options.windowMs ?? 1;
  }

  /** Redirect the timeouts and crypto of this process to the simulation. */
  install(): void {
    if (this.#restore.length > 0) return;
    const clock = this.clock;
    const originalTimeout = AbortSignal.timeout;
    // One reason for every timeout: a DOMException per request costs more than the request.
    const reason = new DOMException("Signal timed out", "TimeoutError");
    AbortSignal.timeout = (ms: number): AbortSignal => {
      const controller = new AbortController();
      clock.schedule(Math.max(0, ms), () => controller.abort(reason));
      return controller.signal;
    };
    this.#restore.push(() => {
      AbortSignal.timeout = originalTimeout;
    });

    const subtle = crypto.subtle as unknown as Record<string, unknown>;
    const proto = Object.getPrototypeOf(crypto.subtle) as Record<string, unknown>;
    let tail: Promise<unknown> = Promise.resolve();
    for (const name of Object.getOwnPropertyNames(proto)) {
      const original = proto[name];
      if (name === "constructor" || typeof original !== "function") continue;
      subtle[name] = (...args: unknown[]): Promise<unknown> => {
        this.stats.cryptoCalls++;
        this.#activity++;
        this.#inFlight++;
        let result: Promise<unknown>;
        try {
          result = Promise.resolve(
            (original as (...a: unknown[]) => unknown).apply(crypto.subtle, args),
          );
        } catch (err) {
          this.#inFlight--;
          throw err;
        }
        // Delivered in call order, each in a turn of its own: the previous
        // answer's continuation runs to its end before this one arrives.
        const ordered = tail.then(() => this.#macrotask()).then(() => result);
        const done = () => {
          this.#activity++;
          this.#inFlight--;
        };
        ordered.then(done, done);
        tail = ordered.catch(() => {});
        return ordered;
      };
      this.#restore.push(() => {
        delete subtle[name];
      });
    }
  }

  /** Put back what {@link install} redirected. */
  uninstall(): void {
    for (const undo of this.#restore.reverse()) undo();
    this.#restore = [];
  }

  /**
   * Run events until `until` (ms, simulated), or until `stop` says so
   * between windows; the clock ends at `until` unless stopped early.
   * @param until the simulated time to run to
   * @param options.stop checked after each window
   * @returns whether it stopped early
   */
  async runUntil(until: number, options: { stop?: () => boolean } = {}): Promise<boolean> {
    while (true) {
      const first = this.clock.take(until);
      if (!first) break;
      const windowEnd = first.at + this.#windowMs;
      this.#run(first.run);
      for (let e = this.#takeIn(windowEnd, until); e; e = this.#takeIn(windowEnd, until)) {
        this.#run(e.run);
      }
      this.stats.windows++;
      await this.settle();
      if (options.stop?.()) return true;
    }
    this.clock.advanceTo(until);
    return false;
  }

  /**
   * Wait until the real work started so far is done: no crypto call in
   * flight, and the microtasks it queued have run (a macrotask passed).
   * @throws {Error} when work never settles
   */
  async settle(): Promise<void> {
    for (let i = 0; i < MAX_YIELDS; i++) {
      // A crypto answer can arrive in the same turn as the wake-up and its
      // continuation run after it: only a whole macrotask with no crypto
      // call, answer or call in flight proves the queue drained.
      const mark = this.#activity;
      const idle = this.#inFlight === 0;
      await this.#macrotask();
      if (idle && this.#inFlight === 0 && this.#activity === mark) return;
    }
    throw new Error("Real work did not settle");
  }

  /** The next event before `windowEnd` and not after `until`. */
  #takeIn(windowEnd: number, until: number) {
    const next = this.clock.nextAt;
    return next < windowEnd && next <= until ? this.clock.take(until) : undefined;
  }

  #run(run: (() => void) | undefined): void {
    if (!run) return;
    this.stats.events++;
    try {
      const result = run() as unknown;
      if (result instanceof Promise) {
        result.catch(() => {
          this.stats.eventErrors++;
        });
      }
    } catch {
      this.stats.eventErrors++;
    }
  }

  /**
   * A whole turn of the event loop: setImmediate runs after the microtask
   * queue has drained (a MessagePort message can arrive while it has not).
   */
  #macrotask(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
