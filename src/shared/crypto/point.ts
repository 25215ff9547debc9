/**
 * Validity of an Ed25519 public key as an identity: a canonical encoding
 * of a point on the curve that is not of small order. A small-order key
 * (one of the 8 torsion points) has no private key behind it, lets
 * signatures be forged under some verifiers, and makes every X25519
 * agreement with it all zeros. Through @noble/curves; WebCrypto has no
 * point check.
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";

/**
 * Whether 32 bytes are a usable Ed25519 public key: canonical (y below
 * p, no sign bit on x = 0), on the curve, and not of small order.
 * Mixed-order points (a prime-order point plus torsion) pass, as in
 * libsodium; clamped X25519 scalars remove the torsion.
 * @param publicKey the encoded point (RFC 8032 §5.1.2)
 * @returns true when the key is usable, false otherwise (never throws)
 */
export function isValidEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  try {
    return !ed25519.Point.fromBytes(publicKey).isSmallOrder();
  } catch {
    return false;
  }
}
