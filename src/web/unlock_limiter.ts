/**
 * Slows down passphrase guessing on `POST /api/unlock`. Each attempt
 * already costs a scrypt run (~0.4 s) and attempts run one at a time; on
 * top of that, after {@link FREE_FAILURES} wrong passphrases in a row each
 * further attempt must wait: 1 s after the 5th failure, doubling with each
 * failure, at most 15 minutes. An early attempt is refused with
 * `rate_limited` (429) and not counted. A right passphrase resets the count.
 * The count lives in memory: a restart resets it (it also costs the
 * attacker a node restart, which only the owner can do).
 * @module
 */
import { HearthError } from "../shared/errors.ts";

/** Wrong passphrases in a row allowed before attempts must wait. */
export const FREE_FAILURES = 5;
/** The wait after the first failure past the free ones, ms. */
export const BASE_WAIT_MS = 1_000;
/** The longest wait, ms. */
export const MAX_WAIT_MS = 15 * 60_000;

/** Counts wrong passphrases in a row and says when the next attempt may run. */
export class UnlockLimiter {
  readonly #clock: () => number;
  #failures = 0;
  #notBefore = 0;

  /** @param options.clock current time, ms (default Date.now) */
  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** Wrong passphrases in a row so far. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Refuse an attempt made before the wait is over.
   * @throws {HearthError} `rate_limited` with `retryAfterMs`
   */
  check(): void {
    const wait = this.#notBefore - this.#clock();
    if (wait > 0) {
      throw new HearthError("rate_limited", "Too many wrong passphrases; wait and retry", {
        retryAfterMs: wait,
      });
    }
  }

  /** Record a wrong passphrase. */
  failed(): void {
    this.#failures++;
    if (this.#failures < FREE_FAILURES) return;
    const doublings = Math.min(this.#failures - FREE_FAILURES, 30);
    this.#notBefore = this.#clock() + Math.min(BASE_WAIT_MS * 2 ** doublings, MAX_WAIT_MS);
  }

  /** Record a right passphrase: the count starts again. */
  succeeded(): void {
    this.#failures = 0;
    this.#notBefore = 0;
  }
}
