import { assert, assertEquals } from "../../tests/assert.ts";
import { testIdentity } from "../../tests/test_identity.ts";
import { utf8 } from "../shared/crypto/bytes.ts";
import { HearthError } from "../shared/errors.ts";
import { PeerClient, verifyPeerRequest } from "./peer_client.ts";

async function rejects(p: Promise<unknown>): Promise<HearthError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof HearthError, `expected a HearthError, got ${err}`);
    return err;
  }
  throw new Error("Expected a rejection");
}

Deno.test("without a transport, requests go out with the global fetch", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => Response.json({ path: new URL(req.url).pathname, method: req.method }),
  );
  try {
    const client = new PeerClient(await testIdentity());
    const answer = await client.json(`127.0.0.1:${server.addr.port}`, "/v1/info");
    assertEquals(answer, { path: "/v1/info", method: "GET" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("a given transport carries the request, signed for its receiver", async () => {
  const caller = await testIdentity();
  const receiver = await testIdentity();
  const seen: { url: string; method: string; caller: string | null }[] = [];
  const transport: typeof fetch = async (input, init) => {
    const request = new Request(String(input), init);
    seen.push({
      url: request.url,
      method: request.method,
      caller: request.headers.get("x-hearth-node"),
    });
    const body = new Uint8Array(await request.arrayBuffer());
    const id = await verifyPeerRequest(request, body, {
      selfId: receiver.id,
      isKnownNode: (id) => id === caller.id,
      now: 5_000,
    });
    return Response.json({ from: id, body: new TextDecoder().decode(body) });
  };
  const client = new PeerClient(caller, { clock: () => 5_000, fetch: transport });
  const answer = await client.json("203.0.113.9:7000", "/v1/replicate/store", { n: 1 }, {
    signedFor: receiver.id,
  });
  assertEquals(answer, { from: caller.id, body: '{"n":1}' });
  assertEquals(seen, [{
    url: "http://203.0.113.9:7000/v1/replicate/store",
    method: "POST",
    caller: caller.id,
  }]);
});

Deno.test("a transport that never answers ends in a timeout; one that fails, in hop_failed", async () => {
  const identity = await testIdentity();
  const silent: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true });
    });
  const slow = new PeerClient(identity, { fetch: silent });
  assertEquals(
    (await rejects(slow.request("198.51.100.1:7000", "/v1/info", { timeoutMs: 50 }))).code,
    "timeout",
  );

  const broken: typeof fetch = () => Promise.reject(new TypeError("Connection refused"));
  const failing = new PeerClient(identity, { fetch: broken });
  assertEquals(
    (await rejects(failing.request("198.51.100.1:7000", "/v1/info", { body: utf8("x") }))).code,
    "hop_failed",
  );
});
