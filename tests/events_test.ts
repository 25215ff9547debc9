/**
 * The owner API's event stream on a real devnet of 5 node processes: A's
 * message shows on B's `GET /api/events` (as a request, then as a message
 * once they are contacts), and A's stream shows it `sent`.
 */
import { assertEquals } from "./assert.ts";
import { waitFor, withDevnet } from "../tools/devnet_lib.ts";
import { createAccount, EventLog, ownerApi } from "../bench/owner_api.ts";

const PASS = "events test passphrase";
const WAIT_MS = 60_000;

Deno.test({
  name: "a message sent on one node shows on the recipient's event stream",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const logs: EventLog[] = [];
    await withDevnet(5, async (devnet) => {
      try {
        const [nodeA, nodeB] = [devnet.nodes[1]!, devnet.nodes[2]!];
        const alice = await createAccount(nodeA, { passphrase: PASS, displayName: "Alice" });
        const bob = await createAccount(nodeB, { passphrase: PASS, displayName: "Bob" });
        const eventsA = await EventLog.open(nodeA);
        const eventsB = await EventLog.open(nodeB);
        logs.push(eventsA, eventsB);

        const first = await ownerApi(nodeA, "POST", "/api/messages", {
          to: bob,
          text: "hello Bob",
        });
        assertEquals(first.status, 201);
        const out = await eventsA.waitFor((e) => e.event === "message", WAIT_MS);
        assertEquals([out.data.id, out.data.direction], [first.json.id, "out"]);
        const sent = await eventsA.waitFor((e) => e.event === "status", WAIT_MS);
        assertEquals(sent.data, { id: first.json.id, conversationId: bob, status: "sent" });

        const got = await eventsB.waitFor((e) => e.event === "message", WAIT_MS);
        assertEquals([got.data.id, got.data.text, got.data.sender, got.data.direction], [
          first.json.id,
          "hello Bob",
          alice,
          "in",
        ]);
        const request = await eventsB.waitFor((e) => e.event === "request", WAIT_MS);
        assertEquals([request.data.accountId, request.data.displayName], [alice, "Alice"]);

        // Accepting sends a receipt: A's stream shows the message delivered.
        assertEquals((await ownerApi(nodeB, "POST", `/api/requests/${alice}/accept`)).status, 200);
        const delivered = await eventsA.waitFor(
          (e) => e.event === "status" && e.data.status === "delivered",
          WAIT_MS,
        );
        assertEquals(delivered.data.id, first.json.id);

        // Stopping a node with an event stream open ends the stream and the process.
        const nodeC = devnet.nodes[3]!;
        await createAccount(nodeC, { passphrase: PASS, displayName: "Carol" });
        const eventsC = await EventLog.open(nodeC);
        logs.push(eventsC);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stopped = await Promise.race([
          nodeC.stop().then(() => "stopped"),
          new Promise((resolve) => timer = setTimeout(() => resolve("hung"), 20_000)),
        ]).finally(() => clearTimeout(timer));
        if (stopped === "hung") await nodeC.stop("SIGKILL");
        assertEquals(stopped, "stopped", "the node stops with an event stream open");
        await eventsC.waitFor((e) => e.event === "locked", WAIT_MS);

        // Locking B ends its stream with `locked`.
        assertEquals((await ownerApi(nodeB, "POST", "/api/lock")).status, 200);
        await eventsB.waitFor((e) => e.event === "locked", WAIT_MS);
        await waitFor(() => Promise.resolve(eventsB.events.at(-1)?.event === "locked"), {
          timeoutMs: WAIT_MS,
          intervalMs: 50,
          what: "the locked event last",
        });
      } finally {
        for (const log of logs) await log.close();
      }
    }, { prefix: "hearth-events-" });
  },
});
