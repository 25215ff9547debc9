/**
 * A test client of a devnet: reads the live directory from a node and
 * talks to the swarms through onion paths with the real SwarmClient.
 */
import { SwarmClient } from "../src/client/network/swarm_client.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";

/** Read a node's live directory. */
export async function directoryOf(addr: string): Promise<NodeRecord[]> {
  const res = await fetch(`http://${addr}/v1/directory`);
  const body = await res.json() as { records: NodeRecord[] };
  return body.records;
}

/** A SwarmClient over a snapshot of `addr`'s directory, refreshed by `refresh()`. */
export async function clientOf(
  addr: string,
  options: { clock?: () => number } = {},
): Promise<{ client: SwarmClient; nodes: () => NodeRecord[]; refresh(): Promise<void> }> {
  let nodes = await directoryOf(addr);
  return {
    client: new SwarmClient({ nodes: () => nodes, clock: options.clock, timeoutMs: 30_000 }),
    nodes: () => nodes,
    refresh: async () => {
      nodes = await directoryOf(addr);
    },
  };
}
