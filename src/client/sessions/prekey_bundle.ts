/**
 * The prekey bundle (docs/PROTOCOL.md, sessions): what an account publishes
 * in the public-read namespace 5 of its own swarm so that anyone can start
 * a session with it. One frame: a JSON header with the signed X25519
 * prekey (SPK), the ML-KEM-768 prekey (KEM) and 0 … 100 one-time X25519
 * prekeys (OPKs), and as blob the account's Ed25519 signature over
 * `H("hearth/prekey-bundle/v1", identity public key, header bytes)`.
 *
 * Opening checks the signature first, over the exact header bytes, then
 * every field: a tampered bundle is `bad_signature`, a well-signed but
 * malformed one `bad_request` (or `too_large`).
 * @module
 */
import {
  bytesEqual,
  concatBytes,
  labeledHash,
  sign,
  toBase64,
  toHex,
  u32,
  utf8,
  verify,
} from "../../shared/crypto/mod.ts";
import { decodeFrame } from "../../shared/codec/frame.ts";
import { arr, asObject, base64Field, hexField, int } from "../../shared/codec/fields.ts";
import { HearthError } from "../../shared/errors.ts";
import type { AccountKeys } from "../account/keys.ts";
import { KEM_PUBLIC_KEY_BYTES, MAX_PREKEY_ID, X25519_BYTES } from "./pqxdh.ts";

/** The public-read namespace of the bundle in its owner's swarm (PROTOCOL §5: ns % 10 == 5). */
export const BUNDLE_NAMESPACE = 5;
/** The most one-time prekeys one bundle offers. */
export const MAX_OPKS = 100;
/** The format version in the header's `v`. */
export const BUNDLE_VERSION = 1;
/** How far in the future a bundle's `createdAt` may be, ms (clocks differ). */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** Bytes of the blob: the Ed25519 signature. */
export const BUNDLE_SIGNATURE_BYTES = 64;

const SIG_LABEL = "hearth/prekey-bundle/v1";
/** FIPS 203 q: every 12-bit coefficient of an encapsulation key is below it. */
const KYBER_Q = 3329;
/** Bytes of the encoded vector t̂ of an ML-KEM-768 encapsulation key (k = 3 × 384). */
const KEM_T_BYTES = 1152;

/** A prekey as published: its id and public key. */
export interface PublicPrekey {
  /** The id, 1 … 2^32 − 2. */
  id: number;
  /** The public key: 32 bytes X25519, or 1184 bytes ML-KEM-768. */
  key: Uint8Array;
}

/** The contents of a prekey bundle. */
export interface PrekeyBundle {
  /** When it was made, ms since the epoch; the newest bundle wins. */
  createdAt: number;
  /** The signed X25519 prekey. */
  spk: PublicPrekey;
  /** The ML-KEM-768 prekey (last resort, reusable). */
  kem: PublicPrekey;
  /** One-time X25519 prekeys, at most {@link MAX_OPKS}, ids unique. */
  opks: PublicPrekey[];
}

/**
 * Sign a bundle with the account's identity key, as the item bytes to store.
 * @param keys the owner's account keys
 * @param bundle what to publish
 * @returns the frame: header JSON and the 64-byte signature
 * @throws {HearthError} `bad_request` or `too_large` when the bundle would not open
 */
export async function signBundle(keys: AccountKeys, bundle: PrekeyBundle): Promise<Uint8Array> {
  checkBundle(bundle, Number.MAX_SAFE_INTEGER);
  const header = utf8(JSON.stringify({
    v: BUNDLE_VERSION,
    createdAt: bundle.createdAt,
    spk: { id: bundle.spk.id, key: toHex(bundle.spk.key) },
    kem: { id: bundle.kem.id, key: toBase64(bundle.kem.key) },
    opks: bundle.opks.map((o) => ({ id: o.id, key: toHex(o.key) })),
  }));
  const sig = await sign(keys.signing, signedBytes(keys.signing.publicKey, header));
  return concatBytes(u32(header.length), header, sig);
}

/**
 * Verify and parse a bundle of the account whose identity key is given.
 * @param bytes the stored item
 * @param identityEd25519 the owner's Ed25519 public key (from its Account ID)
 * @param options.now the clock, ms (default Date.now): `createdAt` may be at most 60 s ahead
 * @returns the bundle
 * @throws {HearthError} `bad_signature` when the signature does not verify under that key,
 *   `bad_request` when the item or a field is malformed, `too_large` when it has too many OPKs
 */
export async function openBundle(
  bytes: Uint8Array,
  identityEd25519: Uint8Array,
  options: { now?: number } = {},
): Promise<PrekeyBundle> {
  const { header, blob } = decodeFrame(bytes);
  if (blob.length !== BUNDLE_SIGNATURE_BYTES) {
    throw new HearthError("bad_request", "Bundle signature is missing or malformed");
  }
  const headerBytes = bytes.subarray(4, bytes.length - BUNDLE_SIGNATURE_BYTES);
  if (!(await verify(identityEd25519, signedBytes(identityEd25519, headerBytes), blob))) {
    throw new HearthError("bad_signature", "Bundle is not signed by the account");
  }
  if (header.v !== BUNDLE_VERSION) throw new HearthError("bad_request", "Unknown bundle version");
  let bundle: PrekeyBundle;
  try {
    bundle = {
      createdAt: int(header, "createdAt", 0, Number.MAX_SAFE_INTEGER),
      spk: x25519Prekey(header.spk, "spk"),
      kem: kemPrekey(header.kem),
      opks: arr(header, "opks", MAX_OPKS).map((o) => x25519Prekey(o, "opks")),
    };
  } catch (err) {
    // A key of the wrong size or encoding is a malformed bundle like any other field.
    if (err instanceof HearthError && err.code === "bad_encoding") {
      throw new HearthError("bad_request", "Bundle key is malformed");
    }
    throw err;
  }
  checkBundle(bundle, (options.now ?? Date.now()) + MAX_CLOCK_SKEW_MS);
  return bundle;
}

function signedBytes(identityEd25519: Uint8Array, header: Uint8Array): Uint8Array {
  return labeledHash(SIG_LABEL, identityEd25519, header);
}

function prekeyId(o: Record<string, unknown>): number {
  return int(o, "id", 1, MAX_PREKEY_ID);
}

function x25519Prekey(value: unknown, what: string): PublicPrekey {
  const o = asObject(value, what);
  return { id: prekeyId(o), key: hexField(o, "key", X25519_BYTES) };
}

function kemPrekey(value: unknown): PublicPrekey {
  const o = asObject(value, "kem");
  const key = base64Field(o, "key", KEM_PUBLIC_KEY_BYTES);
  if (key.length !== KEM_PUBLIC_KEY_BYTES) {
    throw new HearthError("bad_request", "KEM prekey has the wrong size");
  }
  return { id: prekeyId(o), key };
}

/** Check every rule of a bundle, parsed or about to be signed. */
function checkBundle(bundle: PrekeyBundle, latestCreatedAt: number): void {
  const bad = (message: string) => new HearthError("bad_request", message);
  if (!Number.isSafeInteger(bundle.createdAt) || bundle.createdAt < 0) {
    throw bad("Bundle time is malformed");
  }
  if (bundle.createdAt > latestCreatedAt) throw bad("Bundle time is in the future");
  if (bundle.opks.length > MAX_OPKS) {
    throw new HearthError("too_large", "Bundle has too many one-time prekeys");
  }
  for (const prekey of [bundle.spk, bundle.kem, ...bundle.opks]) {
    if (!Number.isSafeInteger(prekey.id) || prekey.id < 1 || prekey.id > MAX_PREKEY_ID) {
      throw bad("Prekey id is out of range");
    }
  }
  for (const prekey of [bundle.spk, ...bundle.opks]) {
    if (!isUsableX25519(prekey.key)) throw bad("X25519 prekey is malformed");
  }
  if (!isUsableKemKey(bundle.kem.key)) throw bad("KEM prekey is malformed");
  if (new Set(bundle.opks.map((o) => o.id)).size !== bundle.opks.length) {
    throw bad("One-time prekey ids repeat");
  }
}

/** 32 bytes, not all zero (a small-order key's all-zero DH output is refused at DH time). */
function isUsableX25519(key: Uint8Array): boolean {
  return key.length === X25519_BYTES && !bytesEqual(key, new Uint8Array(X25519_BYTES));
}

/**
 * 1184 bytes whose encoded vector passes the FIPS 203 §7.2 encapsulation
 * key check: every 12-bit coefficient is below q.
 */
function isUsableKemKey(key: Uint8Array): boolean {
  if (key.length !== KEM_PUBLIC_KEY_BYTES) return false;
  for (let i = 0; i < KEM_T_BYTES; i += 3) {
    const b0 = key[i]!, b1 = key[i + 1]!, b2 = key[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= KYBER_Q || ((b1 >> 4) | (b2 << 4)) >= KYBER_Q) return false;
  }
  return true;
}
