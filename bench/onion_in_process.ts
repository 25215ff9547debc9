/**
 * The onion path with the processes taken out: 4 relay apps (the real
 * `relayApp` + `onionRoutes`) on loopback servers inside this process, and
 * the real onion client. The final handler answers at once, so the time is
 * that of the path alone: packet building and opening, HTTP, peeling and
 * re-encrypting. Compared with the devnet it shows what separate processes
 * add on a 2-core machine.
 * @module
 */
import { rpcViaOnion } from "../src/client/network/onion_client.ts";
import { loadOrCreateIdentity } from "../src/relay/identity.ts";
import { onionRoutes } from "../src/relay/onion/onion_routes.ts";
import { relayApp } from "../src/relay/rpc/relay_app.ts";
import { encodeFrame } from "../src/shared/codec/frame.ts";
import { toHex } from "../src/shared/crypto/bytes.ts";
import { createLogger } from "../src/shared/log.ts";
import { cpuMs } from "./process_metrics.ts";
import { round } from "./stats.ts";

/** One path length, requests one at a time. */
export interface InProcessPathCost {
  /** Nodes on the path (the last one answers). */
  pathNodes: number;
  /** Requests completed in the time budget. */
  requests: number;
  /** Wall time per request, ms. */
  wallMsPerReq: number;
  /** CPU time of the whole process (client and every hop) per request, ms. */
  cpuMsPerReq: number;
}

const REQUEST_BLOB = new Uint8Array(1_024);

/**
 * Time requests through 1 and 4 in-process hops, one at a time.
 * @param options.budgetMs time per path length, ms
 * @param options.tmpDir where the hops' identities go (removed after)
 * @returns the cost of each path length
 */
export async function measureOnionInProcess(
  options: { budgetMs: number; tmpDir?: string },
): Promise<InProcessPathCost[]> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-bench-onion-", dir: options.tmpDir });
  const log = createLogger({ level: "error" });
  const hops: { id: string; x25519: string; addr: string }[] = [];
  const servers: Deno.HttpServer[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const identity = await loadOrCreateIdentity(`${dir}/hop-${i}`, { powBits: 0 });
      const app = relayApp({
        log,
        rateLimit: null,
        routes: [onionRoutes({
          identity,
          log,
          resolveNode: (id) => hops.find((h) => h.id === id),
          handleFinal: () => Promise.resolve(encodeFrame({ ok: true })),
        })],
      });
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
      servers.push(server);
      hops.push({
        id: identity.id,
        x25519: toHex(identity.dh.publicKey),
        addr: `127.0.0.1:${server.addr.port}`,
      });
    }
    const costs: InProcessPathCost[] = [];
    for (const pathNodes of [1, 4]) {
      const path = hops.slice(0, pathNodes);
      const send = () => rpcViaOnion(path, { method: "swarm" }, { blob: REQUEST_BLOB });
      for (let i = 0; i < 50; i++) await send();
      const cpuStart = await cpuMs(Deno.pid);
      const start = performance.now();
      let requests = 0;
      while (performance.now() - start < options.budgetMs) {
        await send();
        requests++;
      }
      const wall = performance.now() - start;
      const cpuEnd = await cpuMs(Deno.pid);
      const cpu = cpuStart === undefined || cpuEnd === undefined ? NaN : cpuEnd - cpuStart;
      costs.push({
        pathNodes,
        requests,
        wallMsPerReq: round(wall / requests),
        cpuMsPerReq: round(cpu / requests),
      });
    }
    return costs;
  } finally {
    for (const server of servers) await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}
