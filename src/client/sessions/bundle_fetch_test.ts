/**
 * fetchBundle against a real in-process relay network: among the items of
 * a peer's namespace 5 it finds the newest bundle that verifies, skipping
 * forged, foreign, far-future and malformed items.
 */
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import {
  concatBytes,
  generateDhKeyPair,
  labeledHash,
  randomBytes,
  sign,
  toBase64,
  toHex,
  u32,
  utf8,
} from "../../shared/crypto/mod.ts";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { HearthError } from "../../shared/errors.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { type AccountKeys, accountKeysFromSeed } from "../account/keys.ts";
import { createSeed } from "../account/seed.ts";
import { SwarmClient } from "../network/swarm_client.ts";
import { withTestRelayNet } from "../network/test_relay_net.ts";
import { fetchBundle } from "./bundle_fetch.ts";
import { BUNDLE_NAMESPACE, type PrekeyBundle, signBundle } from "./prekey_bundle.ts";

const HOUR = 3_600_000;

async function bundleAt(createdAt: number, opks = 2): Promise<PrekeyBundle> {
  const pub = async () => (await generateDhKeyPair()).publicKey;
  return {
    createdAt,
    spk: { id: createdAt % 1_000_000 + 1, key: await pub() },
    kem: { id: 9, key: ml_kem768.keygen().publicKey },
    opks: await Promise.all(
      Array.from({ length: opks }, async (_, i) => ({ id: i + 1, key: await pub() })),
    ),
  };
}

/** A bundle whose signature is over other header bytes than it carries. */
async function forgedBundle(keys: AccountKeys, bundle: PrekeyBundle): Promise<Uint8Array> {
  const item = await signBundle(keys, bundle);
  const header = {
    v: 1,
    createdAt: bundle.createdAt + 1,
    spk: { id: bundle.spk.id, key: toHex(bundle.spk.key) },
    kem: { id: bundle.kem.id, key: toBase64(bundle.kem.key) },
    opks: [],
  };
  const json = utf8(JSON.stringify(header));
  return concatBytes(u32(json.length), json, item.subarray(item.length - 64));
}

Deno.test("fetchBundle finds the newest valid bundle and skips the rest", async () => {
  await withTestRelayNet(async (net) => {
    const peer = await accountKeysFromSeed(createSeed());
    const other = await accountKeysFromSeed(createSeed());
    const owner = net.client();
    const reader = net.client();
    const key = swarmKeyOf(peer.signing.publicKey);
    const now = Date.now();
    const put = (data: Uint8Array, ns = BUNDLE_NAMESPACE) =>
      owner.store(key, ns, data, { ttlMs: HOUR, owner: peer.signing });

    assertEquals(await fetchBundle(reader, peer.accountId), undefined);
    const older = await bundleAt(now - 60_000);
    const newest = await bundleAt(now - 1_000);
    await put(await signBundle(peer, older));
    assertEquals(await fetchBundle(reader, peer.accountId, { now }), older);
    await put(await signBundle(peer, newest));
    // Newer-looking items that must not win: the owner stored them, but they do not verify.
    await put(await signBundle(other, await bundleAt(now)));
    await put(await forgedBundle(peer, await bundleAt(now - 500)));
    await put(await signBundle(peer, await bundleAt(now + 10 * 60_000)));
    await put(randomBytes(300));
    const json = utf8(JSON.stringify({ v: 1, createdAt: now, spk: null }));
    const signed = labeledHash("hearth/prekey-bundle/v1", peer.signing.publicKey, json);
    await put(concatBytes(u32(json.length), json, await sign(peer.signing, signed)));
    // A valid bundle in another namespace is not the bundle.
    await put(await signBundle(peer, await bundleAt(now - 10)), 15);
    for (let i = 0; i < 3; i++) {
      assertEquals(await fetchBundle(reader, peer.accountId, { now }), newest);
    }
    // With a clock ten minutes on, the future bundle is valid and newest.
    const later = await fetchBundle(reader, peer.accountId, { now: now + 10 * 60_000 });
    assertEquals(later?.createdAt, now + 10 * 60_000);
  });
});

Deno.test("fetchBundle refuses a malformed Account ID and reports a network with no nodes", async () => {
  const peer = await accountKeysFromSeed(createSeed());
  const offline = new SwarmClient({ nodes: () => [] });
  const bad = await assertRejects(() => fetchBundle(offline, "hearth1nope"), HearthError);
  assertEquals((bad as HearthError).code, "bad_account_id");
  const down = await assertRejects(() => fetchBundle(offline, peer.accountId), HearthError);
  assertEquals((down as HearthError).code, "unavailable");
});
