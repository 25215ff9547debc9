/**
 * The converged-view model, for networks too large to gossip in memory
 * here: a network of 10,000 nodes holds 10^8 directory entries (about 280
 * bytes each in the real Directory, measured), beyond this machine. Every
 * identity signs its record with the real `signRecord`; one real Directory
 * merges them all (real parsing and verification), which is what every
 * directory holds once gossip has converged. Swarms (real `swarmFor`) and
 * onion paths (the real PathManager, one pinned guard per client) are
 * taken over that view.
 * @module
 */
import { Directory } from "../src/relay/directory/directory.ts";
import { signRecord } from "../src/relay/directory/record.ts";
import { MAX_DIRECTORY_RECORDS } from "../src/shared/codec/limits.ts";
import { silentLogger } from "../src/shared/log.ts";
import { balanceOf, type BalanceResult, sybilControl, type SybilResult } from "./metrics.ts";
import { SimNetwork } from "./network.ts";
import type { SybilConfig } from "./scenarios.ts";
import { DEFAULT_TRANSPORT } from "./transport.ts";

/** What to build. */
export interface ConvergedConfig {
  name: string;
  /** Honest nodes. */
  nodes: number;
  seed: string;
  powBits: number;
  sybil: SybilConfig;
  progress?: (line: string) => void;
}

/** What the converged view gave. */
export interface ConvergedResult {
  name: string;
  model: "converged-view";
  nodes: number;
  seed: string;
  /** Live records in the view (honest and sybil). */
  viewSize: number;
  /** Bytes of one full directory answer (all pages), JSON. */
  fullDirectoryBytes: number;
  /** Swarm load over the sybil phase's keys (all nodes of the view). */
  balance: BalanceResult;
  sybil: SybilResult & { groups: number };
  wallS: number;
}

/**
 * Build the converged view of a network and measure paths, swarms and load.
 * @param config size, seed and sybil operator
 */
export async function runConverged(config: ConvergedConfig): Promise<ConvergedResult> {
  const wall0 = performance.now();
  const log = config.progress ?? (() => {});
  const sybils = Math.round((config.nodes * config.sybil.share) / (1 - config.sybil.share));
  const net = await SimNetwork.create({
    seed: config.seed,
    powBits: config.powBits,
    gossipIntervalMs: 10_000,
    transport: DEFAULT_TRANSPORT,
    startMs: 100_000_000,
  }, { honest: config.nodes, sybil: sybils, sybilGroups: config.sybil.groups });
  try {
    log(
      `converged view: ${config.nodes + sybils} identities (${
        ((performance.now() - wall0) / 1000).toFixed(0)
      } s wall)`,
    );
    const now = net.clock.fn();
    const planned = [...net.honestPlan, ...net.sybilPlan];
    const records = [];
    for (const p of planned) records.push(await signRecord(p.identity, { addr: p.addr, ts: now }));
    const observer = new Directory({
      identity: planned[0]!.identity,
      powBits: config.powBits,
      clock: net.clock.fn,
      log: silentLogger,
      verify: net.verify,
    });
    const others = records.slice(1);
    for (let i = 0; i < others.length; i += MAX_DIRECTORY_RECORDS) {
      // As gossip delivers them: JSON pages of at most 4,096 records.
      const page = JSON.parse(
        JSON.stringify({ records: others.slice(i, i + MAX_DIRECTORY_RECORDS) }),
      );
      await observer.merge(page.records);
    }
    observer.setSelf(records[0]!, { reachable: true });
    await net.runtime.settle();
    const view = observer.liveNodes();
    const fullDirectoryBytes = JSON.stringify({ records: view }).length;
    log(
      `converged view: ${view.length} live records merged (${
        ((performance.now() - wall0) / 1000).toFixed(0)
      } s wall)`,
    );
    const sybilIds = new Set(net.sybilPlan.map((p) => p.identity.id));
    const load = new Map<string, number>();
    const random = net.random.fork("sybil");
    const clients = Array.from({ length: config.sybil.clients }, () => view);
    const sybil = sybilControl(clients, (id) => sybilIds.has(id), {
      pathsPerClient: config.sybil.pathsPerClient,
      swarmKeys: config.sybil.swarmKeys,
      clock: net.clock.fn,
      random,
      load,
    });
    const balance = balanceOf(load, view.map((n) => n.id), config.sybil.swarmKeys, random);
    log(
      `converged view: paths and ${config.sybil.swarmKeys} swarms (${
        ((performance.now() - wall0) / 1000).toFixed(0)
      } s wall)`,
    );
    return {
      name: config.name,
      model: "converged-view",
      nodes: config.nodes,
      seed: config.seed,
      viewSize: view.length,
      fullDirectoryBytes,
      balance,
      sybil: { ...sybil, groups: config.sybil.groups },
      wallS: (performance.now() - wall0) / 1000,
    };
  } finally {
    net.close();
  }
}
