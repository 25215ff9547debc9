/**
 * The client side of onion packets, checked with shared primitives only:
 * sizes, hop counts, the first hop's slot, the key split (cross-checked
 * with WebCrypto's HKDF) and opening answers. Peeling whole paths is in
 * src/relay/onion/peel_test.ts.
 */
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { buf, concatBytes, randomBytes, toHex, u32, utf8 } from "../crypto/bytes.ts";
import { type DhKeyPair, generateDhKeyPair, x25519 } from "../crypto/dh.ts";
import { aesGcmOpen, aesGcmSeal } from "../crypto/aead.ts";
import { pad } from "../crypto/pad.ts";
import { CryptoError } from "../crypto/errors.ts";
import { buildOnionPacket, packetSizeFor } from "./build.ts";
import {
  deriveLayerKeys,
  HEADER_BYTES,
  LAYER_KEYS_BYTES,
  LAYER_KEYS_LABEL,
  LAYER_NONCE,
  type LayerKeys,
} from "./layer_keys.ts";
import { decodeRouting } from "./routing.ts";

async function makeHops(
  n: number,
): Promise<{ keys: DhKeyPair[]; hops: { id: string; x25519: string }[] }> {
  const keys = await Promise.all(Array.from({ length: n }, () => generateDhKeyPair()));
  return {
    keys,
    hops: keys.map((k) => ({ id: toHex(randomBytes(32)), x25519: toHex(k.publicKey) })),
  };
}

/** The keys hop 0 derives from the packet's first slot. */
async function firstHopKeys(packet: Uint8Array, hop: DhKeyPair): Promise<LayerKeys> {
  const eph = packet.subarray(0, 32);
  return deriveLayerKeys(await x25519(hop, eph), { eph, node: hop.publicKey });
}

Deno.test("packetSizeFor: smallest size whose body holds the padded, sealed request", () => {
  assertEquals(packetSizeFor(0), 2_048);
  assertEquals(packetSizeFor(2_048 - 560 - 4 - 16), 2_048);
  assertEquals(packetSizeFor(2_048 - 560 - 4 - 16 + 1), 16_384);
  assertEquals(packetSizeFor(16_384 - 580), 16_384);
  assertEquals(packetSizeFor(16_384 - 580 + 1), 98_304);
  assertEquals(packetSizeFor(98_304 - 580), 98_304);
  assertEquals(packetSizeFor(98_304 - 580 + 1), undefined);
});

Deno.test("buildOnionPacket: picks the packet size, refuses what does not fit", async () => {
  const { hops } = await makeHops(3);
  assertEquals((await buildOnionPacket(hops, new Uint8Array(0))).packet.length, 2_048);
  assertEquals((await buildOnionPacket(hops, new Uint8Array(1_468))).packet.length, 2_048);
  assertEquals((await buildOnionPacket(hops, new Uint8Array(1_469))).packet.length, 16_384);
  assertEquals((await buildOnionPacket(hops, new Uint8Array(97_724))).packet.length, 98_304);
  await assertRejects(() => buildOnionPacket(hops, new Uint8Array(97_725)), RangeError);
});

Deno.test("buildOnionPacket: 1 to 5 hops with well-formed keys", async () => {
  const { hops } = await makeHops(6);
  await assertRejects(() => buildOnionPacket([], new Uint8Array(1)), RangeError);
  await assertRejects(() => buildOnionPacket(hops, new Uint8Array(1)), RangeError);
  await assertRejects(
    () => buildOnionPacket([{ ...hops[0]!, x25519: "zz" }], new Uint8Array(1)),
    TypeError,
  );
  await assertRejects(
    () => buildOnionPacket([hops[0]!, { ...hops[1]!, id: "abcd" }], new Uint8Array(1)),
    TypeError,
  );
  // A small-order point as a hop key: the shared secret would be all zero.
  await assertRejects(
    () => buildOnionPacket([{ ...hops[0]!, x25519: "00".repeat(32) }], new Uint8Array(1)),
    CryptoError,
  );
});

Deno.test("layer keys: one HKDF-SHA256 over the secret, salted with both keys", async () => {
  const node = await generateDhKeyPair();
  const eph = await generateDhKeyPair();
  const secret = await x25519(eph, node.publicKey);
  const ikm = await crypto.subtle.importKey("raw", buf(secret), "HKDF", false, ["deriveBits"]);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: buf(concatBytes(eph.publicKey, node.publicKey)),
        info: buf(utf8(LAYER_KEYS_LABEL)),
      },
      ikm,
      LAYER_KEYS_BYTES * 8,
    ),
  );
  const keys = deriveLayerKeys(secret, { eph: eph.publicKey, node: node.publicKey });
  assertEquals(
    concatBytes(keys.route, keys.shift, keys.final, keys.rstream, keys.resp, keys.tag),
    bits,
  );
});

Deno.test("buildOnionPacket: the first slot opens for the first hop only", async () => {
  const { keys, hops } = await makeHops(3);
  const now = 1_764_000_000_000;
  const { packet } = await buildOnionPacket(hops, utf8("hello"), { clock: () => now });
  const k0 = await firstHopKeys(packet, keys[0]!);
  const routing = decodeRouting(
    await aesGcmOpen(k0.route, LAYER_NONCE, packet.subarray(32, 112), u32(packet.length)),
  );
  assert(routing?.kind === "forward");
  assertEquals(toHex(routing.next), hops[1]!.id);
  assert(routing.ts <= now && routing.ts > now - 10_000, "ts is the clock minus a small jitter");
  // The second hop's key does not open the first slot.
  const k1 = await firstHopKeys(packet, keys[1]!);
  await assertRejects(
    () => aesGcmOpen(k1.route, LAYER_NONCE, packet.subarray(32, 112), u32(packet.length)),
    CryptoError,
  );
});

Deno.test("buildOnionPacket: one hop is final and its body opens", async () => {
  const { keys, hops } = await makeHops(1);
  const request = utf8("a request frame");
  const { packet } = await buildOnionPacket(hops, request);
  const k = await firstHopKeys(packet, keys[0]!);
  const routing = decodeRouting(
    await aesGcmOpen(k.route, LAYER_NONCE, packet.subarray(32, 112), u32(packet.length)),
  );
  assertEquals(routing?.kind, "final");
  const body = await aesGcmOpen(
    k.final,
    LAYER_NONCE,
    packet.subarray(HEADER_BYTES),
    u32(packet.length),
  );
  assertEquals(body, pad(request, packet.length - HEADER_BYTES - 16));
});

Deno.test("buildOnionPacket: two packets of one request share no bytes", async () => {
  const { hops } = await makeHops(3);
  const request = new Uint8Array(1_000);
  const a = (await buildOnionPacket(hops, request)).packet;
  const b = (await buildOnionPacket(hops, request)).packet;
  const windows = new Set<string>();
  for (let i = 0; i + 16 <= a.length; i++) windows.add(toHex(a.subarray(i, i + 16)));
  for (let i = 0; i + 16 <= b.length; i++) assert(!windows.has(toHex(b.subarray(i, i + 16))));
});

Deno.test("openResponse: opens the first hop's answer; refuses anything else", async () => {
  const { keys, hops } = await makeHops(3);
  const onion = await buildOnionPacket(hops, utf8("x"));
  const k0 = await firstHopKeys(onion.packet, keys[0]!);
  const frame = utf8("an error frame");
  const sealed = await aesGcmSeal(k0.resp, LAYER_NONCE, pad(frame, 2_048 - 16), u32(2_048));
  assertEquals(await onion.openResponse(sealed), { hopIndex: 0, body: frame });

  await assertRejects(() => onion.openResponse(randomBytes(2_048)), CryptoError);
  await assertRejects(() => onion.openResponse(sealed.subarray(0, 2_000)), CryptoError);
  const flipped = sealed.slice();
  flipped[100]! ^= 1;
  await assertRejects(() => onion.openResponse(flipped), CryptoError);
  // Sealed for another size: the size is authenticated.
  const wrongAd = await aesGcmSeal(k0.resp, LAYER_NONCE, pad(frame, 2_048 - 16), u32(16_384));
  await assertRejects(() => onion.openResponse(wrongAd), CryptoError);
});
