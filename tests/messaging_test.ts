/**
 * 1:1 messaging on a real devnet of 5 node processes, through the owner
 * API: a message request, accept, a reply, delivery receipts; the
 * recipient's node down while messages are sent, then restarted and
 * unlocked: everything arrives in order, once; a blocked sender's later
 * message never appears. Every message between the two travels in a
 * forward-secret session (`encryption: "session"` on both sides, the first
 * one a prekey message).
 */
import { assert, assertEquals } from "./assert.ts";
import { type NodeProcess, ownerApi, waitFor, withDevnet } from "../tools/devnet_lib.ts";

const PASS = "messaging test passphrase";

type Msg = { id: string; text: string; status: string; direction: string; encryption: string };

async function messages(node: NodeProcess, peer: string): Promise<Msg[]> {
  const res = await ownerApi(node, "GET", `/api/conversations/${peer}/messages`);
  return res.status === 200 ? res.json.messages as Msg[] : [];
}

async function createAccount(node: NodeProcess, name: string): Promise<string> {
  const res = await ownerApi(node, "POST", "/api/account", { passphrase: PASS, displayName: name });
  assertEquals(res.status, 201);
  return res.json.accountId as string;
}

async function send(node: NodeProcess, to: string, text: string): Promise<Msg> {
  const res = await ownerApi(node, "POST", "/api/messages", { to, text });
  assertEquals(res.status, 201, JSON.stringify(res.json));
  return res.json as unknown as Msg;
}

Deno.test({
  name: "two accounts on a devnet exchange messages through requests, receipts and a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const wait = { timeoutMs: 60_000, intervalMs: 100 };
    await withDevnet(5, async (devnet) => {
      const nodeA = devnet.nodes[1]!;
      const alice = await createAccount(nodeA, "Alice");
      const bob = await createAccount(devnet.nodes[2]!, "Bob");
      const carol = await createAccount(devnet.nodes[3]!, "Carol");

      // Bad input gets a code.
      const bad = await ownerApi(nodeA, "POST", "/api/messages", {
        // A one-character typo (never the character already there).
        to: `${bob.slice(0, -1)}${bob.endsWith("x") ? "y" : "x"}`,
        text: "x",
      });
      assertEquals([bad.status, bad.json.error], [400, "bad_account_id"]);
      const empty = await ownerApi(nodeA, "POST", "/api/messages", { to: bob, text: "" });
      assertEquals([empty.status, empty.json.error], [400, "bad_request"]);
      const unknown = await ownerApi(nodeA, "GET", `/api/conversations/${carol}/messages`);
      assertEquals([unknown.status, unknown.json.error], [404, "not_found"]);

      // Bob's bundle is in his swarm before Alice's first message fetches it.
      await waitFor(async () => {
        const log = await Deno.readTextFile(devnet.nodes[2]!.logPath).catch(() => "");
        return log.includes("prekeys_published");
      }, { ...wait, what: "Bob's prekey bundle published" });
      const first = await send(nodeA, bob, "hello Bob");
      assertEquals(first.encryption, "session");
      assert(["queued", "sent"].includes(first.status));
      await waitFor(async () => {
        const r = await ownerApi(devnet.nodes[2]!, "GET", "/api/requests");
        return (r.json.requests as { accountId: string }[]).some((q) => q.accountId === alice);
      }, { ...wait, what: "Bob's message request" });
      const conv = await ownerApi(devnet.nodes[2]!, "GET", "/api/conversations");
      // Only Note to Self is listed: a request is not a conversation yet.
      assertEquals(
        (conv.json.conversations as { kind: string }[]).map((c) => c.kind),
        ["self"],
      );
      assertEquals((await messages(devnet.nodes[2]!, alice)).map((m) => m.text), ["hello Bob"]);
      const accepted = await ownerApi(devnet.nodes[2]!, "POST", `/api/requests/${alice}/accept`);
      assertEquals(accepted.status, 200);
      await send(devnet.nodes[2]!, alice, "hi Alice");
      await waitFor(async () => {
        const mine = await messages(nodeA, bob);
        return mine.length === 2 && mine[0]!.status === "delivered" &&
          mine[1]!.text === "hi Alice";
      }, { ...wait, what: "the reply and the delivery receipt" });
      const encryptions = async (node: NodeProcess, peer: string) =>
        (await messages(node, peer)).map((m) => m.encryption);
      assertEquals(await encryptions(nodeA, bob), ["session", "session"]);
      assertEquals(await encryptions(devnet.nodes[2]!, alice), ["session", "session"]);

      // Bob's node is down while Alice sends three messages.
      await devnet.nodes[2]!.stop();
      const texts = ["one", "two", "three"];
      for (const t of texts) await send(nodeA, bob, t);
      await waitFor(async () => {
        const mine = await messages(nodeA, bob);
        return mine.filter((m) => texts.includes(m.text)).every((m) => m.status === "sent");
      }, { ...wait, what: "the three stored in Bob's swarm" });
      const nodeB = await devnet.restart(2);
      assertEquals((await ownerApi(nodeB, "GET", "/api/conversations")).status, 423);
      assertEquals(
        (await ownerApi(nodeB, "POST", "/api/unlock", { passphrase: PASS })).status,
        200,
      );
      await waitFor(async () => (await messages(nodeB, alice)).length >= 5, {
        ...wait,
        what: "the three after the restart",
      });
      const got = (await messages(nodeB, alice)).map((m) => m.text);
      assertEquals(got, ["hello Bob", "hi Alice", ...texts]);
      assertEquals(await encryptions(nodeB, alice), Array(5).fill("session"));
      assertEquals(await encryptions(nodeA, bob), Array(5).fill("session"));

      // Carol writes, Bob blocks her; her later message never appears.
      const carolNode = devnet.nodes[3]!;
      await send(carolNode, bob, "hey Bob");
      await waitFor(async () => {
        const r = await ownerApi(nodeB, "GET", "/api/requests");
        return (r.json.requests as { accountId: string }[]).some((q) => q.accountId === carol);
      }, { ...wait, what: "Carol's request" });
      assertEquals((await ownerApi(nodeB, "POST", `/api/requests/${carol}/block`)).status, 200);
      await send(carolNode, bob, "blocked?");
      await waitFor(async () => {
        const mine = await messages(carolNode, bob);
        return mine.length === 2 && mine.every((m) => m.status === "sent");
      }, { ...wait, what: "Carol's second message stored" });
      await send(nodeA, bob, "after Carol");
      await waitFor(async () => (await messages(nodeB, alice)).length === 6, {
        ...wait,
        what: "a later message from Alice",
      });
      assertEquals(
        (await ownerApi(nodeB, "GET", `/api/conversations/${carol}/messages`)).status,
        404,
      );
      const contacts = await ownerApi(nodeB, "GET", "/api/contacts");
      const states = Object.fromEntries(
        (contacts.json.contacts as { accountId: string; state: string }[]).map((
          c,
        ) => [c.accountId, c.state]),
      );
      assertEquals(states, { [alice]: "contact", [carol]: "blocked" });
      // Unblocking shows what was kept from Carol: only her first message.
      assertEquals((await ownerApi(nodeB, "POST", `/api/requests/${carol}/accept`)).status, 200);
      assertEquals((await messages(nodeB, carol)).map((m) => m.text), ["hey Bob"]);
      const paths = await ownerApi(nodeB, "GET", "/api/paths");
      assertEquals(paths.status, 200);
      assert((paths.json.paths as { paths: unknown[] }).paths.length > 0);
    }, { prefix: "hearth-messaging-" });
  },
});
