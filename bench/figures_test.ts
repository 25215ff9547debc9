import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import type { NamedLoad } from "./devnet_phase.ts";
import { figureOf, type FigureSpec } from "./figures.ts";
import { formatSpread, renderHeadline } from "./report.ts";
import { compareOnionToDirect } from "./results.ts";

const rss: FigureSpec = {
  name: "idle RSS",
  unit: "MB",
  values: [95, 99, 97],
  reference: { name: "bare Deno", unit: "MB", values: [38, 40, 39] },
  bound: "libraries",
  target: { on: "value", op: "<", limit: 100, text: "< 100 MB" },
};

Deno.test("figureOf: spreads of the runs and the reference, and the median of per-run ratios", () => {
  const f = figureOf(rss);
  assertEquals(f.value, { median: 97, min: 95, max: 99, runs: 3 });
  assertEquals(f.reference.value, { median: 39, min: 38, max: 40, runs: 3 });
  assertEquals(f.perRun, [95, 99, 97]);
  assertEquals(f.reference.perRun, [38, 40, 39]);
  // 95/38 = 2.5, 99/40 = 2.475, 97/39 = 2.487...
  assertEquals(f.ratio, { median: 2.49, min: 2.48, max: 2.5, runs: 3 });
  assertEquals(f.target, { on: "value", op: "<", limit: 100, text: "< 100 MB", met: true });
});

Deno.test("figureOf judges the target on the median, not on the worst run", () => {
  const f = figureOf({ ...rss, values: [99, 101, 98] });
  assertEquals(f.value.max, 101);
  assertEquals(f.target?.met, true);
  assertEquals(figureOf({ ...rss, values: [99, 101, 100] }).target?.met, false);
});

Deno.test("figureOf checks a target on the ratio, with <= meeting at the limit", () => {
  const hop: FigureSpec = {
    name: "peel",
    unit: "ms",
    values: [0.24, 0.2, 0.3],
    reference: { name: "X25519 + AES-GCM", unit: "ms", values: [0.12, 0.1, 0.1] },
    bound: "calls",
    target: { on: "ratio", op: "<=", limit: 2, text: "ratio <= 2" },
  };
  const at = figureOf(hop);
  assertEquals(at.ratio, { median: 2, min: 2, max: 3, runs: 3 });
  assertEquals(at.target?.met, true);
  const over = figureOf({ ...hop, values: [0.25, 0.21, 0.3] });
  assertEquals(over.target?.met, false);
});

Deno.test("figureOf without a target has none, and refuses mismatched runs", () => {
  const { target: _, ...plain } = rss;
  assertEquals(figureOf(plain).target, undefined);
  assertThrows(
    () => figureOf({ ...plain, reference: { ...plain.reference, values: [1, 2] } }),
    RangeError,
  );
});

function load(
  itemBytes: number,
  pathNodes: number,
  ok: number,
  options: { concurrency?: number; windowMs?: number } = {},
): NamedLoad {
  const windowMs = options.windowMs ?? 1_000;
  return {
    name: `${itemBytes} ${pathNodes}`,
    method: "store",
    pathNodes,
    itemBytes,
    concurrency: options.concurrency ?? 16,
    windowMs,
    ok,
    failed: 0,
    errors: {},
    perSec: ok / (windowMs / 1000),
    mbPerSec: 0,
    p50Ms: 1,
    p95Ms: 1,
    p99Ms: 1,
    fromMs: 0,
    toMs: windowMs,
  };
}

Deno.test("compareOnionToDirect pairs each round's onion runs with that round's direct runs", () => {
  const rounds = [
    [load(1024, 1, 999, { concurrency: 1 }), load(1024, 4, 150), load(1024, 1, 300)],
    // The direct runs first in this round; and a slow round: both halve.
    [load(1024, 1, 150), load(1024, 4, 75), load(65536, 1, 60), load(65536, 4, 45)],
    [load(1024, 4, 140), load(1024, 1, 350), load(65536, 4, 100), load(65536, 1, 125)],
  ];
  const [small, large] = compareOnionToDirect(rounds);
  assertEquals(small, {
    itemBytes: 1024,
    onionPerSec: [150, 75, 140],
    directPerSec: [300, 150, 350],
    ratios: [0.5, 0.5, 0.4],
    ratio: 0.5,
  });
  // Round 1 ran no 64 KiB store: it is left out, not paired with another round's.
  assertEquals(large, {
    itemBytes: 65536,
    onionPerSec: [45, 100],
    directPerSec: [60, 125],
    ratios: [0.75, 0.8],
    ratio: 0.75,
  });
});

Deno.test("compareOnionToDirect adds up a path's split windows (A B B A) within a round", () => {
  const abba = [
    load(1024, 4, 100, { windowMs: 500 }), // 200/s while the machine was quiet
    load(1024, 1, 180, { windowMs: 500 }), // 360/s
    load(1024, 1, 120, { windowMs: 500 }), // 240/s once other load came
    load(1024, 4, 50, { windowMs: 1_000 }), // 50/s over a longer window
  ];
  const [c] = compareOnionToDirect([abba]);
  // Onion: 150 stores in 1.5 s; direct: 300 in 1 s.
  assertEquals(c, {
    itemBytes: 1024,
    onionPerSec: [100],
    directPerSec: [300],
    ratios: [0.333],
    ratio: 0.333,
  });
});

Deno.test("the headline shows median [min–max], runs, reference, ratio and pass or FAIL", () => {
  const figures = {
    idle_rss: figureOf(rss),
    hop: figureOf({
      name: "peel",
      unit: "ms",
      values: [0.3, 0.3, 0.3],
      reference: { name: "floor", unit: "ms", values: [0.1, 0.1, 0.1] },
      bound: "calls",
      target: { on: "ratio", op: "<=", limit: 2, text: "ratio <= 2" },
    }),
  };
  const lines = renderHeadline(figures);
  const at = lines.findIndex((l) => l.startsWith("idle RSS"));
  const row = lines[at];
  assert(row !== undefined, "a row for the figure");
  for (const cell of ["97 MB [95–99]", " 3 ", "2.49 [2.48–2.5]", "< 100 MB", "pass"]) {
    assert(row.includes(cell), `"${cell}" in ${row}`);
  }
  const reference = lines[at + 1]!;
  assert(/^ {2}vs bare Deno +39 MB \[38–40\]$/.test(reference), `the reference row: ${reference}`);
  assert(lines.find((l) => l.startsWith("peel"))?.includes("FAIL"), "the missed target shows");
  assert(lines.includes("- idle RSS: libraries"), "the bound is listed");
  assertEquals(formatSpread({ median: 5, min: 5, max: 5, runs: 1 }, "ms"), "5 ms");
  assertEquals(
    formatSpread({ median: 0.0129, min: 0.0101, max: 0.0203, runs: 3 }),
    "0.0129 [0.0101–0.0203]",
  );
  assertEquals(formatSpread({ median: NaN, min: NaN, max: NaN, runs: 0 }), "-");
});
