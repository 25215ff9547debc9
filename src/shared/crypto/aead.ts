/**
 * Authenticated encryption and keystreams.
 *
 * - AES-256-GCM through WebCrypto: the hot path (onion layers, responses).
 * - XChaCha20-Poly1305 through @noble/ciphers: for long-lived keys with
 *   random 24-byte nonces, and machines without AES hardware.
 * - AES-256-CTR keystream through WebCrypto: length-preserving layer
 *   encryption of onion bodies and responses.
 * @module
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { buf } from "./bytes.ts";
import { CryptoError } from "./errors.ts";

/** Bytes an AEAD adds to a plaintext. */
export const AEAD_TAG_BYTES = 16;

async function importAes(key: Uint8Array, algorithm: "AES-GCM" | "AES-CTR"): Promise<CryptoKey> {
  if (key.length !== 32) throw new RangeError("AES-256 key must be 32 bytes");
  return await crypto.subtle.importKey("raw", buf(key), { name: algorithm }, false, [
    "encrypt",
    "decrypt",
  ]);
}

function checkNonce(nonce: Uint8Array, length: number): void {
  if (nonce.length !== length) throw new RangeError(`Nonce must be ${length} bytes`);
}

/**
 * Encrypt with AES-256-GCM. A key must never be used twice with one nonce.
 * @param key 32 bytes
 * @param nonce 12 bytes
 * @returns ciphertext followed by the 16-byte tag
 */
export async function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData?: Uint8Array,
): Promise<Uint8Array> {
  checkNonce(nonce, 12);
  const k = await importAes(key, "AES-GCM");
  const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce) };
  if (associatedData) params.additionalData = buf(associatedData);
  return new Uint8Array(await crypto.subtle.encrypt(params, k, buf(plaintext)));
}

/**
 * Decrypt with AES-256-GCM.
 * @throws {CryptoError} when the tag does not verify
 */
export async function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  associatedData?: Uint8Array,
): Promise<Uint8Array> {
  checkNonce(nonce, 12);
  if (ciphertext.length < AEAD_TAG_BYTES) throw new CryptoError();
  const k = await importAes(key, "AES-GCM");
  const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce) };
  if (associatedData) params.additionalData = buf(associatedData);
  try {
    return new Uint8Array(await crypto.subtle.decrypt(params, k, buf(ciphertext)));
  } catch {
    throw new CryptoError();
  }
}

/**
 * XOR data with the AES-256-CTR keystream of `key` (counter block starts
 * at zero). Encryption and decryption are the same operation. Each key
 * must encrypt only one stream.
 */
export async function aesCtrXor(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await importAes(key, "AES-CTR");
  const out = await crypto.subtle.encrypt(
    { name: "AES-CTR", counter: new Uint8Array(16), length: 64 },
    k,
    buf(data),
  );
  return new Uint8Array(out);
}

/**
 * Encrypt with XChaCha20-Poly1305.
 * @param key 32 bytes
 * @param nonce 24 bytes (random nonces are safe at this size)
 */
export function xchachaSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData?: Uint8Array,
): Uint8Array {
  checkNonce(nonce, 24);
  if (key.length !== 32) throw new RangeError("XChaCha20 key must be 32 bytes");
  return xchacha20poly1305(key, nonce, associatedData).encrypt(plaintext);
}

/**
 * Decrypt with XChaCha20-Poly1305.
 * @throws {CryptoError} when the tag does not verify
 */
export function xchachaOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  associatedData?: Uint8Array,
): Uint8Array {
  checkNonce(nonce, 24);
  if (key.length !== 32) throw new RangeError("XChaCha20 key must be 32 bytes");
  try {
    return xchacha20poly1305(key, nonce, associatedData).decrypt(ciphertext);
  } catch {
    throw new CryptoError();
  }
}
