/**
 * A small relay network in this process, for client tests that need real
 * swarms and onion paths without node processes: real {@link RelayNode}s on
 * loopback, each with its own data folder, joined through the first one.
 * Not used outside tests.
 * @module
 */
import { silentLogger } from "../../shared/log.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { RelayNode } from "../../relay/node.ts";
import { SwarmClient } from "./swarm_client.ts";

/** A running in-process relay network. */
export interface TestRelayNet {
  /** The nodes, the first being the one the others joined. */
  nodes: RelayNode[];
  /** Each node's data folder, in the order of `nodes` (its items are in `relay.db`). */
  dataDirs: string[];
  /** The live directory of the first node. */
  directory: () => NodeRecord[];
  /** A fresh client of the network; options as {@link SwarmClient}'s. */
  client(options?: { clock?: () => number }): SwarmClient;
}

/**
 * Run `fn` over `count` relay nodes (default 4: three relays and a
 * destination) once every node knows every other; stop them and remove
 * their folders after, whether `fn` threw or not.
 * @param fn the test body
 * @param options.count how many nodes
 * @returns when the nodes are stopped and removed
 */
export async function withTestRelayNet(
  fn: (net: TestRelayNet) => Promise<void>,
  options: { count?: number } = {},
): Promise<void> {
  const count = options.count ?? 4;
  const dir = await Deno.makeTempDir({ prefix: "hearth-test-net-" });
  const nodes: RelayNode[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await RelayNode.start({
          dataDir: `${dir}/node-${i}`,
          listen: { host: "127.0.0.1", port: 0 },
          seeds: nodes.slice(0, 1).map((n) => n.publicAddr),
          powBits: 8,
          rateLimit: null,
          log: silentLogger,
          gossipIntervalMs: 100,
        }),
      );
    }
    const deadline = Date.now() + 30_000;
    while (!nodes.every((n) => n.directory.liveNodes().length === count)) {
      if (Date.now() > deadline) throw new Error("The test relay network did not converge");
      await new Promise((r) => setTimeout(r, 20));
    }
    const directory = () => nodes[0]!.directory.liveNodes();
    await fn({
      nodes,
      dataDirs: nodes.map((_, i) => `${dir}/node-${i}`),
      directory,
      client: (o = {}) =>
        new SwarmClient({ nodes: directory, relays: Math.min(3, count - 1), ...o }),
    });
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}
