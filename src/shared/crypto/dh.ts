/**
 * X25519 key agreement (RFC 7748) through WebCrypto.
 * @module
 */
import { buf, bytesEqual, concatBytes } from "./bytes.ts";
import { base64UrlDecode } from "./sign.ts";
import { CryptoError } from "./errors.ts";

const X25519_PKCS8_PREFIX = new Uint8Array([
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
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** An X25519 key pair: the 32-byte private scalar and the public key. */
export interface DhKeyPair {
  /** The 32-byte private scalar (clamped by X25519 when used). */
  readonly privateKey: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The imported private key; created on first use. */
  cryptoKey?: CryptoKey;
}

/** Create a fresh X25519 key pair. */
export async function generateDhKeyPair(): Promise<DhKeyPair> {
  return await dhKeyPairFromPrivate(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Rebuild an X25519 key pair from its 32-byte private key.
 * @throws {RangeError} when the key is not 32 bytes
 */
export async function dhKeyPairFromPrivate(privateKey: Uint8Array): Promise<DhKeyPair> {
  if (privateKey.length !== 32) throw new RangeError("X25519 private key must be 32 bytes");
  const cryptoKey = await crypto.subtle.importKey(
    "pkcs8",
    buf(concatBytes(X25519_PKCS8_PREFIX, privateKey)),
    { name: "X25519" },
    true,
    ["deriveBits"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", cryptoKey);
  return {
    privateKey: new Uint8Array(privateKey),
    publicKey: base64UrlDecode(jwk.x ?? ""),
    cryptoKey,
  };
}

const ZERO32 = new Uint8Array(32);

/**
 * Compute the X25519 shared secret between our private key and their
 * public key.
 * @throws {CryptoError} when their key is malformed or of small order
 */
export async function x25519(ours: DhKeyPair, theirPublicKey: Uint8Array): Promise<Uint8Array> {
  if (theirPublicKey.length !== 32) throw new CryptoError();
  if (!ours.cryptoKey) ours.cryptoKey = (await dhKeyPairFromPrivate(ours.privateKey)).cryptoKey;
  let secret: Uint8Array;
  try {
    const pub = await crypto.subtle.importKey(
      "raw",
      buf(theirPublicKey),
      { name: "X25519" },
      false,
      [],
    );
    secret = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: pub }, ours.cryptoKey!, 256),
    );
  } catch {
    throw new CryptoError();
  }
  // RFC 7748 §6.1: reject the all-zero output of a small-order point.
  if (bytesEqual(secret, ZERO32)) throw new CryptoError();
  return secret;
}
