/**
 * Per-key locks for the session manager: work under one key (a peer, or
 * the prekeys) runs one at a time, in the order it asked; work under
 * different keys runs side by side. A key's entry goes once nothing waits
 * on it.
 * @module
 */

/** In-process locks by key; one per session manager. */
export class PeerLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Run `fn` holding the lock of `key`; callers queue in order.
   * @returns what `fn` returns, once the lock is released
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => release = resolve);
    const tail = before.then(() => mine);
    this.#tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
