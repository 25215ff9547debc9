/**
 * The bench's table on stdout: the headline figures (median [min–max] of
 * the runs, reference, ratio, target), then one section per measurement.
 * @module
 */
import type { CryptoRate } from "./crypto_rates.ts";
import type { Figure, Figures } from "./figures.ts";
import type { BenchResults } from "./results.ts";
import { median, type Spread } from "./stats.ts";
import { renderGroupFanIn } from "./group_fanin.ts";

/**
 * Lay out rows as aligned columns: the first left-aligned, the rest right.
 * @param header the column titles
 * @param rows the cells, as text
 * @returns the table's lines
 */
export function formatTable(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

function num(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  // Below 1, keep 3 significant digits: a ratio of 0.0129 must not print as 0.01.
  if (value !== 0 && Math.abs(value) < 1) {
    return value.toLocaleString("en-US", { maximumSignificantDigits: 3 });
  }
  return value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 });
}

function memoryRows(
  m: { medianMiB: number; maxMiB: number } | undefined,
  label: string,
): string[][] {
  return m ? [[`${label}, median / max`, `${num(m.medianMiB)} / ${num(m.maxMiB)} MiB`]] : [];
}

function spanCells(s: { p50Ms: number; p99Ms: number; maxMs: number }): string[] {
  return [num(s.p50Ms), num(s.p99Ms), num(s.maxMs)];
}

function pct(share: number | undefined): string {
  return share === undefined ? "-" : `${Math.round(share * 100)}%`;
}

/**
 * A spread as "median [min–max]", with the unit after the median.
 * @param s the spread
 * @param unit appended to the median ("" for none)
 */
export function formatSpread(s: Spread, unit = ""): string {
  if (s.runs === 0) return "-";
  const u = unit === "" ? "" : ` ${unit}`;
  return s.runs === 1
    ? `${num(s.median)}${u}`
    : `${num(s.median)}${u} [${num(s.min)}–${num(s.max)}]`;
}

function targetCells(f: Figure): string[] {
  if (!f.target) return ["-", "-"];
  return [f.target.text, f.target.met ? "pass" : "FAIL"];
}

/**
 * The headline section: a row per figure and, under it, a row for its
 * reference; then what bounds each figure.
 * @param figures the run's figures
 * @returns the section's lines
 */
export function renderHeadline(figures: Figures): string[] {
  const list = Object.values(figures);
  const out = [
    'Headline: median [min–max] of n runs, each next to its reference ("vs") measured in the',
    "same runs; ratio = figure / reference, the median [min–max] of the per-run ratios; targets",
    "are judged on the median",
  ];
  out.push(
    ...formatTable(
      ["figure", "median [min–max]", "n", "ratio", "target", "met"],
      list.flatMap((f) => [
        [
          f.name,
          formatSpread(f.value, f.unit),
          String(f.value.runs),
          formatSpread(f.ratio),
          ...targetCells(f),
        ],
        [`  vs ${f.reference.name}`, formatSpread(f.reference.value, f.reference.unit)],
      ]),
    ),
  );
  out.push("", "What bounds each figure:");
  for (const f of list) out.push(`- ${f.name}: ${f.bound}`);
  return out;
}

function cryptoRows(rates: readonly CryptoRate[]): string[][] {
  const ops = [...new Set(rates.map((r) => r.op))];
  return ops.map((op) => {
    const web = rates.find((r) => r.op === op && r.impl === "WebCrypto");
    const noble = rates.find((r) => r.op === op && r.impl === "noble");
    const show = (r: CryptoRate | undefined) =>
      r === undefined
        ? "-"
        : r.mbPerSec !== undefined
        ? `${num(r.mbPerSec)} MB/s`
        : `${num(r.opsPerSec)}/s`;
    const ratio = web && noble ? `${num(web.opsPerSec / noble.opsPerSec)}x` : "-";
    return [op, show(web), show(noble), ratio];
  });
}

/**
 * Render a run's results as the text printed on stdout.
 * @param r the results
 * @returns the lines of the report
 */
export function renderReport(r: BenchResults): string[] {
  const m = r.machine;
  const d = r.devnet;
  const out: string[] = [];
  out.push(`hearth bench, ${r.startedAt}, ${num(r.totalMs / 1000)} s`);
  out.push(
    `machine: ${m.nproc} x ${m.cpuModel}, ${num(m.memTotalMiB / 1024)} GiB, ${m.os}; ` +
      `Deno ${m.deno}, V8 ${m.v8}`,
  );
  out.push(
    `other load: loadavg ${r.loadavg.start} at the start, ${r.loadavg.end} at the end; ` +
      `CPU busy in the second before: ${pct(r.busyBeforeStart)}`,
  );

  out.push("", ...renderHeadline(r.figures));

  out.push(
    "",
    `1. Storage RPC, ${d.rounds.length} rounds, each on a fresh devnet of ${d.nodes} node ` +
      `processes (pow ${d.powBits} bits)`,
  );
  out.push(
    '("at s": seconds after the round\'s first node was spawned; anti-entropy runs every 60 s)',
  );
  out.push(
    ...formatTable(
      [
        "round",
        "run",
        "ok/s",
        "MB/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "failed",
        "client CPU ms/req",
        "nodes CPU ms/req",
        "CPU ours",
        "irq",
        "others",
        "steal",
        "iowait",
        "at s",
      ],
      d.rounds.flatMap((round, i) =>
        round.loads.map((l) => [
          String(i + 1),
          l.name,
          num(l.perSec),
          l.method === "store" ? num(l.mbPerSec) : "-",
          num(l.p50Ms),
          num(l.p95Ms),
          num(l.p99Ms),
          String(l.failed),
          num(l.clientCpuMsPerReq),
          num(l.nodesCpuMsPerReq),
          pct(l.cpuBusy),
          pct(l.cpuIrq),
          pct(l.cpuOthers),
          pct(l.cpuSteal),
          pct(l.cpuIowait),
          `${Math.round(l.fromMs / 1000)}-${Math.round(l.toMs / 1000)}`,
        ])
      ),
    ),
  );
  for (const c of r.onionVsDirect) {
    const pairs = c.onionPerSec.map((o, i) => `${num(o)}/${num(c.directPerSec[i])}`).join(", ");
    out.push(
      `onion / direct throughput, ${c.itemBytes / 1024} KiB items, each round: ${pairs}; ` +
        `ratios ${c.ratios.join(", ")}; median ${c.ratio}`,
    );
  }
  const hop = r.perRelayHop;
  out.push(
    `one relay hop adds (round 1, swarm lookups, 1 in flight): p50 ${num(hop.p50Ms)} ms, node ` +
      `CPU ${num(hop.nodesCpuMs)} ms, client CPU ${num(hop.clientCpuMs)} ms; in one process ` +
      `${num(hop.inProcessCpuMs)} ms CPU`,
  );
  out.push(
    `devnet idle: ${
      d.rounds.map((x) => pct(x.idleCpuShare)).join(", ")
    } of one core per node, each round (gossip every ${d.gossipIntervalMs} ms)`,
  );
  for (const [i, round] of d.rounds.entries()) {
    for (const l of round.loads.filter((x) => x.failed > 0)) {
      out.push(`failures in round ${i + 1}, "${l.name}": ${JSON.stringify(l.errors)}`);
    }
  }

  const h = r.hop;
  out.push("", `2. Per-hop cost, 16 KiB packet, ${h.ratios.length} rounds of ${h.iterations}`);
  out.push(
    ...formatTable(["round", "peel ms", "X25519 + AES-GCM ms", "ratio"], [
      ...h.ratios.map((ratio, i) => [
        String(i + 1),
        num(h.peelMs[i]),
        num(h.x25519AeadMs[i]),
        `${ratio}x`,
      ]),
      ["median", num(median(h.peelMs)), num(median(h.x25519AeadMs)), `${h.ratio}x`],
    ]),
  );

  out.push("", "HTTP exchange on loopback (fetch POST to Deno.serve in one process, 2 KiB answer)");
  out.push(
    ...formatTable(
      ["body", "in flight", "exchanges/s", "CPU ms/exchange (both ends)"],
      r.http.map((x) => [
        `${x.bodyBytes / 1024} KiB`,
        String(x.concurrency),
        num(x.perSec),
        num(x.cpuMsPerExchange),
      ]),
    ),
  );
  out.push(
    "",
    "Onion path inside one process (real relay apps, final answers at once, 1 in flight)",
  );
  out.push(
    ...formatTable(
      ["path nodes", "requests", "wall ms/req", "CPU ms/req (client and hops)"],
      r.onionInProcess.map((x) => [
        String(x.pathNodes),
        String(x.requests),
        num(x.wallMsPerReq),
        num(x.cpuMsPerReq),
      ]),
    ),
  );

  const s = r.startup;
  out.push("", "3. Node process");
  out.push(
    ...formatTable(["what", "value"], [
      [
        `deno eval "0", spawn to exit: ${s.denoEvalMs.join(", ")} ms`,
        `median ${num(s.denoEvalMedianMs)} ms`,
      ],
      ["bare Deno process, idle RSS", `${num(s.denoIdleRssMiB)} MiB`],
      [
        `first start, pow ${s.firstStartPowBits} bits, to /v1/info: ${
          s.firstStartMs.join(", ")
        } ms`,
        `median ${num(s.firstStartMedianMs)} ms`,
      ],
      [
        `restart (saved identity) to /v1/info, each after the eval: ${s.restartMs.join(", ")} ms`,
        `median ${num(s.restartMedianMs)} ms`,
      ],
      ...d.rounds.flatMap((x, i) => [
        [
          `round ${i + 1}: ${d.nodes} nodes started and converged`,
          `${num(x.startAndConvergeMs)} ms`,
        ],
        [
          `round ${i + 1}: idle RSS after ${d.idleMs / 1000} s, median / max; bare Deno`,
          `${num(x.idleMemory.medianMiB)} / ${num(x.idleMemory.maxMiB)}; ` +
          `${num(x.bareDenoRssMiB)} MiB`,
        ],
      ]),
      ...memoryRows(d.rounds[0]?.afterLoadMemory, "round 1: RSS right after the load runs"),
      ...memoryRows(
        d.rounds[0]?.afterLoadIdleMemory,
        `round 1: RSS after the load and ${d.idleMs / 1000} s idle`,
      ),
    ]),
  );

  out.push("", "4. Crypto primitives, one at a time on one thread");
  out.push(
    ...formatTable(["operation", "WebCrypto", "noble", "WebCrypto/noble"], cryptoRows(r.crypto)),
  );

  out.push("", "4b. Forward-secret sessions, one at a time on one thread (median)");
  out.push(
    ...formatTable(
      ["operation", "ms", "samples"],
      r.sessions.map((c) => [c.op, num(c.ms), String(c.samples)]),
    ),
  );

  const b = r.storeBatching;
  out.push(
    "",
    `5. MessageStore: ${b.items} puts of ${b.itemBytes} B on a libsql file ` +
      `(median of ${b.concurrent.roundsMs.length} rounds)`,
  );
  out.push(
    ...formatTable(["how", "total ms", "items/s"], [
      [
        "all at once (batched by the write queue)",
        num(b.concurrent.totalMs),
        num(b.concurrent.itemsPerSec),
      ],
      ["one after another, each awaited", num(b.sequential.totalMs), num(b.sequential.itemsPerSec)],
      [
        "raw libsql insert, same rows, one transaction (the floor)",
        num(b.raw.totalMs),
        num(b.raw.itemsPerSec),
      ],
    ]),
  );
  out.push(
    `batching speed-up: ${b.speedup}x; rounds, ms: at once ${b.concurrent.roundsMs.join(", ")}; ` +
      `raw ${b.raw.roundsMs.join(", ")}`,
  );

  const g = r.messaging;
  out.push(
    "",
    `6. Messaging through the owner API, a devnet of ${g.nodes} node processes, ` +
      `${g.rounds.length} rounds of ${g.messages} sequential messages between contacts`,
  );
  out.push(
    ...formatTable(
      ["round", "POST on A to the event on B: p50 / p99 / max ms", "onion store p50 / p99 ms"],
      g.rounds.map((x, i) => [
        String(i + 1),
        spanCells(x.endToEnd).join(" / "),
        `${num(x.reference.p50Ms)} / ${num(x.reference.p99Ms)} (${x.reference.ok} stores)`,
      ]),
    ),
  );
  out.push("", `every round's ${g.messages * g.rounds.length} messages together:`);
  out.push(
    ...formatTable(["span", "p50 ms", "p99 ms", "max ms"], [
      ["POST /api/messages on A to the event on B", ...spanCells(g.endToEnd)],
      ["POST answered (queued in A's database)", ...spanCells(g.post)],
      ["POST to A's `sent` event (stored, W members)", ...spanCells(g.toSent)],
      ["A's `sent` event to B's `message` event", ...spanCells(g.sentToEvent)],
    ]),
  );
  out.push(
    `burst of ${g.burst}: all sent in ${num(g.burstSentMs)} ms (${num(g.burstSentPerSec)}/s), ` +
      `all on B's stream in ${num(g.burstReceivedMs)} ms (${num(g.burstReceivedPerSec)}/s)`,
  );
  const files = g.files;
  const same = files.every((f) => f.identical);
  out.push(
    "",
    `7. ${files.length} files of ${num((files[0]?.bytes ?? 0) / 1e6)} MB from A to B through ` +
      `onion paths (${same ? "each arrived byte-identical" : "ONE ARRIVED DIFFERENT"})`,
  );
  out.push(
    ...formatTable(
      ["file", "upload: POST to `uploaded`", "download: GET to the last byte", "raw AES-256-GCM"],
      files.map((f, i) => [
        String(i + 1),
        `${num(f.uploadMs)} ms, ${num(f.uploadMBps)} MB/s`,
        `${num(f.downloadMs)} ms, ${num(f.downloadMBps)} MB/s`,
        `${num(f.rawAeadMBps)} MB/s`,
      ]),
    ),
  );

  out.push(...renderGroupFanIn(r.groupFanIn, formatTable, "8"));

  return out;
}
