/**
 * Padding to fixed size buckets, so lengths reveal only the bucket.
 * Layout: 4-byte big-endian length, the data, zero bytes up to the bucket.
 * @module
 */
import { readU32 } from "./bytes.ts";
import { CryptoError } from "./errors.ts";

/** Bytes the length prefix adds. */
export const PAD_OVERHEAD = 4;

/**
 * Pick the smallest bucket that holds `length` bytes plus the prefix.
 * @returns the bucket size, or undefined when none is large enough
 */
export function bucketFor(length: number, buckets: readonly number[]): number | undefined {
  return buckets.find((b) => b >= length + PAD_OVERHEAD);
}

/**
 * Pad data to exactly `size` bytes.
 * @throws {RangeError} when the data does not fit
 */
export function pad(data: Uint8Array, size: number): Uint8Array {
  if (data.length + PAD_OVERHEAD > size) throw new RangeError("Data does not fit the bucket");
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(data, PAD_OVERHEAD);
  return out;
}

/**
 * Remove padding added by {@link pad}; the padding must be all zero.
 * @throws {CryptoError} when the length or the padding is malformed
 */
export function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length < PAD_OVERHEAD) throw new CryptoError();
  const length = readU32(padded, 0);
  if (length > padded.length - PAD_OVERHEAD) throw new CryptoError();
  for (let i = PAD_OVERHEAD + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new CryptoError();
  }
  return padded.subarray(PAD_OVERHEAD, PAD_OVERHEAD + length);
}
