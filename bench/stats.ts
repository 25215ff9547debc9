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
