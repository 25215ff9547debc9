/**
 * The cost of the v1 envelope, for `deno task bench`: sealing (Ed25519 sign,
 * ephemeral X25519, XChaCha20-Poly1305) and opening (X25519, decrypt,
 * Ed25519 verify) of a typical short text message. No network, no test.
 * @module
 */
import {
  dhKeyPairFromPrivate,
  ed25519SeedToX25519Private,
  randomBytes,
  signingKeyPairFromSeed,
} from "../../shared/crypto/mod.ts";
import { openEnvelope, type RecipientKeys, sealEnvelope, type SenderKeys } from "./envelope.ts";

/**
 * Time sealing and opening envelopes.
 * @param iterations how many of each to run (after a short warm-up)
 * @param options.contentBytes content size (default 512: a 1 KiB envelope)
 * @returns mean ms per seal and per open
 * @throws {Error} when an envelope does not open to its content
 */
export async function measureEnvelope(
  iterations: number,
  options: { contentBytes?: number } = {},
): Promise<{ sealMs: number; openMs: number }> {
  const aliceSeed = randomBytes(32);
  const bobSeed = randomBytes(32);
  const alice: SenderKeys = { signing: await signingKeyPairFromSeed(aliceSeed) };
  const bob: RecipientKeys = {
    signing: await signingKeyPairFromSeed(bobSeed),
    dh: await dhKeyPairFromPrivate(ed25519SeedToX25519Private(bobSeed)),
  };
  const content = randomBytes(options.contentBytes ?? 512);
  const envelopes: Uint8Array[] = [];
  const warmup = Math.min(20, iterations);
  for (let i = 0; i < warmup; i++) {
    await openEnvelope(await sealEnvelope(content, alice, bob.signing.publicKey), bob);
  }
  let t = performance.now();
  for (let i = 0; i < iterations; i++) {
    envelopes.push(await sealEnvelope(content, alice, bob.signing.publicKey));
  }
  const sealMs = (performance.now() - t) / iterations;
  t = performance.now();
  for (const envelope of envelopes) {
    const opened = await openEnvelope(envelope, bob);
    if (opened.content.length !== content.length) throw new Error("Envelope did not round-trip");
  }
  const openMs = (performance.now() - t) / iterations;
  return { sealMs, openMs };
}
