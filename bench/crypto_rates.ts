/**
 * Crypto primitives per second on this machine, through hearth's wrapper
 * (WebCrypto) and, for comparison, through noble (pure JS): the numbers
 * behind DESIGN §8's choice of WebCrypto on hot paths. The noble imports
 * here exist only to compare; hearth's code reaches crypto through
 * src/shared/crypto/.
 * @module
 */
import { ed25519, x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { gcm } from "@noble/ciphers/aes.js";
import { buf, randomBytes } from "../src/shared/crypto/bytes.ts";
import { generateDhKeyPair, x25519 } from "../src/shared/crypto/dh.ts";
import { generateSigningKeyPair, sign, verify } from "../src/shared/crypto/sign.ts";
import { aesGcmSeal, xchachaSeal } from "../src/shared/crypto/aead.ts";
import { opsPerSecond, round } from "./stats.ts";

/** One measured primitive. */
export interface CryptoRate {
  /** What was measured, e.g. "X25519 shared secret". */
  op: string;
  /** Which implementation: "WebCrypto" or "noble". */
  impl: "WebCrypto" | "noble";
  /** Operations per second, one at a time on one thread. */
  opsPerSec: number;
  /** Payload bytes per operation, for ciphers (0 otherwise). */
  bytes: number;
  /** Payload MB/s (10^6 bytes), for ciphers. */
  mbPerSec?: number;
}

const SIGNED_BYTES = 128;

/**
 * Measure every primitive for about `budgetMs` each.
 * @param options.budgetMs time per primitive, ms
 * @returns one rate per primitive and implementation
 */
export async function measureCryptoRates(options: { budgetMs: number }): Promise<CryptoRate[]> {
  const budget = { budgetMs: options.budgetMs };
  const rates: CryptoRate[] = [];
  const add = (op: string, impl: CryptoRate["impl"], opsPerSec: number, bytes = 0) => {
    const rate: CryptoRate = { op, impl, opsPerSec: round(opsPerSec), bytes };
    if (bytes > 0) rate.mbPerSec = round((opsPerSec * bytes) / 1e6);
    rates.push(rate);
  };

  // X25519: hearth's wrapper imports the peer's public key on every call, as a hop does.
  const ours = await generateDhKeyPair();
  const theirs = (await generateDhKeyPair()).publicKey;
  add("X25519 shared secret", "WebCrypto", await opsPerSecond(() => x25519(ours, theirs), budget));
  add(
    "X25519 shared secret",
    "noble",
    await opsPerSecond(() => nobleX25519.getSharedSecret(ours.privateKey, theirs), budget),
  );
  add("X25519 key pair", "WebCrypto", await opsPerSecond(() => generateDhKeyPair(), budget));

  // Ed25519 over a 128-byte message, about the size of a signed storage request.
  const signer = await generateSigningKeyPair();
  const message = randomBytes(SIGNED_BYTES);
  const signature = await sign(signer, message);
  add("Ed25519 sign", "WebCrypto", await opsPerSecond(() => sign(signer, message), budget));
  add(
    "Ed25519 verify",
    "WebCrypto",
    await opsPerSecond(() => verify(signer.publicKey, message, signature), budget),
  );
  add(
    "Ed25519 sign",
    "noble",
    await opsPerSecond(() => ed25519.sign(message, signer.seed), budget),
  );
  add(
    "Ed25519 verify",
    "noble",
    await opsPerSecond(() => ed25519.verify(signature, message, signer.publicKey), budget),
  );

  // AEADs over a routing slot (64 B), and the onion packet sizes (2, 16 and
  // 96 KiB). hearth's AES-GCM wrapper imports the key on every call, as the
  // hot path does.
  const key = randomBytes(32);
  const nonce12 = randomBytes(12);
  const nonce24 = randomBytes(24);
  // The fixed cost of one WebCrypto call: a tiny seal with the key imported once.
  const imported = await crypto.subtle.importKey("raw", buf(key), { name: "AES-GCM" }, false, [
    "encrypt",
  ]);
  const tiny = randomBytes(64);
  add(
    "AES-256-GCM seal 64 B, key imported once",
    "WebCrypto",
    await opsPerSecond(
      () => crypto.subtle.encrypt({ name: "AES-GCM", iv: buf(nonce12) }, imported, buf(tiny)),
      budget,
    ),
    64,
  );
  for (const size of [64, 2_048, 16_384, 98_304]) {
    const data = randomBytes(size);
    const kib = size < 1024 ? `${size} B` : `${size / 1024} KiB`;
    add(
      `AES-256-GCM seal ${kib}`,
      "WebCrypto",
      await opsPerSecond(() => aesGcmSeal(key, nonce12, data), budget),
      size,
    );
    add(
      `AES-256-GCM seal ${kib}`,
      "noble",
      await opsPerSecond(() => gcm(key, nonce12).encrypt(data), { ...budget, warmup: 3 }),
      size,
    );
    add(
      `XChaCha20-Poly1305 seal ${kib}`,
      "noble",
      await opsPerSecond(() => xchachaSeal(key, nonce24, data), { ...budget, warmup: 3 }),
      size,
    );
  }
  return rates;
}
