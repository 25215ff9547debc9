/**
 * Readings taken at set times (the start and the end of a load window),
 * that never leave a caller waiting: {@link TimedReadings.settle} takes at
 * once every reading whose time has not come, so a window that ends a
 * moment before its timer fires still gets its end reading.
 * @module
 */

/** Readings scheduled by {@link scheduleReadings}. */
export interface TimedReadings<T> {
  /** One promise per time, in the order given. */
  readings: Promise<T>[];
  /** Take every reading not taken yet, now, and cancel its timer. */
  settle(): void;
}

/**
 * Take `read()` at each of `times` (`performance.now()` values).
 * @param read what to take, e.g. the CPU times of the processes under load
 * @param times when, in `performance.now()` milliseconds
 * @returns the readings and a way to settle them early
 */
export function scheduleReadings<T>(
  read: () => Promise<T>,
  times: readonly number[],
): TimedReadings<T> {
  const pending = times.map((at) => {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    let taken = false;
    const take = () => {
      if (taken) return;
      taken = true;
      clearTimeout(timer);
      read().then(resolve, reject);
    };
    const timer = setTimeout(take, Math.max(0, at - performance.now()));
    return { promise, take };
  });
  return {
    readings: pending.map((p) => p.promise),
    settle: () => pending.forEach((p) => p.take()),
  };
}
