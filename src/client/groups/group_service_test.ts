/**
 * Groups end to end at the chat service, over an in-process relay network
 * (real relays enforcing member access and revocation, real onion paths,
 * real encrypted client databases): create → invite (1:1) → join → send →
 * receive → remove (rekey + revoke); a removed member holding everything it
 * had cannot read what follows and is refused by relays; an offline member
 * catches up; forgeries are ignored; the 101st member is `group_full`.
 */
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { generateSigningKeyPair, randomBytes, toBase64 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { GROUP_MESSAGES_NS } from "../../shared/storage/namespaces.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import { withTestRelayNet } from "../network/test_relay_net.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { ChatService } from "../messages/chat_service.ts";
import { parseContent } from "../messages/content.ts";
import { groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { groupMessageGeneration, openGroupMessage } from "./group_message.ts";
import { accessOf } from "./group_poller.ts";
import { sealState } from "./group_state.ts";

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One account with its vault and running chat. */
class Side {
  keys!: AccountKeys;
  vault!: ClientVault;
  chat!: ChatService;
  constructor(readonly dir: string, readonly nodes?: () => NodeRecord[]) {}

  get id(): string {
    return this.keys.accountId;
  }

  async create(name: string): Promise<this> {
    const seed = createSeed();
    this.keys = await accountKeysFromSeed(seed);
    this.vault = await ClientVault.open(this.dir, { kdfParams: TEST_KDF });
    await this.vault.create(TEST_PASS);
    await this.vault.db.insertInto("account")
      .values({ id: 1, seed, display_name: name, created_at: 1 }).execute();
    await this.start();
    return this;
  }

  async start(): Promise<void> {
    this.chat = await ChatService.start({
      db: this.vault.db,
      keys: this.keys,
      ...(this.nodes ? { nodes: this.nodes } : {}),
    });
  }

  async restart(): Promise<void> {
    await this.chat.stop();
    await this.vault.close();
    this.vault = await ClientVault.open(this.dir, { kdfParams: TEST_KDF });
    await this.vault.unlock(TEST_PASS);
    await this.start();
  }

  async close(): Promise<void> {
    await this.chat.stop();
    await this.vault.close();
  }

  async texts(groupId: string): Promise<string[]> {
    try {
      return (await this.chat.messages(groupId)).map((m) => m.text);
    } catch {
      return [];
    }
  }
}

async function withSides(
  names: string[],
  fn: (sides: Side[], nodes?: () => NodeRecord[]) => Promise<void>,
  nodes?: () => NodeRecord[],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-groups-" });
  const sides: Side[] = [];
  try {
    for (const name of names) sides.push(await new Side(`${dir}/${name}`, nodes).create(name));
    await fn(sides, nodes);
  } finally {
    for (const s of sides) await s.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "groups over relays: create, invite, join, send, receive, remove with rekey and revocation",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTestRelayNet(async (net) => {
      await withSides(["Alice", "Bob", "Carol"], async ([alice, bob, carol]) => {
        const a = alice!, b = bob!, c = carol!;
        const group = await a.chat.groups().create("Hearth club", [b.id, c.id]);
        assertEquals(group.state, "joined");
        assertEquals(group.admin, true);
        assertEquals(group.memberCount, 3);
        const id = group.id;
        // Invitations arrive 1:1; a stranger's invitation still makes an invited group.
        for (const s of [b, c]) {
          await waitFor(async () => (await s.chat.groups().list()).some((g) => g.id === id));
          const invited = await s.chat.groups().get(id);
          assertEquals([invited.state, invited.name, invited.invitedBy], [
            "invited",
            "Hearth club",
            a.id,
          ]);
          assertEquals((await s.chat.contacts()).length, 0);
          await s.chat.groups().join(id);
        }
        for (const s of [b, c]) {
          await waitFor(async () => (await s.chat.groups().get(id)).memberCount === 3);
        }
        const sent = await a.chat.groups().send(id, { text: "hello group" });
        assertEquals(sent.encryption, "group");
        await waitFor(async () => (await a.chat.messages(id))[0]?.status === "sent");
        for (const s of [b, c]) {
          await waitFor(async () => (await s.texts(id)).includes("hello group"));
        }
        await b.chat.groups().send(id, { text: "hi from bob" });
        for (const s of [a, c]) {
          await waitFor(async () => (await s.texts(id)).includes("hi from bob"));
        }
        const listed = (await c.chat.conversations()).find((v) => v.id === id);
        assertEquals([listed?.kind, listed?.displayName], ["group", "Hearth club"]);

        // Non-admins cannot change the group.
        const denied = await assertRejects(
          () => b.chat.groups().removeMember(id, c.id),
          HearthError,
        );
        assertEquals(denied.code, "conflict");

        // Carol keeps what she had: her keys and access.
        const carolRow = (await c.vault.db.selectFrom("groups").selectAll().where("id", "=", id)
          .executeTakeFirst())!;
        const carolKeys = await c.vault.db.selectFrom("group_keys").select("key")
          .where("group_id", "=", id).execute();
        await a.chat.groups().removeMember(id, c.id);
        await waitFor(async () => (await c.chat.groups().get(id)).state === "removed");
        await waitFor(async () => (await b.chat.groups().get(id)).memberCount === 2);
        await a.chat.groups().send(id, { text: "after carol left" });
        await waitFor(async () => (await b.texts(id)).includes("after carol left"));
        assert(!(await c.texts(id)).includes("after carol left"));

        // The relays refuse Carol's old access.
        const swarm = net.client();
        const carolAccess = await accessOf(carolRow);
        const refused = await assertRejects(
          () => swarm.retrieveAsMember(carolAccess, GROUP_MESSAGES_NS),
          HearthError,
        );
        assertEquals(refused.code, "access_revoked");
        // Nor does any key she holds open the new message (fetched with the group key).
        const groupSeed = (await a.vault.db.selectFrom("groups").select("admin_seed")
          .where("id", "=", id).executeTakeFirst())!.admin_seed!;
        const { signingKeyPairFromSeed } = await import("../../shared/crypto/mod.ts");
        const owner = await signingKeyPairFromSeed(new Uint8Array(groupSeed));
        const { items } = await swarm.retrieve(owner, GROUP_MESSAGES_NS);
        const swarmKey = groupSwarmKey(parseGroupId(id));
        const bobKey = await b.vault.db.selectFrom("group_keys").select(["generation", "key"])
          .where("group_id", "=", id).orderBy("generation", "desc").executeTakeFirst();
        let found = 0;
        for (const item of items) {
          const gen = groupMessageGeneration(item.data);
          if (gen !== bobKey!.generation) continue;
          const opened = await openGroupMessage(item.data, swarmKey, new Uint8Array(bobKey!.key));
          if (!opened) continue;
          const content = parseContent(opened.content);
          if (content.type !== "text" || content.text !== "after carol left") continue;
          found++;
          const candidates = [
            ...carolKeys.map((k) => new Uint8Array(k.key)),
            new Uint8Array(carolRow.access_seed),
            c.keys.seed,
          ];
          for (const k of candidates) {
            assertEquals(await openGroupMessage(item.data, swarmKey, k), undefined);
          }
        }
        assertEquals(found, 1);
      }, net.directory);
    }),
});

Deno.test({
  name: "groups over relays: an offline member catches up; a leave makes the admin rekey",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTestRelayNet(async (net) => {
      await withSides(["Alice", "Bob"], async ([alice, bob]) => {
        const a = alice!, b = bob!;
        const { id } = await a.chat.groups().create("Catch-up", [b.id]);
        await waitFor(async () => (await b.chat.groups().list()).length === 1);
        await b.chat.groups().join(id);
        await waitFor(async () => (await b.chat.groups().get(id)).memberCount === 2);
        await b.chat.stop();
        for (const text of ["one", "two", "three"]) await a.chat.groups().send(id, { text });
        await waitFor(async () => (await a.chat.messages(id)).every((m) => m.status === "sent"));
        await b.restart();
        await waitFor(async () => (await b.texts(id)).join() === "one,two,three");
        const generation = async () =>
          (await a.vault.db.selectFrom("group_keys").select("generation").where("group_id", "=", id)
            .execute()).length;
        assertEquals(await generation(), 1);
        await b.chat.groups().leave(id);
        assertEquals((await b.chat.groups().get(id)).state, "left");
        await waitFor(async () => (await a.chat.groups().get(id)).memberCount === 1);
        assertEquals(await generation(), 2);
      }, net.directory);
    }),
});

Deno.test("groups: the 101st member is group_full; blocked, own and bad ids are refused", async () => {
  await withSides(["Alice"], async ([alice]) => {
    const groups = alice!.chat.groups();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await accountKeysFromSeed(createSeed())).accountId);
    const full = await assertRejects(() => groups.create("Big", ids), HearthError);
    assertEquals(full.code, "group_full");
    const created = await groups.create("Big", ids.slice(0, 99));
    assertEquals(created.memberCount, 100);
    const again = await assertRejects(() => groups.addMember(created.id, ids[99]!), HearthError);
    assertEquals(again.code, "group_full");
    const own = await assertRejects(() => groups.create("x", [alice!.id]), HearthError);
    assertEquals(own.code, "bad_request");
    const bad = await assertRejects(() => groups.create("x", ["hearth1nope"]), HearthError);
    assertEquals(bad.code, "bad_account_id");
    const badId = await assertRejects(() => groups.get("hearthg1nope"), HearthError);
    assertEquals(badId.code, "bad_request");
  });
});

Deno.test("groups: a forged state (signed by a member) and a forged promotion are ignored", async () => {
  await withSides(["Alice", "Bob"], async ([alice, bob]) => {
    const a = alice!, b = bob!;
    const group = await a.chat.groups().create("Real", [b.id]);
    // Bob's copy, as if invited and joined, with Alice's state applied.
    const row = (await a.vault.db.selectFrom("groups").selectAll().where("id", "=", group.id)
      .executeTakeFirst())!;
    const stateItem = (await a.vault.db.selectFrom("group_outbox").select("data")
      .where("kind", "=", "state").executeTakeFirst())!;
    await b.vault.db.insertInto("groups").values({
      id: group.id,
      state: "joined",
      name: "Real",
      access_seed: randomBytes(32),
      access_token: randomBytes(64),
      invited_by: a.id,
      created_at: 1,
    }).execute();
    const item = (data: Uint8Array) => ({
      hash: crypto.randomUUID().replaceAll("-", "").padEnd(64, "0"),
      expiry: 0,
      data,
    });
    assertEquals(
      await b.chat.groups().receiveState(group.id, [item(new Uint8Array(stateItem.data))]),
      "changed",
    );
    // A member forges a newer state that makes it the only member, signed with its own key.
    const forger = await generateSigningKeyPair();
    const forged = await sealState(forger, {
      seq: Date.now() + 1e9,
      generation: 9,
      key: randomBytes(32),
      info: {
        name: "Hijacked",
        members: [{ accountId: b.id, access: randomBytes(32), admin: true }],
        revoked: [],
      },
    });
    assertEquals(await b.chat.groups().receiveState(group.id, [item(forged)]), "same");
    const view = await b.chat.groups().get(group.id);
    assertEquals([view.name, view.memberCount, view.admin], ["Real", 2, false]);
    // A promotion whose seed is not the group's is ignored.
    const fake = await b.chat.groups().acceptInvite(b.vault.db, {
      hash: "00".repeat(32),
      sender: a.id,
      sentAt: 1,
      now: 1,
      invite: {
        type: "group-invite",
        group: group.id,
        name: "Real",
        access: toBase64(randomBytes(32)),
        token: toBase64(randomBytes(64)),
        admin: toBase64(forger.seed),
      },
    });
    assertEquals(fake, undefined);
    assertEquals((await b.chat.groups().get(group.id)).admin, false);
    void row;
  });
});

Deno.test({
  name: "groups over relays: a restored account (config only) resumes its groups and fetches keys",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTestRelayNet(async (net) => {
      await withSides(["Alice", "Bob"], async ([alice, bob], nodes) => {
        const a = alice!, b = bob!;
        const { id } = await a.chat.groups().create("Restored", [b.id]);
        await waitFor(async () => (await b.chat.groups().list()).length === 1);
        await b.chat.groups().join(id);
        await waitFor(async () => (await b.chat.groups().get(id)).memberCount === 2);
        // Bob restores on a new node: only what the account config carries.
        const { readConfig, applyConfig } = await import("../sync/config_rows.ts");
        const config = await readConfig(b.vault.db);
        assertEquals(config.groups?.map((g) => [g.id, g.state]), [[id, "joined"]]);
        const seed = (await b.vault.db.selectFrom("account").select("seed").executeTakeFirst())!;
        await b.chat.stop();
        const fresh = new Side(`${b.dir}-restored`, nodes);
        fresh.keys = b.keys;
        fresh.vault = await ClientVault.open(fresh.dir, { kdfParams: TEST_KDF });
        await fresh.vault.create(TEST_PASS);
        await fresh.vault.db.insertInto("account")
          .values({ id: 1, seed: new Uint8Array(seed.seed), display_name: "Bob", created_at: 1 })
          .execute();
        await applyConfig(fresh.vault.db, config, { now: Date.now() });
        await fresh.start();
        try {
          await waitFor(async () => (await fresh.chat.groups().get(id)).memberCount === 2);
          await a.chat.groups().send(id, { text: "after restore" });
          await waitFor(async () => (await fresh.texts(id)).includes("after restore"));
          await fresh.chat.groups().send(id, { text: "bob is back" });
          await waitFor(async () => (await a.texts(id)).includes("bob is back"));
        } finally {
          await fresh.close();
          await Deno.remove(fresh.dir, { recursive: true });
          await b.start();
        }
      }, net.directory);
    }),
});
