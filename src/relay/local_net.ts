/**
 * The embedded local network: when a fresh node has no seed and knows no
 * real peer, it starts a few helper relays on loopback in the same
 * process, so paths and swarms exist at once. Each helper has its own
 * data folder under `<dataDir>/local-net/`, so its identity and stored
 * items survive restarts.
 * @module
 */
import type { Logger } from "../shared/log.ts";
import { RelayNode } from "./node.ts";

/** How many helper relays a local network has: enough for R = 5 swarms and 3-hop paths. */
export const LOCAL_NET_SIZE = 6;

/** A running local network. */
export interface LocalNet {
  nodes: RelayNode[];
  /** The helpers' relay addresses. */
  addrs: string[];
  stop(): Promise<void>;
}

/**
 * Start the helper relays, the first one joining `seed` and the others
 * joining the first.
 * @param dataDir the owner node's data folder
 */
export async function startLocalNet(
  dataDir: string,
  options: {
    seed: string;
    powBits: number;
    log: Logger;
    count?: number;
    gossipIntervalMs?: number;
  },
): Promise<LocalNet> {
  const nodes: RelayNode[] = [];
  const count = options.count ?? LOCAL_NET_SIZE;
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await RelayNode.start({
          dataDir: `${dataDir}/local-net/helper-${i + 1}`,
          listen: { host: "127.0.0.1", port: 0 },
          seeds: [options.seed, ...nodes.slice(0, 1).map((n) => n.publicAddr)],
          powBits: options.powBits,
          rateLimit: null,
          log: options.log,
          gossipIntervalMs: options.gossipIntervalMs,
        }),
      );
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    addrs: nodes.map((n) => n.publicAddr),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** IDs of the helpers that ran in this data folder before (their keys are kept). */
export async function localNetIds(dataDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  try {
    for await (const entry of Deno.readDir(`${dataDir}/local-net`)) {
      if (!entry.isDirectory) continue;
      try {
        const text = await Deno.readTextFile(`${dataDir}/local-net/${entry.name}/node_key.json`);
        const id = (JSON.parse(text) as { id?: unknown }).id;
        if (typeof id === "string") ids.add(id);
      } catch {
        // A helper folder without a readable key has no identity yet.
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return ids;
}
