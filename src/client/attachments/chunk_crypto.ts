/**
 * The encryption of files sent through the network (docs/PROTOCOL.md §13):
 * a file is cut into chunks of {@link CHUNK_BYTES} plaintext, each padded to
 * exactly that size with zeros, and each sealed with AES-256-GCM under the
 * file's random key, its index and whether it is the last one in the nonce
 * and the file's size in the associated data. The list of chunk keys (the
 * index) is sealed the same way under a key derived from the file key, and
 * cut into index chunks. Every chunk is stored under `chunkKey(ciphertext)`,
 * so a fetched chunk is checked against the key it was asked by before it is
 * opened. Opening fails with one error whatever went wrong.
 * @module
 */
import { AEAD_TAG_BYTES, aesGcmOpen, aesGcmSeal } from "../../shared/crypto/aead.ts";
import { bytesEqual, concatBytes, u64, utf8 } from "../../shared/crypto/bytes.ts";
import { CryptoError } from "../../shared/crypto/errors.ts";
import { deriveKey } from "../../shared/crypto/kdf.ts";
import { chunkKey } from "../../shared/storage/namespaces.ts";

/** Plaintext bytes per chunk; every chunk is padded to exactly this. */
export const CHUNK_BYTES = 65_536;
/** The version byte that starts every chunk's ciphertext. */
export const CHUNK_VERSION = 1;
/** Bytes of one stored chunk: version, padded plaintext, tag. */
export const SEALED_CHUNK_BYTES: number = 1 + CHUNK_BYTES + AEAD_TAG_BYTES;
/** Bytes of one chunk key. */
export const CHUNK_KEY_BYTES = 32;
/** Chunk keys one index chunk holds. */
export const KEYS_PER_INDEX_CHUNK = CHUNK_BYTES / CHUNK_KEY_BYTES;
/** Most index chunks a file has (the message names them all). */
export const MAX_INDEX_CHUNKS = 4;
/** The largest file the format can describe: 4 index chunks of 2,048 keys of 64 KiB (512 MiB). */
export const MAX_FORMAT_FILE_BYTES = MAX_INDEX_CHUNKS * KEYS_PER_INDEX_CHUNK * CHUNK_BYTES;

const AD_LABEL = utf8("hearth/chunk/v1");
const INDEX_INFO = "hearth/file-index/v1";

/**
 * How many chunks a file of `size` bytes is cut into (an empty file is one chunk of padding).
 * @throws {RangeError} for a size that is not an integer in 0 … {@link MAX_FORMAT_FILE_BYTES}
 */
export function chunkCount(size: number): number {
  checkSize(size);
  return Math.max(1, Math.ceil(size / CHUNK_BYTES));
}

/**
 * How many index chunks a file of `size` bytes has.
 * @throws {RangeError} for a size out of range
 */
export function indexChunkCount(size: number): number {
  return Math.ceil(chunkCount(size) / KEYS_PER_INDEX_CHUNK);
}

/** The key sealing a file's index: HKDF(fileKey, "hearth/file-index/v1"). */
export function indexKeyOf(fileKey: Uint8Array): Uint8Array {
  checkKey(fileKey);
  return deriveKey(fileKey, INDEX_INFO);
}

/**
 * Seal chunk `i` of a file (or of its index, with the index key).
 * @param key the file key (or the index key), 32 bytes
 * @param plaintext at most {@link CHUNK_BYTES}; zeros are added up to it
 * @param at.index the chunk's index from 0; at.count how many chunks there are;
 *   at.size the file's size, bytes
 * @returns `u8(1) || AES-256-GCM(...)`, {@link SEALED_CHUNK_BYTES} bytes
 */
export async function sealChunk(
  key: Uint8Array,
  plaintext: Uint8Array,
  at: { index: number; count: number; size: number },
): Promise<Uint8Array> {
  checkKey(key);
  checkAt(at);
  if (plaintext.length > CHUNK_BYTES) throw new RangeError("Chunk is too large");
  const padded = new Uint8Array(CHUNK_BYTES);
  padded.set(plaintext);
  const sealed = await aesGcmSeal(key, nonceOf(at), padded, adOf(at.size));
  return concatBytes(new Uint8Array([CHUNK_VERSION]), sealed);
}

/**
 * Open chunk `i` of a file (or of its index): the whole padded plaintext,
 * {@link CHUNK_BYTES} bytes.
 * @throws {CryptoError} whatever is wrong: size, version, key, index, size, tag
 */
export async function openChunk(
  key: Uint8Array,
  sealed: Uint8Array,
  at: { index: number; count: number; size: number },
): Promise<Uint8Array> {
  checkKey(key);
  checkAt(at);
  if (sealed.length !== SEALED_CHUNK_BYTES || sealed[0] !== CHUNK_VERSION) {
    throw new CryptoError();
  }
  return await aesGcmOpen(key, nonceOf(at), sealed.subarray(1), adOf(at.size));
}

/**
 * Open chunk `index` of a file and cut its padding: its plaintext bytes. The
 * last chunk's padding must be zeros.
 * @param size the file's size
 * @throws {CryptoError} whatever is wrong
 */
export async function openFileChunk(
  fileKey: Uint8Array,
  sealed: Uint8Array,
  at: { index: number; size: number },
): Promise<Uint8Array> {
  const count = chunkCount(at.size);
  const padded = await openChunk(fileKey, sealed, { ...at, count });
  const length = Math.min(CHUNK_BYTES, at.size - at.index * CHUNK_BYTES);
  for (let i = length; i < CHUNK_BYTES; i++) if (padded[i] !== 0) throw new CryptoError();
  return padded.subarray(0, length);
}

/**
 * Seal a file's index: the chunk keys in order, concatenated, cut into
 * index chunks sealed under {@link indexKeyOf}.
 * @param keys every chunk key of the file, in order (`chunkCount(size)` of them)
 * @returns the sealed index chunks, 1 … {@link MAX_INDEX_CHUNKS}
 * @throws {RangeError} when the keys do not match the size
 */
export async function sealIndex(
  fileKey: Uint8Array,
  keys: readonly Uint8Array[],
  size: number,
): Promise<Uint8Array[]> {
  const count = chunkCount(size);
  if (keys.length !== count) throw new RangeError("Chunk keys do not match the file size");
  const indexKey = indexKeyOf(fileKey);
  const n = indexChunkCount(size);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const part = keys.slice(i * KEYS_PER_INDEX_CHUNK, (i + 1) * KEYS_PER_INDEX_CHUNK);
    for (const k of part) if (k.length !== CHUNK_KEY_BYTES) throw new RangeError("Bad chunk key");
    out.push(await sealChunk(indexKey, concatBytes(...part), { index: i, count: n, size }));
  }
  return out;
}

/**
 * Open a file's index chunks (in order) into its chunk keys. The padding
 * after the last key must be zeros.
 * @throws {CryptoError} whatever is wrong (a missing, extra, swapped or altered chunk)
 */
export async function openIndex(
  fileKey: Uint8Array,
  sealed: readonly Uint8Array[],
  size: number,
): Promise<Uint8Array[]> {
  const count = chunkCount(size);
  const n = indexChunkCount(size);
  if (sealed.length !== n) throw new CryptoError();
  const indexKey = indexKeyOf(fileKey);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const padded = await openChunk(indexKey, sealed[i]!, { index: i, count: n, size });
    const inChunk = Math.min(KEYS_PER_INDEX_CHUNK, count - i * KEYS_PER_INDEX_CHUNK);
    for (let j = inChunk * CHUNK_KEY_BYTES; j < CHUNK_BYTES; j++) {
      if (padded[j] !== 0) throw new CryptoError();
    }
    for (let k = 0; k < inChunk; k++) {
      keys.push(padded.slice(k * CHUNK_KEY_BYTES, (k + 1) * CHUNK_KEY_BYTES));
    }
  }
  return keys;
}

/**
 * Whether fetched bytes are the chunk asked for: `chunkKey(bytes) == key`.
 * @param key the chunk key asked for, 32 bytes
 */
export function isChunk(bytes: Uint8Array, key: Uint8Array): boolean {
  return bytesEqual(chunkKey(bytes), key);
}

/** `u64be(index) || u8(final) || 0x000000`. */
function nonceOf(at: { index: number; count: number }): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce.set(u64(at.index), 0);
  nonce[8] = at.index === at.count - 1 ? 1 : 0;
  return nonce;
}

/** `"hearth/chunk/v1" || u64be(size)`. */
function adOf(size: number): Uint8Array {
  return concatBytes(AD_LABEL, u64(size));
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new RangeError("File key must be 32 bytes");
  }
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FORMAT_FILE_BYTES) {
    throw new RangeError("File size is out of range");
  }
}

function checkAt(at: { index: number; count: number; size: number }): void {
  checkSize(at.size);
  if (!Number.isSafeInteger(at.count) || at.count < 1) throw new RangeError("Bad chunk count");
  if (!Number.isSafeInteger(at.index) || at.index < 0 || at.index >= at.count) {
    throw new RangeError("Chunk index is out of range");
  }
}
