/**
 * Ed25519 signatures (RFC 8032) through WebCrypto, the fast native path.
 * Keys are kept as their 32-byte seed and public key; the imported
 * CryptoKey is cached on the key object.
 * @module
 */
import { buf, concatBytes } from "./bytes.ts";

const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** An Ed25519 key pair: the 32-byte private seed and the 32-byte public key. */
export interface SigningKeyPair {
  /** The 32-byte private seed. */
  readonly seed: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The imported private key; created on first use. */
  cryptoKey?: CryptoKey;
}

/** Create a fresh Ed25519 key pair. */
export async function generateSigningKeyPair(): Promise<SigningKeyPair> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return await signingKeyPairFromSeed(seed);
}

/**
 * Rebuild an Ed25519 key pair from its 32-byte seed.
 * @throws {RangeError} when the seed is not 32 bytes
 */
export async function signingKeyPairFromSeed(seed: Uint8Array): Promise<SigningKeyPair> {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  const cryptoKey = await crypto.subtle.importKey(
    "pkcs8",
    buf(concatBytes(ED25519_PKCS8_PREFIX, seed)),
    { name: "Ed25519" },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", cryptoKey);
  const publicKey = base64UrlDecode(jwk.x ?? "");
  return { seed: new Uint8Array(seed), publicKey, cryptoKey };
}

/** Sign a message; returns the 64-byte signature. */
export async function sign(key: SigningKeyPair, message: Uint8Array): Promise<Uint8Array> {
  if (!key.cryptoKey) key.cryptoKey = (await signingKeyPairFromSeed(key.seed)).cryptoKey;
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.cryptoKey!, buf(message));
  return new Uint8Array(sig);
}

/**
 * Verify an Ed25519 signature. Never throws for bad input: a wrong-length
 * key or signature, or an invalid point, simply does not verify.
 */
export async function verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey("raw", buf(publicKey), { name: "Ed25519" }, false, [
      "verify",
    ]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, buf(signature), buf(message));
  } catch {
    return false;
  }
}

/** Decode unpadded base64url (as used in JWK). */
export function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
