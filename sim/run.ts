/**
 * `deno task sim`: the network simulation. With no options it runs the
 * 1,000-node scenario (joins from three seeds, an hour of steady gossip,
 * 30% of the nodes replaced within 6 hours while messages are stored and
 * checked, a sybil operator joining) and the 10,000-node converged view,
 * measures the cost of the proof of work, prints a table and saves the
 * JSON.
 *
 *   deno task sim [--nodes N[,N…]] [--churn-hours H] [--series N,N…] [--out path]
 *
 * `--nodes` picks the sizes (up to 2,000: full gossip; larger: converged
 * view); `--churn-hours 24` spreads the churn over a whole day (the
 * issue's rate; about 40 minutes at 1,000 nodes); `--series` runs joins
 * and steady gossip only, at those sizes (alone unless `--nodes` is given).
 * @module
 */
import { runConverged } from "./converged.ts";
import { measurePowCost } from "./pow_cost.ts";
import { formatReport, type SimReport } from "./report.ts";
import { runScenario, scenarioDefaults } from "./scenarios.ts";

/** Largest network simulated with full gossip; larger ones use the converged view. */
const MAX_FULL_GOSSIP = 2_000;

/**
 * The full scenario of `nodes` nodes, as `deno task sim` runs it.
 * @param nodes honest nodes at the start
 * @param churnHours the time in which 30% of the nodes are replaced
 */
export function fullScenario(nodes: number, churnHours: number) {
  const config = scenarioDefaults(nodes);
  // 50 keys per node on average: swarmFor costs about 20 µs per node and key here.
  config.balanceKeys = 10 * nodes;
  config.churn = {
    fraction: 0.3,
    durationMs: churnHours * 3_600_000,
    gossipIntervalMs: 60_000,
    startMessages: 1_000,
    dayMessages: 1_000,
    checkEveryMs: (churnHours / 4) * 3_600_000,
  };
  config.sybil = {
    share: 0.1,
    groups: 16,
    clients: Math.min(500, nodes),
    pathsPerClient: 3,
    swarmKeys: 2_000,
  };
  return config;
}

function parseArgs(
  args: string[],
): { nodes: number[]; series: number[]; out: string; churnHours: number } {
  const out = {
    nodes: [1_000, 10_000],
    series: [] as number[],
    out: "sim/results.json",
    churnHours: 6,
  };
  const sizes = (v: string | undefined, flag: string) => {
    const list = (v ?? "").split(",").map(Number);
    if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n >= 10 && n <= 65_000)) {
      throw new RangeError(`${flag}: expected sizes from 10 to 65,000: ${JSON.stringify(v)}`);
    }
    return list;
  };
  let nodesGiven = false;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === "--nodes") {
      out.nodes = sizes(args[++i], flag);
      nodesGiven = true;
    } else if (flag === "--series") out.series = sizes(args[++i], flag);
    else if (flag === "--out") out.out = args[++i] ?? out.out;
    else if (flag === "--churn-hours") {
      const hours = Number(args[++i]);
      if (!Number.isInteger(hours) || hours < 1 || hours > 168) {
        throw new RangeError(`--churn-hours: expected 1 to 168: ${JSON.stringify(args[i])}`);
      }
      out.churnHours = hours;
    } else throw new RangeError(`Unknown option ${flag}`);
  }
  // A series alone runs only the series.
  if (out.series.length > 0 && !nodesGiven) out.nodes = [];
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const wall0 = performance.now();
  const progress = (line: string) =>
    console.log(`[${((performance.now() - wall0) / 1000).toFixed(0)} s] ${line}`);
  const report: SimReport = {
    ranAt: new Date().toISOString(),
    deno: Deno.version.deno,
    scenarios: [],
    converged: [],
    pow: measurePowCost({
      measuredBits: 16,
      mined: 24,
      networkBits: 20,
      networkSizes: [...new Set([...args.nodes, 1_000, 10_000])].sort((a, b) => a - b),
      sybilShare: 0.1,
    }),
    gossipSeries: [],
    wallS: 0,
  };
  progress(`proof of work: ${(report.pow.hashesPerSecond / 1e6).toFixed(2)} M hashes/s`);
  for (const n of args.nodes) {
    if (n <= MAX_FULL_GOSSIP) {
      const config = fullScenario(n, args.churnHours);
      config.progress = (line) => progress(`${n}: ${line}`);
      report.scenarios.push(await runScenario(config));
    } else {
      report.converged.push(
        await runConverged({
          name: `${n} nodes`,
          nodes: n,
          seed: `hearth-sim-${n}`,
          powBits: 8,
          sybil: { share: 0.1, groups: 16, clients: 1_000, pathsPerClient: 3, swarmKeys: 1_000 },
          progress: (line) => progress(`${n}: ${line}`),
        }),
      );
    }
  }
  for (const n of args.series) {
    const config = scenarioDefaults(n);
    config.progress = (line) => progress(`series ${n}: ${line}`);
    const r = await runScenario(config);
    report.gossipSeries.push({
      nodes: n,
      bytesPerNodePerHour: r.gossip!.bytesPerNodePerHour,
      convergedAfterLastJoinS: r.join.convergedAfterLastJoinS,
    });
  }
  report.wallS = (performance.now() - wall0) / 1000;
  console.log("");
  console.log(formatReport(report));
  await Deno.writeTextFile(args.out, JSON.stringify(report, null, 2) + "\n");
  console.log(`Saved ${args.out}`);
}

if (import.meta.main) await main();
