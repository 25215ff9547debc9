/**
 * Sleeps that end early: {@link pause} until a time or an abort, and
 * {@link WakeTimer}, the sleep of a background loop that a kick or a stop
 * cuts short (the outbox worker's and the expiry sweeper's).
 * @module
 */

/**
 * Wait `ms`, or less when `signal` aborts (at once when it already has).
 * @param ms how long to wait at most
 * @param signal ends the wait early
 * @returns when the time has passed or the signal aborted; never rejects
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * The sleep of a loop that runs a pass, then sleeps until its next
 * deadline. A kick (new work) or a stop ends the sleep early; one that
 * comes during a pass makes the sleep after it return at once.
 *
 * @example
 * ```ts
 * const timer = new WakeTimer();
 * while (timer.next()) {
 *   const ms = await pass();
 *   await timer.sleep(ms);
 * }
 * ```
 */
export class WakeTimer {
  #stopped = false;
  #kicked = false;
  #wake: AbortController | undefined;

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Begin a pass: kicks that came before it are forgotten.
   * @returns false once stopped (the loop should end)
   */
  next(): boolean {
    if (this.#stopped) return false;
    this.#kicked = false;
    return true;
  }

  /** There is new work: end the sleep in progress, or skip the next one. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.abort();
  }

  /** End the loop: end the sleep in progress, and every later one at once. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.abort();
  }

  /**
   * Sleep `ms`, unless kicked or stopped since {@link next}; a kick or a
   * stop during the sleep ends it.
   * @param ms how long to sleep at most
   */
  async sleep(ms: number): Promise<void> {
    if (this.#kicked || this.#stopped) return;
    const wake = new AbortController();
    this.#wake = wake;
    try {
      await pause(ms, wake.signal);
    } finally {
      this.#wake = undefined;
    }
  }
}
