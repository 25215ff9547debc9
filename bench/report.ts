/**
 * The bench's table on stdout: one section per measurement, then the
 * targets and whether they were met.
 * @module
 */
import type { CryptoRate } from "./crypto_rates.ts";
import type { BenchResults } from "./results.ts";
import { median } from "./stats.ts";
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
  return value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 });
}

function spanCells(s: { p50Ms: number; p99Ms: number; maxMs: number }): string[] {
  return [num(s.p50Ms), num(s.p99Ms), num(s.maxMs)];
}

function pct(share: number | undefined): string {
  return share === undefined ? "-" : `${Math.round(share * 100)}%`;
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

  out.push("", `1. Storage RPC on a devnet of ${d.nodes} node processes (pow ${d.powBits} bits)`);
  out.push('("at s": seconds after the first node was spawned; anti-entropy runs every 60 s)');
  out.push(
    ...formatTable(
      [
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
      d.loads.map((l) => [
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
      ]),
    ),
  );
  for (const c of r.onionVsDirect) {
    out.push(
      `onion / direct throughput, ${c.itemBytes / 1024} KiB items: ${num(c.onionPerSec)} / ` +
        `${num(c.directPerSec)} = ${c.ratio}`,
    );
  }
  const hop = r.perRelayHop;
  out.push(
    `one relay hop adds (swarm lookups, 1 in flight): p50 ${num(hop.p50Ms)} ms, node CPU ` +
      `${num(hop.nodesCpuMs)} ms, client CPU ${num(hop.clientCpuMs)} ms; in one process ` +
      `${num(hop.inProcessCpuMs)} ms CPU`,
  );
  out.push(
    `devnet idle: ${
      pct(d.idleCpuShare)
    } of one core per node (gossip every ${d.gossipIntervalMs} ms)`,
  );
  const failures = d.loads.filter((l) => l.failed > 0);
  for (const l of failures) out.push(`failures in "${l.name}": ${JSON.stringify(l.errors)}`);

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
      [`deno eval "0", spawn to exit (median of 5)`, `${num(s.denoEvalMedianMs)} ms`],
      ["bare Deno process, idle RSS", `${num(s.denoIdleRssMiB)} MiB`],
      [
        `first start, pow ${s.firstStartPowBits} bits, to /v1/info: ${
          s.firstStartMs.join(", ")
        } ms`,
        `median ${num(s.firstStartMedianMs)} ms`,
      ],
      [
        `restart (saved identity) to /v1/info: ${s.restartMs.join(", ")} ms`,
        `median ${num(s.restartMedianMs)} ms`,
      ],
      [`devnet: ${d.nodes} nodes started and converged`, `${num(d.startAndConvergeMs)} ms`],
      [
        `idle RSS after ${d.idleMs / 1000} s, median / max`,
        `${num(d.idleMemory.medianMiB)} / ${num(d.idleMemory.maxMiB)} MiB`,
      ],
      [
        "RSS right after the load runs, median / max",
        `${num(d.afterLoadMemory.medianMiB)} / ${num(d.afterLoadMemory.maxMiB)} MiB`,
      ],
      [
        `RSS after the load and ${d.idleMs / 1000} s idle, median / max`,
        `${num(d.afterLoadIdleMemory.medianMiB)} / ${num(d.afterLoadIdleMemory.maxMiB)} MiB`,
      ],
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
  out.push("", `5. MessageStore: ${b.items} puts of ${b.itemBytes} B on a libsql file (median)`);
  out.push(
    ...formatTable(["how", "total ms", "items/s"], [
      [
        "all at once (batched by the write queue)",
        num(b.concurrent.totalMs),
        num(b.concurrent.itemsPerSec),
      ],
      ["one after another, each awaited", num(b.sequential.totalMs), num(b.sequential.itemsPerSec)],
    ]),
  );
  out.push(`batching speed-up: ${b.speedup}x`);

  const g = r.messaging;
  out.push(
    "",
    `6. Messaging through the owner API, a devnet of ${g.nodes} node processes, ` +
      `${g.messages} sequential messages between contacts`,
  );
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
  const f = g.file;
  out.push(
    "",
    `7. A file of ${num(f.bytes / 1e6)} MB from A to B through onion paths ` +
      `(${f.identical ? "arrived byte-identical" : "ARRIVED DIFFERENT"})`,
  );
  out.push(
    ...formatTable(["step", "ms", "MB/s"], [
      [
        "upload on A: POST to `uploaded` (stored in every chunk's swarm)",
        num(f.uploadMs),
        num(f.uploadMBps),
      ],
      [
        "download on B: GET, through the network, to the last byte",
        num(f.downloadMs),
        num(f.downloadMBps),
      ],
      ["raw AES-256-GCM on this machine, same bytes, 64 KiB chunks", "", num(f.rawAeadMBps)],
    ]),
  );

  out.push(...renderGroupFanIn(r.groupFanIn, formatTable, "8"));

  out.push("", "Targets");
  out.push(
    ...formatTable(
      ["target", "wanted", "measured", "met"],
      r.targets.map((t) => [t.name, t.target, t.measured, t.met ? "yes" : "NO"]),
    ),
  );
  return out;
}
