/**
 * The 64-byte routing block sealed in each header slot
 * (docs/PROTOCOL.md §7): kind, timestamp, next hop.
 * @module
 */
import { bytesEqual, readU64, u64 } from "../crypto/bytes.ts";
import { ROUTING_BYTES } from "./layer_keys.ts";

/** What one layer tells its hop to do. */
export type Routing =
  | { readonly kind: "forward"; readonly ts: number; readonly next: Uint8Array }
  | { readonly kind: "final"; readonly ts: number };

const KIND_FORWARD = 1;
const KIND_FINAL = 2;
const NEXT_OFFSET = 9;
const RESERVED_OFFSET = 41;
const ZERO_ID = new Uint8Array(32);

/**
 * Encode a routing block.
 * @throws {RangeError} when `next` is not 32 bytes or `ts` is not a u64
 */
export function encodeRouting(routing: Routing): Uint8Array {
  const out = new Uint8Array(ROUTING_BYTES);
  out[0] = routing.kind === "forward" ? KIND_FORWARD : KIND_FINAL;
  out.set(u64(routing.ts), 1);
  if (routing.kind === "forward") {
    if (routing.next.length !== 32) throw new RangeError("Next hop ID must be 32 bytes");
    out.set(routing.next, NEXT_OFFSET);
  }
  return out;
}

/**
 * Decode a routing block.
 * @returns the routing, or undefined when the kind is unknown, a reserved
 *   byte is not zero, a final block names a next hop, or `ts` exceeds 2^53
 */
export function decodeRouting(block: Uint8Array): Routing | undefined {
  if (block.length !== ROUTING_BYTES) return undefined;
  for (let i = RESERVED_OFFSET; i < ROUTING_BYTES; i++) if (block[i] !== 0) return undefined;
  let ts: number;
  try {
    ts = readU64(block, 1);
  } catch {
    return undefined;
  }
  const next = block.slice(NEXT_OFFSET, RESERVED_OFFSET);
  if (block[0] === KIND_FORWARD) return { kind: "forward", ts, next };
  if (block[0] === KIND_FINAL && bytesEqual(next, ZERO_ID)) return { kind: "final", ts };
  return undefined;
}
