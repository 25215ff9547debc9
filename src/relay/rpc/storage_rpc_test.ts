import { testIdentity } from "../../../tests/test_identity.ts";
import { assert, assertEquals } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, toHex, u32 } from "../../shared/crypto/bytes.ts";
import { generateSigningKeyPair, sign, type SigningKeyPair } from "../../shared/crypto/sign.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { silentLogger } from "../../shared/log.ts";
import type { NodeIdentity, NodeRecord } from "../directory/record_types.ts";
import { PeerClient } from "../peer_client.ts";
import { Replicator } from "../replicate/replicator.ts";
import { itemHash } from "../store/item.ts";
import { MessageStore } from "../store/message_store.ts";
import { type RelayDb, relayMigrations } from "../store/schema.ts";
import { swarmKeyOf } from "../swarm/swarm_map.ts";
import { swarmViewOf } from "../swarm/swarm_view.ts";
import { type Signable, specSigningBytes } from "./_spec_signing.ts";
import { createStorageRpc, type StorageQuota, type StorageRpc } from "./storage_rpc.ts";

const T0 = 1_764_000_000_000;

function recordOf(id: NodeIdentity, addr: string): NodeRecord {
  return {
    id: id.id,
    x25519: toHex(id.dh.publicKey),
    addr,
    version: 1,
    ts: T0,
    pow: toHex(id.powNonce),
    sig: "00".repeat(64),
  };
}

interface Env {
  rpc: StorageRpc;
  store: MessageStore;
  clock: { now: number };
  call(header: Record<string, unknown>, blob?: Uint8Array): Promise<Record<string, unknown>>;
  callRaw(frame: Uint8Array): Promise<{ header: Record<string, unknown>; blob: Uint8Array }>;
}

/** One node whose view is `nodes` (self included unless `outside`). */
async function withRpc(
  fn: (env: Env) => Promise<void>,
  options: { outside?: boolean; deadPeer?: boolean; quota?: StorageQuota } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = { now: T0 };
  const db = await openDatabase<RelayDb>(`${dir}/relay.db`, relayMigrations);
  const store = new MessageStore(db.db, { clock: () => clock.now });
  const self = await testIdentity();
  const other = await testIdentity();
  let deadAddr = "127.0.0.1:9";
  if (options.deadPeer) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    deadAddr = `127.0.0.1:${(l.addr as Deno.NetAddr).port}`;
    l.close();
  }
  const nodes = options.outside
    ? [recordOf(other, deadAddr)]
    : options.deadPeer
    ? [recordOf(self, "127.0.0.1:1"), recordOf(other, deadAddr)]
    : [recordOf(self, "127.0.0.1:1")];
  const view = swarmViewOf(self.id, () => nodes);
  const peers = new PeerClient(self, { clock: () => clock.now });
  const replicator = new Replicator({ peers, selfId: self.id, log: silentLogger });
  const rpc = createStorageRpc({
    store,
    view,
    replicator,
    clock: () => clock.now,
    log: silentLogger,
    quota: options.quota,
  });
  const callRaw = async (frame: Uint8Array) => decodeFrame(await rpc.handle(frame));
  try {
    await fn({
      rpc,
      store,
      clock,
      callRaw,
      call: async (header, blob) => (await callRaw(encodeFrame(header, blob))).header,
    });
  } finally {
    rpc.close();
    await replicator.close();
    peers.close();
    await store.close();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

interface Account {
  keys: SigningKeyPair;
  key: Uint8Array;
}

async function account(): Promise<Account> {
  const keys = await generateSigningKeyPair();
  return { keys, key: swarmKeyOf(keys.publicKey) };
}

/** The `pubkey, ts, sig` fields of an owner-signed request. */
async function ownerFields(
  who: Account,
  req: Signable & { ns: number },
  options: { ts: number; signer?: SigningKeyPair; key?: Uint8Array },
): Promise<Record<string, unknown>> {
  const signer = options.signer ?? who.keys;
  const bytes = specSigningBytes(req, options.key ?? who.key, req.ns, options.ts);
  return {
    pubkey: toHex(signer.publicKey),
    ts: options.ts,
    sig: toHex(await sign(signer, bytes)),
  };
}

async function retrieveHeader(
  who: Account,
  ns: number,
  ts: number,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return {
    method: "retrieve",
    key: toHex(who.key),
    ns,
    ...(await ownerFields(who, { method: "retrieve", ns }, { ts })),
    ...extra,
  };
}

const text = (s: string) => new TextEncoder().encode(s);

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("store to an inbox is open and idempotent; retrieve reads it back", async () => {
  await withRpc(async ({ call, callRaw, clock }) => {
    const alice = await account();
    const data = text("sealed message");
    const req = { method: "store", key: toHex(alice.key), ns: 0, ttl: 60_000 };
    const first = await call(req, data);
    assertEquals(first, {
      ok: true,
      hash: toHex(itemHash(alice.key, 0, data)),
      expiry: T0 + 60_000,
      already: false,
    });
    clock.now += 5;
    assertEquals((await call(req, data)).already, true);
    await call(req, text("second"));
    const got = await callRaw(encodeFrame(await retrieveHeader(alice, 0, clock.now)));
    assertEquals(got.header.ok, true);
    assertEquals(got.header.more, false);
    const items = got.header.items as { hash: string; size: number }[];
    assertEquals(items.map((i) => i.size), [14, 6]);
    assertEquals(got.blob, concatBytes(data, text("second")));
    const after = await callRaw(
      encodeFrame(await retrieveHeader(alice, 0, clock.now, { after: items[0]!.hash })),
    );
    assertEquals(after.blob, text("second"));
    const small = await call(await retrieveHeader(alice, 0, clock.now, { maxBytes: 14 }));
    assertEquals((small.items as unknown[]).length, 1);
    assertEquals(small.more, true);
  });
});

Deno.test("owner-only namespaces take signed stores only", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const mallory = await account();
    const data = text("config");
    const base = { method: "store", key: toHex(alice.key), ns: 3, ttl: 60_000 };
    const store = { method: "store" as const, data, ns: 3 };
    assertEquals((await call(base, data)).error, "bad_namespace");
    const good = await ownerFields(alice, store, { ts: clock.now });
    assertEquals((await call({ ...base, ...good }, data)).ok, true);
    const wrongOwner = await ownerFields(alice, store, { ts: clock.now, signer: mallory.keys });
    assertEquals((await call({ ...base, ...wrongOwner }, data)).error, "bad_signature");
    const badSig = { ...good, sig: toHex(randomBytes(64)) };
    assertEquals((await call({ ...base, ...badSig }, data)).error, "bad_signature");
    const otherData = await call({ ...base, ...good }, text("not what was signed"));
    assertEquals(otherData.error, "bad_signature");
    const stale = await ownerFields(alice, store, { ts: clock.now - 61_000 });
    assertEquals((await call({ ...base, ...stale }, data)).error, "bad_timestamp");
    const future = await ownerFields(alice, store, { ts: clock.now + 61_000 });
    assertEquals((await call({ ...base, ...future }, data)).error, "bad_timestamp");
    const retrieveAsMallory = {
      method: "retrieve",
      key: toHex(alice.key),
      ns: 3,
      ...(await ownerFields(alice, { method: "retrieve", ns: 3 }, {
        ts: clock.now,
        signer: mallory.keys,
      })),
    };
    assertEquals((await call(retrieveAsMallory)).error, "bad_signature");
    // A negative namespace is signed as two's complement.
    const negative = { method: "store" as const, data, ns: -3 };
    const negFields = await ownerFields(alice, negative, { ts: clock.now });
    assertEquals((await call({ ...base, ns: -3, ...negFields }, data)).ok, true);
  });
});

Deno.test("public-read namespaces: signed stores, unsigned retrieves without a wait", async () => {
  await withRpc(async ({ call, callRaw, clock }) => {
    const alice = await account();
    const mallory = await account();
    const key = toHex(alice.key);
    const data = text("prekey bundle");
    for (const ns of [5, 15, -5, 32_765]) {
      const base = { method: "store", key, ns, ttl: 30 * 86_400_000 };
      // Stores stay the owner's: unsigned or signed by someone else is refused.
      assertEquals((await call(base, data)).error, "bad_namespace");
      const store = { method: "store" as const, data, ns };
      const forged = await ownerFields(alice, store, { ts: clock.now, signer: mallory.keys });
      assertEquals((await call({ ...base, ...forged }, data)).error, "bad_signature");
      const good = await ownerFields(alice, store, { ts: clock.now });
      assertEquals((await call({ ...base, ttl: 31 * 86_400_000, ...good }, data)).error, "bad_ttl");
      assertEquals((await call({ ...base, ...good }, data)).ok, true);
      // Anyone reads it back with no signature at all.
      const got = await callRaw(encodeFrame({ method: "retrieve", key, ns }));
      assertEquals(got.header.ok, true);
      assertEquals(got.blob, data);
      const zeroWait = await call({ method: "retrieve", key, ns, wait: 0, maxBytes: 100 });
      assertEquals((zeroWait.items as unknown[]).length, 1);
      // But an unsigned reader cannot hold the node's request open.
      assertEquals((await call({ method: "retrieve", key, ns, wait: 1 })).error, "bad_request");
    }
    // Signature fields, when present, are checked in full even here.
    const signed = await retrieveHeader(alice, 5, clock.now);
    assertEquals(((await call({ ...signed, wait: 50 })).items as unknown[]).length, 1);
    assertEquals((await call({ ...signed, sig: toHex(randomBytes(64)) })).error, "bad_signature");
    const { sig: _sig, ...partial } = signed;
    assertEquals((await call(partial)).error, "bad_request");
    assertEquals(
      (await call({ method: "retrieve", key, ns: 5, ts: clock.now })).error,
      "bad_request",
    );
    const asMallory = await ownerFields(alice, { method: "retrieve", ns: 5 }, {
      ts: clock.now,
      signer: mallory.keys,
    });
    const mallorySigned = { method: "retrieve", key, ns: 5, ...asMallory };
    assertEquals((await call(mallorySigned)).error, "bad_signature");
    // Unsigned retrieves anywhere else are refused: inboxes and owner-only namespaces.
    for (const ns of [0, 10, 1, 3, 4, 6, -4, -6, 25_000]) {
      assertEquals((await call({ method: "retrieve", key, ns })).error, "bad_request");
    }
    // Delete and expire stay signed.
    const hash = itemHash(alice.key, 5, data);
    const hashes = [toHex(hash)];
    assertEquals((await call({ method: "delete", key, ns: 5, hashes })).error, "bad_request");
    const expiry = clock.now + 60_000;
    const unsignedExpire = { method: "expire", key, ns: 5, hashes, expiry };
    assertEquals((await call(unsignedExpire)).error, "bad_request");
    const del = { method: "delete" as const, ns: 5, hashes: [hash] };
    const delByMallory = await ownerFields(alice, del, { ts: clock.now, signer: mallory.keys });
    const refused = await call({ method: "delete", key, ns: 5, hashes, ...delByMallory });
    assertEquals(refused.error, "bad_signature");
    const delFields = await ownerFields(alice, del, { ts: clock.now });
    const deleted = await call({ method: "delete", key, ns: 5, hashes, ...delFields });
    assertEquals(deleted, { ok: true, deleted: 1 });
    assertEquals(await call({ method: "retrieve", key, ns: 5 }), {
      ok: true,
      items: [],
      more: false,
    });
  });
});

Deno.test("an unsigned public-read retrieve outside the swarm is redirected", async () => {
  await withRpc(async ({ call }) => {
    const alice = await account();
    const answer = await call({ method: "retrieve", key: toHex(alice.key), ns: 5 });
    assertEquals(answer.error, "wrong_swarm");
    assertEquals((answer.swarm as unknown[]).length, 1);
  }, { outside: true });
});

Deno.test("delete and expire are signed and act on the named items", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const key = toHex(alice.key);
    const a = await call({ method: "store", key, ns: 10, ttl: 60_000 }, text("a"));
    const b = await call({ method: "store", key, ns: 10, ttl: 60_000 }, text("b"));
    const hashA = itemHash(alice.key, 10, text("a"));
    const hashB = itemHash(alice.key, 10, text("b"));
    assertEquals([a.hash, b.hash], [toHex(hashA), toHex(hashB)]);
    const del = { method: "delete" as const, ns: 10, hashes: [hashA] };
    const delFields = await ownerFields(alice, del, { ts: clock.now });
    const deleted = await call({ method: "delete", key, ns: 10, hashes: [a.hash], ...delFields });
    assertEquals(deleted, { ok: true, deleted: 1 });
    const tampered = await call({ method: "delete", key, ns: 10, hashes: [b.hash], ...delFields });
    assertEquals(tampered.error, "bad_signature");
    const expiry = clock.now + 20_000;
    const exp = { method: "expire" as const, ns: 10, hashes: [hashB], expiry };
    const expFields = await ownerFields(alice, exp, { ts: clock.now });
    const updated = await call({
      method: "expire",
      key,
      ns: 10,
      hashes: [b.hash],
      expiry,
      ...expFields,
    });
    assertEquals(updated, { ok: true, updated: 1 });
    const past = { ...exp, expiry: clock.now - 1 };
    const pastFields = await ownerFields(alice, past, { ts: clock.now });
    const badTtl = await call({
      method: "expire",
      key,
      ns: 10,
      hashes: [b.hash],
      expiry: past.expiry,
      ...pastFields,
    });
    assertEquals(badTtl.error, "bad_ttl");
    clock.now = expiry;
    const left = await call(await retrieveHeader(alice, 10, clock.now));
    assertEquals(left.items, []);
  });
});

Deno.test("a node outside the swarm redirects with the members", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const key = toHex(alice.key);
    const store = await call({ method: "store", key, ns: 0, ttl: 60_000 }, text("x"));
    assertEquals(store.error, "wrong_swarm");
    const swarm = store.swarm as NodeRecord[];
    assertEquals(swarm.length, 1);
    assertEquals((await call(await retrieveHeader(alice, 0, clock.now))).error, "wrong_swarm");
    const answer = await call({ method: "swarm", key });
    assertEquals(answer, { ok: true, swarm });
  }, { outside: true });
});

Deno.test("an expiry out of range is bad_ttl before the swarm and the signature", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const mallory = await account();
    const hashes = [toHex(randomBytes(32))];
    for (const expiry of [clock.now - 1, clock.now + 31 * 86_400_000]) {
      // Signed by someone else, sent to a node outside the swarm: the field comes first.
      const fields = await ownerFields(alice, {
        method: "expire",
        ns: 1,
        hashes: [randomBytes(32)],
        expiry,
      }, { ts: clock.now, signer: mallory.keys });
      const header = { method: "expire", key: toHex(alice.key), ns: 1, hashes, expiry };
      assertEquals((await call({ ...header, ...fields })).error, "bad_ttl");
    }
  }, { outside: true });
});

Deno.test("a store that fewer than W members hold is not durable", async () => {
  await withRpc(async ({ call }) => {
    const alice = await account();
    const res = await call(
      { method: "store", key: toHex(alice.key), ns: 0, ttl: 60_000 },
      text("x"),
    );
    assertEquals(res.error, "not_durable");
  }, { deadPeer: true });
});

Deno.test("the quota counts items and bytes per key and namespace class", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const key = toHex(alice.key);
    const put = (ns: number, data: Uint8Array) =>
      call({ method: "store", key, ns, ttl: 60_000 }, data);
    assertEquals((await put(0, text("one"))).ok, true);
    assertEquals((await put(10, text("two"))).ok, true);
    assertEquals((await put(20, text("three"))).error, "quota_exceeded");
    assertEquals((await put(0, text("one"))).already, true);
    const store = { method: "store" as const, ns: 1, data: new Uint8Array(200) };
    const signed = await ownerFields(alice, store, { ts: clock.now });
    const big = await call({ method: "store", key, ns: 1, ttl: 60_000, ...signed }, store.data);
    assertEquals(big.error, "quota_exceeded");
    const bob = await account();
    const other = await call(
      { method: "store", key: toHex(bob.key), ns: 0, ttl: 60_000 },
      text("x"),
    );
    assertEquals(other.ok, true);
  }, { quota: { maxItems: 2, maxBytes: 100 } });
});

Deno.test("bad input gets a stable error code, never a throw", async () => {
  await withRpc(async ({ call, callRaw, rpc, clock }) => {
    const alice = await account();
    const key = toHex(alice.key);
    const code = async (header: Record<string, unknown>, blob?: Uint8Array) =>
      (await call(header, blob)).error;
    const rawCode = async (frame: Uint8Array) => (await callRaw(frame)).header.error;
    assertEquals(await rawCode(new Uint8Array([0, 0])), "bad_request");
    assertEquals(await rawCode(concatBytes(u32(100), text("{}"))), "bad_request");
    assertEquals(await rawCode(concatBytes(u32(2), text("[]"))), "bad_request");
    assertEquals(await rawCode(concatBytes(u32(20_000), new Uint8Array(20_000))), "too_large");
    assertEquals(await code({ key }), "bad_request");
    assertEquals(await code({ method: "steal", key }), "unknown_method");
    assertEquals(await code({ method: "store", key: "zz", ns: 0, ttl: 60_000 }), "bad_encoding");
    assertEquals(await code({ method: "store", key: "ab", ns: 0, ttl: 60_000 }), "bad_encoding");
    assertEquals(await code({ method: "store", key, ns: 40_000, ttl: 60_000 }), "bad_namespace");
    assertEquals(await code({ method: "store", key, ns: 1.5, ttl: 60_000 }), "bad_request");
    assertEquals(await code({ method: "store", key, ns: "0", ttl: 60_000 }), "bad_request");
    assertEquals(await code({ method: "store", key, ns: 0, ttl: 5_000 }), "bad_ttl");
    assertEquals(await code({ method: "store", key, ns: 0, ttl: 15 * 86_400_000 }), "bad_ttl");
    assertEquals(await code({ method: "store", key, ns: 0 }), "bad_request");
    assertEquals(
      await code({ method: "store", key, ns: 0, ttl: 60_000 }, new Uint8Array(76_801)),
      "too_large",
    );
    const retrieve = await retrieveHeader(alice, 0, clock.now);
    assertEquals(await code({ ...retrieve, wait: 25_001 }), "bad_request");
    assertEquals(await code({ ...retrieve, maxBytes: 90_001 }), "bad_request");
    assertEquals(await code({ ...retrieve, after: "00" }), "bad_encoding");
    assertEquals(await code(retrieve, text("data")), "bad_request");
    assertEquals(await code({ ...retrieve, sig: "00" }), "bad_encoding");
    assertEquals(await code({ ...retrieve, ts: -1 }), "bad_request");
    const { sig: _sig, ...unsigned } = retrieve;
    assertEquals(await code(unsigned), "bad_request");
    const hashes = Array.from({ length: 101 }, () => toHex(randomBytes(32)));
    assertEquals(await code({ ...retrieve, method: "delete", hashes }), "too_large");
    assertEquals(await code({ ...retrieve, method: "delete", hashes: [] }), "bad_request");
    assertEquals(await code({ ...retrieve, method: "delete", hashes: [1] }), "bad_request");
    assertEquals(
      await code({ ...retrieve, method: "expire", hashes: [toHex(randomBytes(32))] }),
      "bad_request",
    );
    rpc.close();
    assertEquals(await code({ method: "swarm", key }), "unavailable");
  });
});

Deno.test("a long-poll retrieve wakes on store, and times out with nothing", async () => {
  await withRpc(async ({ call, clock }) => {
    const alice = await account();
    const key = toHex(alice.key);
    const empty = await call(await retrieveHeader(alice, 0, clock.now, { wait: 50 }));
    assertEquals(empty, { ok: true, items: [], more: false });
    const waiting = call(await retrieveHeader(alice, 0, clock.now, { wait: 25_000 }));
    await call({ method: "store", key, ns: 10, ttl: 60_000 }, text("other namespace"));
    await call({ method: "store", key, ns: 0, ttl: 60_000 }, text("wake up"));
    const woke = await waiting;
    assertEquals((woke.items as unknown[]).length, 1);
  });
});

Deno.test("close ends pending long-polls at once", async () => {
  await withRpc(async ({ call, rpc, store, clock }) => {
    const alice = await account();
    const waiting = call(await retrieveHeader(alice, 0, clock.now, { wait: 25_000 }));
    await waitFor(() => store.notifier.size === 1);
    const started = Date.now();
    rpc.close();
    assertEquals(await waiting, { ok: true, items: [], more: false });
    assertEquals(store.notifier.size, 0);
    // Far below the 25 s wait: close ended it, the timer did not.
    assert(Date.now() - started < 20_000, "close did not end the wait");
  });
});
