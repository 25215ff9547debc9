/**
 * `deno task devnet [N]`: start N (default 7) hearth nodes on loopback that
 * find each other, each with its own data folder under .data/devnet/, and
 * print their relay addresses, web ports and owner tokens. Ctrl-C stops
 * them all.
 * @module
 */
import { startDevnet } from "./devnet_lib.ts";

const arg = Deno.args[0];
const count = arg === undefined ? 7 : Number(arg);
if (!Number.isInteger(count) || count < 1 || count > 50) {
  console.error("devnet: expected a node count from 1 to 50");
  Deno.exit(2);
}
const baseDir = `${Deno.cwd()}/.data/devnet`;
console.log(`devnet: starting ${count} nodes (data in ${baseDir})`);
const devnet = await startDevnet(count, { baseDir, powBits: 8, gossipIntervalMs: 1_000 });
await devnet.converge(count, 120_000);
console.log(`devnet: ${count} nodes know each other`);
for (const [i, n] of devnet.nodes.entries()) {
  console.log(
    `  node-${
      i + 1
    }  relay http://${n.addr}  web http://${n.webAddr}  token ${n.ownerToken}  log ${n.logPath}`,
  );
}
console.log("devnet: press Ctrl-C to stop");
const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGINT", () => stopped.resolve());
Deno.addSignalListener("SIGTERM", () => stopped.resolve());
await stopped.promise;
await devnet.stop();
console.log("devnet: stopped");
Deno.exit(0);
