/**
 * Replication and anti-entropy between real nodes: each node is a
 * Deno.serve on 127.0.0.1 running the replication routes over its own
 * libsql file, with its own identity and peer client; all share one list
 * of node records.
 */
import { testIdentity } from "./test_identity.ts";
import { Hono } from "hono";
import { assert, assertEquals } from "./assert.ts";
import { toHex } from "../src/shared/crypto/bytes.ts";
import { generateSigningKeyPair, sign } from "../src/shared/crypto/sign.ts";
import { decodeFrame, encodeFrame } from "../src/shared/codec/frame.ts";
import { type OpenDatabase, openDatabase } from "../src/shared/db/open.ts";
import { HearthError } from "../src/shared/errors.ts";
import { silentLogger } from "../src/shared/log.ts";
import type { NodeIdentity, NodeRecord } from "../src/relay/directory/record_types.ts";
import { PeerClient } from "../src/relay/peer_client.ts";
import { AntiEntropy, HAND_OFF_SENDERS } from "../src/relay/replicate/anti_entropy.ts";
import { encodeItemBatch } from "../src/relay/replicate/item_batch.ts";
import { replicateRoutes } from "../src/relay/replicate/replicate_routes.ts";
import { Replicator } from "../src/relay/replicate/replicator.ts";
import { createStorageRpc, type StorageRpc } from "../src/relay/rpc/storage_rpc.ts";
import { storageSigningBytes } from "../src/shared/storage/signing.ts";
import { chunkKey } from "../src/shared/storage/namespaces.ts";
import { itemHash } from "../src/relay/store/item.ts";
import { MessageStore } from "../src/relay/store/message_store.ts";
import { type RelayDb, relayMigrations } from "../src/relay/store/schema.ts";
import { swarmKeyOf } from "../src/relay/swarm/swarm_map.ts";
import { swarmViewOf } from "../src/relay/swarm/swarm_view.ts";

/** The shared directory of a test network: records, and who listens to changes. */
class Net {
  records: NodeRecord[] = [];
  #listeners = new Set<() => void>();
  readonly swarmSize: number;

  constructor(swarmSize = 5) {
    this.swarmSize = swarmSize;
  }

  upsert(record: NodeRecord): void {
    this.records = [...this.records.filter((r) => r.id !== record.id), record];
    for (const l of this.#listeners) l();
  }

  /** The node left the directory (dead, or gone). */
  remove(id: string): void {
    this.records = this.records.filter((r) => r.id !== id);
    for (const l of this.#listeners) l();
  }

  view(selfId: string) {
    return swarmViewOf(selfId, () => this.records, {
      swarmSize: this.swarmSize,
      subscribe: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
    });
  }
}

/** One running node; `stop` takes it down, `restart` brings it back on a new port. */
class TestNode {
  readonly identity: NodeIdentity;
  readonly dir: string;
  readonly net: Net;
  db!: OpenDatabase<RelayDb>;
  store!: MessageStore;
  peers!: PeerClient;
  replicator!: Replicator;
  antiEntropy!: AntiEntropy;
  rpc!: StorageRpc;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;

  private constructor(identity: NodeIdentity, dir: string, net: Net) {
    this.identity = identity;
    this.dir = dir;
    this.net = net;
  }

  static async start(net: Net): Promise<TestNode> {
    const node = new TestNode(await testIdentity(), await Deno.makeTempDir(), net);
    await node.restart();
    return node;
  }

  get id(): string {
    return this.identity.id;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  async restart(): Promise<void> {
    const view = this.net.view(this.id);
    const log = silentLogger;
    this.db = await openDatabase<RelayDb>(`${this.dir}/relay.db`, relayMigrations);
    this.store = new MessageStore(this.db.db);
    this.peers = new PeerClient(this.identity);
    this.replicator = new Replicator({ peers: this.peers, selfId: this.id, log });
    this.antiEntropy = new AntiEntropy({ store: this.store, view, peers: this.peers, log });
    this.rpc = createStorageRpc({ store: this.store, view, replicator: this.replicator, log });
    const app = new Hono();
    app.route("/", replicateRoutes({ store: this.store, view, log }));
    app.onError((err, c) => {
      if (err instanceof HearthError) {
        return c.json(err.toJSON(), err.status as 400);
      }
      return c.json({ error: "internal", message: "Internal error" }, 500);
    });
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
    this.net.upsert({
      id: this.id,
      x25519: toHex(this.identity.dh.publicKey),
      addr: `127.0.0.1:${this.#server!.addr.port}`,
      version: 1,
      ts: Date.now(),
      pow: toHex(this.identity.powNonce),
      sig: "00".repeat(64),
    });
  }

  /** Take the node down: its port refuses connections, its record stays listed. */
  async stop(): Promise<void> {
    if (!this.#server) return;
    this.rpc.close();
    await this.antiEntropy.stop();
    await this.#server.shutdown();
    this.#server = undefined;
    await this.replicator.close();
    this.peers.close();
    await this.store.close();
    await this.db.close();
  }

  async remove(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function withNet(
  count: number,
  fn: (nodes: TestNode[], net: Net) => Promise<void>,
  options: { swarmSize?: number } = {},
) {
  const net = new Net(options.swarmSize);
  const nodes: TestNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await TestNode.start(net));
    await fn(nodes, net);
  } finally {
    for (const node of nodes) await node.remove();
  }
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (s: string) => new TextEncoder().encode(s);

async function storeVia(node: TestNode, key: Uint8Array, data: Uint8Array) {
  const answer = await node.rpc.handle(
    encodeFrame({ method: "store", key: toHex(key), ns: 0, ttl: 3_600_000 }, data),
  );
  return decodeFrame(answer).header;
}

Deno.test("a store is acknowledged once W of the swarm hold it, and not with fewer", async () => {
  await withNet(5, async (nodes) => {
    const key = swarmKeyOf((await generateSigningKeyPair()).publicKey);
    const data = text("hello swarm");
    const hash = itemHash(key, 0, data);
    const answer = await storeVia(nodes[0]!, key, data);
    assertEquals(answer.ok, true);
    assertEquals(answer.hash, toHex(hash));
    // W = 3 of 5 had it when the store was answered; the rest follow.
    let holders = 0;
    for (const n of nodes) if (await n.store.has(hash)) holders++;
    assert(holders >= 3, `only ${holders} nodes hold the item`);
    await waitFor(async () =>
      (await Promise.all(nodes.map((n) => n.store.has(hash)))).every(Boolean)
    );

    await nodes[3]!.stop();
    await nodes[4]!.stop();
    const second = text("two members down");
    assertEquals((await storeVia(nodes[0]!, key, second)).ok, true);
    const live = nodes.slice(0, 3);
    for (const n of live) assert(await n.store.has(itemHash(key, 0, second)));

    await nodes[2]!.stop();
    const third = await storeVia(nodes[0]!, key, text("three members down"));
    assertEquals(third.error, "not_durable");
  });
});

Deno.test("a node that was down catches up through anti-entropy", async () => {
  await withNet(3, async (nodes, net) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const key = swarmKeyOf((await generateSigningKeyPair()).publicKey);
    const held = text("held before");
    assertEquals((await storeVia(a, key, held)).ok, true);
    await waitFor(() => c.store.has(itemHash(key, 0, held)));
    await c.stop();
    const many = Array.from({ length: 40 }, (_, i) => text(`missed ${i}`));
    for (const data of many) assertEquals((await storeVia(a, key, data)).ok, true);
    assert(await b.store.has(itemHash(key, 0, many[0]!)));
    assertEquals(c.running, false);
    await c.restart();
    assertEquals((await c.store.retrieve(key, 0)).items.length, 1);
    // It starts with items: its first round is a catch-up with every live node.
    c.antiEntropy.start({ intervalMs: 60_000, debounceMs: 10 });
    await waitFor(async () => (await c.store.usage(key, "inbox")).items === many.length + 1);
    const got = await c.store.retrieve(key, 0);
    assertEquals(got.items.length, many.length + 1);
    await waitFor(() => Promise.resolve(c.antiEntropy.stats.syncs === 2));
    // A second round finds nothing to do.
    const again = await c.antiEntropy.syncWith(net.records.find((r) => r.id === a.id)!);
    assertEquals(again, { fetched: 0, deleted: 0 });
  });
});

/** 40 keys, one item each, stored through the first member of each key's swarm. */
async function storeSpread(nodes: TestNode[], net: Net): Promise<Uint8Array[]> {
  const keys = await Promise.all(
    Array.from({ length: 40 }, async () => swarmKeyOf((await generateSigningKeyPair()).publicKey)),
  );
  for (const [i, key] of keys.entries()) {
    const first = net.view("").members(key)[0]!;
    const entry = nodes.find((n) => n.id === first.id)!;
    assertEquals((await storeVia(entry, key, text(`item ${i}`))).ok, true);
  }
  return keys;
}

/** Whether `node` holds the item of key `i` exactly when it is in the key's swarm. */
async function holdsOwnSwarms(node: TestNode, net: Net, keys: Uint8Array[]): Promise<number> {
  let mine = 0;
  for (const [i, key] of keys.entries()) {
    const member = net.view(node.id).members(key).some((m) => m.id === node.id);
    if (member) mine++;
    assertEquals(await node.store.has(itemHash(key, 0, text(`item ${i}`))), member);
  }
  return mine;
}

Deno.test("a node that joins pulls exactly the items of the swarms it is now in (catch-up)", async () => {
  await withNet(5, async (nodes, net) => {
    const keys = await storeSpread(nodes, net);
    const late = await TestNode.start(net);
    nodes.push(late);
    await late.antiEntropy.catchUp();
    const mine = await holdsOwnSwarms(late, net, keys);
    assert(mine > 0 && mine < keys.length, "the keys should spread over the nodes");
  }, { swarmSize: 2 });
});

Deno.test("a joining node is handed exactly its swarms' items, each by two members", async () => {
  await withNet(5, async (nodes, net) => {
    const keys = await storeSpread(nodes, net);
    // The members' last walk, before the join.
    for (const n of nodes) assertEquals(await n.antiEntropy.handOff(), 0);
    const late = await TestNode.start(net);
    let pushed = 0;
    for (const n of nodes) pushed += await n.antiEntropy.handOff();
    const mine = await holdsOwnSwarms(late, net, keys);
    assert(mine > 0 && mine < keys.length, "the keys should spread over the nodes");
    // One item per key, sent by the two best-ranked earlier members (both of a swarm of 2).
    assertEquals(pushed, HAND_OFF_SENDERS * mine);
    assertEquals(late.antiEntropy.stats.syncs, 0);
    // A second walk with no change sends nothing.
    for (const n of nodes) assertEquals(await n.antiEntropy.handOff(), 0);
    nodes.push(late);
  }, { swarmSize: 2 });
});

Deno.test("items stored since the last walk are handed to a node that joins", async () => {
  await withNet(5, async (nodes, net) => {
    // The last walk saw the network but none of the items.
    for (const n of nodes) assertEquals(await n.antiEntropy.handOff(), 0);
    const keys = await storeSpread(nodes, net);
    const late = await TestNode.start(net);
    nodes.push(late);
    let pushed = 0;
    for (const n of nodes.slice(0, 5)) pushed += await n.antiEntropy.handOff();
    const mine = await holdsOwnSwarms(late, net, keys);
    assert(mine > 0, "the new node belongs to some of the swarms");
    assertEquals(pushed, HAND_OFF_SENDERS * mine);
  }, { swarmSize: 2 });
});

Deno.test("a joiner gets its items when the best-ranked member is gone but still listed", async () => {
  await withNet(5, async (nodes, net) => {
    const keys = await storeSpread(nodes, net);
    for (const n of nodes) await n.antiEntropy.handOff();
    // Down, but its record has not aged out: still live in every view.
    const gone = nodes[0]!;
    await gone.stop();
    const late = await TestNode.start(net);
    for (const n of nodes.slice(1)) await n.antiEntropy.handOff();
    const mine = await holdsOwnSwarms(late, net, keys);
    assert(mine > 0, "the new node belongs to some of the swarms");
    nodes.push(late);
  }, { swarmSize: 3 });
});

Deno.test("when a node leaves, its swarms' new members are handed the items", async () => {
  await withNet(6, async (nodes, net) => {
    const keys = await storeSpread(nodes, net);
    for (const n of nodes) await n.antiEntropy.handOff();
    const gone = nodes[0]!;
    const held = keys.filter((k) => net.view("").members(k).some((m) => m.id === gone.id));
    assert(held.length > 0, "the leaving node should be in some swarms");
    await gone.stop();
    net.remove(gone.id);
    const rest = nodes.slice(1);
    for (const n of rest) await n.antiEntropy.handOff();
    for (const n of rest) await holdsOwnSwarms(n, net, keys);
  }, { swarmSize: 2 });
});

Deno.test("a hand-off to a node that is down is sent again when it is back", async () => {
  await withNet(4, async (nodes, net) => {
    const keys = await storeSpread(nodes, net);
    for (const n of nodes) await n.antiEntropy.handOff();
    const late = await TestNode.start(net);
    await late.stop(); // listed, but its port refuses
    let failures = 0;
    for (const n of nodes) {
      assertEquals(await n.antiEntropy.handOff(), 0);
      failures += n.antiEntropy.stats.pushFailures;
    }
    assert(failures > 0, "the sends should have failed");
    await late.restart(); // back, on a new port
    let pushed = 0;
    for (const n of nodes) pushed += await n.antiEntropy.handOff();
    const mine = await holdsOwnSwarms(late, net, keys);
    assertEquals(pushed, HAND_OFF_SENDERS * mine);
    nodes.push(late);
  }, { swarmSize: 2 });
});

Deno.test("a periodic round syncs with a few sampled peers, not every node", async () => {
  await withNet(7, async (nodes, net) => {
    await storeSpread(nodes, net);
    const [a] = nodes as [TestNode];
    await a.antiEntropy.runOnce();
    const syncs = a.antiEntropy.stats.syncs;
    assert(syncs >= 1 && syncs <= 4, `${syncs} syncs in one round`);
    assertEquals(a.antiEntropy.stats.syncFailures, 0);
  }, { swarmSize: 2 });
});

Deno.test("a delete missed while down is applied by anti-entropy and not undone", async () => {
  await withNet(3, async (nodes, net) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const data = text("to be deleted");
    const hash = itemHash(key, 0, data);
    assertEquals((await storeVia(a, key, data)).ok, true);
    await waitFor(async () => await c.store.has(hash));
    await c.stop();
    const ts = Date.now();
    const req = { method: "delete" as const, hashes: [hash] };
    const sig = await sign(
      owner,
      storageSigningBytes(key, 0, ts, req),
    );
    const answer = decodeFrame(
      await a.rpc.handle(encodeFrame({
        method: "delete",
        key: toHex(key),
        ns: 0,
        hashes: [toHex(hash)],
        pubkey: toHex(owner.publicKey),
        ts,
        sig: toHex(sig),
      })),
    ).header;
    assertEquals(answer, { ok: true, deleted: 1 });
    assertEquals(await b.store.has(hash), false);
    await c.restart();
    assertEquals(await c.store.has(hash), true);
    const recordOf = (n: TestNode) => net.records.find((r) => r.id === n.id)!;
    // B pulling from C must not bring the item back.
    await b.antiEntropy.syncWith(recordOf(c));
    assertEquals(await b.store.has(hash), false);
    const pulled = await c.antiEntropy.syncWith(recordOf(a));
    assertEquals(pulled.deleted, 1);
    assertEquals(await c.store.has(hash), false);
  });
});

Deno.test("a shortened expiry missed while down does not bring the item back", async () => {
  await withNet(3, async (nodes, net) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const data = text("disappearing");
    const hash = itemHash(key, 0, data);
    assertEquals((await storeVia(a, key, data)).ok, true);
    await waitFor(async () => await c.store.has(hash));
    await c.stop();
    const ts = Date.now();
    const expiry = ts + 2_000;
    const req = { method: "expire" as const, hashes: [hash], expiry };
    const sig = await sign(
      owner,
      storageSigningBytes(key, 0, ts, req),
    );
    const answer = decodeFrame(
      await a.rpc.handle(encodeFrame({
        method: "expire",
        key: toHex(key),
        ns: 0,
        hashes: [toHex(hash)],
        expiry,
        pubkey: toHex(owner.publicKey),
        ts,
        sig: toHex(sig),
      })),
    ).header;
    assertEquals(answer, { ok: true, updated: 1 });
    await waitFor(() => Promise.resolve(Date.now() > expiry));
    await a.store.purgeExpired(Date.now());
    await b.store.purgeExpired(Date.now());
    await c.restart();
    assertEquals(await c.store.has(hash), true);
    const recordOf = (n: TestNode) => net.records.find((r) => r.id === n.id)!;
    await b.antiEntropy.syncWith(recordOf(c));
    assertEquals(await b.store.has(hash), false);
    assertEquals((await c.antiEntropy.syncWith(recordOf(a))).deleted, 1);
    assertEquals(await c.store.has(hash), false);
  });
});

Deno.test("replication refuses unknown nodes and bad items", async () => {
  await withNet(2, async (nodes, net) => {
    const [a] = nodes as [TestNode];
    const addr = net.records.find((r) => r.id === a.id)!.addr;
    const key = swarmKeyOf((await generateSigningKeyPair()).publicKey);
    const item = (expiry: number) => {
      const data = text("replicated");
      return { key, ns: 0, expiry, data, hash: itemHash(key, 0, data) };
    };
    const body = encodeItemBatch([item(Date.now() + 60_000)]);
    const stranger = new PeerClient(await testIdentity());
    const known = new PeerClient(nodes[1]!.identity);
    try {
      const refused = await stranger.request(addr, "/v1/replicate/store", {
        body,
        signedFor: a.id,
      });
      assertEquals(refused.status, 403);
      assertEquals(JSON.parse(new TextDecoder().decode(refused.body)).error, "unknown_node");
      const unsigned = await known.request(addr, "/v1/replicate/store", { body });
      assertEquals(unsigned.status, 403);
      const expired = encodeItemBatch([item(Date.now() - 1)]);
      const late = await known.request(addr, "/v1/replicate/store", {
        body: expired,
        signedFor: a.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(late.body)).error, "bad_ttl");
      const far = encodeItemBatch([item(Date.now() + 31 * 86_400_000)]);
      const tooFar = await known.request(addr, "/v1/replicate/store", {
        body: far,
        signedFor: a.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(tooFar.body)).error, "bad_ttl");
      // A content-addressed item (ns % 10 == 7) only under the hash of its data.
      const chunk = text("chunk");
      const misfiled = { ...item(Date.now() + 60_000), ns: 7, hash: itemHash(key, 7, chunk) };
      const wrongKey = await known.request(addr, "/v1/replicate/store", {
        body: encodeItemBatch([{ ...misfiled, data: chunk }]),
        signedFor: a.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(wrongKey.body)).error, "bad_request");
      assertEquals(await a.store.has(misfiled.hash), false);
      const ck = chunkKey(chunk);
      const filed = { key: ck, ns: 7, expiry: Date.now() + 60_000, data: chunk };
      const rightKey = await known.request(addr, "/v1/replicate/store", {
        body: encodeItemBatch([{ ...filed, hash: itemHash(ck, 7, chunk) }]),
        signedFor: a.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(rightKey.body)), { ok: true, stored: 1 });
      const truncated = body.subarray(0, body.length - 1);
      const short = await known.request(addr, "/v1/replicate/store", {
        body: truncated,
        signedFor: a.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(short.body)).error, "bad_request");
      const huge = await known.request(addr, "/v1/replicate/store", {
        body: new Uint8Array(1_048_577),
        signedFor: a.id,
      });
      assertEquals(huge.status, 413);
      assertEquals(await a.store.has(item(0).hash), false);
      // A request signed for another node cannot be replayed here.
      const elsewhere = await known.request(addr, "/v1/replicate/store", {
        body,
        signedFor: nodes[1]!.id,
      });
      assertEquals(JSON.parse(new TextDecoder().decode(elsewhere.body)).error, "bad_signature");
      const ok = await known.request(addr, "/v1/replicate/store", { body, signedFor: a.id });
      assertEquals(JSON.parse(new TextDecoder().decode(ok.body)), { ok: true, stored: 1 });
      assert(await a.store.has(item(0).hash));
      const digest = await stranger.request(addr, "/v1/sync/digest", {
        body: text("{}"),
        signedFor: a.id,
      });
      assertEquals(digest.status, 403);
    } finally {
      stranger.close();
      known.close();
    }
  });
});

/** Post a JSON body to a node's peer route, signed by `from`; returns status and parsed body. */
async function peerPost(
  from: PeerClient,
  to: { id: string; addr: string },
  path: string,
  payload: unknown,
) {
  const res = await from.request(to.addr, path, {
    body: text(JSON.stringify(payload)),
    contentType: "application/json",
    signedFor: to.id,
  });
  return { status: res.status, body: JSON.parse(new TextDecoder().decode(res.body)) };
}

Deno.test("a replicated delete or expiry change needs the owner's signature", async () => {
  await withNet(2, async (nodes, net) => {
    const [a, b] = nodes as [TestNode, TestNode];
    const addr = net.records.find((r) => r.id === a.id)!.addr;
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const data = text("only the owner may delete this");
    const hash = itemHash(key, 1, data);
    await a.store.put([{ key, ns: 1, data, hash, expiry: Date.now() + 3_600_000 }]);
    const known = new PeerClient(b.identity);
    try {
      const change = { key: toHex(key), ns: 1, hashes: [toHex(hash)] };
      const signedBy = async (
        signer: typeof owner,
        ts: number,
        req: Parameters<typeof storageSigningBytes>[3],
      ) => ({
        pubkey: toHex(signer.publicKey),
        ts,
        sig: toHex(await sign(signer, storageSigningBytes(key, 1, ts, req))),
      });
      const del = { method: "delete" as const, hashes: [hash] };
      // A known node alone cannot delete an owner's items.
      const bare = await peerPost(known, { id: a.id, addr }, "/v1/replicate/delete", change);
      assertEquals(bare.body.error, "bad_request");
      const stranger = await generateSigningKeyPair();
      const forged = await peerPost(known, { id: a.id, addr }, "/v1/replicate/delete", {
        ...change,
        ...(await signedBy(stranger, Date.now(), del)),
      });
      assertEquals(forged.body.error, "bad_signature");
      const old = await peerPost(known, { id: a.id, addr }, "/v1/replicate/delete", {
        ...change,
        ...(await signedBy(owner, Date.now() - 600_000, del)),
      });
      assertEquals(old.body.error, "bad_timestamp");
      const expiry = Date.now() + 60_000;
      const shorten = await peerPost(known, { id: a.id, addr }, "/v1/replicate/expire", {
        ...change,
        expiry,
      });
      assertEquals(shorten.body.error, "bad_request");
      const otherOperands = await peerPost(known, { id: a.id, addr }, "/v1/replicate/expire", {
        ...change,
        expiry,
        ...(await signedBy(owner, Date.now(), {
          method: "expire",
          hashes: [hash],
          expiry: expiry + 1,
        })),
      });
      assertEquals(otherOperands.body.error, "bad_signature");
      const held = await a.store.retrieve(key, 1);
      assertEquals(held.items.map((i) => toHex(i.hash)), [toHex(hash)]);
      assert(held.items[0]!.expiry > expiry);
      // What the owner signed goes through.
      const ok = await peerPost(known, { id: a.id, addr }, "/v1/replicate/delete", {
        ...change,
        ...(await signedBy(owner, Date.now(), del)),
      });
      assertEquals(ok.body, { ok: true, deleted: 1 });
      assertEquals(await a.store.has(hash), false);
    } finally {
      known.close();
    }
  });
});

Deno.test("a peer's tombstones delete only items of swarms it shares with this node", async () => {
  await withNet(3, async (nodes, net) => {
    const [a] = nodes as [TestNode];
    const evilIdentity = await testIdentity();
    let tombstones: string[] = [];
    // A node in the directory that lists tombstones of hashes it has heard of.
    const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      await req.arrayBuffer();
      const path = new URL(req.url).pathname;
      if (path === "/v1/sync/digest") {
        return Response.json({ buckets: [{ prefix: "00", count: 1, digest: "00".repeat(32) }] });
      }
      if (path === "/v1/sync/hashes") {
        return Response.json({ hashes: [], deleted: tombstones, more: false });
      }
      return Response.json({ error: "not_found", message: "No such route" }, { status: 404 });
    });
    try {
      const evilRecord: NodeRecord = {
        id: evilIdentity.id,
        x25519: toHex(evilIdentity.dh.publicKey),
        addr: `127.0.0.1:${evil.addr.port}`,
        version: 1,
        ts: Date.now(),
        pow: toHex(evilIdentity.powNonce),
        sig: "00".repeat(64),
      };
      net.upsert(evilRecord);
      const view = net.view(a.id);
      const item = async (withEvil: boolean) => {
        while (true) {
          const key = swarmKeyOf((await generateSigningKeyPair()).publicKey);
          const ids = view.members(key).map((m) => m.id);
          if (!ids.includes(a.id) || ids.includes(evilRecord.id) !== withEvil) continue;
          const data = text(`item shared with the peer: ${withEvil}`);
          const it = {
            key,
            ns: 0,
            data,
            hash: itemHash(key, 0, data),
            expiry: Date.now() + 60_000,
          };
          await a.store.put([it]);
          return it.hash;
        }
      };
      const outside = await item(false);
      const shared = await item(true);
      tombstones = [toHex(outside), toHex(shared)];
      const result = await a.antiEntropy.syncWith(evilRecord);
      assertEquals(result.deleted, 1);
      assert(await a.store.has(outside), "an item of a swarm the peer is not in was deleted");
      assertEquals(await a.store.has(shared), false);
    } finally {
      await evil.shutdown();
    }
  }, { swarmSize: 2 });
});
