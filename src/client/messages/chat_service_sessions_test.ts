/**
 * 1:1 messaging through forward-secret sessions, end to end at the chat
 * service: two accounts with real keys, real encrypted client databases
 * and real prekeys; bundles signed and verified by the real bundle code
 * (one test fetches them from an in-process relay network, through the
 * publisher, the outbox worker and the inbox receiver). Items travel as
 * queued in the outbox (the bytes a swarm would store).
 */
import { assert, assertEquals } from "../../../tests/assert.ts";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import { type AccountKeys, accountKeysFromSeed, createSeed } from "../account/mod.ts";
import { TEST_KDF, TEST_PASS } from "../db/_test_helpers.ts";
import { ClientVault } from "../db/vault.ts";
import type { RetrievedItem } from "../network/swarm_client.ts";
import { withTestRelayNet } from "../network/test_relay_net.ts";
import { openBundle, type PrekeyBundle, signBundle } from "../sessions/prekey_bundle.ts";
import { currentBundle, responderPrekeys } from "../sessions/prekey_store.ts";
import { respondHandshake } from "../sessions/pqxdh.ts";
import { ratchetDecrypt } from "../sessions/ratchet.ts";
import type { BundleSource } from "../sessions/session_manager.ts";
import { decodeSessionRecord } from "../sessions/session_record.ts";
import { parseSessionPayload, type SessionPayload } from "../sessions/session_wire.ts";
import { queuedEvents } from "./test_chat_events.ts";
import { ChatService } from "./chat_service.ts";
import type { MessageView } from "./chat_views.ts";
import { parseContent } from "./content.ts";
import { openEnvelope } from "./envelope.ts";

/** One account: its vault (reopened on restart), keys and running chat. */
class Side {
  readonly dir: string;
  readonly seed = createSeed();
  keys!: AccountKeys;
  vault!: ClientVault;
  chat!: ChatService;
  /** The bundle source its chat uses; replaceable per test. */
  bundles: BundleSource;
  /** How often the chat asked for a bundle. */
  fetches = 0;

  constructor(dir: string, bundles: BundleSource) {
    this.dir = dir;
    this.bundles = bundles;
  }

  get id(): string {
    return this.keys.accountId;
  }

  async create(name: string): Promise<void> {
    this.keys = await accountKeysFromSeed(this.seed);
    this.vault = await ClientVault.open(this.dir, { kdfParams: TEST_KDF });
    await this.vault.create(TEST_PASS);
    await this.vault.db.insertInto("account")
      .values({ id: 1, seed: this.seed, display_name: name, created_at: 1 }).execute();
    await this.#start();
  }

  /** Stop the chat and close the database, then open and start them again. */
  async restart(): Promise<void> {
    await this.close();
    this.vault = await ClientVault.open(this.dir, { kdfParams: TEST_KDF });
    await this.vault.unlock(TEST_PASS);
    await this.#start();
  }

  async close(): Promise<void> {
    await this.chat.stop();
    await this.vault.close();
  }

  async #start(): Promise<void> {
    this.chat = await ChatService.start({
      db: this.vault.db,
      keys: this.keys,
      bundles: (peer, options) => {
        this.fetches++;
        return this.bundles(peer, options);
      },
    });
  }

  /**
   * Take every queued item as a swarm would store it: the outbox rows go,
   * their messages become `sent` (what the outbox worker does).
   */
  async drain(): Promise<RetrievedItem[]> {
    const db = this.vault.db;
    const rows = await db.selectFrom("outbox").selectAll().orderBy("created_at").orderBy("id")
      .execute();
    await db.deleteFrom("outbox").execute();
    const ids = rows.flatMap((r) => r.message_id === null ? [] : [r.message_id]);
    if (ids.length > 0) {
      await db.updateTable("messages").set({ status: "sent" }).where("id", "in", ids)
        .where("status", "=", "queued").execute();
    }
    return rows.map((r) => ({
      hash: toHex(randomBytes(32)),
      expiry: 0,
      data: new Uint8Array(r.envelope),
    }));
  }

  async messages(peer: Side): Promise<MessageView[]> {
    return await this.chat.messages(peer.id);
  }
}

/** The real bundle of a side: signed with its identity key, then opened and verified. */
async function bundleOf(side: Side): Promise<PrekeyBundle> {
  const signed = await signBundle(side.keys, await currentBundle(side.vault.db));
  return await openBundle(signed, side.keys.signing.publicKey);
}

/** Run `fn` with Alice and Bob, each with bundles read from the other's database. */
async function withPair(fn: (alice: Side, bob: Side) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-sessions-chat-" });
  const sides: Side[] = [];
  const fromPeer: BundleSource = async (peer) => {
    const side = sides.find((s) => s.id === peer);
    return side ? await bundleOf(side) : undefined;
  };
  try {
    for (const name of ["Alice", "Bob"]) {
      const side = new Side(`${dir}/${name}`, fromPeer);
      await side.create(name);
      sides.push(side);
    }
    await fn(sides[0]!, sides[1]!);
  } finally {
    for (const s of sides) await s.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** What an item carries, opened with the recipient's long-term keys only: its inner version and payload. */
async function outerOf(item: RetrievedItem, to: Side) {
  const opened = await openEnvelope(item.data, to.keys);
  return {
    version: opened.version,
    payload: opened.version === 2 ? parseSessionPayload(opened.content) : undefined,
    content: opened.version === 1 ? parseContent(opened.content) : undefined,
  };
}

async function kinds(items: RetrievedItem[], to: Side): Promise<string[]> {
  const out: string[] = [];
  for (const item of items) {
    const outer = await outerOf(item, to);
    out.push(outer.payload?.kind ?? "sealed");
  }
  return out;
}

Deno.test("a conversation runs on a session: prekey messages first, ratchet messages after the reply", async () => {
  await withPair(async (alice, bob) => {
    const first = await alice.chat.send(bob.id, "hello Bob");
    const second = await alice.chat.send(bob.id, "are you there?");
    assertEquals([first.encryption, second.encryption], ["session", "session"]);
    assertEquals(alice.fetches, 1);
    const opks = await bob.vault.db.selectFrom("prekeys").select("id").where("kind", "=", "opk")
      .execute();
    const toBob = await alice.drain();
    assertEquals(await kinds(toBob, bob), ["prekey", "prekey"]);
    await bob.chat.receive(toBob);
    const got = await bob.messages(alice);
    assertEquals(got.map((m) => [m.text, m.encryption]), [
      ["hello Bob", "session"],
      ["are you there?", "session"],
    ]);
    // One one-time prekey was used, and its private key is gone.
    const left = await bob.vault.db.selectFrom("prekeys").select("id").where("kind", "=", "opk")
      .execute();
    assertEquals(left.length, opks.length - 1);
    await bob.chat.decide(alice.id, "accept");
    await bob.chat.send(alice.id, "hi Alice");
    assertEquals(bob.fetches, 0);
    const toAlice = await bob.drain();
    // request-accept, the delivery receipt and the reply: all on Bob's session.
    assertEquals(await kinds(toAlice, alice), ["ratchet", "ratchet", "ratchet"]);
    await alice.chat.receive(toAlice);
    const mine = await alice.messages(bob);
    assertEquals(mine.map((m) => [m.text, m.status, m.encryption]), [
      ["hello Bob", "delivered", "session"],
      ["are you there?", "delivered", "session"],
      ["hi Alice", "read", "session"],
    ]);
    await alice.chat.send(bob.id, "now ratchet");
    const third = await alice.drain();
    // The receipt for Bob's reply, then the text: the handshake is over.
    assertEquals(await kinds(third, bob), ["ratchet", "ratchet"]);
    await bob.chat.receive(third);
    assertEquals((await bob.messages(alice)).at(-1)!.text, "now ratchet");
    // Note to Self never leaves the node.
    assertEquals((await alice.chat.send("self", "note")).encryption, "local");
  });
});

Deno.test("restarting either side mid-conversation loses nothing", async () => {
  await withPair(async (alice, bob) => {
    await alice.chat.send(bob.id, "before restart");
    const items = await alice.drain();
    await alice.restart();
    await bob.chat.receive(items);
    await bob.restart();
    await bob.chat.decide(alice.id, "accept");
    await bob.chat.send(alice.id, "reply after restart");
    const back = await bob.drain();
    await bob.restart();
    await alice.chat.receive(back);
    await alice.restart();
    for (let i = 0; i < 3; i++) await alice.chat.send(bob.id, `after ${i}`);
    const more = await alice.drain();
    await bob.chat.receive(more);
    assertEquals((await bob.messages(alice)).map((m) => [m.text, m.encryption]), [
      ["before restart", "session"],
      ["reply after restart", "session"],
      ["after 0", "session"],
      ["after 1", "session"],
      ["after 2", "session"],
    ]);
    assertEquals((await alice.messages(bob)).map((m) => m.status), [
      "delivered",
      "read",
      "sent",
      "sent",
      "sent",
    ]);
    assertEquals(alice.fetches + bob.fetches, 1);
  });
});

Deno.test("items delivered out of order, within a chain and across ratchet steps, all open", async () => {
  await withPair(async (alice, bob) => {
    await alice.chat.send(bob.id, "start");
    await bob.chat.receive(await alice.drain());
    await bob.chat.decide(alice.id, "accept");
    await alice.chat.receive(await bob.drain());
    const early = [];
    for (let i = 0; i < 4; i++) early.push(await alice.chat.send(bob.id, `early ${i}`));
    const chainOne = await alice.drain();
    // Bob answers on a chain that Alice's early items do not know yet.
    await bob.chat.send(alice.id, "interleaved");
    await alice.chat.receive(await bob.drain());
    for (let i = 0; i < 3; i++) await alice.chat.send(bob.id, `late ${i}`);
    const chainTwo = await alice.drain();
    // The newer chain first, each chain backwards.
    await bob.chat.receive([...chainTwo.toReversed(), ...chainOne.toReversed()]);
    const texts = (await bob.messages(alice)).map((m) => m.text);
    assertEquals(texts, [
      "start",
      "early 0",
      "early 1",
      "early 2",
      "early 3",
      "interleaved",
      "late 0",
      "late 1",
      "late 2",
    ]);
    assertEquals(early.every((m) => m.encryption === "session"), true);
  });
});

Deno.test("a lost session heals: the peer asks for a reset and the undelivered text is re-sent", async () => {
  await withPair(async (alice, bob) => {
    await alice.chat.send(bob.id, "first");
    await bob.chat.receive(await alice.drain());
    await bob.chat.decide(alice.id, "accept");
    await alice.chat.receive(await bob.drain());
    // A text Bob stores, but whose delivery receipt is lost.
    const unacked = await alice.chat.send(bob.id, "unacked");
    await bob.chat.receive(await alice.drain());
    assertEquals(await kinds(await bob.drain(), alice), ["ratchet"]);
    const events = alice.chat.events();
    // Bob loses its session state (e.g. a restored node).
    await bob.vault.db.deleteFrom("sessions").execute();
    const lost = await alice.chat.send(bob.id, "lost?");
    await alice.chat.react(lost.id, "👍");
    const broken = await alice.drain();
    assertEquals(await kinds(broken, bob), ["ratchet", "ratchet"]);
    await bob.chat.receive(broken);
    assertEquals((await bob.messages(alice)).map((m) => m.text), ["first", "unacked"]);
    // One reset for both items (at most one per peer per hour), sealed alone.
    const resets = await bob.drain();
    assertEquals(resets.length, 1);
    const reset = await outerOf(resets[0]!, alice);
    assertEquals([reset.version, reset.content?.type], [1, "session-reset"]);
    // Before the reset arrives, Alice queues a typing indicator (dropped with her sessions)
    // and a text (sealed again).
    await alice.chat.updateSettings({ typingIndicators: true });
    assertEquals(await alice.chat.typing(bob.id, true), true);
    const pendingText = await alice.chat.send(bob.id, "pending");
    const queuedBefore = await alice.vault.db.selectFrom("outbox").select("message_id")
      .orderBy("created_at").execute();
    assertEquals(queuedBefore.map((r) => r.message_id), [null, pendingText.id]);
    await alice.chat.receive(resets);
    const statuses = (await queuedEvents(events)).filter((e) => e.type === "status");
    assertEquals(statuses.map((e) => e.type === "status" && [e.status.id, e.status.status]), [
      [unacked.id, "queued"],
      [lost.id, "queued"],
    ]);
    assertEquals((await alice.messages(bob)).map((m) => [m.text, m.status]), [
      ["first", "delivered"],
      ["unacked", "queued"],
      ["lost?", "queued"],
      ["pending", "queued"],
    ]);
    // Re-sent under a new handshake, with their ids; the delivered first text is not.
    const resent = await alice.drain();
    assertEquals(await kinds(resent, bob), ["prekey", "prekey", "prekey"]);
    assertEquals(alice.fetches, 2);
    await bob.chat.receive(resent);
    const bobSees = await bob.messages(alice);
    // The one Bob had is not stored twice, but acknowledged again.
    assertEquals(bobSees.map((m) => [m.text, m.encryption]), [
      ["first", "session"],
      ["unacked", "session"],
      ["lost?", "session"],
      ["pending", "session"],
    ]);
    assertEquals(bobSees.slice(1).map((m) => m.id), [unacked.id, lost.id, pendingText.id]);
    await alice.chat.receive(await bob.drain());
    assertEquals((await alice.messages(bob)).map((m) => m.status), [
      "delivered",
      "delivered",
      "delivered",
      "delivered",
    ]);
    events.close();
  });
});

Deno.test("forward secrecy: earlier items, as stored, do not open with both sides' keys and state", async () => {
  await withPair(async (alice, bob) => {
    const stored: { item: RetrievedItem; to: Side }[] = [];
    const deliver = async (from: Side, to: Side) => {
      const items = await from.drain();
      for (const item of items) stored.push({ item, to });
      await to.chat.receive(items);
    };
    await alice.chat.send(bob.id, "secret one");
    await deliver(alice, bob);
    await bob.chat.decide(alice.id, "accept");
    await bob.chat.send(alice.id, "secret two");
    await deliver(bob, alice);
    for (let round = 0; round < 3; round++) {
      await alice.chat.send(bob.id, `alice ${round}`);
      await deliver(alice, bob);
      await bob.chat.send(alice.id, `bob ${round}`);
      await deliver(bob, alice);
    }
    assertEquals((await bob.messages(alice)).length, 8);
    assert(stored.length >= 10);
    // The compromise: every long-term key and every row of sessions and prekeys, of both.
    const compromised = await Promise.all([alice, bob].map(async (side) => ({
      side,
      sessions: (await side.vault.db.selectFrom("sessions").select("state").execute())
        .map((r) => decodeSessionRecord(new Uint8Array(r.state))),
    })));
    const states = compromised.flatMap((c) => c.sessions.map((s) => s.ratchet));
    let prekeyMessages = 0;
    for (const { item, to } of stored) {
      // The sealed layer opens with the long-term key: it hid the sender, not the content.
      const outer = await outerOf(item, to);
      assertEquals(outer.version, 2);
      const payload = outer.payload as SessionPayload;
      for (const state of states) {
        let opened = false;
        try {
          await ratchetDecrypt(state, payload.header, payload.ciphertext);
          opened = true;
        } catch { /* as it must */ }
        assertEquals(opened, false);
      }
      if (payload.kind === "prekey") {
        prekeyMessages++;
        // The one-time prekey is deleted: the handshake cannot be run again.
        assertEquals(await responderPrekeys(to.vault.db, payload.init), undefined);
        const spk = await to.vault.db.selectFrom("prekeys").select("id").where("kind", "=", "spk")
          .where("id", "=", payload.init.spkId).executeTakeFirst();
        assert(spk !== undefined, "the signed prekey is still there: only the OPK protects it");
        const withoutOpk = await responderPrekeys(to.vault.db, { ...payload.init, opkId: 0 });
        let redone = false;
        try {
          await respondHandshake(to.keys, alice.keys.signing.publicKey, payload.init, withoutOpk!);
          redone = true;
        } catch { /* refused: the init part names the deleted OPK */ }
        assertEquals(redone, false);
      }
    }
    assertEquals(prekeyMessages, 1);
  });
});

Deno.test("no bundle: the text is sealed alone and says so; control items never fetch", async () => {
  await withPair(async (alice, bob) => {
    alice.bundles = () => Promise.resolve(undefined);
    const sent = await alice.chat.send(bob.id, "no bundle");
    assertEquals(sent.encryption, "sealed");
    assertEquals(alice.fetches, 1);
    const items = await alice.drain();
    assertEquals((await outerOf(items[0]!, bob)).content?.type, "text");
    await bob.chat.receive(items);
    assertEquals((await bob.messages(alice)).map((m) => [m.text, m.encryption]), [
      ["no bundle", "sealed"],
    ]);
    // Bob's reply finds Alice's bundle: from then on, a session.
    await bob.chat.decide(alice.id, "accept");
    const before = bob.fetches;
    assertEquals(before, 0);
    const reply = await bob.chat.send(alice.id, "session now");
    assertEquals([reply.encryption, bob.fetches], ["session", 1]);
    const back = await bob.drain();
    assertEquals(await kinds(back, alice), ["sealed", "sealed", "prekey"]);
    await alice.chat.receive(back);
    const mine = await alice.messages(bob);
    assertEquals(mine.map((m) => [m.text, m.encryption]), [
      ["no bundle", "sealed"],
      ["session now", "session"],
    ]);
    const reaction = await alice.chat.react(mine[1]!.id, "🔥");
    assertEquals(reaction.reactions.length, 1);
    assertEquals(await kinds(await alice.drain(), bob), ["ratchet", "ratchet"]);
  });
});

Deno.test("a blocked sender's session item is dropped before it is decrypted", async () => {
  await withPair(async (alice, bob) => {
    await alice.chat.send(bob.id, "one");
    await bob.chat.receive(await alice.drain());
    await bob.chat.setBlocked(alice.id, true);
    const state = await bob.vault.db.selectFrom("sessions").select("state").execute();
    await alice.chat.send(bob.id, "two");
    await bob.chat.receive(await alice.drain());
    assertEquals(await bob.vault.db.selectFrom("sessions").select("state").execute(), state);
    assertEquals(await bob.drain(), []);
    await bob.chat.setBlocked(alice.id, false);
    assertEquals((await bob.messages(alice)).map((m) => m.text), ["one"]);
  });
});

Deno.test("over a relay network: bundles published and fetched, texts delivered on a session", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await withTestRelayNet(async (net) => {
    const dir = await Deno.makeTempDir({ prefix: "hearth-sessions-net-" });
    const chats: { vault: ClientVault; keys: AccountKeys; chat: ChatService }[] = [];
    try {
      for (const name of ["Alice", "Bob"]) {
        const seed = createSeed();
        const keys = await accountKeysFromSeed(seed);
        const vault = await ClientVault.open(`${dir}/${name}`, { kdfParams: TEST_KDF });
        await vault.create(TEST_PASS);
        await vault.db.insertInto("account")
          .values({ id: 1, seed, display_name: name, created_at: 1 }).execute();
        const chat = await ChatService.start({ db: vault.db, keys, nodes: net.directory });
        chats.push({ vault, keys, chat });
      }
      const [alice, bob] = chats as [typeof chats[0], typeof chats[0]];
      const published = async () =>
        (await Promise.all(
          chats.map((c) => c.vault.db.selectFrom("prekey_publish").select("id").executeTakeFirst()),
        )).every((r) => r !== undefined);
      await waitFor(published, 30_000);
      const sent = await alice.chat.send(bob.keys.accountId, "over the network");
      assertEquals(sent.encryption, "session");
      await waitFor(async () => (await bob.chat.requests()).length === 1, 30_000);
      await bob.chat.decide(alice.keys.accountId, "accept");
      const reply = await bob.chat.send(alice.keys.accountId, "and back");
      assertEquals(reply.encryption, "session");
      await waitFor(async () => {
        const mine = await alice.chat.messages(bob.keys.accountId);
        return mine.length === 2 && mine[0]!.status === "delivered";
      }, 30_000);
      const got = await alice.chat.messages(bob.keys.accountId);
      assertEquals(got.map((m) => [m.text, m.encryption]), [
        ["over the network", "session"],
        ["and back", "session"],
      ]);
    } finally {
      for (const c of chats) {
        await c.chat.stop();
        await c.vault.close();
      }
      await Deno.remove(dir, { recursive: true });
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
