/**
 * The keys of an account, all derived from its 32-byte seed: the Ed25519
 * identity key (the seed is the RFC 8032 private key), the X25519 key
 * derived from it (libsodium's crypto_sign_ed25519_sk_to_curve25519), and
 * the Account ID that names the public identity key.
 * @module
 */
import {
  type DhKeyPair,
  dhKeyPairFromPrivate,
  ed25519PublicToX25519,
  ed25519SeedToX25519Private,
  type SigningKeyPair,
  signingKeyPairFromSeed,
} from "../../shared/crypto/mod.ts";
import { formatAccountId } from "./account_id.ts";
import { SEED_BYTES } from "./seed.ts";

export type { DhKeyPair, SigningKeyPair } from "../../shared/crypto/mod.ts";

/** Everything an account's keys are: the seed and what follows from it. */
export interface AccountKeys {
  /** The 32-byte seed; the recovery phrase encodes exactly this. */
  readonly seed: Uint8Array;
  /** The Ed25519 identity key pair: signs content and owner requests. */
  readonly signing: SigningKeyPair;
  /** The X25519 key pair: others encrypt to its public half. */
  readonly dh: DhKeyPair;
  /** The Account ID of `signing.publicKey`. */
  readonly accountId: string;
}

/**
 * Derive an account's keys from its seed.
 * @param seed the 32-byte account seed
 * @returns the key pairs and the Account ID
 * @throws {RangeError} when the seed is not 32 bytes
 * @example
 * ```ts
 * const keys = await accountKeysFromSeed(phraseToSeed(phrase));
 * keys.accountId; // "hearth1…"
 * ```
 */
export async function accountKeysFromSeed(seed: Uint8Array): Promise<AccountKeys> {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new RangeError("Account seed must be 32 bytes");
  }
  const signing = await signingKeyPairFromSeed(seed);
  const dh = await dhKeyPairFromPrivate(ed25519SeedToX25519Private(seed));
  return {
    seed: new Uint8Array(seed),
    signing,
    dh,
    accountId: formatAccountId(signing.publicKey),
  };
}

/**
 * The X25519 public key of an account, from its Ed25519 public key (as
 * parsed from its Account ID): what a sender encrypts to.
 * @param accountPublicKey the account's 32-byte Ed25519 public key
 * @returns the 32-byte X25519 public key
 * @throws {CryptoError} when the key is not a valid Ed25519 point
 */
export function x25519OfAccount(accountPublicKey: Uint8Array): Uint8Array {
  return ed25519PublicToX25519(accountPublicKey);
}
