/**
 * The simulation's report: a table for the terminal and the JSON saved
 * next to it.
 * @module
 */
import type { ConvergedResult } from "./converged.ts";
import type { BalanceResult } from "./metrics.ts";
import type { PowCost } from "./pow_cost.ts";
import type { ScenarioResult } from "./scenarios.ts";

/** Everything one `deno task sim` measured. */
export interface SimReport {
  /** When it ran (wall clock, ISO). */
  ranAt: string;
  deno: string;
  scenarios: ScenarioResult[];
  converged: ConvergedResult[];
  pow: PowCost;
  /** Gossip bytes per node per hour by network size (join + steady state only). */
  gossipSeries: { nodes: number; bytesPerNodePerHour: number; convergedAfterLastJoinS: number }[];
  wallS: number;
}

const pct = (x: number | undefined, digits = 2) =>
  x === undefined || Number.isNaN(x) ? "—" : `${(x * 100).toFixed(digits)}%`;
const mb = (x: number | undefined) => (x === undefined ? "—" : `${(x / 1e6).toFixed(2)} MB`);
const balance = (b: BalanceResult) =>
  `${b.maxOverMean.toFixed(3)} (${b.idealMaxOverMean.toFixed(3)}; ${
    b.meanPerNode.toFixed(b.meanPerNode < 10 ? 2 : 0)
  })`;

/**
 * The report as a text table.
 * @param report what was measured
 */
export function formatReport(report: SimReport): string {
  const rows: string[][] = [[
    "scenario",
    "model",
    "converged after last join",
    "gossip per node per hour",
    "swarm load max/mean (ideal; keys per node)",
    "retrievable after churn",
    "paths all sybil",
    "paths sybil guard+exit",
    "swarms all sybil",
    "swarms sybil ≥ W",
  ]];
  for (const s of report.scenarios) {
    rows.push([
      s.name,
      "full gossip",
      s.join.converged ? `${s.join.convergedAfterLastJoinS.toFixed(0)} s` : "no",
      s.gossip ? mb(s.gossip.bytesPerNodePerHour) : "—",
      s.balance ? balance(s.balance) : "—",
      s.churn
        ? `${pct(s.churn.retrievableShare, 2)} of ${s.churn.acked} (${s.churn.hours} h, ${
          pct(s.churn.fraction, 0)
        })`
        : "—",
      s.sybil ? `${pct(s.sybil.paths.allSybilShare, 3)} of ${s.sybil.paths.total}` : "—",
      s.sybil ? pct(s.sybil.paths.guardAndExitShare, 2) : "—",
      s.sybil ? `${pct(s.sybil.swarms.allMembersShare, 3)} of ${s.sybil.swarms.keys}` : "—",
      s.sybil ? pct(s.sybil.swarms.atLeastQuorumShare, 2) : "—",
    ]);
  }
  for (const c of report.converged) {
    rows.push([
      c.name,
      "converged view",
      "—",
      "—",
      balance(c.balance),
      "—",
      `${pct(c.sybil.paths.allSybilShare, 3)} of ${c.sybil.paths.total}`,
      pct(c.sybil.paths.guardAndExitShare, 2),
      `${pct(c.sybil.swarms.allMembersShare, 3)} of ${c.sybil.swarms.keys}`,
      pct(c.sybil.swarms.atLeastQuorumShare, 2),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ");
  const out = [
    line(rows[0]!),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...rows.slice(1).map(line),
  ];
  for (const s of report.scenarios) {
    out.push("");
    if (s.gossip) {
      const live = s.nodes;
      const perHour = (route: string) =>
        mb((s.gossip!.byRoute[route]?.bytes ?? 0) / live / (s.gossip!.windowS / 3600));
      out.push(
        `${s.name}, gossip every ${s.gossip.intervalS} s: ${
          mb(s.gossip.bytesPerNodePerHour)
        } in + out per node per hour ` +
          `(/v1/directory ${perHour("/v1/directory")}, /v1/info ${
            perHour("/v1/info")
          }, /v1/announce ${perHour("/v1/announce")}), ` +
          `${s.gossip.requestsPerNodePerHour.toFixed(0)} requests sent per node per hour`,
      );
    }
    const c = s.churn;
    if (c) {
      out.push(
        `${s.name}, churn: ${c.left} left and ${c.joined} joined in ${c.hours} h (gossip every ${c.gossipIntervalS} s); ` +
          `${c.stored} stored, ${c.acked} acknowledged, ${c.retrievable} retrievable at the end ` +
          `(${c.startCohort.retrievable} of ${c.startCohort.acked} stored at the start); live holders per message min ${c.holders.min}, mean ${
            c.holders.mean.toFixed(2)
          }`,
      );
      const ae = c.antiEntropy;
      out.push(
        `${s.name}, anti-entropy: ${ae.pushed} items handed to new swarm members ` +
          `(${ae.pushFailures} sends failed and retried) in ${ae.handOffs} walks; ${ae.syncs} sampled ` +
          `syncs (${ae.syncFailures} failed) fetched ${ae.fetched} items; syncs ${
            mb(c.syncBytesPerNodePerHour)
          } and replicate/store (stores and hand-offs) ${
            mb(c.replicateBytesPerNodePerHour)
          } per node per hour`,
      );
    }
  }
  const p = report.pow;
  out.push("");
  out.push(
    `Proof of work: ${(p.hashesPerSecond / 1e6).toFixed(2)} M hashes/s on one core (measured at ` +
      `${p.measuredBits} bits, ${p.mined} identities); ${
        p.secondsPerIdentity.toFixed(2)
      } s per identity at ${p.networkBits} bits.`,
  );
  for (const s of p.shares) {
    out.push(
      `  10% of ${s.networkNodes} nodes: ${s.sybilIdentities} identities, ${
        s.coreSeconds.toFixed(0)
      } core-seconds ` +
        `(${s.coreHours.toFixed(2)} core-hours)`,
    );
  }
  if (report.gossipSeries.length > 0) {
    out.push("");
    out.push("Gossip by network size (joins, then 30 minutes of steady state, per hour):");
    for (const g of report.gossipSeries) {
      out.push(
        `  ${String(g.nodes).padStart(6)} nodes: ${mb(g.bytesPerNodePerHour)} per node per hour, ` +
          `converged ${g.convergedAfterLastJoinS.toFixed(0)} s after the last join`,
      );
    }
  }
  out.push("");
  out.push(`Wall time: ${report.wallS.toFixed(0)} s`);
  return out.join("\n");
}
