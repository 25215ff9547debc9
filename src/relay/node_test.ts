/**
 * `RelayNode.stop` ends what is in flight on the relay port: a forward to a
 * next hop that never answers, and a client that never finishes its body.
 */
import { assertEquals } from "../../tests/assert.ts";
import { buf } from "../shared/crypto/bytes.ts";
import { encodeFrame } from "../shared/codec/frame.ts";
import { HearthError } from "../shared/errors.ts";
import { silentLogger } from "../shared/log.ts";
import { sendOnionRequest } from "../client/network/onion_client.ts";
import { signRecord } from "./directory/record.ts";
import { loadOrCreateIdentity } from "./identity.ts";
import { RelayNode, type RelayNodeOptions } from "./node.ts";

async function withNode(
  options: Partial<RelayNodeOptions>,
  fn: (node: RelayNode, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const node = await RelayNode.start({
    dataDir: `${dir}/node`,
    listen: { host: "127.0.0.1", port: 0 },
    seeds: [],
    powBits: 8,
    rateLimit: null,
    log: silentLogger,
    ...options,
  });
  try {
    await fn(node, dir);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Resolves with `value`, or rejects when `ms` pass first. */
async function within<T>(ms: number, value: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("stop ends a forward to a next hop that never answers", async () => {
  // Far longer than the test allows: only stop can end the forward.
  await withNode({ shutdownGraceMs: 120_000 }, async (node, dir) => {
    const release = Promise.withResolvers<void>();
    let arrived = false;
    const silent = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
      arrived = true;
      await release.promise;
      return new Response("late", { status: 500 });
    });
    try {
      const hole = await loadOrCreateIdentity(`${dir}/hole`, { powBits: 8 });
      const addr = `127.0.0.1:${silent.addr.port}`;
      const record = await signRecord(hole, { addr, ts: Date.now() });
      assertEquals(await node.directory.merge([record]), 1);
      const self = node.directory.get(node.id)!;
      const answer = sendOnionRequest([self, record], encodeFrame({ method: "swarm" }))
        .then(() => undefined, (err) => err);
      await waitFor(() => arrived);
      await within(20_000, node.stop(), "stop");
      const err = await answer;
      assertEquals(err instanceof HearthError ? [err.code, err.details?.hop] : err, [
        "unavailable",
        0,
      ]);
    } finally {
      release.resolve();
      await silent.shutdown();
    }
  });
});

Deno.test({
  name: "stop does not wait for a client that never finishes its body",
  // The server lets go of the stalled connection only once the client closes it.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withNode({ shutdownGraceMs: 200 }, async (node) => {
      const port = Number(node.listenAddr.split(":").at(-1));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const head = "POST /v1/onion HTTP/1.1\r\nhost: x\r\ncontent-length: 2048\r\n\r\n";
        await conn.write(buf(new TextEncoder().encode(head + "partial")));
        // The request is in: the server answers others meanwhile.
        const info = await fetch(`http://${node.listenAddr}/v1/info`);
        assertEquals(info.status, 200);
        await info.body?.cancel();
        await within(20_000, node.stop(), "stop");
      } finally {
        conn.close();
      }
    });
  },
});

Deno.test("a start on a port in use rejects with AddrInUse and leaves the data folder usable", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const options: RelayNodeOptions = {
      dataDir: `${dir}/node`,
      listen: { host: "127.0.0.1", port: (busy.addr as Deno.NetAddr).port },
      seeds: [],
      powBits: 8,
      rateLimit: null,
      log: silentLogger,
    };
    let failed = false;
    try {
      await RelayNode.start(options);
    } catch (err) {
      failed = err instanceof Deno.errors.AddrInUse;
    }
    assertEquals(failed, true, "start rejects with AddrInUse");
    // The same data folder starts fine on a free port.
    const node = await RelayNode.start({ ...options, listen: { host: "127.0.0.1", port: 0 } });
    await node.stop();
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});
