/**
 * What the owner of a swarm key signs for a storage request (PROTOCOL §5):
 * H("hearth/storage/v1", method, K, ns16(ns), u64(ts), extra). Shared by
 * the client, which signs, and the relay, which verifies.
 * @module
 */
import { concatBytes, u64, utf8 } from "../crypto/bytes.ts";
import { labeledHash, sha256 } from "../crypto/hash.ts";

/** Storage methods that carry an owner signature. */
export type SignedMethod = "store" | "retrieve" | "delete" | "expire";

/**
 * Encode a namespace as 2 bytes, two's complement, big-endian.
 * @throws {RangeError} when `ns` is not an integer in −32768…32767
 */
export function ns16(ns: number): Uint8Array {
  if (!Number.isSafeInteger(ns) || ns < -32768 || ns > 32767) {
    throw new RangeError("Namespace must be a 16-bit signed integer");
  }
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, ns);
  return out;
}

/** The operands a signature covers besides method, key, namespace and time. */
export type SignedOperands =
  | { method: "store"; data: Uint8Array }
  | { method: "retrieve" }
  | { method: "delete"; hashes: readonly Uint8Array[] }
  | { method: "expire"; expiry: number; hashes: readonly Uint8Array[] };

/**
 * The bytes an owner signs for a storage request.
 * @param key the 32-byte swarm key
 * @param ns the namespace
 * @param ts the signing time, ms
 * @param operands the method and what it acts on
 */
export function storageSigningBytes(
  key: Uint8Array,
  ns: number,
  ts: number,
  operands: SignedOperands,
): Uint8Array {
  let extra: Uint8Array;
  switch (operands.method) {
    case "store":
      extra = sha256(operands.data);
      break;
    case "retrieve":
      extra = new Uint8Array(0);
      break;
    case "delete":
      extra = concatBytes(...operands.hashes);
      break;
    case "expire":
      extra = concatBytes(u64(operands.expiry), ...operands.hashes);
      break;
  }
  return labeledHash("hearth/storage/v1", utf8(operands.method), key, ns16(ns), u64(ts), extra);
}
