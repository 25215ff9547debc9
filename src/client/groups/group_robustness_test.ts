/**
 * Review fixes for groups: the revocation list re-stored unchanged keeps
 * living (its expiry is extended), an item under a made-up newer
 * generation does not stop a group's messages for good, concurrent state
 * applications never roll the state back, an admin's upkeep is not put off
 * by message-driven state fetches, and a promotion that arrives before the
 * owner joined keeps the group seed.
 */
import { assert, assertEquals } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, signingKeyPairFromSeed, u32 } from "../../shared/crypto/mod.ts";
import { GROUP_REVOKED_NS } from "../../shared/storage/namespaces.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { withTestRelayNet } from "../network/test_relay_net.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import { isSeen } from "../messages/incoming_store.ts";
import { grantAccess, groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { GroupOutbox } from "./group_outbox.ts";
import {
  applyStateItems,
  GroupPoller,
  type GroupReceiveContext,
  MAX_NEWER_RETRIES,
} from "./group_poller.ts";
import { hash, side } from "./_test_helpers.ts";
import { groupRow } from "./group_rows.ts";
import { sealState } from "./group_state.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-groups-review-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A swarm that has nothing (state fetches find no record; long polls wait, then end empty). */
function emptySwarm(): SwarmClient {
  return {
    retrieveAsMember: async (_a: unknown, _ns: number, o?: { signal?: AbortSignal }) => {
      await new Promise((r) => setTimeout(r, 20));
      if (o?.signal?.aborted) throw new DOMException("aborted", "AbortError");
      return { items: [], more: false };
    },
  } as unknown as SwarmClient;
}

function context(db: GroupReceiveContext["db"], keys: AccountKeys): GroupReceiveContext {
  return {
    db,
    keys,
    clock: Date.now,
    swarm: emptySwarm(),
    nodes: () => [],
    onMessage: () => {},
    onState: () => {},
    onRemoved: async () => {},
    onLeave: async () => {},
  };
}

Deno.test({
  name: "group outbox: a revocation list re-stored unchanged has its expiry extended",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTestRelayNet(async (net) => {
      await withDir(async (dir) => {
        const a = await side(`${dir}/a`, "Alice");
        try {
          const bob = (await accountKeysFromSeed(createSeed())).accountId;
          const { id } = await a.chat.groups().create("Revoked", [bob]);
          await a.chat.groups().removeMember(id, bob);
          const row = (await groupRow(a.vault.db, id))!;
          const owner = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed!));
          const list = (await a.vault.db.selectFrom("group_outbox").select("data")
            .where("kind", "=", "revoke").executeTakeFirstOrThrow()).data;
          // The same list is in the swarm already, stored (by an earlier publication) to end soon.
          const swarm = net.client();
          await swarm.store(
            groupSwarmKey(parseGroupId(id)),
            GROUP_REVOKED_NS,
            new Uint8Array(list),
            {
              owner,
              ttlMs: 60_000,
            },
          );
          const outbox = new GroupOutbox(a.vault.db, swarm, {
            clock: Date.now,
            onStatus: () => {},
            onRevoked: () => {},
          });
          for (let i = 0; i < 20; i++) {
            await outbox.pass();
            const left = await a.vault.db.selectFrom("group_outbox").select("id").execute();
            if (left.length === 0) break;
          }
          assertEquals(
            (await a.vault.db.selectFrom("group_outbox").select("id").execute()).length,
            0,
          );
          const { items } = await swarm.retrieve(owner, GROUP_REVOKED_NS);
          assertEquals(items.length, 1);
          assert(
            items[0]!.expiry > Date.now() + 29 * 86_400_000,
            "the revocation must live 30 days",
          );
        } finally {
          await a.close();
        }
      });
    }),
});

Deno.test("group poller: an item under a made-up newer generation is dropped after a few tries", async () => {
  await withDir(async (dir) => {
    const a = await side(`${dir}/a`, "Alice");
    try {
      const bob = (await accountKeysFromSeed(createSeed())).accountId;
      const { id } = await a.chat.groups().create("Jammed", [bob]);
      const poller = new GroupPoller(context(a.vault.db, a.keys), id);
      // Junk of an envelope size naming generation 2 (the group is at 1), as any member can store.
      const item = { hash: hash(), expiry: 0, data: concatBytes(u32(2), randomBytes(252)) };
      for (let i = 0; i < MAX_NEWER_RETRIES; i++) {
        assertEquals(await poller.handle([item]), { handled: 0, removed: false });
      }
      assertEquals(await poller.handle([item]), { handled: 1, removed: false });
      assert(await isSeen(a.vault.db, item.hash));
    } finally {
      await a.close();
    }
  });
});

Deno.test("group state: applying an older record concurrently never rolls back a newer one", async () => {
  await withDir(async (dir) => {
    const a = await side(`${dir}/a`, "Alice");
    const b = await side(`${dir}/b`, "Bob");
    try {
      const { id } = await a.chat.groups().create("Race", [b.keys.accountId]);
      const row = (await groupRow(a.vault.db, id))!;
      const group = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed!));
      const own = await grantAccess(group);
      await b.vault.db.insertInto("groups").values({
        id,
        state: "joined",
        name: "Race",
        access_seed: own.seed,
        access_token: own.token,
        invited_by: a.keys.accountId,
        created_at: 1,
      }).execute();
      const key = randomBytes(32);
      const record = (seq: number, name: string) =>
        sealState(group, {
          seq,
          generation: 1,
          key,
          info: {
            name,
            members: [
              { accountId: a.keys.accountId, access: randomBytes(32), admin: true },
              { accountId: b.keys.accountId, access: own.publicKey, admin: false },
            ],
            revoked: [],
          },
        });
      const older = await record(1_000, "Older");
      const newer = await record(2_000, "Newer");
      const ctx = context(b.vault.db, b.keys);
      // The older record takes longer to open (several copies), so it would be written last.
      await Promise.all([
        applyStateItems(ctx, id, [{ hash: hash(), expiry: 0, data: newer }]),
        applyStateItems(
          ctx,
          id,
          Array.from({ length: 6 }, () => ({
            hash: hash(),
            expiry: 0,
            data: older,
          })),
        ),
      ]);
      const after = (await groupRow(b.vault.db, id))!;
      assertEquals([after.state_seq, after.name], [2_000, "Newer"]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

Deno.test("group poller: an admin's upkeep runs even when the state was just fetched", async () => {
  await withDir(async (dir) => {
    const a = await side(`${dir}/a`, "Alice");
    try {
      const bob = (await accountKeysFromSeed(createSeed())).accountId;
      const { id } = await a.chat.groups().create("Upkeep", [bob]);
      let maintained = 0;
      const poller = new GroupPoller({
        ...context(a.vault.db, a.keys),
        onMaintain: () => {
          maintained++;
          return Promise.resolve();
        },
      }, id);
      // A fetch for a message (a group-update, an unknown sender) just happened.
      await poller.refreshState();
      poller.start();
      const deadline = Date.now() + 3_000;
      while (maintained === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await poller.stop();
      assertEquals(maintained, 1);
    } finally {
      await a.close();
    }
  });
});

Deno.test("group invite: a promotion that arrives before the owner joined keeps the group seed", async () => {
  await withDir(async (dir) => {
    const a = await side(`${dir}/a`, "Alice");
    const b = await side(`${dir}/b`, "Bob");
    try {
      const { id } = await a.chat.groups().create("Early", [b.keys.accountId]);
      const row = (await groupRow(a.vault.db, id))!;
      const group = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed!));
      const { toBase64 } = await import("../../shared/crypto/mod.ts");
      const invite = async (admin?: Uint8Array) => {
        const grant = await grantAccess(group);
        const after = await b.chat.groups().acceptInvite(b.vault.db, {
          hash: hash(),
          sender: a.keys.accountId,
          sentAt: 1,
          now: 1,
          invite: {
            type: "group-invite",
            group: id,
            name: "Early",
            access: toBase64(grant.seed),
            token: toBase64(grant.token),
            ...(admin ? { admin: toBase64(admin) } : {}),
          },
        });
        after?.();
      };
      await invite();
      assertEquals((await b.chat.groups().get(id)).admin, false);
      await invite(group.seed);
      const view = await b.chat.groups().get(id);
      assertEquals([view.state, view.admin], ["invited", true]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
