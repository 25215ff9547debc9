/**
 * Passphrase key derivation: scrypt (RFC 7914), memory-hard, so that
 * guessing a passphrase costs memory as well as time on every guess. It
 * runs off the main thread, so a node keeps serving while an owner unlocks.
 * @module
 */
import { scrypt } from "node:crypto";
import { utf8 } from "./bytes.ts";

/** scrypt's cost parameters (RFC 7914 §2). */
export interface ScryptParams {
  /** CPU/memory cost: a power of two, 2 … 2^20. Memory is 128 · r · N bytes. */
  N: number;
  /** Block size, 1 … 32. */
  r: number;
  /** Parallelization, 1 … 16 (run one after the other here: time grows with p, memory does not). */
  p: number;
}

/**
 * The strong default: N = 2^17, r = 8, p = 1, i.e. 128 MiB of memory and about
 * 0.4 s on one core of our 2-core reference machine (OWASP's scrypt minimum).
 */
export const SCRYPT_DEFAULTS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** The most memory a parameter set may ask for: 1 GiB (noble's own ceiling). */
const MAX_MEMORY = 2 ** 30;

/**
 * Check that scrypt parameters are in the accepted range.
 * @param params the parameters to check
 * @throws {RangeError} when a parameter is out of range or asks for more than 1 GiB
 */
export function checkScryptParams(params: ScryptParams): void {
  const { N, r, p } = params;
  const isPowerOfTwo = Number.isInteger(N) && N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0;
  if (!isPowerOfTwo) throw new RangeError("Scrypt N must be a power of two from 2 to 2^20");
  if (!Number.isInteger(r) || r < 1 || r > 32) throw new RangeError("Scrypt r must be 1 to 32");
  if (!Number.isInteger(p) || p < 1 || p > 16) throw new RangeError("Scrypt p must be 1 to 16");
  if (128 * r * (N + p + 1) > MAX_MEMORY) throw new RangeError("Scrypt parameters need over 1 GiB");
}

/**
 * Derive a key from a passphrase with scrypt. The passphrase is normalised to
 * Unicode NFKC first, so the same words typed on two keyboards (composed or
 * decomposed accents, compatibility forms) give the same key.
 * @param passphrase the owner's passphrase (any string, including empty)
 * @param salt a random salt, stored beside whatever the key protects (16 bytes or more in use)
 * @param params scrypt's cost, and `length` of the output in bytes (default 32)
 * @returns the derived key
 * @throws {RangeError} when the parameters are out of range
 * @example
 * ```ts
 * const key = await deriveKeyFromPassphrase("correct horse", randomBytes(16), SCRYPT_DEFAULTS);
 * ```
 */
export async function deriveKeyFromPassphrase(
  passphrase: string,
  salt: Uint8Array,
  params: ScryptParams & { length?: number },
): Promise<Uint8Array> {
  checkScryptParams(params);
  const length = params.length ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > 1024) {
    throw new RangeError("Key length must be 1 to 1024 bytes");
  }
  const password = utf8(passphrase.normalize("NFKC"));
  try {
    // The runtime's native scrypt, off the main thread: about twice as fast
    // as a JavaScript one, and its 128 MiB is freed as soon as it returns
    // instead of waiting for the garbage collector.
    const key = await new Promise<Uint8Array>((resolve, reject) =>
      scrypt(
        password,
        salt,
        length,
        { N: params.N, r: params.r, p: params.p, maxmem: MAX_MEMORY + 4096 },
        (err, derived) => err ? reject(err) : resolve(derived),
      )
    );
    return new Uint8Array(key.buffer, key.byteOffset, key.length);
  } finally {
    password.fill(0);
  }
}
