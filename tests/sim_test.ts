/**
 * The network simulation (sim/): a 200-node network driven by the real
 * directory, gossip, swarm, replication and anti-entropy code joins from
 * three seeds, balances its swarms, and keeps what it acknowledged through
 * churn. Seeded: the same seed runs the same way.
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { runScenario, scenarioDefaults } from "../sim/scenarios.ts";

Deno.test("200 nodes: joins converge, swarms balance, acknowledged messages survive churn", async () => {
  const config = scenarioDefaults(200);
  config.seed = "sim-test-200";
  // 10,000 keys: 250 per node on average, so that max/mean measures the hashing, not the noise.
  config.balanceKeys = 10_000;
  config.gossipWindowMs = 0;
  config.settleMs = 0;
  // 30% of the nodes leave and as many join within 6 hours: four times the daily rate.
  config.churn = {
    fraction: 0.3,
    durationMs: 6 * 3_600_000,
    gossipIntervalMs: 60_000,
    startMessages: 1_000,
    dayMessages: 1_000,
    checkEveryMs: 3 * 3_600_000,
  };
  config.crossChecks = 100;
  const r = await runScenario(config);

  assert(r.join.converged, "every directory holds every node after the joins");
  assert(
    r.join.convergedAfterLastJoinS < 600,
    `converged ${r.join.convergedAfterLastJoinS} s after the last join`,
  );
  assert(r.balance !== null);
  assert(r.balance.maxOverMean <= 1.25, `swarm load max/mean ${r.balance.maxOverMean}`);
  const churn = r.churn!;
  assertEquals(churn.left, 60);
  assertEquals(churn.joined, 60);
  assert(churn.acked >= 0.99 * churn.stored, `${churn.acked} of ${churn.stored} acknowledged`);
  assert(churn.retrievableShare >= 0.999, `retrievable ${churn.retrievableShare}`);
  assert(churn.startCohort.share >= 0.999, `retrievable from the start ${churn.startCohort.share}`);
  assert(churn.antiEntropy.pushed > 0, "the hand-off moved items to new swarm members");
  // Each periodic round syncs with at most 4 peers, whatever the network's size.
  const rounds = churn.antiEntropy.handOffs;
  assert(churn.antiEntropy.syncs <= 4 * rounds, `${churn.antiEntropy.syncs} syncs`);
  assertEquals(r.checks.swarmMismatches, 0, "ranked swarms equal swarmFor over each view");
  assert(r.checks.swarmCrossChecks >= 100);
  assertEquals(r.checks.eventErrors, 0);
  assertEquals(r.checks.roundErrors, 0);
});

Deno.test("the same seed runs the same way", async () => {
  const run = async () => {
    const config = scenarioDefaults(30);
    config.seed = "sim-test-determinism";
    config.joinWindowMs = 60_000;
    config.settleMs = 60_000;
    config.gossipWindowMs = 300_000;
    config.crossChecks = 10;
    const r = await runScenario(config);
    return {
      converged: r.join.convergedAfterLastJoinS,
      bytes: r.gossip!.byRoute,
      events: r.run.events,
      requests: r.run.requests,
      lost: r.run.lost,
    };
  };
  const first = await run();
  assert(first.requests > 0);
  assertEquals(await run(), first);
});
