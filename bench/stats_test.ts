import { assertEquals, assertThrows } from "../tests/assert.ts";
import { median, percentile, perRunRatios, spreadOf } from "./stats.ts";

Deno.test("percentile takes the nearest rank, and the median of an even count is the lower middle", () => {
  assertEquals(percentile([5, 1, 4, 2, 3], 50), 3);
  assertEquals(percentile([1, 2, 3, 4], 50), 2);
  assertEquals(percentile([1, 2, 3, 4], 99), 4);
  assertEquals(percentile([7], 1), 7);
  assertEquals(median([]), NaN);
});

Deno.test("spreadOf gives the median, min, max and count of the runs", () => {
  assertEquals(spreadOf([120, 100, 140]), { median: 120, min: 100, max: 140, runs: 3 });
  assertEquals(spreadOf([3.14159]), { median: 3.14, min: 3.14, max: 3.14, runs: 1 });
});

Deno.test("spreadOf leaves out runs that measured nothing", () => {
  assertEquals(spreadOf([NaN, 10, 30, Infinity, 20]), { median: 20, min: 10, max: 30, runs: 3 });
  assertEquals(spreadOf([]), { median: NaN, min: NaN, max: NaN, runs: 0 });
  assertEquals(spreadOf([NaN]), { median: NaN, min: NaN, max: NaN, runs: 0 });
});

Deno.test("perRunRatios divides run by run, not median by median", () => {
  // A machine twice as slow in run 2 halves both numbers; the per-run ratio does not move.
  const onion = [150, 75, 148];
  const direct = [300, 150, 296];
  assertEquals(perRunRatios(onion, direct), [0.5, 0.5, 0.5]);
  // The ratio of the medians would be 148 / 296 here too, but not in general:
  assertEquals(median(perRunRatios([10, 40, 20], [20, 50, 100])), 0.5);
  assertEquals(median([10, 40, 20]) / median([20, 50, 100]), 0.4);
});

Deno.test("perRunRatios gives NaN for a run without a usable reference", () => {
  assertEquals(perRunRatios([1, 2, 3], [0, NaN, 3]), [NaN, NaN, 1]);
});

Deno.test("perRunRatios refuses lists of different lengths", () => {
  assertThrows(() => perRunRatios([1, 2], [1]), RangeError, "differ in count");
});
