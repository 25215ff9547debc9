/**
 * Restore from the recovery phrase on a fresh node of a real devnet: the
 * account config (profile, contacts, blocked list) comes back from the
 * account's swarm, and a message that waited in the inbox arrives.
 */
import { assertEquals } from "./assert.ts";
import { type NodeProcess, ownerApi, waitFor, withDevnet } from "../tools/devnet_lib.ts";
import { accountKeysFromSeed } from "../src/client/account/mod.ts";
import { randomBytes } from "../src/shared/crypto/mod.ts";

const PASS = "restore test passphrase";

async function ok(node: NodeProcess, method: string, path: string, body?: unknown) {
  const res = await ownerApi(node, method, path, body);
  assertEquals(res.status < 300, true, `${method} ${path}: ${JSON.stringify(res.json)}`);
  return res.json;
}

type Contact = { accountId: string; state: string; displayName: string | null };

Deno.test({
  name: "restoring the phrase on a fresh node brings back profile, contacts, blocks and the inbox",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const wait = { timeoutMs: 60_000, intervalMs: 200 };
    await withDevnet(5, async (devnet) => {
      const [, home, bobNode, fresh] = devnet.nodes as [
        NodeProcess,
        NodeProcess,
        NodeProcess,
        NodeProcess,
      ];
      const created = await ok(home, "POST", "/api/account", {
        passphrase: PASS,
        displayName: "Alice",
      });
      const alice = created.accountId as string;
      const phrase = created.recoveryPhrase as string;
      const bob = (await ok(bobNode, "POST", "/api/account", {
        passphrase: PASS,
        displayName: "Bob",
      })).accountId as string;
      const carol = (await accountKeysFromSeed(randomBytes(32))).accountId;

      // Alice writes to Bob and Carol (both become contacts), then blocks Carol.
      await ok(home, "POST", "/api/messages", { to: bob, text: "hello Bob" });
      await ok(home, "POST", "/api/messages", { to: carol, text: "hello Carol" });
      await ok(home, "POST", `/api/requests/${carol}/block`);
      // Locking publishes the changed config; Alice's inbox now waits in the swarm.
      await ok(home, "POST", "/api/lock");

      // Bob accepts and answers while Alice's home node is locked.
      await waitFor(async () => {
        const r = await ownerApi(bobNode, "GET", "/api/requests");
        return (r.json.requests as Contact[] ?? []).some((q) => q.accountId === alice);
      }, { ...wait, what: "Alice's request at Bob" });
      await ok(bobNode, "POST", `/api/requests/${alice}/accept`);
      await ok(bobNode, "POST", "/api/messages", { to: alice, text: "welcome back" });

      // The same phrase on a fresh node.
      const restored = await ownerApi(fresh, "POST", "/api/account", {
        passphrase: PASS,
        recoveryPhrase: phrase,
      });
      assertEquals(restored.status, 201, JSON.stringify(restored.json));
      assertEquals(restored.json.accountId, alice);
      assertEquals(restored.json.recoveryPhrase, undefined);

      await waitFor(async () => {
        const r = await ownerApi(fresh, "GET", "/api/contacts");
        const list = (r.json.contacts ?? []) as Contact[];
        const state = (id: string) => list.find((c) => c.accountId === id)?.state;
        return state(bob) === "contact" && state(carol) === "blocked";
      }, { ...wait, what: "Bob as a contact and Carol blocked on the fresh node" });
      await waitFor(async () => {
        const r = await ownerApi(fresh, "GET", "/api/account");
        return r.json.displayName === "Alice";
      }, { ...wait, what: "Alice's display name on the fresh node" });
      await waitFor(async () => {
        const r = await ownerApi(fresh, "GET", `/api/conversations/${bob}/messages`);
        const list = (r.json.messages ?? []) as { text: string }[];
        return list.some((m) => m.text === "welcome back");
      }, { ...wait, what: "Bob's waiting message on the fresh node" });
    }, { prefix: "hearth-restore-" });
  },
});
