/**
 * Follow-ups to groups: an admin cannot be removed (it holds the group
 * seed), and a `group-leave` counts only while it names the member's
 * current access key (an old one replayed after the member was added back
 * does nothing), and a message of a generation the owner has no key for
 * asks a second swarm member for the state when the first lags.
 */
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes, signingKeyPairFromSeed, toBase64, toHex } from "../../shared/crypto/mod.ts";
import { GROUP_STATE_NS } from "../../shared/storage/namespaces.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { encodeContent, newMessageId } from "../messages/content.ts";
import { groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { sealGroupMessage } from "./group_message.ts";
import { GroupPoller } from "./group_poller.ts";
import { hash, side } from "./_test_helpers.ts";
import { groupKey, groupRow, parseLocalState } from "./group_rows.ts";
import { sealState } from "./group_state.ts";

async function withAlice(fn: (a: Awaited<ReturnType<typeof side>>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hearth-groups-followups-" });
  const a = await side(`${dir}/a`, "Alice");
  try {
    await fn(a);
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("groups: an admin cannot be removed (it holds the group key); a member can", async () => {
  await withAlice(async (a) => {
    const bob = (await accountKeysFromSeed(createSeed())).accountId;
    const carol = (await accountKeysFromSeed(createSeed())).accountId;
    const { id } = await a.chat.groups().create("Admins", [bob, carol]);
    await a.chat.groups().update(id, { admins: [bob] });
    const err = await assertRejects(() => a.chat.groups().removeMember(id, bob), HearthError);
    assertEquals(err.code, "conflict");
    assertEquals(err.message, "Admins cannot be removed: they hold the group key");
    assertEquals((await a.chat.groups().get(id)).memberCount, 3);
    assertEquals((await a.chat.groups().removeMember(id, carol)).memberCount, 2);
  });
});

Deno.test("groups: a replayed group-leave naming an old access key is ignored", async () => {
  await withAlice(async (a) => {
    const bob: AccountKeys = await accountKeysFromSeed(createSeed());
    const groups = a.chat.groups();
    const { id } = await groups.create("Replay", [bob.accountId]);
    const swarmKey = groupSwarmKey(parseGroupId(id));
    const stateOf = async () => parseLocalState((await groupRow(a.vault.db, id))!.state_json);
    const accessOfBob = async () =>
      (await stateOf()).members.find((m) => m.accountId === bob.accountId)?.access;
    /** A group-leave as Bob would store it, under the given generation. */
    const leave = async (generation: number, access: Uint8Array) => ({
      hash: hash(),
      expiry: 0,
      data: await sealGroupMessage(bob.signing, {
        swarmKey,
        generation,
        key: (await groupKey(a.vault.db, id, generation))!,
        sentAt: Date.now(),
        content: encodeContent({
          type: "group-leave",
          id: newMessageId(),
          access: toBase64(access),
        }),
      }),
    });
    const oldAccess = (await accessOfBob())!;
    // Bob left once (under generation 1), was removed, and was added back later.
    const oldLeave = await leave(1, oldAccess);
    await groups.removeMember(id, bob.accountId);
    await groups.addMember(id, bob.accountId);
    const newAccess = (await accessOfBob())!;
    assert(toBase64(newAccess) !== toBase64(oldAccess));
    const generation = (await stateOf()).generation;
    // The old leave, fed again by a relay, names the old access key: nothing happens.
    assertEquals(await groups.receiveMessages(id, [oldLeave]), { handled: 1, removed: false });
    assertEquals((await groups.get(id)).memberCount, 2);
    assertEquals((await stateOf()).generation, generation);
    // A leave naming Bob's current access key removes him (and rekeys).
    await groups.receiveMessages(id, [await leave(generation, newAccess)]);
    assertEquals((await groups.get(id)).memberCount, 1);
    assertEquals((await stateOf()).generation, generation + 1);
  });
});

Deno.test("group poller: a new generation's state is asked of a second member when the first lags", async () => {
  await withAlice(async (a) => {
    const bob = await accountKeysFromSeed(createSeed());
    const { id } = await a.chat.groups().create("Lagging", [bob.accountId]);
    const row = (await groupRow(a.vault.db, id))!;
    const group = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed!));
    // Another admin's rekey: generation 2, stored so far on some members only.
    const key = randomBytes(32);
    const state = await sealState(group, {
      seq: row.state_seq + 1_000,
      generation: 2,
      key,
      info: {
        name: "Lagging",
        members: [
          { accountId: a.keys.accountId, access: randomBytes(32), admin: true },
          { accountId: bob.accountId, access: randomBytes(32), admin: false },
        ],
        revoked: [],
      },
    });
    const nodes: NodeRecord[] = Array.from({ length: 5 }, (_, i) => ({
      id: toHex(randomBytes(32)),
      x25519: toHex(randomBytes(32)),
      addr: `10.0.0.${i}:1`,
      version: 1,
      ts: 1,
      pow: "00".repeat(8),
      sig: "00".repeat(64),
    }));
    const asked: (string | undefined)[] = [];
    const swarm = {
      // The first member asked has not the new state yet; the next one has.
      retrieveAsMember: (_a: unknown, ns: number, o?: { via?: NodeRecord }) => {
        assertEquals(ns, GROUP_STATE_NS);
        asked.push(o?.via?.id);
        const data = asked.length === 1 ? [] : [{ hash: hash(), expiry: 0, data: state }];
        return Promise.resolve({ items: data, more: false });
      },
    } as unknown as SwarmClient;
    const poller = new GroupPoller({
      db: a.vault.db,
      keys: a.keys,
      clock: Date.now,
      swarm,
      nodes: () => nodes,
      onMessage: () => {},
      onState: () => {},
      onRemoved: async () => {},
      onLeave: async () => {},
    }, id);
    const textId = newMessageId();
    const item = {
      hash: hash(),
      expiry: 0,
      data: await sealGroupMessage(bob.signing, {
        swarmKey: groupSwarmKey(parseGroupId(id)),
        generation: 2,
        key,
        sentAt: Date.now(),
        content: encodeContent({ type: "text", id: textId, text: "under gen 2" }),
      }),
    };
    assertEquals(await poller.handle([item]), { handled: 1, removed: false });
    assertEquals(asked.length, 2);
    assert(asked[0] !== undefined && asked[1] !== undefined && asked[0] !== asked[1]);
    assert(asked.every((n) => nodes.some((x) => x.id === n)));
    assertEquals((await a.chat.messages(id)).map((m) => m.text), ["under gen 2"]);
  });
});
