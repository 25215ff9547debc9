/**
 * Whole paths built by the client and peeled hop by hop with the hops'
 * real X25519 keys: forwarding, the final request, unlinkability between
 * hops, tampering, replays, timestamps, the hop limit and answers.
 */
import { assert, assertEquals, assertFalse, assertRejects } from "../../../tests/assert.ts";
import { fromHex, randomBytes, toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { type DhKeyPair, generateDhKeyPair } from "../../shared/crypto/dh.ts";
import { CryptoError } from "../../shared/crypto/errors.ts";
import { encodeErrorFrame } from "../../shared/codec/error_frame.ts";
import { HearthError } from "../../shared/errors.ts";
import { buildOnionPacket, type OnionPacket, sealOnionLayers } from "../../shared/onion/build.ts";
import type { LayerKeys } from "../../shared/onion/layer_keys.ts";
import { type PeeledLayer, peelLayer, sealResponse, wrapForwardedResponse } from "./peel.ts";
import { ReplayCache } from "./replay_cache.ts";

const NOW = 1_764_000_000_000;

interface TestHop {
  id: string;
  x25519: string;
  dh: DhKeyPair;
  replay: ReplayCache;
}

async function makeHops(n: number): Promise<TestHop[]> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const dh = await generateDhKeyPair();
    return {
      id: toHex(randomBytes(32)),
      x25519: toHex(dh.publicKey),
      dh,
      replay: new ReplayCache({ clock: () => NOW }),
    };
  }));
}

function peel(hop: TestHop, packet: Uint8Array, now = NOW): Promise<PeeledLayer> {
  return peelLayer(packet, { dh: hop.dh, replay: hop.replay, now });
}

/** Peel a whole path; every layer but the last must be a forward to the next hop. */
async function peelPath(
  hops: TestHop[],
  packet: Uint8Array,
): Promise<{ packets: Uint8Array[]; layers: PeeledLayer[] }> {
  const packets = [packet];
  const layers: PeeledLayer[] = [];
  for (let i = 0; i < hops.length; i++) {
    const layer = await peel(hops[i]!, packets[i]!);
    layers.push(layer);
    if (i < hops.length - 1) {
      assertEquals(layer.kind, "forward", `hop ${i}`);
      assert(layer.kind === "forward");
      assertEquals(layer.next, hops[i + 1]!.id);
      packets.push(layer.packet);
    }
  }
  return { packets, layers };
}

/** Whether two byte strings share any 32-byte window, wherever it sits. */
function shareWindow(a: Uint8Array, b: Uint8Array): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + 32 <= a.length; i++) seen.add(toHex(a.subarray(i, i + 32)));
  for (let i = 0; i + 32 <= b.length; i++) if (seen.has(toHex(b.subarray(i, i + 32)))) return true;
  return false;
}

function errorCode(layer: PeeledLayer): string | undefined {
  return layer.kind === "error" ? layer.error.code : undefined;
}

for (const n of [1, 2, 3, 4, 5]) {
  Deno.test(`peelLayer: a ${n}-hop path delivers the request, same size at every hop`, async () => {
    const hops = await makeHops(n);
    const request = utf8(`request through ${n} hops`);
    const { packet } = await buildOnionPacket(hops, request, { clock: () => NOW });
    const { packets, layers } = await peelPath(hops, packet);
    for (const p of packets) assertEquals(p.length, packet.length);
    const last = layers[n - 1]!;
    assert(last.kind === "final", `last layer is ${last.kind}`);
    assertEquals(last.request, request);
    for (let i = 0; i + 1 < packets.length; i++) {
      assertFalse(shareWindow(packets[i]!, packets[i + 1]!), `hops ${i} and ${i + 1} are linkable`);
    }
  });
}

Deno.test("peelLayer: a 16 KiB packet through 3 hops is unlinkable too", async () => {
  const hops = await makeHops(3);
  const request = new Uint8Array(10_000); // zeros: the least random plaintext
  const { packet } = await buildOnionPacket(hops, request, { clock: () => NOW });
  assertEquals(packet.length, 16_384);
  const { packets, layers } = await peelPath(hops, packet);
  assertFalse(shareWindow(packets[0]!, packets[1]!));
  assertFalse(shareWindow(packets[1]!, packets[2]!));
  const last = layers[2]!;
  assert(last.kind === "final");
  assertEquals(last.request, request);
});

Deno.test("peelLayer: a tampered slot fails at its own hop, before any key is kept", async () => {
  for (const target of [0, 1, 2]) {
    const hops = await makeHops(3);
    const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW });
    const bad = packet.slice();
    bad[target * 112 + 50]! ^= 0x01;
    let current: Uint8Array = bad;
    for (let i = 0; i < target; i++) {
      const layer = await peel(hops[i]!, current);
      assert(layer.kind === "forward", `hop ${i} before the tampered one`);
      current = layer.packet;
    }
    const failed = await peel(hops[target]!, current);
    assertEquals(errorCode(failed), "decrypt_failed");
    assert(failed.kind === "error" && failed.keys === undefined);
  }
});

Deno.test("peelLayer: a tampered ephemeral key or wrong node key does not decrypt", async () => {
  const hops = await makeHops(2);
  const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW });
  const bad = packet.slice();
  bad[3]! ^= 0x80;
  assertEquals(errorCode(await peel(hops[0]!, bad)), "decrypt_failed");
  // The second hop cannot peel the first hop's layer.
  assertEquals(errorCode(await peel(hops[1]!, packet)), "decrypt_failed");
  // A small-order ephemeral key (all zero).
  const zero = packet.slice();
  zero.fill(0, 0, 32);
  assertEquals(errorCode(await peel(hops[0]!, zero)), "decrypt_failed");
});

Deno.test("peelLayer: a tampered body passes the relays and fails at the final hop", async () => {
  const hops = await makeHops(3);
  const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW });
  const bad = packet.slice();
  bad[1_500]! ^= 0x01;
  const first = await peel(hops[0]!, bad);
  assert(first.kind === "forward");
  const second = await peel(hops[1]!, first.packet);
  assert(second.kind === "forward");
  const final = await peel(hops[2]!, second.packet);
  assertEquals(errorCode(final), "decrypt_failed");
  assert(final.kind === "error" && final.keys !== undefined, "a sealed answer is possible");
});

Deno.test("peelLayer: a layer seen before is a replay, answered without keys", async () => {
  const hops = await makeHops(2);
  const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW });
  assertEquals((await peel(hops[0]!, packet)).kind, "forward");
  const again = await peel(hops[0]!, packet);
  assertEquals(errorCode(again), "replay");
  assert(again.kind === "error" && again.keys === undefined);
  // Still refused later in the window; once the tag is forgotten, the
  // timestamp is stale, so the layer is never accepted twice.
  assertEquals(errorCode(await peel(hops[0]!, packet, NOW + 4 * 60_000)), "replay");
  assertEquals(errorCode(await peel(hops[0]!, packet, NOW + 11 * 60_000)), "bad_timestamp");
});

Deno.test("peelLayer: a timestamp more than 5 minutes off is refused", async () => {
  const hops = await makeHops(1);
  for (const offset of [-6 * 60_000, 6 * 60_000]) {
    const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW + offset });
    const layer = await peel(hops[0]!, packet);
    assertEquals(errorCode(layer), "bad_timestamp");
    assert(layer.kind === "error" && layer.keys === undefined);
  }
  const { packet } = await buildOnionPacket(hops, utf8("x"), { clock: () => NOW - 4 * 60_000 });
  assertEquals((await peel(hops[0]!, packet)).kind, "final");
});

Deno.test("peelLayer: a full replay cache refuses new layers as unavailable", async () => {
  const [hop] = await makeHops(1);
  hop!.replay = new ReplayCache({ clock: () => NOW, maxEntries: 1 });
  const a = await buildOnionPacket([hop!], utf8("a"), { clock: () => NOW });
  const b = await buildOnionPacket([hop!], utf8("b"), { clock: () => NOW });
  assertEquals((await peel(hop!, a.packet)).kind, "final");
  assertEquals(errorCode(await peel(hop!, b.packet)), "unavailable");
});

Deno.test("peelLayer: a loop of 5 forward layers dies at the 6th hop", async () => {
  const hops = await makeHops(5);
  const ts = NOW;
  const { packet } = await sealOnionLayers(
    hops.map((hop, i) => ({
      x25519: hop.dh.publicKey,
      routing: { kind: "forward", ts, next: fromHex(hops[(i + 1) % 5]!.id) },
    })),
    utf8("loop"),
  );
  let current: Uint8Array = packet;
  for (let i = 0; i < 5; i++) {
    const layer = await peel(hops[i]!, current);
    assert(layer.kind === "forward", `hop ${i}`);
    current = layer.packet;
  }
  // Back at the first hop with a fresh cache: the slot is filler.
  hops[0]!.replay = new ReplayCache({ clock: () => NOW });
  assertEquals(errorCode(await peel(hops[0]!, current)), "decrypt_failed");
});

Deno.test("peelLayer: packets of other sizes are refused", async () => {
  const [hop] = await makeHops(1);
  for (const size of [0, 1, 560, 2_047, 2_049, 16_383, 98_305]) {
    const layer = await peel(hop!, new Uint8Array(size));
    assertEquals(errorCode(layer), "bad_size", `size ${size}`);
  }
});

/** Wrap an answer created at hop `from` back through the hops before it. */
async function answerFrom(layers: PeeledLayer[], from: number, frame: Uint8Array) {
  const keysAt = (i: number): LayerKeys => {
    const l = layers[i]!;
    assert(l.keys !== undefined);
    return l.keys;
  };
  let response = await sealResponse(keysAt(from), frame);
  const created = response;
  for (let i = from - 1; i >= 0; i--) {
    const wrapped = await wrapForwardedResponse(keysAt(i), response);
    assertEquals(wrapped.length, response.length);
    assertFalse(shareWindow(wrapped, response), `answer is linkable across hop ${i}`);
    response = wrapped;
  }
  return { created, response };
}

Deno.test("answers: the final hop's response opens with its index", async () => {
  const hops = await makeHops(4);
  const onion: OnionPacket = await buildOnionPacket(hops, utf8("q"), { clock: () => NOW });
  const { layers } = await peelPath(hops, onion.packet);
  for (const frame of [utf8("small answer"), randomBytes(20_000)]) {
    const { response } = await answerFrom(layers, 3, frame);
    assertEquals(response.length, frame.length < 2_000 ? 2_048 : 98_304);
    assertEquals(await onion.openResponse(response), { hopIndex: 3, body: frame });
  }
});

Deno.test("answers: an erroring relay's answer opens with its index", async () => {
  const hops = await makeHops(4);
  const onion = await buildOnionPacket(hops, utf8("q"), { clock: () => NOW });
  const { layers } = await peelPath(hops, onion.packet);
  const frame = encodeErrorFrame(
    new HearthError("unknown_hop", "Next hop is not a known live node"),
  );
  const { response } = await answerFrom(layers, 1, frame);
  assertEquals(response.length, 2_048);
  assertEquals(await onion.openResponse(response), { hopIndex: 1, body: frame });
  // Another packet's keys do not open it.
  const other = await buildOnionPacket(hops, utf8("q"), { clock: () => NOW });
  await assertRejects(() => other.openResponse(response), CryptoError);
});

Deno.test("answers: a frame too large for any response size is a RangeError", async () => {
  const hops = await makeHops(1);
  const onion = await buildOnionPacket(hops, utf8("q"), { clock: () => NOW });
  const layer = await peel(hops[0]!, onion.packet);
  assert(layer.kind === "final");
  await assertRejects(() => sealResponse(layer.keys, new Uint8Array(98_304 - 20 + 1)), RangeError);
  const fits = await sealResponse(layer.keys, new Uint8Array(98_304 - 20));
  assertEquals(fits.length, 98_304);
  await assertRejects(() => wrapForwardedResponse(layer.keys, new Uint8Array(100)), RangeError);
});
