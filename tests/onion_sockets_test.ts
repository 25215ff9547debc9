/**
 * Onion routing over real sockets: four relays on loopback, each serving
 * `POST /v1/onion` with its own keys in the real relay app, a directory
 * they share, and a small RPC at the destination that hashes the blob.
 */
import { testIdentity } from "./test_identity.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { buf, randomBytes, toHex } from "../src/shared/crypto/bytes.ts";
import { sha256 } from "../src/shared/crypto/hash.ts";
import { decodeFrame, encodeFrame } from "../src/shared/codec/frame.ts";
import { HearthError } from "../src/shared/errors.ts";
import { silentLogger } from "../src/shared/log.ts";
import { buildOnionPacket } from "../src/shared/onion/build.ts";
import { onionRoutes } from "../src/relay/onion/onion_routes.ts";
import { relayApp } from "../src/relay/rpc/relay_app.ts";
import { type OnionPathNode, rpcViaOnion } from "../src/client/network/onion_client.ts";

/** The destination's RPC: hash the blob, or fail as asked. */
function echoRpc(request: Uint8Array): Promise<Uint8Array> {
  const { header, blob } = decodeFrame(request);
  if (header.method === "fail") throw new HearthError("unknown_method", "No such method");
  if (header.method === "crash") throw new Error("a bug");
  const reversed = blob.slice().reverse();
  return Promise.resolve(
    encodeFrame({ ok: true, sha256: toHex(sha256(blob)), size: blob.length }, reversed),
  );
}

interface Relay extends OnionPathNode {
  server: Deno.HttpServer<Deno.NetAddr>;
}

async function startRelay(
  directory: Map<string, { addr: string }>,
  options: { forwardTimeoutMs?: number } = {},
): Promise<Relay> {
  const identity = await testIdentity();
  const app = relayApp({
    routes: [
      onionRoutes({
        identity,
        resolveNode: (id) => directory.get(id),
        handleFinal: echoRpc,
        log: silentLogger,
        forwardTimeoutMs: options.forwardTimeoutMs ?? 10_000,
      }),
    ],
    log: silentLogger,
    rateLimit: null,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const addr = `127.0.0.1:${server.addr.port}`;
  directory.set(identity.id, { addr });
  return { id: identity.id, x25519: toHex(identity.dh.publicKey), addr, server };
}

/** Four relays sharing a directory; closed after `fn`. */
async function withRelays(
  fn: (relays: Relay[], directory: Map<string, { addr: string }>) => Promise<void>,
): Promise<void> {
  const directory = new Map<string, { addr: string }>();
  const relays: Relay[] = [];
  try {
    for (let i = 0; i < 4; i++) relays.push(await startRelay(directory));
    await fn(relays, directory);
  } finally {
    await Promise.all(relays.map((r) => r.server.shutdown()));
  }
}

async function hopError(promise: () => Promise<unknown>): Promise<HearthError> {
  return await assertRejects(promise, HearthError);
}

Deno.test("onion: a request through 3 relays and a destination comes back", async () => {
  await withRelays(async (relays) => {
    for (const size of [0, 1_000, 12_000, 70_000]) {
      const blob = randomBytes(size);
      const answer = await rpcViaOnion(relays, { method: "echo" }, { blob });
      assertEquals(answer.header, { ok: true, sha256: toHex(sha256(blob)), size });
      assertEquals(answer.blob, blob.slice().reverse());
    }
  });
});

Deno.test("onion: an RPC error at the destination comes back as that error", async () => {
  await withRelays(async (relays) => {
    const failed = await hopError(() => rpcViaOnion(relays, { method: "fail" }));
    assertEquals(failed.code, "unknown_method");
    assertEquals(failed.details?.hop, 3);
    const crashed = await hopError(() => rpcViaOnion(relays, { method: "crash" }));
    assertEquals(crashed.code, "internal");
    assertEquals(crashed.details?.hop, 3);
  });
});

Deno.test("onion: an unknown next hop is a sealed unknown_hop from the hop before it", async () => {
  await withRelays(async (relays) => {
    const stranger = await testIdentity();
    const ghost = {
      id: stranger.id,
      x25519: toHex(stranger.dh.publicKey),
      addr: "127.0.0.1:9",
    };
    const path = [relays[0]!, relays[1]!, relays[2]!, ghost];
    const err = await hopError(() => rpcViaOnion(path, { method: "echo" }));
    assertEquals(err.code, "unknown_hop");
    assertEquals(err.details?.hop, 2);
  });
});

Deno.test("onion: a dead next hop is hop_failed from the hop before it", async () => {
  await withRelays(async (relays, directory) => {
    const dead = await startRelay(directory);
    await dead.server.shutdown();
    const path = [relays[0]!, relays[1]!, dead, relays[3]!];
    const err = await hopError(() => rpcViaOnion(path, { method: "echo" }));
    assertEquals(err.code, "hop_failed");
    assertEquals(err.details?.hop, 1);
  });
});

Deno.test("onion: a next hop answering a wrong size is hop_failed", async () => {
  await withRelays(async (relays, directory) => {
    const liar = await startRelay(directory);
    await liar.server.shutdown();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("not an onion answer"),
    );
    try {
      directory.set(liar.id, { addr: `127.0.0.1:${server.addr.port}` });
      const path = [relays[0]!, liar, relays[3]!];
      const err = await hopError(() => rpcViaOnion(path, { method: "echo" }));
      assertEquals(err.code, "hop_failed");
      assertEquals(err.details?.hop, 0);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("onion: a next hop that never answers is a timeout", async () => {
  await withRelays(async (relays, directory) => {
    const impatient = await startRelay(directory, { forwardTimeoutMs: 300 });
    const stuck = await startRelay(directory);
    await stuck.server.shutdown();
    const release: (() => void)[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Promise<Response>((resolve) => release.push(() => resolve(new Response("late")))),
    );
    try {
      directory.set(stuck.id, { addr: `127.0.0.1:${server.addr.port}` });
      const path = [relays[0]!, impatient, stuck, relays[3]!];
      const err = await hopError(() => rpcViaOnion(path, { method: "echo" }));
      assertEquals(err.code, "timeout");
      assertEquals(err.details?.hop, 1);
    } finally {
      for (const r of release) r();
      await server.shutdown();
      await impatient.server.shutdown();
    }
  });
});

Deno.test("onion: a replayed packet is refused", async () => {
  await withRelays(async (relays) => {
    const onion = await buildOnionPacket(relays, encodeFrame({ method: "echo" }));
    const post = () =>
      fetch(`http://${relays[0]!.addr}/v1/onion`, { method: "POST", body: buf(onion.packet) });
    const first = await post();
    assertEquals(first.status, 200);
    const opened = await onion.openResponse(new Uint8Array(await first.arrayBuffer()));
    assertEquals(opened.hopIndex, 3);
    const again = await post();
    assertEquals(again.status, 409);
    assertEquals((await again.json()).error, "replay");
  });
});

Deno.test("onion: packets of the wrong size or that do not decrypt get plain errors", async () => {
  await withRelays(async (relays) => {
    const url = `http://${relays[0]!.addr}/v1/onion`;
    const cases: [Uint8Array, number, string][] = [
      [new Uint8Array(2_047), 400, "bad_size"],
      [new Uint8Array(0), 400, "bad_size"],
      [randomBytes(2_048), 400, "decrypt_failed"],
      [new Uint8Array(98_305), 413, "too_large"],
    ];
    for (const [body, status, code] of cases) {
      const res = await fetch(url, { method: "POST", body: buf(body) });
      assertEquals(res.status, status);
      assertEquals((await res.json()).error, code);
    }
    const res = await fetch(url);
    await res.body?.cancel();
    assert(res.status === 404, "GET is not a route");
  });
});
