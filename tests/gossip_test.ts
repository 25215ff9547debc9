/**
 * Multi-node directory tests: real nodes on 127.0.0.1, each a Deno.serve
 * running the directory routes, a Directory and Gossip (PROTOCOL.md §3).
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { assert, assertEquals, assertFalse } from "./assert.ts";
import { HearthError } from "../src/shared/errors.ts";
import { silentLogger } from "../src/shared/log.ts";
import { Directory } from "../src/relay/directory/directory.ts";
import { directoryRoutes } from "../src/relay/directory/directory_routes.ts";
import {
  Gossip,
  SEED_ANNOUNCE_RETRIES,
  UNSEEN_RETRIES,
  UNSEEN_ROUNDS,
} from "../src/relay/directory/gossip.ts";
import { signRecord } from "../src/relay/directory/record.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import { loadOrCreateIdentity, powBitsOf } from "../src/relay/identity.ts";
import { randomBytes } from "../src/shared/crypto/bytes.ts";
import { PeerClient } from "../src/relay/peer_client.ts";

const POW = 8;

interface TestNode {
  identity: NodeIdentity;
  directory: Directory;
  gossip: Gossip;
  addr: string;
  dataDir: string;
  /** Announcements this node's server received. */
  announcements: number;
  /** The next this many announcements are answered with `dropWith` instead. */
  dropAnnouncements: number;
  dropWith: "unavailable" | "unreachable";
  /** Node IDs whose records this node's `/v1/directory` leaves out. */
  hidden: Set<string>;
  stop(): Promise<void>;
}

async function waitFor(
  check: () => boolean,
  options: { timeoutMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${options.what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function serve(handler: Deno.ServeHandler<Deno.NetAddr>): Deno.HttpServer<Deno.NetAddr> {
  // The port is bound when Deno.serve returns; server.addr has it.
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
}

function appOf(routes: Hono): Hono {
  const app = new Hono();
  app.route("/", routes);
  app.onError((err, c) => {
    const e = err instanceof HearthError ? err : new HearthError("internal", "Internal error");
    return c.json(e.toJSON(), e.status as ContentfulStatusCode);
  });
  return app;
}

async function startNode(
  dataDir: string,
  options: {
    seeds: string[];
    publicAddr?: string;
    maxDialBacks?: number;
    /** Start the gossip timer after bootstrap (default true); else rounds run only when called. */
    gossiping?: boolean;
    intervalMs?: number;
    /** How this node's requests to other nodes go out (default fetch). */
    peerFetch?: typeof fetch;
  },
): Promise<TestNode> {
  const identity = await loadOrCreateIdentity(dataDir, { powBits: POW });
  const directory = new Directory({
    identity,
    dataDir,
    powBits: POW,
    log: silentLogger,
    persistDelayMs: 50,
  });
  await directory.load();
  const peers = new PeerClient(identity, { fetch: options.peerFetch });
  const routes = directoryRoutes({
    directory,
    identity,
    peers,
    log: silentLogger,
    maxDialBacks: options.maxDialBacks,
  });
  const app = appOf(routes);
  // The server listens before the node announces itself: peers dial it back.
  const server = serve(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v1/directory" && node.hidden.size > 0) {
      // Serve the directory as if these nodes' records never arrived here.
      const page = await (await app.fetch(req)).json();
      page.records = page.records?.filter((r: { id: string }) => !node.hidden.has(r.id));
      return Response.json(page);
    }
    if (req.method !== "POST" || path !== "/v1/announce") return app.fetch(req);
    node.announcements++;
    if (node.dropAnnouncements <= 0) return app.fetch(req);
    node.dropAnnouncements--;
    const error = new HearthError(node.dropWith, "Dropped by the test");
    return Response.json(error.toJSON(), { status: error.status });
  });
  const addr = `127.0.0.1:${server.addr.port}`;
  const gossip = new Gossip({
    directory,
    identity,
    peers,
    seeds: options.seeds,
    publicAddr: options.publicAddr ?? addr,
    log: silentLogger,
    intervalMs: options.intervalMs ?? 200,
  });
  const node: TestNode = {
    identity,
    directory,
    gossip,
    addr,
    dataDir,
    announcements: 0,
    dropAnnouncements: 0,
    dropWith: "unavailable",
    hidden: new Set(),
    stop: async () => {
      await gossip.stop();
      peers.close();
      await server.shutdown();
      await directory.close();
    },
  };
  await gossip.bootstrap();
  if (options.gossiping ?? true) gossip.start();
  return node;
}

/** Start `n` nodes, the first the seed of the others. */
async function startNetwork(baseDir: string, n: number): Promise<TestNode[]> {
  const nodes = [await startNode(`${baseDir}/node-0`, { seeds: [] })];
  for (let i = 1; i < n; i++) {
    nodes.push(await startNode(`${baseDir}/node-${i}`, { seeds: [nodes[0]!.addr] }));
  }
  return nodes;
}

/** Run `fn` with a temp folder and a list of nodes, all stopped and removed after. */
async function withNodes(fn: (nodes: TestNode[], baseDir: string) => Promise<void>): Promise<void> {
  const baseDir = await Deno.makeTempDir();
  const nodes: TestNode[] = [];
  try {
    await fn(nodes, baseDir);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(baseDir, { recursive: true });
  }
}

function knowsAll(node: TestNode, ids: string[]): boolean {
  const live = new Set(node.directory.liveNodes().map((r) => r.id));
  return live.size === ids.length && ids.every((id) => live.has(id));
}

Deno.test("7 nodes bootstrapped from one seed converge to know all 7", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(...await startNetwork(baseDir, 7));
    const ids = nodes.map((n) => n.identity.id);
    await waitFor(() => nodes.every((n) => knowsAll(n, ids) && n.gossip.status().reachable), {
      what: "every node to know all 7 and be reachable",
    });
    for (const n of nodes) {
      assertEquals(n.gossip.status().directorySize, 7);
      assert(n.gossip.status().lastGossipOk);
      const info = await (await fetch(`http://${n.addr}/v1/info`)).json();
      assertEquals(info.id, n.identity.id);
      assertEquals(info.version, 1);
      assertEquals(info.directorySize, 7);
    }
    const { records } = await (await fetch(`http://${nodes[3]!.addr}/v1/directory`)).json();
    assertEquals(records.length, 7);
  });
});

Deno.test("a node with an unreachable public address is client-only but learns the directory", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(...await startNetwork(baseDir, 3));
    const ids = nodes.map((n) => n.identity.id);
    const client = await startNode(`${baseDir}/client`, {
      seeds: [nodes[0]!.addr],
      publicAddr: "127.0.0.1:1", // nothing listens there
    });
    nodes.push(client);
    assertFalse(client.gossip.status().reachable);
    await waitFor(() => knowsAll(client, ids), { what: "the client to learn the directory" });
    await waitFor(() => nodes.slice(0, 3).every((n) => knowsAll(n, ids)), {
      what: "the relays to converge",
    });
    assertFalse(client.gossip.status().reachable);
    assertEquals(client.gossip.status().directorySize, 3, "it does not count itself");
    for (const n of nodes.slice(0, 3)) assertFalse(n.directory.isKnown(client.identity.id));
  });
});

Deno.test("a stopped node is eventually dropped by the others", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(...await startNetwork(baseDir, 4));
    const ids = nodes.map((n) => n.identity.id);
    await waitFor(() => nodes.every((n) => knowsAll(n, ids)), { what: "convergence" });
    const gone = nodes.pop()!;
    await gone.stop();
    const rest = ids.slice(0, 3);
    await waitFor(() => nodes.every((n) => knowsAll(n, rest)), {
      what: "the stopped node to be dropped everywhere",
    });
  });
});

Deno.test("a restarted node reloads its directory and rejoins without seeds", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(...await startNetwork(baseDir, 4));
    const ids = nodes.map((n) => n.identity.id);
    await waitFor(() => nodes.every((n) => knowsAll(n, ids)), { what: "convergence" });
    const old = nodes.pop()!;
    await old.stop(); // flushes directory.json

    const reloaded = new Directory({
      identity: old.identity,
      dataDir: old.dataDir,
      powBits: POW,
      log: silentLogger,
    });
    assertEquals(await reloaded.load(), 3);
    await reloaded.close();

    const again = await startNode(old.dataDir, { seeds: [] });
    nodes.push(again);
    assertEquals(again.identity.id, old.identity.id);
    assert(again.gossip.status().reachable, "a known peer accepted the announcement");
    await waitFor(
      () =>
        nodes.every((n) =>
          knowsAll(n, ids) && n.directory.get(again.identity.id)?.addr === again.addr
        ),
      { what: "every node to know the restarted node at its new address" },
    );
  });
});

Deno.test("announce refuses bad, oversized, weak and undialable records", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(await startNode(`${baseDir}/relay`, { seeds: [] }));
    const relay = nodes[0]!;
    const stranger = await loadOrCreateIdentity(`${baseDir}/stranger`, { powBits: POW });
    const post = async (body: string) => {
      const res = await fetch(`http://${relay.addr}/v1/announce`, { method: "POST", body });
      return { status: res.status, ...(await res.json()) };
    };
    assertEquals((await post("{not json")).error, "bad_request");
    assertEquals((await post("x".repeat(2048))).error, "too_large");
    assertEquals((await post("{}")).error, "bad_request");
    const closed = await signRecord(stranger, { addr: "127.0.0.1:1", ts: Date.now() });
    const answer = await post(JSON.stringify(closed));
    assertEquals([answer.status, answer.error], [422, "unreachable"]);
    const old = await signRecord(stranger, { addr: "127.0.0.1:1", ts: Date.now() - 4 * 3600_000 });
    assertEquals((await post(JSON.stringify(old))).error, "stale_record");
    let weakNonce = randomBytes(8);
    while (powBitsOf(stranger.signing.publicKey, stranger.dh.publicKey, weakNonce) >= POW) {
      weakNonce = randomBytes(8);
    }
    const weak = await signRecord({ ...stranger, powNonce: weakNonce }, {
      addr: "127.0.0.1:1",
      ts: Date.now(),
    });
    assertEquals((await post(JSON.stringify(weak))).error, "bad_pow");
    const mine = await signRecord(relay.identity, { addr: relay.addr, ts: Date.now() });
    assertEquals((await post(JSON.stringify(mine))).error, "bad_request");
    const forged = { ...closed, addr: relay.addr };
    assertEquals((await post(JSON.stringify(forged))).error, "bad_signature");
    // A record for someone else's address: the keys do not match on dial-back.
    const impostor = await signRecord(stranger, { addr: relay.addr, ts: Date.now() });
    assertEquals((await post(JSON.stringify(impostor))).error, "unreachable");
    assertFalse(relay.directory.isKnown(stranger.id));
    assertEquals(relay.directory.size(), 0);
    const directory = await (await fetch(`http://${relay.addr}/v1/directory`)).json();
    assertEquals(directory.records, []);
    assertEquals(directory.more, false);
    assertEquals((await fetch(`http://${relay.addr}/v1/nowhere`)).status, 404);
  });
});

Deno.test("announcements beyond the dial-back limit get unavailable", async () => {
  const baseDir = await Deno.makeTempDir();
  const nodes: TestNode[] = [];
  // A listener that accepts connections and never answers: dial-backs hang.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  try {
    nodes.push(await startNode(`${baseDir}/relay`, { seeds: [], maxDialBacks: 1 }));
    const relay = nodes[0]!;
    const stranger = await loadOrCreateIdentity(`${baseDir}/stranger`, { powBits: POW });
    const record = await signRecord(stranger, {
      addr: `127.0.0.1:${silent.addr.port}`,
      ts: Date.now(),
    });
    const post = () =>
      fetch(`http://${relay.addr}/v1/announce`, { method: "POST", body: JSON.stringify(record) })
        .then(async (res) => (await res.json()).error);
    const first = post();
    await waitFor(() => held.length > 0, { what: "the dial-back to connect" });
    assertEquals(await post(), "unavailable");
    assertEquals(await first, "unreachable", "the hanging dial-back times out");
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(baseDir, { recursive: true });
  }
});

Deno.test("a seed that lost or refused the first announcement gets it in the next round", async () => {
  await withNodes(async (nodes, baseDir) => {
    // Neither the seed nor the relay gossips: only an announcement can tell the seed.
    const seed = await startNode(`${baseDir}/seed`, { seeds: [], gossiping: false });
    nodes.push(seed);
    const relay = await startNode(`${baseDir}/relay`, { seeds: [seed.addr], gossiping: false });
    nodes.push(relay);
    assert(seed.directory.isKnown(relay.identity.id));
    for (const dropWith of ["unavailable", "unreachable"] as const) {
      seed.dropWith = dropWith;
      seed.dropAnnouncements = 1;
      const before = seed.announcements;
      const joiner = await startNode(`${baseDir}/joiner-${dropWith}`, {
        seeds: [seed.addr],
        gossiping: false,
      });
      nodes.push(joiner);
      assertEquals(seed.announcements, before + 1);
      assert(joiner.gossip.status().reachable, `${dropWith}: the relay accepted it`);
      assertFalse(seed.directory.isKnown(joiner.identity.id), `${dropWith}: the seed lost it`);
      await joiner.gossip.round();
      assert(
        seed.directory.isKnown(joiner.identity.id),
        `${dropWith}: announced to the seed again`,
      );
      assert(joiner.gossip.status().reachable);
      // Its record comes back in its pulls from the relay, so it is not announced again either.
      for (let i = 0; i < 2 * UNSEEN_ROUNDS; i++) await joiner.gossip.round();
      assertEquals(seed.announcements, before + 2, `${dropWith}: no more once the seed took it`);
    }
  });
});

Deno.test("announcements to seeds that never accept stop after a bounded number of rounds", async () => {
  await withNodes(async (nodes, baseDir) => {
    const seed = await startNode(`${baseDir}/seed`, { seeds: [], gossiping: false });
    nodes.push(seed);
    const relay = await startNode(`${baseDir}/relay`, { seeds: [seed.addr], gossiping: false });
    nodes.push(relay);
    seed.dropAnnouncements = Infinity;
    const before = seed.announcements;
    const joiner = await startNode(`${baseDir}/joiner`, { seeds: [seed.addr], gossiping: false });
    nodes.push(joiner);
    const sent = () => seed.announcements - before;
    assertEquals(sent(), 1);
    // Again in the next round, then 2, 4, 8, 16 and 32 rounds after the previous try.
    const expected = new Map([[1, 2], [2, 2], [3, 3], [6, 3], [7, 4], [15, 5], [31, 6], [63, 7]]);
    for (let round = 1; round <= 100; round++) {
      await joiner.gossip.round();
      const want = expected.get(round);
      if (want !== undefined) assertEquals(sent(), want, `after round ${round}`);
    }
    assertEquals(sent(), 1 + SEED_ANNOUNCE_RETRIES, "no more until the record is re-signed");
    assert(joiner.gossip.status().reachable, "failed seeds do not make it client-only");
    assertFalse(seed.directory.isKnown(joiner.identity.id));
  });
});

Deno.test("a node's gossip partners are refreshed as the network grows from 4 to 40", async () => {
  await withNodes(async (nodes, baseDir) => {
    nodes.push(...await startNetwork(baseDir, 3));
    const ids = () => nodes.map((n) => n.identity.id);
    await waitFor(() => nodes.every((n) => knowsAll(n, ids())), { what: "3 nodes to converge" });
    // The watched node runs its rounds only when told, and logs its first pulls
    // (a pull without a cursor: the whole directory, what a new partner costs).
    const firstPulls: string[] = [];
    const pulls: string[] = [];
    const peerFetch: typeof fetch = (input, init) => {
      const url = new URL(String(input));
      if (url.pathname === "/v1/directory") {
        pulls.push(url.host);
        if (!url.searchParams.has("after")) firstPulls.push(url.host);
      }
      return fetch(input, init);
    };
    const watched = await startNode(`${baseDir}/watched`, {
      seeds: [nodes[0]!.addr],
      gossiping: false,
      peerFetch,
    });
    nodes.push(watched);
    const roundsUntil = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
        await watched.gossip.round();
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await roundsUntil(() => knowsAll(watched, ids()), "the watched node to know all 4");
    // Its 3 partners are the 3 other nodes; one first pull each (the seed's at bootstrap).
    await roundsUntil(() => firstPulls.length >= 3, "a first pull from each partner");
    for (let i = 0; i < 6; i++) await watched.gossip.round();
    assertEquals(firstPulls.length, 3);
    assertEquals(new Set(firstPulls).size, 3);

    for (let size = 8; size <= 40; size += 4) {
      for (let i = 0; i < 4; i++) {
        nodes.push(
          await startNode(`${baseDir}/node-${nodes.length}`, {
            seeds: [nodes[0]!.addr],
            intervalMs: 400,
          }),
        );
      }
      await roundsUntil(() => knowsAll(watched, ids()), `the watched node to know all ${size}`);
    }
    for (let i = 0; i < 6; i++) await watched.gossip.round();
    // One swap when it knew at least 12 (2 × 4, and 8 more), one at twice that: never at 40.
    assertEquals(firstPulls.length - 3, 2, "one new partner per doubling of the directory");
    const pulled = pulls.length;
    for (let i = 0; i < 12; i++) await watched.gossip.round();
    assertEquals(firstPulls.length - 3, 2, "no swap while the directory keeps its size");
    // Its seed takes every joiner's announcement: the growth swaps keep it.
    assert(pulls.slice(pulled).includes(nodes[0]!.addr), "the seed is still a partner");
  });
});

Deno.test("a record that does not come back in any pull is announced to other peers, twice at most", async () => {
  await withNodes(async (nodes, baseDir) => {
    const seed = await startNode(`${baseDir}/seed`, { seeds: [], gossiping: false });
    nodes.push(seed);
    const relay = await startNode(`${baseDir}/relay`, { seeds: [seed.addr], gossiping: false });
    nodes.push(relay);
    const joiner = await startNode(`${baseDir}/joiner`, { seeds: [seed.addr], gossiping: false });
    nodes.push(joiner);
    assert(
      seed.directory.isKnown(joiner.identity.id) && relay.directory.isKnown(joiner.identity.id),
    );
    // The relay is the joiner's only partner; its pulls never show the joiner's record,
    // as when the peers that took it are ones nobody pulls from.
    relay.hidden.add(joiner.identity.id);
    const before = relay.announcements;
    for (let round = 1; round <= 4 * UNSEEN_ROUNDS; round++) {
      await joiner.gossip.round();
      const tries = Math.min(UNSEEN_RETRIES, Math.floor(round / UNSEEN_ROUNDS));
      assertEquals(relay.announcements - before, tries, `after round ${round}`);
    }
    assert(joiner.gossip.status().reachable);
  });
});
