/**
 * A memoizing record check for the simulation. `verifyRecord` checks the
 * version, freshness, proof of work and signature; only freshness depends
 * on the time. The first check of a distinct record (all its fields and
 * the difficulty) runs the real `verifyRecord`; later checks of the same
 * record answer the remembered outcome and re-check freshness with the
 * real `isFresh`. Outcomes that depend on the time (`stale_record`) are
 * not remembered.
 * @module
 */
import { HearthError } from "../src/shared/errors.ts";
import { isFresh, RECORD_MAX_FUTURE_MS, verifyRecord } from "../src/relay/directory/record.ts";
import type { NodeRecord } from "../src/relay/directory/record_types.ts";

/** Counts of a memo. */
export interface VerifyMemoStats {
  /** Real verifications run. */
  verified: number;
  /** Checks answered from the memo. */
  remembered: number;
}

/**
 * Make a memoizing drop-in for `verifyRecord`.
 * @returns the check and its counters
 */
export function memoVerify(): { verify: typeof verifyRecord; stats: VerifyMemoStats } {
  const outcomes = new Map<string, HearthError | null>();
  const stats: VerifyMemoStats = { verified: 0, remembered: 0 };
  const verify = async (
    record: NodeRecord,
    options: { now: number; powBits: number },
  ): Promise<void> => {
    const key = `${options.powBits}|${record.id}|${record.x25519}|${record.addr}|` +
      `${record.version}|${record.ts}|${record.pow}|${record.sig}`;
    const known = outcomes.get(key);
    if (known !== undefined) {
      stats.remembered++;
      // The order of verifyRecord: version, freshness, then the rest.
      if (known?.code === "bad_request") throw known;
      if (!isFresh(record, options.now)) {
        const future = record.ts > options.now + RECORD_MAX_FUTURE_MS;
        throw new HearthError(
          "stale_record",
          future ? "Record is from the future" : "Record is too old",
        );
      }
      if (known) throw known;
      return;
    }
    stats.verified++;
    try {
      await verifyRecord(record, options);
      outcomes.set(key, null);
    } catch (err) {
      if (err instanceof HearthError && err.code !== "stale_record") outcomes.set(key, err);
      throw err;
    }
  };
  return { verify, stats };
}
