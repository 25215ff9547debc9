/**
 * Hashes with domain labels. SHA-256 from @noble/hashes (synchronous, fast
 * for the short inputs we hash: keys, ids, record bodies).
 * @module
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "./bytes.ts";

/** SHA-256 of the input. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/**
 * SHA-256 over a domain label and the parts, each part length-prefixed so
 * that different splits of the same bytes never collide.
 * @param label a constant naming what the hash is for, e.g. "hearth/swarm-key/v1"
 */
export function labeledHash(label: string, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  const l = utf8(label);
  h.update(lengthPrefix(l.length)).update(l);
  for (const p of parts) h.update(lengthPrefix(p.length)).update(p);
  return h.digest();
}

function lengthPrefix(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Hash a concatenation without length prefixes (for fixed-width parts). */
export function sha256Concat(...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(concatBytes(...parts));
}
