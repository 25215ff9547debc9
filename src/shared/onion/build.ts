/**
 * The client side of onion routing (docs/PROTOCOL.md §7): build a packet
 * of layers for a path of hops, and open the answer that comes back.
 * @module
 */
import { fromHex, randomBytes, u32 } from "../crypto/bytes.ts";
import { generateDhKeyPair, x25519 } from "../crypto/dh.ts";
import { AEAD_TAG_BYTES, aesCtrXor, aesGcmOpen, aesGcmSeal } from "../crypto/aead.ts";
import { pad, PAD_OVERHEAD, unpad } from "../crypto/pad.ts";
import { CryptoError } from "../crypto/errors.ts";
import { MAX_ONION_HOPS, ONION_PACKET_SIZES, ONION_RESPONSE_SIZES } from "../codec/limits.ts";
import {
  deriveLayerKeys,
  HEADER_BYTES,
  LAYER_NONCE,
  type LayerKeys,
  SLOT_BYTES,
} from "./layer_keys.ts";
import { encodeRouting, type Routing } from "./routing.ts";

/** A hop of a path, as its node record names it (hex keys). */
export interface OnionHop {
  /** Ed25519 node ID, 32 bytes hex. */
  readonly id: string;
  /** X25519 key, 32 bytes hex. */
  readonly x25519: string;
}

/** One layer to seal: the hop's X25519 key and what the hop is told. */
export interface OnionLayer {
  /** The hop's X25519 key, 32 bytes. */
  readonly x25519: Uint8Array;
  /** What the hop is told to do. */
  readonly routing: Routing;
}

/** An answer opened by the client. */
export interface OpenedResponse {
  /** Index in the path of the hop that created the answer. */
  hopIndex: number;
  /** The unpadded response frame. */
  body: Uint8Array;
}

/** A built packet and the means to read its answer. */
export interface OnionPacket {
  /** The bytes to post to the first hop; one of the packet sizes. */
  packet: Uint8Array;
  /**
   * Open the answer of the first hop.
   * @throws {CryptoError} when no hop's key opens it
   */
  openResponse(response: Uint8Array): Promise<OpenedResponse>;
}

/** Largest `ts` jitter of a layer, ms: layers of one packet never share a timestamp. */
const TS_JITTER_MS = 10_000;

/**
 * The smallest packet size whose body holds a request of this length.
 * @returns the size, or undefined when the request is too large
 */
export function packetSizeFor(requestBytes: number): number | undefined {
  const overhead = HEADER_BYTES + PAD_OVERHEAD + AEAD_TAG_BYTES;
  return ONION_PACKET_SIZES.find((size) => requestBytes + overhead <= size);
}

/**
 * Build an onion packet for a path: every hop but the last forwards to the
 * next, the last one runs the request.
 * @param hops the path, first hop first (1 to 5 hops)
 * @param request the request frame for the last hop
 * @param options.clock the time source of the layers' timestamps
 * @returns the packet and its response opener
 * @throws {RangeError} when the path is empty or too long, or the request too large
 * @throws {TypeError} when a hop's key or ID is not 32 bytes of hex
 * @throws {CryptoError} when a hop's X25519 key is of small order
 * @example
 * const { packet, openResponse } = await buildOnionPacket(path, encodeFrame({ method: "swarm", key }));
 */
export async function buildOnionPacket(
  hops: readonly OnionHop[],
  request: Uint8Array,
  options: { clock?: () => number } = {},
): Promise<OnionPacket> {
  checkHopCount(hops.length);
  const now = (options.clock ?? Date.now)();
  const layers = hops.map((hop, i): OnionLayer => {
    const ts = Math.max(0, now - (crypto.getRandomValues(new Uint16Array(1))[0]! % TS_JITTER_MS));
    const next = hops[i + 1];
    return {
      x25519: fromHex(hop.x25519, 32),
      routing: next ? { kind: "forward", ts, next: fromHex(next.id, 32) } : { kind: "final", ts },
    };
  });
  return await sealOnionLayers(layers, request);
}

/**
 * Seal explicit layers into a packet; the body is sealed for the last
 * layer whatever its kind. {@link buildOnionPacket} is the usual entry.
 * @param layers 1 to 5 layers, first hop first
 * @param request the request frame for the last layer
 * @throws {RangeError} when there are no layers or too many, or the request is too large
 */
export async function sealOnionLayers(
  layers: readonly OnionLayer[],
  request: Uint8Array,
): Promise<OnionPacket> {
  checkHopCount(layers.length);
  const size = packetSizeFor(request.length);
  if (size === undefined) throw new RangeError("Request is too large for an onion packet");
  const ad = u32(size);
  const sealed = await Promise.all(layers.map((layer) => sealSlot(layer, ad)));
  const keys = sealed.map((s) => s.keys);
  const n = layers.length;

  // Slots past the last layer are random filler. Hop k XORs the packet,
  // shifted by a slot, with the stream of its shift key; so slot i is
  // pre-XORed with the header part of the streams of the hops before it.
  const streams = await Promise.all(
    keys.slice(0, n - 1).map((k) => aesCtrXor(k.shift, new Uint8Array(HEADER_BYTES))),
  );
  const header = randomBytes(HEADER_BYTES);
  for (let i = 0; i < n; i++) {
    const slot = sealed[i]!.slot;
    for (let k = 0; k < i; k++) {
      const stream = streams[k]!;
      const offset = (i - 1 - k) * SLOT_BYTES;
      for (let j = 0; j < SLOT_BYTES; j++) slot[j]! ^= stream[offset + j]!;
    }
    header.set(slot, i * SLOT_BYTES);
  }

  // The body is sealed for the last layer, then XORed with the body part
  // (from byte 560) of the shift streams of the hops before it.
  const body = await aesGcmSeal(
    keys[n - 1]!.final,
    LAYER_NONCE,
    pad(request, size - HEADER_BYTES - AEAD_TAG_BYTES),
    ad,
  );
  let packet: Uint8Array = new Uint8Array(size);
  packet.set(body, HEADER_BYTES);
  for (let k = 0; k < n - 1; k++) packet = await aesCtrXor(keys[k]!.shift, packet);
  packet.set(header);
  return { packet, openResponse: (response) => openOnionResponse(keys, response) };
}

function checkHopCount(n: number): void {
  if (n < 1 || n > MAX_ONION_HOPS) {
    throw new RangeError(`An onion path has 1 to ${MAX_ONION_HOPS} hops`);
  }
}

async function sealSlot(
  layer: OnionLayer,
  ad: Uint8Array,
): Promise<{ keys: LayerKeys; slot: Uint8Array }> {
  if (layer.x25519.length !== 32) throw new TypeError("Hop X25519 key must be 32 bytes");
  const eph = await generateDhKeyPair();
  const secret = await x25519(eph, layer.x25519);
  const keys = deriveLayerKeys(secret, { eph: eph.publicKey, node: layer.x25519 });
  const routing = await aesGcmSeal(keys.route, LAYER_NONCE, encodeRouting(layer.routing), ad);
  const slot = new Uint8Array(SLOT_BYTES);
  slot.set(eph.publicKey);
  slot.set(routing, eph.publicKey.length);
  return { keys, slot };
}

/**
 * Open an answer: try hop 0's response key, then remove hop 0's response
 * layer and try hop 1, and so on.
 */
async function openOnionResponse(
  keys: readonly LayerKeys[],
  response: Uint8Array,
): Promise<OpenedResponse> {
  if (!(ONION_RESPONSE_SIZES as readonly number[]).includes(response.length)) {
    throw new CryptoError();
  }
  const ad = u32(response.length);
  let layer = response;
  for (let i = 0; i < keys.length; i++) {
    let padded: Uint8Array | undefined;
    try {
      padded = await aesGcmOpen(keys[i]!.resp, LAYER_NONCE, layer, ad);
    } catch (err) {
      if (!(err instanceof CryptoError)) throw err;
    }
    if (padded) return { hopIndex: i, body: unpad(padded) };
    if (i < keys.length - 1) layer = await aesCtrXor(keys[i]!.rstream, layer);
  }
  throw new CryptoError();
}
