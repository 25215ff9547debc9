/**
 * Test support: the bytes an owner or member signs for a storage request,
 * written out from PROTOCOL §5 independently of the code under test.
 * @module
 */
import { concatBytes, u64, utf8 } from "../../shared/crypto/bytes.ts";
import { labeledHash, sha256 } from "../../shared/crypto/hash.ts";

/** A request's method and what it acts on. */
export type Signable =
  | { method: "store"; data: Uint8Array }
  | { method: "retrieve" }
  | { method: "delete"; hashes: Uint8Array[] }
  | { method: "expire"; hashes: Uint8Array[]; expiry: number };

/** PROTOCOL §5: H("hearth/storage/v1", method, K, ns16, u64(ts), extra). */
export function specSigningBytes(
  req: Signable,
  key: Uint8Array,
  ns: number,
  ts: number,
): Uint8Array {
  const extra = req.method === "store"
    ? sha256(req.data)
    : req.method === "retrieve"
    ? new Uint8Array(0)
    : req.method === "delete"
    ? concatBytes(...req.hashes)
    : concatBytes(u64(req.expiry), ...req.hashes);
  const ns16 = new Uint8Array([(ns >> 8) & 0xff, ns & 0xff]);
  return labeledHash("hearth/storage/v1", utf8(req.method), key, ns16, u64(ts), extra);
}
