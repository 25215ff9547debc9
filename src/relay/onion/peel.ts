/**
 * What a hop does with an onion packet (docs/PROTOCOL.md §7): peel one
 * layer into a tagged union, and seal or re-encrypt the answer. Pure: no
 * network, the replay cache and the time are passed in.
 * @module
 */
import { toHex, u32 } from "../../shared/crypto/bytes.ts";
import { type DhKeyPair, x25519 } from "../../shared/crypto/dh.ts";
import { AEAD_TAG_BYTES, aesCtrXor, aesGcmOpen, aesGcmSeal } from "../../shared/crypto/aead.ts";
import { bucketFor, pad, unpad } from "../../shared/crypto/pad.ts";
import { ONION_PACKET_SIZES, ONION_RESPONSE_SIZES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  deriveLayerKeys,
  EPH_BYTES,
  HEADER_BYTES,
  LAYER_NONCE,
  type LayerKeys,
  SLOT_BYTES,
} from "../../shared/onion/layer_keys.ts";
import { decodeRouting } from "../../shared/onion/routing.ts";
import type { ReplayCache } from "./replay_cache.ts";

/** Accepted difference between a layer's `ts` and this node's clock, ms. */
export const ONION_TS_WINDOW_MS = 5 * 60_000;

/**
 * One peeled layer. `keys` is present once the layer's tag is recorded in
 * the replay cache: only then may the hop seal an answer with `keys.resp`,
 * which must encrypt at most once. An error without keys is answered in
 * the clear.
 */
export type PeeledLayer =
  | { kind: "forward"; next: string; packet: Uint8Array; keys: LayerKeys }
  | { kind: "final"; request: Uint8Array; keys: LayerKeys }
  | { kind: "error"; error: HearthError; keys?: LayerKeys };

/** What peeling needs from the hop. */
export interface PeelContext {
  /** The node's X25519 key pair. */
  dh: DhKeyPair;
  /** The node's replay cache; a fresh layer's tag is recorded in it. */
  replay: ReplayCache;
  /** The current time, ms. */
  now: number;
}

function failure(error: HearthError, keys?: LayerKeys): PeeledLayer {
  return keys ? { kind: "error", error, keys } : { kind: "error", error };
}

/** Whether a length is one of the fixed onion packet sizes. */
export function isPacketSize(length: number): boolean {
  return (ONION_PACKET_SIZES as readonly number[]).includes(length);
}

/** Whether a length is one of the fixed onion response sizes. */
export function isResponseSize(length: number): boolean {
  return (ONION_RESPONSE_SIZES as readonly number[]).includes(length);
}

/**
 * Peel this hop's layer off a packet. Never throws for bad input.
 * @param packet the packet as received
 * @param ctx the node's key, replay cache and time
 * @returns forward (the next hop and packet), final (the request frame) or error
 */
export async function peelLayer(packet: Uint8Array, ctx: PeelContext): Promise<PeeledLayer> {
  const size = packet.length;
  if (!isPacketSize(size)) {
    return failure(new HearthError("bad_size", "Onion packet is not one of the fixed sizes"));
  }
  const eph = packet.subarray(0, EPH_BYTES);
  const ad = u32(size);
  let keys: LayerKeys;
  let block: Uint8Array;
  try {
    const secret = await x25519(ctx.dh, eph);
    keys = deriveLayerKeys(secret, { eph, node: ctx.dh.publicKey });
    block = await aesGcmOpen(keys.route, LAYER_NONCE, packet.subarray(EPH_BYTES, SLOT_BYTES), ad);
  } catch {
    return failure(new HearthError("decrypt_failed", "Onion layer does not decrypt"));
  }
  const routing = decodeRouting(block);
  if (!routing) return failure(new HearthError("decrypt_failed", "Onion layer does not decrypt"));
  if (Math.abs(ctx.now - routing.ts) > ONION_TS_WINDOW_MS) {
    return failure(new HearthError("bad_timestamp", "Onion layer timestamp is outside the window"));
  }
  const verdict = ctx.replay.admit(keys.tag, ctx.now);
  if (verdict === "replay") return failure(new HearthError("replay", "Onion layer seen before"));
  if (verdict === "full") return failure(new HearthError("unavailable", "Replay cache is full"));

  if (routing.kind === "final") {
    try {
      const padded = await aesGcmOpen(keys.final, LAYER_NONCE, packet.subarray(HEADER_BYTES), ad);
      return { kind: "final", request: unpad(padded), keys };
    } catch {
      return failure(new HearthError("decrypt_failed", "Onion request does not decrypt"), keys);
    }
  }
  // One keystream over `header[112..560] || zeros(112) || body`: the header
  // shifts by a slot and every byte of the packet changes.
  const work = new Uint8Array(size);
  work.set(packet.subarray(SLOT_BYTES, HEADER_BYTES));
  work.set(packet.subarray(HEADER_BYTES), HEADER_BYTES);
  const next = await aesCtrXor(keys.shift, work);
  return { kind: "forward", next: toHex(routing.next), packet: next, keys };
}

/**
 * Seal an answer this hop creates (a response or an error frame): pad it to
 * the smallest response size that fits with the tag, AES-GCM with `resp`.
 * Call at most once per layer.
 * @throws {RangeError} when the frame does not fit the largest response size
 */
export async function sealResponse(keys: LayerKeys, frame: Uint8Array): Promise<Uint8Array> {
  const size = bucketFor(frame.length + AEAD_TAG_BYTES, ONION_RESPONSE_SIZES);
  if (size === undefined) throw new RangeError("Response frame does not fit a response size");
  return await aesGcmSeal(keys.resp, LAYER_NONCE, pad(frame, size - AEAD_TAG_BYTES), u32(size));
}

/**
 * Re-encrypt the next hop's answer on its way back: XOR with the `rstream`
 * keystream, same size.
 * @throws {RangeError} when the answer is not one of the response sizes
 */
export async function wrapForwardedResponse(
  keys: LayerKeys,
  response: Uint8Array,
): Promise<Uint8Array> {
  if (!isResponseSize(response.length)) {
    throw new RangeError("Answer is not one of the response sizes");
  }
  return await aesCtrXor(keys.rstream, response);
}
