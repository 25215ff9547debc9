/**
 * SwarmClient against a real in-process relay network: a public-read
 * namespace is read by anyone, with no signature, while its writes stay
 * the owner's.
 */
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { generateSigningKeyPair } from "../../shared/crypto/sign.ts";
import { HearthError } from "../../shared/errors.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { withTestRelayNet } from "./test_relay_net.ts";

const HOUR = 3_600_000;

Deno.test("retrievePublic reads a public-read namespace without the owner's key", async () => {
  await withTestRelayNet(async (net) => {
    const owner = await generateSigningKeyPair();
    const key = swarmKeyOf(owner.publicKey);
    const writer = net.client();
    const reader = net.client();
    const data = randomBytes(2_000);
    const stored = await writer.store(key, 5, data, { ttlMs: HOUR, owner });
    // Unsigned writes stay refused, even through the client.
    const unsigned = await assertRejects(
      () => writer.store(key, 5, randomBytes(10), { ttlMs: HOUR }),
      HearthError,
    );
    assertEquals((unsigned as HearthError).code, "bad_namespace");
    for (const via of net.directory()) {
      const got = await reader.retrievePublic(key, 5, { via });
      assertEquals(got.items.map((i) => [i.hash, i.data]), [[stored.hash, data]]);
      assertEquals(got.more, false);
    }
    // The owner's signed retrieve of the same namespace sees the same item.
    assertEquals((await writer.retrieve(owner, 5)).items.map((i) => i.hash), [stored.hash]);
    // Another namespace of the same swarm is empty, and not readable unsigned.
    assertEquals((await reader.retrievePublic(key, 15)).items, []);
    await assertRejects(() => reader.retrievePublic(key, 2), RangeError);
    await assertRejects(() => reader.retrievePublic(key, 0), RangeError);
    const aborted = AbortSignal.abort();
    await assertRejects(() => reader.retrievePublic(key, 5, { signal: aborted }));
  });
});
