/**
 * The account seed and its recovery phrase. The seed is 32 random bytes
 * (256 bits, full entropy) and the phrase is its BIP39 English encoding:
 * 24 words, the last of which carries an 8-bit checksum.
 *
 * The 32-byte seed IS the BIP39 *entropy*. We never run BIP39's PBKDF2
 * "mnemonic to seed" step (2048 rounds of HMAC-SHA512 with an optional
 * passphrase): the phrase is only a human-friendly encoding of the seed,
 * and the seed goes straight into Ed25519 key generation. A wallet that
 * imports the same 24 words will therefore derive different keys.
 * @module
 */
import { entropyToMnemonic, mnemonicToEntropy } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { randomBytes } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";

/** Length of an account seed, bytes. */
export const SEED_BYTES = 32;
/** Number of words in a recovery phrase (256 bits of entropy + 8 checksum bits). */
export const PHRASE_WORDS = 24;
/** Longest phrase text looked at; 24 words of at most 8 letters fit many times over. */
const MAX_PHRASE_CHARS = 1_024;

const WORD_INDEX: ReadonlyMap<string, number> = new Map(wordlist.map((w, i) => [w, i]));

/**
 * Create a fresh account seed: 32 bytes from the system's CSPRNG.
 * @returns the new seed
 */
export function createSeed(): Uint8Array {
  return randomBytes(SEED_BYTES);
}

/**
 * The recovery phrase of a seed: 24 lowercase BIP39 English words
 * separated by single spaces.
 * @param seed the 32-byte account seed (used as BIP39 entropy)
 * @returns the phrase
 * @throws {RangeError} when the seed is not 32 bytes
 * @example
 * ```ts
 * seedToPhrase(new Uint8Array(32)); // "abandon abandon … abandon art"
 * ```
 */
export function seedToPhrase(seed: Uint8Array): string {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new RangeError("Account seed must be 32 bytes");
  }
  return entropyToMnemonic(seed, wordlist);
}

/**
 * The seed of a recovery phrase. Tolerant of letter case and of extra
 * whitespace (leading, trailing, repeated, tabs, newlines); strict
 * otherwise: every word must be in the BIP39 English list, there must be
 * exactly 24, and the checksum must match.
 * @param phrase the phrase as typed
 * @returns the 32-byte seed (the BIP39 entropy, not the PBKDF2 seed)
 * @throws {HearthError} `bad_request` naming the problem: not text, too
 *   long, the wrong number of words, a word not in the list (by position),
 *   or a checksum mismatch
 */
export function phraseToSeed(phrase: string): Uint8Array {
  if (typeof phrase !== "string") {
    throw new HearthError("bad_request", "Recovery phrase must be text");
  }
  if (phrase.length > MAX_PHRASE_CHARS) {
    throw new HearthError("bad_request", "Recovery phrase is too long");
  }
  const words = phrase.normalize("NFKD").toLowerCase().split(/\s+/).filter((w) => w !== "");
  if (words.length !== PHRASE_WORDS) {
    throw new HearthError(
      "bad_request",
      `Recovery phrase must have ${PHRASE_WORDS} words, not ${words.length}`,
    );
  }
  for (const [i, word] of words.entries()) {
    if (!WORD_INDEX.has(word)) {
      throw new HearthError("bad_request", `Word ${i + 1} is not in the word list`);
    }
  }
  try {
    return mnemonicToEntropy(words.join(" "), wordlist);
  } catch {
    // Every word is known and the count is right: only the checksum is left.
    throw new HearthError("bad_request", "Recovery phrase checksum does not match");
  }
}
