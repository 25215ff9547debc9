/**
 * Key derivation: HKDF-SHA256 (RFC 5869) with a domain label as the info
 * string, so a key drawn for one purpose is never valid for another.
 * @module
 */
import { hkdfSync } from "node:crypto";
import { utf8 } from "./bytes.ts";

const NO_SALT = new Uint8Array(0);

/**
 * Derive `length` bytes from a secret for the purpose named by `label`.
 * @param secret input keying material (e.g. an X25519 shared secret)
 * @param label a constant domain label, e.g. "hearth/onion/v1/routing-key"
 * @param options.length output length in bytes (default 32)
 * @param options.salt optional salt
 */
export function deriveKey(
  secret: Uint8Array,
  label: string,
  options: { length?: number; salt?: Uint8Array } = {},
): Uint8Array {
  if (secret.length < 16) throw new RangeError("Secret is too short");
  // The runtime's native HKDF; no salt is the empty salt, which HMAC pads
  // to the all-zero salt of RFC 5869 §2.2.
  return new Uint8Array(
    hkdfSync("sha256", secret, options.salt ?? NO_SALT, utf8(label), options.length ?? 32),
  );
}
