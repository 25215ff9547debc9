/**
 * The storage RPC's group and content classes (PROTOCOL §5) with real
 * Ed25519 keys and a real relay database: member-signed requests with an
 * access token, the revocation list the relay reads, and content-addressed
 * chunks. Signed bytes are written out from the spec, not taken from the
 * code under test.
 */
import { testIdentity } from "../../../tests/test_identity.ts";
import { assertEquals } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { labeledHash } from "../../shared/crypto/hash.ts";
import { generateSigningKeyPair, sign, type SigningKeyPair } from "../../shared/crypto/sign.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { silentLogger } from "../../shared/log.ts";
import { PeerClient } from "../peer_client.ts";
import { Replicator } from "../replicate/replicator.ts";
import { itemHash } from "../store/item.ts";
import { MessageStore } from "../store/message_store.ts";
import { type RelayDb, relayMigrations } from "../store/schema.ts";
import { swarmKeyOf } from "../swarm/swarm_map.ts";
import { swarmViewOf } from "../swarm/swarm_view.ts";
import { type Signable, specSigningBytes } from "./_spec_signing.ts";
import { createStorageRpc, type StorageQuota } from "./storage_rpc.ts";

const T0 = 1_764_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Call = (
  header: Record<string, unknown>,
  blob?: Uint8Array,
) => Promise<{ header: Record<string, unknown>; blob: Uint8Array }>;

/** A single node that is the whole network, so it is in every swarm. */
async function withRpc(
  fn: (call: Call, clock: { now: number }) => Promise<void>,
  options: { quota?: StorageQuota } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = { now: T0 };
  const db = await openDatabase<RelayDb>(`${dir}/relay.db`, relayMigrations);
  const store = new MessageStore(db.db, { clock: () => clock.now });
  const self = await testIdentity();
  const record = {
    id: self.id,
    x25519: toHex(self.dh.publicKey),
    addr: "127.0.0.1:1",
    version: 1,
    ts: T0,
    pow: toHex(self.powNonce),
    sig: "00".repeat(64),
  };
  const view = swarmViewOf(self.id, () => [record]);
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
  try {
    await fn(
      async (header, blob) => decodeFrame(await rpc.handle(encodeFrame(header, blob))),
      clock,
    );
  } finally {
    rpc.close();
    await replicator.close();
    peers.close();
    await store.close();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

interface Group {
  keys: SigningKeyPair;
  key: Uint8Array;
}

interface Member {
  keys: SigningKeyPair;
  token: Uint8Array;
}

async function group(): Promise<Group> {
  const keys = await generateSigningKeyPair();
  return { keys, key: swarmKeyOf(keys.publicKey) };
}

/** A member of `g`: an access key and the group's token, H("hearth/group-access/v1", K, member). */
async function member(g: Group, tokenBy: SigningKeyPair = g.keys): Promise<Member> {
  const keys = await generateSigningKeyPair();
  const granted = labeledHash("hearth/group-access/v1", g.key, keys.publicKey);
  return { keys, token: await sign(tokenBy, granted) };
}

/** The fields of a member-signed request. */
async function memberFields(
  g: Group,
  m: Member,
  req: Signable,
  ns: number,
  ts: number,
  signer: SigningKeyPair = m.keys,
): Promise<Record<string, unknown>> {
  return {
    pubkey: toHex(g.keys.publicKey),
    member: toHex(m.keys.publicKey),
    token: toHex(m.token),
    ts,
    sig: toHex(await sign(signer, specSigningBytes(req, g.key, ns, ts))),
  };
}

/** The fields of an owner-signed (group key) request. */
async function ownerFields(
  g: Group,
  req: Signable,
  ns: number,
  ts: number,
): Promise<Record<string, unknown>> {
  const sig = await sign(g.keys, specSigningBytes(req, g.key, ns, ts));
  return { pubkey: toHex(g.keys.publicKey), ts, sig: toHex(sig) };
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("a member with a valid token stores and retrieves in member-write, reads member-read", async () => {
  await withRpc(async (call, clock) => {
    const g = await group();
    const alice = await member(g);
    const key = toHex(g.key);
    const data = text("group message");
    const store = { method: "store" as const, data };
    const stored = await call(
      {
        method: "store",
        key,
        ns: 11,
        ttl: HOUR,
        ...(await memberFields(g, alice, store, 11, clock.now)),
      },
      data,
    );
    assertEquals(stored.header, {
      ok: true,
      hash: toHex(itemHash(g.key, 11, data)),
      expiry: T0 + HOUR,
      already: false,
    });
    // The owner stores there too, and the group state in member-read.
    const byOwner = text("from the admin");
    const ownerStore = await ownerFields(g, { method: "store", data: byOwner }, 11, clock.now);
    assertEquals(
      (await call({ method: "store", key, ns: 11, ttl: HOUR, ...ownerStore }, byOwner)).header.ok,
      true,
    );
    const state = text("signed group state");
    const stateFields = await ownerFields(g, { method: "store", data: state }, 13, clock.now);
    assertEquals(
      (await call({ method: "store", key, ns: 13, ttl: 30 * DAY, ...stateFields }, state)).header
        .ok,
      true,
    );
    const retrieve = { method: "retrieve" as const };
    const got = await call({
      method: "retrieve",
      key,
      ns: 11,
      ...(await memberFields(g, alice, retrieve, 11, clock.now)),
    });
    assertEquals(got.header.ok, true);
    assertEquals(got.blob, concatBytes(data, byOwner));
    const read = await call({
      method: "retrieve",
      key,
      ns: 13,
      wait: 10,
      ...(await memberFields(g, alice, retrieve, 13, clock.now)),
    });
    assertEquals(read.blob, state);
    // The owner reads both as before.
    const asOwner = await call({
      method: "retrieve",
      key,
      ns: 11,
      ...(await ownerFields(g, retrieve, 11, clock.now)),
    });
    assertEquals(asOwner.blob, concatBytes(data, byOwner));
    // Member-write takes the inbox TTL bounds, member-read the owner-only ones.
    const long = await memberFields(g, alice, store, 11, clock.now);
    assertEquals(
      (await call({ method: "store", key, ns: 11, ttl: 15 * DAY, ...long }, data)).header.error,
      "bad_ttl",
    );
  });
});

Deno.test("forged tokens, other groups' tokens, wrong signatures and owner-only methods are refused", async () => {
  await withRpc(async (call, clock) => {
    const g = await group();
    const other = await group();
    const alice = await member(g);
    const key = toHex(g.key);
    const data = text("x");
    const store = { method: "store" as const, data };
    const base = { method: "store", key, ns: 11, ttl: HOUR };
    const code = async (header: Record<string, unknown>, blob?: Uint8Array) =>
      (await call(header, blob)).header.error;
    const good = await memberFields(g, alice, store, 11, clock.now);
    assertEquals(
      await code({ ...base, ...good, token: toHex(randomBytes(64)) }, data),
      "bad_signature",
    );
    // A token the other group's key signed for this group's swarm key.
    const foreign = await member(g, other.keys);
    assertEquals(
      await code({ ...base, ...(await memberFields(g, foreign, store, 11, clock.now)) }, data),
      "bad_signature",
    );
    // The other group's own token and key, sent to this group's swarm key.
    const otherMember = await member(other);
    const otherFields = await memberFields(other, otherMember, store, 11, clock.now);
    assertEquals(await code({ ...base, ...otherFields }, data), "bad_signature");
    // Signed by some other key than the member's.
    const mallory = await generateSigningKeyPair();
    assertEquals(
      await code(
        { ...base, ...(await memberFields(g, alice, store, 11, clock.now, mallory)) },
        data,
      ),
      "bad_signature",
    );
    assertEquals(await code({ ...base, ...good }, text("not what was signed")), "bad_signature");
    const stale = await memberFields(g, alice, store, 11, clock.now - 61_000);
    assertEquals(await code({ ...base, ...stale }, data), "bad_timestamp");
    // Malformed or partial member fields.
    assertEquals(await code({ ...base, ...good, member: "00" }, data), "bad_encoding");
    assertEquals(await code({ ...base, ...good, token: 7 }, data), "bad_request");
    const { token: _t, ...noToken } = good;
    assertEquals(await code({ ...base, ...noToken }, data), "bad_request");
    const { pubkey: _p, ...noPubkey } = good;
    assertEquals(await code({ ...base, ...noPubkey }, data), "bad_request");
    // Members never store the group state, nor anywhere only the owner stores.
    for (const ns of [13, 14, 2, 5]) {
      const f = await memberFields(g, alice, store, ns, clock.now);
      assertEquals(await code({ ...base, ns, ...f }, data), "bad_namespace");
    }
    // Members retrieve only the group classes.
    for (const ns of [0, 2, 5, 14]) {
      const f = await memberFields(g, alice, { method: "retrieve" }, ns, clock.now);
      assertEquals(await code({ method: "retrieve", key, ns, ...f }), "bad_namespace");
    }
    // Delete and expire stay the owner's.
    assertEquals((await call({ ...base, ...good }, data)).header.ok, true);
    const hash = itemHash(g.key, 11, data);
    const del = { method: "delete" as const, hashes: [hash] };
    const delFields = await memberFields(g, alice, del, 11, clock.now);
    assertEquals(
      await code({ method: "delete", key, ns: 11, hashes: [toHex(hash)], ...delFields }),
      "bad_namespace",
    );
    const expiry = clock.now + 20_000;
    const exp = { method: "expire" as const, hashes: [hash], expiry };
    const expFields = await memberFields(g, alice, exp, 11, clock.now);
    assertEquals(
      await code({ method: "expire", key, ns: 11, hashes: [toHex(hash)], expiry, ...expFields }),
      "bad_namespace",
    );
    const ownerDel = await ownerFields(g, del, 11, clock.now);
    assertEquals(
      (await call({ method: "delete", key, ns: 11, hashes: [toHex(hash)], ...ownerDel })).header,
      {
        ok: true,
        deleted: 1,
      },
    );
    // Unsigned member-class requests are refused as before.
    assertEquals(await code(base, data), "bad_namespace");
    assertEquals(await code({ method: "retrieve", key, ns: 11 }), "bad_request");
    assertEquals(await code({ method: "retrieve", key, ns: 13 }), "bad_request");
  });
});

Deno.test("a revocation item refuses that member only, until it is deleted or expires", async () => {
  await withRpc(async (call, clock) => {
    const g = await group();
    const [alice, bob, carol] = [await member(g), await member(g), await member(g)];
    const key = toHex(g.key);
    const retrieve = { method: "retrieve" as const };
    const as = async (m: Member, method: "store" | "retrieve", ns = 11) => {
      if (method === "retrieve") {
        const f = await memberFields(g, m, retrieve, ns, clock.now);
        return (await call({ method, key, ns, ...f })).header;
      }
      const data = randomBytes(40);
      const f = await memberFields(g, m, { method, data }, ns, clock.now);
      return (await call({ method, key, ns, ttl: HOUR, ...f }, data)).header;
    };
    assertEquals((await as(alice, "store")).ok, true);
    // The list names alice and carol, 32 bytes each; bob is only in a misaligned slice.
    const list = concatBytes(alice.keys.publicKey, carol.keys.publicKey);
    const listFields = await ownerFields(g, { method: "store", data: list }, 14, clock.now);
    const stored = await call({ method: "store", key, ns: 14, ttl: 2 * HOUR, ...listFields }, list);
    assertEquals(stored.header.ok, true);
    const odd = concatBytes(new Uint8Array(8), bob.keys.publicKey);
    const oddFields = await ownerFields(g, { method: "store", data: odd }, 14, clock.now);
    assertEquals(
      (await call({ method: "store", key, ns: 14, ttl: HOUR, ...oddFields }, odd)).header.ok,
      true,
    );
    for (const m of [alice, carol]) {
      assertEquals((await as(m, "store")).error, "access_revoked");
      assertEquals((await as(m, "retrieve")).error, "access_revoked");
      assertEquals((await as(m, "retrieve", 13)).error, "access_revoked");
    }
    assertEquals((await as(bob, "store")).ok, true);
    assertEquals((await as(bob, "retrieve")).ok, true);
    // The owner is never revoked.
    const f = await ownerFields(g, retrieve, 11, clock.now);
    assertEquals((await call({ method: "retrieve", key, ns: 11, ...f })).header.ok, true);
    // The list of another group's key does not count here.
    const h = await group();
    const hList = await ownerFields(
      h,
      { method: "store", data: bob.keys.publicKey },
      14,
      clock.now,
    );
    await call(
      { method: "store", key: toHex(h.key), ns: 14, ttl: HOUR, ...hList },
      bob.keys.publicKey,
    );
    assertEquals((await as(bob, "store")).ok, true);
    // The owner deletes the list: alice and carol are back.
    const hash = itemHash(g.key, 14, list);
    const del = await ownerFields(g, { method: "delete", hashes: [hash] }, 14, clock.now);
    assertEquals(
      (await call({ method: "delete", key, ns: 14, hashes: [toHex(hash)], ...del })).header.deleted,
      1,
    );
    assertEquals((await as(alice, "store")).ok, true);
    // A new list, and it expires: access comes back with the expiry.
    const again = alice.keys.publicKey;
    const againFields = await ownerFields(g, { method: "store", data: again }, 14, clock.now);
    await call({ method: "store", key, ns: 14, ttl: HOUR, ...againFields }, again);
    assertEquals((await as(alice, "retrieve")).error, "access_revoked");
    clock.now += HOUR;
    assertEquals((await as(alice, "retrieve")).ok, true);
  });
});

Deno.test("content-addressed chunks: unsigned, under the hash of their data, read by anyone", async () => {
  await withRpc(async (call) => {
    const data = randomBytes(65_553);
    const key = labeledHash("hearth/chunk/v1", data);
    const hex = toHex(key);
    const code = async (header: Record<string, unknown>, blob?: Uint8Array) =>
      (await call(header, blob)).header.error;
    const base = { method: "store", key: hex, ns: 7, ttl: 14 * DAY };
    assertEquals(await code({ ...base, key: toHex(randomBytes(32)) }, data), "bad_request");
    assertEquals(await code(base, data.subarray(1)), "bad_request");
    assertEquals(await code({ ...base, ttl: 14 * DAY + 1 }, data), "bad_ttl");
    // Any signature field is refused, even a well-formed one.
    const g = await group();
    const f = await ownerFields(g, { method: "store", data }, 7, T0);
    assertEquals(await code({ ...base, ...f }, data), "bad_request");
    assertEquals(await code({ ...base, member: toHex(randomBytes(32)) }, data), "bad_request");
    const stored = await call(base, data);
    assertEquals(stored.header, {
      ok: true,
      hash: toHex(itemHash(key, 7, data)),
      expiry: T0 + 14 * DAY,
      already: false,
    });
    assertEquals((await call(base, data)).header.already, true);
    const got = await call({ method: "retrieve", key: hex, ns: 7 });
    assertEquals(got.header.ok, true);
    assertEquals(got.blob, data);
    assertEquals((await call({ method: "retrieve", key: hex, ns: 7, wait: 0 })).blob, data);
    assertEquals(await code({ method: "retrieve", key: hex, ns: 7, wait: 1 }), "bad_request");
    const rf = await ownerFields(g, { method: "retrieve" }, 7, T0);
    assertEquals(await code({ method: "retrieve", key: hex, ns: 7, ...rf }), "bad_request");
    // Nobody owns a chunk: no deletes, no expiry changes.
    const hashes = [toHex(itemHash(key, 7, data))];
    assertEquals(await code({ method: "delete", key: hex, ns: 7, hashes, ...rf }), "bad_namespace");
    assertEquals(
      await code({ method: "expire", key: hex, ns: 7, hashes, expiry: T0 + HOUR, ...rf }),
      "bad_namespace",
    );
    // An unknown chunk is an empty answer.
    const none = await call({ method: "retrieve", key: toHex(randomBytes(32)), ns: 7 });
    assertEquals(none.header, { ok: true, items: [], more: false });
  });
});

Deno.test("members' items count in their own quota class, apart from the owner's", async () => {
  await withRpc(async (call, clock) => {
    const g = await group();
    const alice = await member(g);
    const key = toHex(g.key);
    const put = async (ns: number, data: Uint8Array, asMember: boolean) => {
      const req = { method: "store" as const, data };
      const f = asMember
        ? await memberFields(g, alice, req, ns, clock.now)
        : await ownerFields(g, req, ns, clock.now);
      return (await call({ method: "store", key, ns, ttl: HOUR, ...f }, data)).header;
    };
    assertEquals((await put(13, text("state"), false)).ok, true);
    assertEquals((await put(11, text("one"), true)).ok, true);
    assertEquals((await put(11, text("two"), true)).error, "quota_exceeded");
    assertEquals((await put(2, text("config"), false)).error, "quota_exceeded");
    // Content chunks count apart too (and each key is its own chunk's).
    const chunk = text("chunk");
    const ck = toHex(labeledHash("hearth/chunk/v1", chunk));
    assertEquals(
      (await call({ method: "store", key: ck, ns: 7, ttl: HOUR }, chunk)).header.ok,
      true,
    );
  }, { quota: { maxItems: 1, maxBytes: 1_000 } });
});
