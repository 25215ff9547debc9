/**
 * SwarmClient's group-member and content-addressed requests against a real
 * in-process relay network: members store and read with their access key
 * and token until revoked, and file chunks are stored and fetched unsigned
 * by their hash, from a second member when the first lacks them.
 */
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { generateSigningKeyPair, sign, type SigningKeyPair } from "../../shared/crypto/sign.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  chunkKey,
  GROUP_MESSAGES_NS,
  GROUP_REVOKED_NS,
  GROUP_STATE_NS,
  groupAccessBytes,
} from "../../shared/storage/namespaces.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { type RelayDb, relayMigrations } from "../../relay/store/schema.ts";
import { type GroupAccess, SwarmClient } from "./swarm_client.ts";
import { withTestRelayNet } from "./test_relay_net.ts";

const HOUR = 3_600_000;

async function accessFor(group: SigningKeyPair): Promise<GroupAccess> {
  const member = await generateSigningKeyPair();
  const key = swarmKeyOf(group.publicKey);
  const token = await sign(group, groupAccessBytes(key, member.publicKey));
  return { groupPublicKey: group.publicKey, member, token };
}

function code(err: unknown): string {
  return err instanceof HearthError ? err.code : String(err);
}

Deno.test("members store and retrieve in the group's swarm until revoked", async () => {
  await withTestRelayNet(async (net) => {
    const group = await generateSigningKeyPair();
    const key = swarmKeyOf(group.publicKey);
    const [alice, bob] = [await accessFor(group), await accessFor(group)];
    const client = net.client();
    const message = randomBytes(1_500);
    const stored = await client.storeAsMember(alice, GROUP_MESSAGES_NS, message, { ttlMs: HOUR });
    const state = randomBytes(3_000);
    await client.store(key, GROUP_STATE_NS, state, { ttlMs: 30 * 24 * HOUR, owner: group });
    for (const via of net.directory()) {
      const got = await client.retrieveAsMember(bob, GROUP_MESSAGES_NS, { via });
      assertEquals(got.items.map((i) => [i.hash, i.data]), [[stored.hash, message]]);
      const read = await client.retrieveAsMember(bob, GROUP_STATE_NS, { via, waitMs: 10 });
      assertEquals(read.items.map((i) => i.data), [state]);
    }
    // The owner reads members' items with its own key.
    assertEquals((await client.retrieve(group, GROUP_MESSAGES_NS)).items.length, 1);
    // Members do not store the state.
    const refused = await assertRejects(
      () => client.storeAsMember(alice, GROUP_STATE_NS, state, { ttlMs: HOUR }),
      HearthError,
    );
    assertEquals(code(refused), "bad_namespace");
    // A token of another group does not open this swarm.
    const stranger = {
      ...(await accessFor(await generateSigningKeyPair())),
      groupPublicKey: group.publicKey,
    };
    const forged = await assertRejects(
      () => client.retrieveAsMember(stranger, GROUP_MESSAGES_NS),
      HearthError,
    );
    assertEquals(code(forged), "bad_signature");
    // The admin revokes alice: refused everywhere, at once and without retries; bob is not.
    await client.store(key, GROUP_REVOKED_NS, alice.member.publicKey, {
      ttlMs: 30 * 24 * HOUR,
      owner: group,
    });
    let lookups = 0;
    const counting = new SwarmClient({
      nodes: () => {
        lookups++;
        return net.directory();
      },
      relays: 3,
    });
    await counting.retrieveAsMember(bob, GROUP_MESSAGES_NS);
    const perRequest = lookups;
    for (const via of net.directory()) {
      lookups = 0;
      const revoked = await assertRejects(
        () => counting.retrieveAsMember(alice, GROUP_MESSAGES_NS, { via }),
        HearthError,
      );
      assertEquals(code(revoked), "access_revoked");
      assert(lookups <= perRequest, "access_revoked was retried");
      const noStore = await assertRejects(
        () =>
          counting.storeAsMember(alice, GROUP_MESSAGES_NS, randomBytes(10), { ttlMs: HOUR, via }),
        HearthError,
      );
      assertEquals(code(noStore), "access_revoked");
    }
    const after = await client.storeAsMember(bob, GROUP_MESSAGES_NS, randomBytes(20), {
      ttlMs: HOUR,
    });
    assertEquals(after.hash.length, 64);
  });
});

Deno.test("chunks are stored and fetched by their hash, from a second member if needed", async () => {
  await withTestRelayNet(async (net) => {
    const client = net.client();
    const data = randomBytes(65_553);
    const stored = await client.storeChunk(data, { ttlMs: 14 * 24 * HOUR });
    assertEquals(stored.key, toHex(chunkKey(data)));
    for (const via of net.directory()) {
      assertEquals(await client.retrieveChunk(chunkKey(data), { via }), data);
    }
    // A key nobody stored: null, not an error.
    assertEquals(await client.retrieveChunk(randomBytes(32)), null);
    // The chunk reached W = 3 of the 4 members only (here: removed from one behind its back).
    const missing = net.nodes.length - 1;
    const db = await openDatabase<RelayDb>(`${net.dataDirs[missing]}/relay.db`, relayMigrations);
    try {
      await db.db.deleteFrom("items").where("key", "=", chunkKey(data)).execute();
    } finally {
      await db.close();
    }
    const lacking = net.directory().find((r) => r.id === net.nodes[missing]!.id)!;
    assertEquals(await client.retrieveChunk(chunkKey(data), { via: lacking }), null);
    // Without `via`, an empty answer is asked again of another member.
    for (let i = 0; i < 16; i++) {
      assertEquals(await net.client().retrieveChunk(chunkKey(data)), data);
    }
  });
});
