/**
 * Account keys for the messages tests, built the way an account builds
 * them: Ed25519 from a seed, X25519 from the same seed.
 * @module
 */
import {
  dhKeyPairFromPrivate,
  ed25519SeedToX25519Private,
  randomBytes,
  signingKeyPairFromSeed,
} from "../../shared/crypto/mod.ts";
import type { RecipientKeys, SenderKeys } from "./envelope.ts";

/** Both halves of an account's keys. */
export type TestAccount = SenderKeys & RecipientKeys;

/**
 * Make an account's keys from a seed (random by default).
 * @param seed 32 bytes
 */
export async function testAccount(seed: Uint8Array = randomBytes(32)): Promise<TestAccount> {
  return {
    signing: await signingKeyPairFromSeed(seed),
    dh: await dhKeyPairFromPrivate(ed25519SeedToX25519Private(seed)),
  };
}
