/**
 * The session handshake: a PQXDH-style hybrid key agreement (Signal, "The
 * PQXDH Key Agreement Protocol", rev. 3, 2024-01-23) over X25519 and
 * ML-KEM-768. The initiator combines three or four X25519 results with
 * an ML-KEM shared secret, so the session key stays secret unless both an
 * X25519 key and the ML-KEM key are broken (docs/PROTOCOL.md §10).
 *
 * Pure: no database, no network. The caller looks up prekeys and bundles.
 * @module
 */
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import {
  bytesEqual,
  concatBytes,
  CryptoError,
  deriveKey,
  type DhKeyPair,
  ed25519PublicToX25519,
  generateDhKeyPair,
  x25519,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import type { AccountKeys } from "../account/keys.ts";

export type { AccountKeys, DhKeyPair, SigningKeyPair } from "../account/keys.ts";

/** Bytes of an X25519 public key, private key or shared secret. */
export const X25519_BYTES = 32;
/** Bytes of an Ed25519 identity public key. */
export const ED25519_PUBLIC_BYTES = 32;
/** Bytes of an ML-KEM-768 encapsulation (public) key. */
export const KEM_PUBLIC_KEY_BYTES = 1184;
/** Bytes of an ML-KEM-768 decapsulation (secret) key. */
export const KEM_SECRET_KEY_BYTES = 2400;
/** Bytes of an ML-KEM-768 ciphertext. */
export const KEM_CIPHERTEXT_BYTES = 1088;
/** Bytes of the session key and of the ML-KEM shared secret. */
export const SESSION_KEY_BYTES = 32;
/** The largest prekey id; ids are 1 … 2^32 − 2 and 0 means "none". */
export const MAX_PREKEY_ID = 0xfffffffe;

/** The HKDF info string of the handshake (PQXDH §2.1 "info"). */
const HANDSHAKE_LABEL = "hearth/pqxdh/v1";
/** PQXDH §2.2: F = 32 0xFF bytes for curve25519, so the IKM never starts like a valid key. */
const F = new Uint8Array(32).fill(0xff);
/** PQXDH §2.2: the HKDF salt is a zero-filled byte sequence of the hash's length. */
const ZERO_SALT = new Uint8Array(32);

/** The parts of a peer's verified prekey bundle the initiator uses. */
export interface BundleKeys {
  /** The peer's Ed25519 identity public key (from its Account ID). */
  identityEd25519: Uint8Array;
  /** The signed X25519 prekey. */
  spk: { id: number; key: Uint8Array };
  /** The signed ML-KEM-768 prekey (last resort, reusable). */
  kem: { id: number; key: Uint8Array };
  /** One one-time X25519 prekey picked from the bundle, when it offered any. */
  opk?: { id: number; key: Uint8Array };
}

/** What the initiator sends so that the responder can repeat the agreement. */
export interface InitPart {
  /** The initiator's ephemeral X25519 public key (32 bytes). */
  ek: Uint8Array;
  /** The id of the responder's signed prekey used. */
  spkId: number;
  /** The id of the responder's ML-KEM prekey used. */
  kemId: number;
  /** The id of the one-time prekey used, 0 when none. */
  opkId: number;
  /** The ML-KEM-768 ciphertext (1088 bytes). */
  kemCt: Uint8Array;
}

/** The result of a handshake: the session key and the associated data. */
export interface HandshakeResult {
  /** The 32-byte shared session key SK. */
  sk: Uint8Array;
  /** AD: the initiator's then the responder's Ed25519 identity key (64 bytes). */
  ad: Uint8Array;
}

/** The responder's private prekeys named by an {@link InitPart}. */
export interface ResponderPrekeys {
  /** The signed prekey pair of `init.spkId`. */
  spk: DhKeyPair;
  /** The ML-KEM-768 secret key of `init.kemId` (2400 bytes). */
  kemSecret: Uint8Array;
  /** The one-time prekey pair of `init.opkId`; present exactly when that id is not 0. */
  opk?: DhKeyPair;
}

/**
 * Whether a number is a valid prekey id: an integer 1 … 2^32 − 2.
 * @param id the value to check
 * @returns true for a valid id
 */
export function isPrekeyId(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 1 && id <= MAX_PREKEY_ID;
}

/**
 * Derive the session key from the X25519 outputs and the ML-KEM shared
 * secret: HKDF-SHA256(F ‖ DH1 ‖ DH2 ‖ DH3 ‖ [DH4] ‖ SS, salt = 32 zero
 * bytes, info = "hearth/pqxdh/v1") (PQXDH §3.3). Every input reaches the
 * key, which is what makes it hybrid.
 * @param dhs DH1, DH2, DH3 and optionally DH4, 32 bytes each
 * @param kemSecret the 32-byte ML-KEM shared secret
 * @returns the 32-byte session key SK
 * @throws {RangeError} when there are not 3 or 4 DH outputs or a length is wrong
 * @throws {CryptoError} when a DH output is all zero
 */
export function handshakeSecret(dhs: Uint8Array[], kemSecret: Uint8Array): Uint8Array {
  if (dhs.length !== 3 && dhs.length !== 4) throw new RangeError("Expected 3 or 4 DH outputs");
  for (const dh of dhs) {
    if (dh.length !== X25519_BYTES) throw new RangeError("DH output must be 32 bytes");
    // RFC 7748 §6.1: an all-zero output means a small-order key.
    if (bytesEqual(dh, ZERO_SALT)) throw new CryptoError();
  }
  if (kemSecret.length !== SESSION_KEY_BYTES) {
    throw new RangeError("ML-KEM shared secret must be 32 bytes");
  }
  const ikm = concatBytes(F, ...dhs, kemSecret);
  const sk = deriveKey(ikm, HANDSHAKE_LABEL, { length: SESSION_KEY_BYTES, salt: ZERO_SALT });
  ikm.fill(0);
  return sk;
}

/**
 * The associated data both sides bind to the session: the initiator's
 * then the responder's Ed25519 identity key (PQXDH §3.3 "AD").
 * @param initiatorEd25519 the initiator's 32-byte identity key
 * @param responderEd25519 the responder's 32-byte identity key
 * @returns 64 bytes
 * @throws {RangeError} when a key is not 32 bytes
 */
export function handshakeAd(
  initiatorEd25519: Uint8Array,
  responderEd25519: Uint8Array,
): Uint8Array {
  if (
    initiatorEd25519.length !== ED25519_PUBLIC_BYTES ||
    responderEd25519.length !== ED25519_PUBLIC_BYTES
  ) {
    throw new RangeError("Identity key must be 32 bytes");
  }
  return concatBytes(initiatorEd25519, responderEd25519);
}

/**
 * Run the initiator's side of the handshake against a peer's verified
 * bundle (PQXDH §3.3): DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B),
 * DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B) when an OPK is given, and
 * an ML-KEM-768 encapsulation to the KEM prekey. The ephemeral private key
 * is dropped when this returns.
 * @param own our account keys (IK_A)
 * @param peer the peer's identity key and the prekeys picked from its bundle
 * @returns SK, AD, the init part to send and the peer's SPK (the first ratchet key)
 * @throws {HearthError} `bad_request` when a bundle key or id is malformed
 * @throws {CryptoError} when a key is invalid or a DH output is all zero
 */
export async function initiateHandshake(
  own: AccountKeys,
  peer: BundleKeys,
): Promise<HandshakeResult & { init: InitPart; peerSpk: Uint8Array }> {
  checkBundleKeys(peer);
  const identityX = ed25519PublicToX25519(peer.identityEd25519);
  const ek = await generateDhKeyPair();
  const pending = [
    x25519(own.dh, peer.spk.key),
    x25519(ek, identityX),
    x25519(ek, peer.spk.key),
  ];
  if (peer.opk) pending.push(x25519(ek, peer.opk.key));
  let kem: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    kem = ml_kem768.encapsulate(peer.kem.key);
  } catch {
    // FIPS 203 §7.2: the encapsulation key failed its modulus check.
    await Promise.allSettled(pending);
    throw new CryptoError();
  }
  const dhs = await Promise.all(pending);
  const sk = handshakeSecret(dhs, kem.sharedSecret);
  wipe(...dhs, kem.sharedSecret, ek.privateKey);
  return {
    sk,
    ad: handshakeAd(own.signing.publicKey, peer.identityEd25519),
    init: {
      ek: ek.publicKey,
      spkId: peer.spk.id,
      kemId: peer.kem.id,
      opkId: peer.opk?.id ?? 0,
      kemCt: kem.cipherText,
    },
    peerSpk: new Uint8Array(peer.spk.key),
  };
}

/**
 * Run the responder's side of the handshake (PQXDH §3.4): repeat the DH
 * calculations with the private prekeys the init part names and decapsulate
 * the ML-KEM ciphertext. The caller deletes the one-time prekey once the
 * first message decrypts.
 * @param own our account keys (IK_B)
 * @param initiatorEd25519 the initiator's Ed25519 identity key
 * @param init the init part received
 * @param prekeys our private prekeys of the ids in `init`
 * @returns SK and AD, equal to the initiator's when nobody tampered
 * @throws {HearthError} `bad_request` when the init part is malformed or names a one-time prekey that is not given
 * @throws {RangeError} when a one-time prekey is given for an init part without one
 * @throws {CryptoError} when a key is invalid or a DH output is all zero
 */
export async function respondHandshake(
  own: AccountKeys,
  initiatorEd25519: Uint8Array,
  init: InitPart,
  prekeys: ResponderPrekeys,
): Promise<HandshakeResult> {
  checkInitPart(init);
  if (init.opkId !== 0 && !prekeys.opk) {
    throw new HearthError("bad_request", "Unknown one-time prekey");
  }
  if (init.opkId === 0 && prekeys.opk) {
    throw new RangeError("A one-time prekey was given for an init part without one");
  }
  if (initiatorEd25519.length !== ED25519_PUBLIC_BYTES) throw new CryptoError();
  const identityX = ed25519PublicToX25519(initiatorEd25519);
  const pending = [
    x25519(prekeys.spk, identityX),
    x25519(own.dh, init.ek),
    x25519(prekeys.spk, init.ek),
  ];
  if (prekeys.opk) pending.push(x25519(prekeys.opk, init.ek));
  let kemSecret: Uint8Array;
  try {
    // FIPS 203 §7.3: decapsulation never fails on a bad ciphertext (implicit
    // rejection gives an unrelated secret); it throws only on a malformed key.
    kemSecret = ml_kem768.decapsulate(init.kemCt, prekeys.kemSecret);
  } catch {
    await Promise.allSettled(pending);
    throw new CryptoError();
  }
  const dhs = await Promise.all(pending);
  const sk = handshakeSecret(dhs, kemSecret);
  wipe(...dhs, kemSecret);
  return { sk, ad: handshakeAd(initiatorEd25519, own.signing.publicKey) };
}

/**
 * Check the sizes and ids of an init part, as received from a peer.
 * @param init the init part
 * @throws {HearthError} `bad_request` when a field is malformed
 */
export function checkInitPart(init: InitPart): void {
  if (
    !(init.ek instanceof Uint8Array) || init.ek.length !== X25519_BYTES ||
    !(init.kemCt instanceof Uint8Array) || init.kemCt.length !== KEM_CIPHERTEXT_BYTES ||
    !isPrekeyId(init.spkId) || !isPrekeyId(init.kemId) ||
    (init.opkId !== 0 && !isPrekeyId(init.opkId))
  ) {
    throw new HearthError("bad_request", "Malformed session init");
  }
}

function checkBundleKeys(peer: BundleKeys): void {
  const keyOk = (k: { id: number; key: Uint8Array } | undefined, size: number) =>
    k !== undefined && isPrekeyId(k.id) && k.key instanceof Uint8Array && k.key.length === size;
  if (
    !(peer.identityEd25519 instanceof Uint8Array) ||
    peer.identityEd25519.length !== ED25519_PUBLIC_BYTES ||
    !keyOk(peer.spk, X25519_BYTES) || !keyOk(peer.kem, KEM_PUBLIC_KEY_BYTES) ||
    (peer.opk !== undefined && !keyOk(peer.opk, X25519_BYTES))
  ) {
    throw new HearthError("bad_request", "Malformed prekey bundle");
  }
}

/** PQXDH §3.3: the ephemeral private key and the DH outputs are deleted once SK is known. */
function wipe(...secrets: Uint8Array[]): void {
  for (const s of secrets) s.fill(0);
}
