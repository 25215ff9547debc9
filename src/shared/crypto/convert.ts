/**
 * Ed25519 to X25519 conversion (the birational map of RFC 7748 §4.1), so an
 * account's X25519 key follows from its Ed25519 key: whoever knows an
 * Account ID can encrypt to it. Through @noble/curves; WebCrypto has no
 * such conversion.
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { CryptoError } from "./errors.ts";

/**
 * The X25519 public key of an Ed25519 public key.
 * @throws {CryptoError} when the key is not a valid Ed25519 point
 */
export function ed25519PublicToX25519(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new CryptoError();
  try {
    return ed25519.utils.toMontgomery(publicKey);
  } catch {
    throw new CryptoError();
  }
}

/**
 * The X25519 private key of an Ed25519 seed: the clamped first half of
 * SHA-512(seed), as libsodium's crypto_sign_ed25519_sk_to_curve25519.
 * @throws {RangeError} when the seed is not 32 bytes
 */
export function ed25519SeedToX25519Private(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  return ed25519.utils.toMontgomerySecret(seed);
}
