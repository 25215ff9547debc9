/**
 * A small write queue: callers submit lists of entries, one flush loop
 * commits everything queued in one call (one transaction), then answers
 * every caller with its own slice of the results. Writes that come in
 * bursts share a commit (and its fsync).
 * @module
 */

interface Pending<T, R> {
  entries: T[];
  resolve: (results: R[]) => void;
  reject: (err: unknown) => void;
}

/** Batches concurrent writes into shared commits. */
export class WriteBatcher<T, R> {
  #commit: (entries: T[]) => Promise<R[]>;
  #maxBatch: number;
  #queue: Pending<T, R>[] = [];
  #flushing: Promise<void> | undefined;

  /**
   * Create a batcher.
   * @param commit writes the entries in one transaction and returns one result per entry
   * @param options.maxBatch most entries per commit (default 512); one
   *   caller's entries are never split, so a larger submit is committed alone
   */
  constructor(commit: (entries: T[]) => Promise<R[]>, options: { maxBatch?: number } = {}) {
    this.#commit = commit;
    this.#maxBatch = options.maxBatch ?? 512;
  }

  /**
   * Queue entries for the next commit.
   * @returns one result per entry, in order; rejects when their commit fails
   */
  submit(entries: T[]): Promise<R[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ entries, resolve, reject });
      this.#flushing ??= this.#flushLoop();
    });
  }

  /** Wait until everything queued so far is committed. */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flushLoop(): Promise<void> {
    // Yield once so that callers in the same tick join the first batch.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      const batch: Pending<T, R>[] = [];
      let n = 0;
      while (
        this.#queue.length > 0 &&
        (batch.length === 0 || n + this.#queue[0]!.entries.length <= this.#maxBatch)
      ) {
        const next = this.#queue.shift()!;
        batch.push(next);
        n += next.entries.length;
      }
      try {
        const results = await this.#commit(batch.flatMap((p) => p.entries));
        let i = 0;
        for (const p of batch) {
          p.resolve(results.slice(i, i + p.entries.length));
          i += p.entries.length;
        }
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.#flushing = undefined;
  }
}
