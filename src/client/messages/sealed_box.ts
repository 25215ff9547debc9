/**
 * The encryption layer of the v1 envelope: an anonymous box sealed to one
 * X25519 public key with a fresh ephemeral key (docs/PROTOCOL.md §10).
 * It knows nothing of senders or signatures, so the next issue can replace
 * it with forward-secret sessions without touching the envelope's inner
 * layout.
 *
 * Wire: `version(1) || E(32) || nonce(24) || XChaCha20-Poly1305(plaintext)`,
 * with the 57-byte header as associated data.
 * @module
 */
import {
  AEAD_TAG_BYTES,
  concatBytes,
  CryptoError,
  deriveKey,
  type DhKeyPair,
  generateDhKeyPair,
  randomBytes,
  x25519,
  xchachaOpen,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";

/** The envelope version this layer writes and reads (the first byte). */
export const ENVELOPE_VERSION: number = 1;

/** Bytes of the header: version, ephemeral public key, nonce. */
export const SEALED_BOX_HEADER_BYTES: number = 1 + 32 + 24;

/** Bytes a sealed box adds to its plaintext: the header and the AEAD tag. */
export const SEALED_BOX_OVERHEAD: number = SEALED_BOX_HEADER_BYTES + AEAD_TAG_BYTES;

const KEY_LABEL = "hearth/envelope/v1";

/**
 * Check the version byte of a sealed box before any other work.
 * @param box the bytes as received
 * @throws {CryptoError} when the box is empty
 * @throws {HearthError} `bad_request` when the version is not one we know
 */
export function checkEnvelopeVersion(box: Uint8Array): void {
  if (box.length < 1) throw new CryptoError();
  if (box[0] !== ENVELOPE_VERSION) {
    throw new HearthError("bad_request", "Unknown envelope version");
  }
}

/**
 * Encrypt a plaintext to the holder of an X25519 private key. Each call
 * draws a fresh ephemeral key and nonce, so sealing the same plaintext twice
 * gives unrelated bytes.
 * @param plaintext the bytes to hide (already padded by the caller)
 * @param recipientX the recipient's 32-byte X25519 public key
 * @returns `version || E || nonce || ciphertext`, `plaintext.length + 73` bytes
 * @throws {CryptoError} when the recipient key is of small order
 * @throws {RangeError} when the recipient key is not 32 bytes
 */
export async function sealBox(plaintext: Uint8Array, recipientX: Uint8Array): Promise<Uint8Array> {
  if (recipientX.length !== 32) throw new RangeError("X25519 public key must be 32 bytes");
  const ephemeral = await generateDhKeyPair();
  const secret = await x25519(ephemeral, recipientX);
  const key = deriveKey(secret, KEY_LABEL, {
    salt: concatBytes(ephemeral.publicKey, recipientX),
  });
  const nonce = randomBytes(24);
  const header = concatBytes(new Uint8Array([ENVELOPE_VERSION]), ephemeral.publicKey, nonce);
  return concatBytes(header, xchachaSeal(key, nonce, plaintext, header));
}

/**
 * Decrypt a box made by {@link sealBox} with our X25519 key pair.
 * @param box the sealed bytes
 * @param me our X25519 key pair (its public key is part of the key derivation)
 * @returns the plaintext
 * @throws {HearthError} `bad_request` when the version byte is unknown
 * @throws {CryptoError} when the box is malformed or does not decrypt
 */
export async function openBox(box: Uint8Array, me: DhKeyPair): Promise<Uint8Array> {
  checkEnvelopeVersion(box);
  if (box.length < SEALED_BOX_OVERHEAD) throw new CryptoError();
  const header = box.subarray(0, SEALED_BOX_HEADER_BYTES);
  const ephemeral = box.subarray(1, 33);
  const nonce = box.subarray(33, SEALED_BOX_HEADER_BYTES);
  const secret = await x25519(me, ephemeral);
  const key = deriveKey(secret, KEY_LABEL, { salt: concatBytes(ephemeral, me.publicKey) });
  return xchachaOpen(key, nonce, box.subarray(SEALED_BOX_HEADER_BYTES), header);
}
