/**
 * Small statistics and timing helpers of the benchmarks.
 * @module
 */

/**
 * The p-th percentile (nearest rank) of a list of numbers.
 * @param values the samples, in any order
 * @param p the percentile, 0 to 100
 * @returns the sample at that rank, or NaN when there are none
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The median of a list of numbers (NaN when empty). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** A figure measured in several runs: the median, the extremes and the count. */
export interface Spread {
  /** Median of the runs (nearest rank: with an even count, the lower of the middle two). */
  median: number;
  /** Smallest run. */
  min: number;
  /** Largest run. */
  max: number;
  /** How many runs. */
  runs: number;
}

/**
 * Summarise the runs of one figure.
 * @param values one value per run; runs that measured nothing (NaN) are left out
 * @returns median, min and max (rounded to 3 significant digits) and the count of runs kept;
 *   NaN for all three when no run measured anything
 * @example
 * ```ts
 * spreadOf([120, 100, 140]); // { median: 120, min: 100, max: 140, runs: 3 }
 * ```
 */
export function spreadOf(values: readonly number[]): Spread {
  const kept = values.filter((v) => Number.isFinite(v));
  if (kept.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  return {
    median: round(median(kept)),
    min: round(Math.min(...kept)),
    max: round(Math.max(...kept)),
    runs: kept.length,
  };
}

/**
 * Divide two lists run by run: `values[i] / references[i]`. A ratio taken
 * within one run cancels what slowed both of that run's measurements (other
 * load on the machine), which a ratio of two medians would not.
 * @param values the figure, one per run
 * @param references the reference measured in the same runs, in the same order
 * @returns one ratio per run (NaN where the reference is 0 or either is missing)
 * @throws {RangeError} when the lists differ in length
 */
export function perRunRatios(
  values: readonly number[],
  references: readonly number[],
): number[] {
  if (values.length !== references.length) {
    throw new RangeError(
      `Runs and references differ in count: ${values.length} and ${references.length}`,
    );
  }
  return values.map((v, i) => {
    const ref = references[i]!;
    return ref === 0 || !Number.isFinite(ref) || !Number.isFinite(v) ? NaN : v / ref;
  });
}

/**
 * Run an async operation again and again for about `budgetMs`, after a
 * short warm-up, and return how many ran per second.
 * @param op the operation; each call is awaited before the next
 * @param options.budgetMs how long to measure, ms
 * @param options.warmup calls before the clock starts (default 20)
 * @returns operations per second
 */
export async function opsPerSecond(
  op: () => unknown,
  options: { budgetMs: number; warmup?: number },
): Promise<number> {
  for (let i = 0; i < (options.warmup ?? 20); i++) await op();
  const start = performance.now();
  const end = start + options.budgetMs;
  let n = 0;
  let now = start;
  while (now < end) {
    // Batches of 8 keep the clock reads out of the measurement.
    for (let i = 0; i < 8; i++) await op();
    n += 8;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

/** Round to `digits` significant digits, for tables and JSON. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}
