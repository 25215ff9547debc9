/**
 * The chunk format of files (docs/PROTOCOL.md §13) with real AES-256-GCM:
 * round trips at the sizes around chunk edges, and every kind of tampering
 * (a flipped byte anywhere, swapped chunks, a truncated file, a wrong size
 * or key, an altered index) fails with the one CryptoError.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { concatBytes, randomBytes } from "../../shared/crypto/bytes.ts";
import { CryptoError } from "../../shared/crypto/errors.ts";
import { chunkKey } from "../../shared/storage/namespaces.ts";
import {
  CHUNK_BYTES,
  chunkCount,
  indexChunkCount,
  isChunk,
  KEYS_PER_INDEX_CHUNK,
  MAX_FORMAT_FILE_BYTES,
  openFileChunk,
  openIndex,
  sealChunk,
  SEALED_CHUNK_BYTES,
  sealIndex,
} from "./chunk_crypto.ts";

/** Seal a whole file: its sealed chunks. */
async function sealFile(key: Uint8Array, file: Uint8Array): Promise<Uint8Array[]> {
  const count = chunkCount(file.length);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const part = file.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    out.push(await sealChunk(key, part, { index: i, count, size: file.length }));
  }
  return out;
}

async function openFile(key: Uint8Array, sealed: Uint8Array[], size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const [i, s] of sealed.entries()) {
    parts.push(await openFileChunk(key, s, { index: i, size }));
  }
  return concatBytes(...parts);
}

Deno.test("chunk counts follow the size; an empty file is one chunk", () => {
  assertEquals(chunkCount(0), 1);
  assertEquals(chunkCount(1), 1);
  assertEquals(chunkCount(CHUNK_BYTES), 1);
  assertEquals(chunkCount(CHUNK_BYTES + 1), 2);
  assertEquals(indexChunkCount(100 * 1000 * 1000), 1);
  assertEquals(indexChunkCount(KEYS_PER_INDEX_CHUNK * CHUNK_BYTES + 1), 2);
  assertEquals(indexChunkCount(MAX_FORMAT_FILE_BYTES), 4);
  assertThrows(() => chunkCount(-1), RangeError);
  assertThrows(() => chunkCount(MAX_FORMAT_FILE_BYTES + 1), RangeError);
  assertThrows(() => chunkCount(1.5), RangeError);
});

Deno.test("files round-trip at every size around a chunk edge, every chunk the same size", async () => {
  const key = randomBytes(32);
  for (const size of [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 5]) {
    const file = randomBytes(size);
    const sealed = await sealFile(key, file);
    assertEquals(sealed.length, chunkCount(size));
    for (const s of sealed) {
      assertEquals(s.length, SEALED_CHUNK_BYTES);
      assertEquals(s[0], 1);
    }
    assertEquals(await openFile(key, sealed, size), file);
  }
});

Deno.test("a flipped byte anywhere in a chunk fails", async () => {
  const key = randomBytes(32);
  const file = randomBytes(CHUNK_BYTES + 10);
  const sealed = await sealFile(key, file);
  for (const at of [0, 1, 2, 1000, CHUNK_BYTES, SEALED_CHUNK_BYTES - 16, SEALED_CHUNK_BYTES - 1]) {
    const bad = sealed[1]!.slice();
    bad[at]! ^= 1;
    await assertRejects(
      () => openFileChunk(key, bad, { index: 1, size: file.length }),
      CryptoError,
    );
    assert(!isChunk(bad, chunkKey(sealed[1]!)));
  }
});

Deno.test("swapped chunks, a truncated file, a wrong size or key all fail", async () => {
  const key = randomBytes(32);
  const size = 3 * CHUNK_BYTES;
  const file = randomBytes(size);
  const sealed = await sealFile(key, file);
  // Swapped: chunk 1 where 0 belongs.
  await assertRejects(() => openFileChunk(key, sealed[1]!, { index: 0, size }), CryptoError);
  // Truncated: a file of two chunks whose last is a middle chunk (its final flag is off).
  await assertRejects(
    () => openFileChunk(key, sealed[1]!, { index: 1, size: 2 * CHUNK_BYTES }),
    CryptoError,
  );
  // The real last chunk claimed at another size.
  await assertRejects(
    () => openFileChunk(key, sealed[2]!, { index: 2, size: size - 1 }),
    CryptoError,
  );
  await assertRejects(
    () => openFileChunk(key, sealed[2]!, { index: 2, size: size + 1 }),
    CryptoError,
  );
  await assertRejects(
    () => openFileChunk(randomBytes(32), sealed[0]!, { index: 0, size }),
    CryptoError,
  );
  // Cut short or extended bytes, and another version byte.
  await assertRejects(
    () => openFileChunk(key, sealed[0]!.subarray(0, 100), { index: 0, size }),
    CryptoError,
  );
  await assertRejects(
    () => openFileChunk(key, concatBytes(sealed[0]!, new Uint8Array(1)), { index: 0, size }),
    CryptoError,
  );
  const v2 = sealed[0]!.slice();
  v2[0] = 2;
  await assertRejects(() => openFileChunk(key, v2, { index: 0, size }), CryptoError);
});

Deno.test("non-zero padding after a file's end fails", async () => {
  const key = randomBytes(32);
  // A sender that left junk after the end: sealed as a full chunk, claimed as 10 bytes.
  const junk = randomBytes(CHUNK_BYTES);
  const sealed = await sealChunk(key, junk, { index: 0, count: 1, size: 10 });
  await assertRejects(() => openFileChunk(key, sealed, { index: 0, size: 10 }), CryptoError);
});

Deno.test("the index round-trips and refuses a missing, extra, swapped or altered chunk", async () => {
  const key = randomBytes(32);
  const size = (KEYS_PER_INDEX_CHUNK + 3) * CHUNK_BYTES;
  const keys = Array.from({ length: chunkCount(size) }, () => randomBytes(32));
  const index = await sealIndex(key, keys, size);
  assertEquals(index.length, 2);
  assertEquals(await openIndex(key, index, size), keys);
  await assertRejects(() => openIndex(key, index.slice(0, 1), size), CryptoError);
  await assertRejects(() => openIndex(key, [...index, index[1]!], size), CryptoError);
  await assertRejects(() => openIndex(key, [index[1]!, index[0]!], size), CryptoError);
  const bad = index[0]!.slice();
  bad[500]! ^= 0x80;
  await assertRejects(() => openIndex(key, [bad, index[1]!], size), CryptoError);
  // The index is bound to the file size, and its key is not the file key.
  await assertRejects(() => openIndex(key, index, size - 1), CryptoError);
  await assertRejects(() => openFileChunk(key, index[0]!, { index: 0, size }), CryptoError);
  await assertRejects(() => sealIndex(key, keys.slice(1), size), RangeError);
});
