import { onionRoutes } from "../src/relay/onion/onion_routes.ts";
import { loadOrCreateIdentity } from "../src/relay/identity.ts";
import { createLogger } from "../src/shared/log.ts";
import { encodeFrame } from "../src/shared/codec/frame.ts";
import { rpcViaOnion } from "../src/client/network/onion_client.ts";
import { toHex } from "../src/shared/crypto/bytes.ts";
import { relayApp } from "../src/relay/rpc/relay_app.ts";
import { cpuMs } from "./process_metrics.ts";
const dir = await Deno.makeTempDir();
const log = createLogger({ level: "error" });
const nodes: { id: string; x25519: string; addr: string }[] = [];
const servers: Deno.HttpServer[] = [];
for (let i = 0; i < 4; i++) {
  const identity = await loadOrCreateIdentity(`${dir}/n${i}`, { powBits: 0 });
  const app = relayApp({ log, rateLimit: null, routes: [onionRoutes({
    identity, log,
    resolveNode: (id) => nodes.find((n) => n.id === id),
    handleFinal: () => Promise.resolve(encodeFrame({ ok: true })),
  })] });
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  servers.push(s);
  nodes.push({ id: identity.id, x25519: toHex(identity.dh.publicKey), addr: `127.0.0.1:${s.addr.port}` });
}
for (const hops of [1, 4, 1, 4]) {
  const path = nodes.slice(0, hops);
  for (let i = 0; i < 50; i++) await rpcViaOnion(path, { method: "swarm" });
  const c0 = (await cpuMs(Deno.pid))!; const t0 = performance.now(); let n = 0;
  while (performance.now() - t0 < 2000) { await rpcViaOnion(path, { method: "swarm" }, { blob: new Uint8Array(1024) }); n++; }
  const c1 = (await cpuMs(Deno.pid))!;
  console.log(hops, "hops", n, "req", ((performance.now() - t0) / n).toFixed(3), "ms/req wall", ((c1 - c0) / n).toFixed(3), "ms CPU/req");
}
for (const s of servers) await s.shutdown();
await Deno.remove(dir, { recursive: true });
