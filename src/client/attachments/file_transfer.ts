/**
 * Moving a file's chunks through the network (docs/PROTOCOL.md §13).
 * Upload: every chunk not yet acknowledged is sealed and stored (a few at
 * a time), its key kept as the swarm acknowledges it, so a retry sends only
 * the rest; then the index. Download: the index chunks are fetched and
 * opened, then every chunk not yet here is fetched (a few at a time),
 * checked against its key, opened, and its plaintext written. Any missing or
 * altered chunk fails the whole download (`download_failed`): a file is
 * complete and verified, or not there at all. A retry fetches only what is
 * still missing.
 * @module
 */
import type { Kysely } from "kysely";
import { fromHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { AttachmentState, ClientDb } from "../db/schema.ts";
import {
  CHUNK_BYTES,
  isChunk,
  openFileChunk,
  openIndex,
  sealChunk,
  sealIndex,
} from "./chunk_crypto.ts";

/** The part of the swarm client files need (src/client/network/swarm_client.ts). */
export interface ChunkNetwork {
  /** Store a content-addressed chunk; its key is chunkKey(data), hex. */
  storeChunk(
    data: Uint8Array,
    options: { ttlMs: number; signal?: AbortSignal },
  ): Promise<{ key: string }>;
  /** Fetch a chunk by its key; null when no swarm member has it. */
  retrieveChunk(key: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array | null>;
}

/** What a transfer needs. */
export interface TransferContext {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The swarms. */
  network: ChunkNetwork;
  /** Current time, ms. */
  clock: () => number;
  /** Chunks in flight at once. */
  concurrency: number;
  /** How long uploaded chunks live, ms. */
  ttlMs: number;
  /** Ends the transfer early (the service stops). */
  signal: AbortSignal;
  /** Progress: called after every chunk and at each state change (`force`). */
  progress: (
    p: { id: string; state: AttachmentState; done: number; total: number },
    force: boolean,
  ) => void;
}

/**
 * Upload one of the owner's files: state `uploading`, then `uploaded` with
 * its index keys, or `failed` (`last_error` set) when a chunk could not be
 * stored. A file already uploaded is left alone.
 * @throws {HearthError} `unavailable` when the upload failed (it may be retried)
 */
export async function uploadFile(ctx: TransferContext, id: string): Promise<void> {
  const { db } = ctx;
  const row = await db.selectFrom("attachments")
    .select(["file_key", "size", "chunk_count", "state"])
    .where("id", "=", id).where("direction", "=", "out").executeTakeFirst();
  if (!row || row.state === "uploaded") return;
  const fileKey = new Uint8Array(row.file_key);
  const { size, chunk_count: count } = row;
  const pending = (await db.selectFrom("attachment_chunks").select("idx")
    .where("attachment_id", "=", id).where("chunk_key", "is", null).orderBy("idx").execute())
    .map((r) => r.idx);
  let done = size - pending.reduce((sum, i) => sum + plainLength(size, i), 0);
  await setState(ctx, id, { state: "uploading", done, total: size });
  try {
    await eachAtMost(ctx, pending, async (idx, signal) => {
      const chunk = await db.selectFrom("attachment_chunks").select("data")
        .where("attachment_id", "=", id).where("idx", "=", idx).executeTakeFirst();
      if (!chunk) throw new Gone();
      const sealed = await sealChunk(fileKey, new Uint8Array(chunk.data), {
        index: idx,
        count,
        size,
      });
      const stored = await ctx.network.storeChunk(sealed, { ttlMs: ctx.ttlMs, signal });
      if (!isChunk(sealed, fromHex(stored.key, 32))) throw new Error("Chunk key does not match");
      done += plainLength(size, idx);
      // One transaction (one fsync) for the chunk's key and the progress.
      await db.transaction().execute(async (tx) => {
        await tx.updateTable("attachment_chunks").set({ chunk_key: fromHex(stored.key, 32) })
          .where("attachment_id", "=", id).where("idx", "=", idx).execute();
        await tx.updateTable("attachments").set({ done_bytes: done }).where("id", "=", id)
          .execute();
      });
      ctx.progress({ id, state: "uploading", done, total: size }, false);
    });
    const keys = await db.selectFrom("attachment_chunks").select(["idx", "chunk_key"])
      .where("attachment_id", "=", id).orderBy("idx").execute();
    if (keys.length !== count || keys.some((k, i) => k.idx !== i || k.chunk_key === null)) {
      throw new Gone();
    }
    const index = await sealIndex(fileKey, keys.map((k) => new Uint8Array(k.chunk_key!)), size);
    const indexKeys: string[] = [];
    for (const part of index) {
      const stored = await ctx.network.storeChunk(part, { ttlMs: ctx.ttlMs, signal: ctx.signal });
      if (!isChunk(part, fromHex(stored.key, 32))) throw new Error("Chunk key does not match");
      indexKeys.push(stored.key);
    }
    const res = await db.updateTable("attachments").set({
      state: "uploaded",
      index_hashes: JSON.stringify(indexKeys),
      done_bytes: size,
      last_error: null,
      expires_at: ctx.clock() + ctx.ttlMs,
    }).where("id", "=", id).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      ctx.progress({ id, state: "uploaded", done: size, total: size }, true);
    }
  } catch (err) {
    if (err instanceof Gone) return;
    // Stopped (locked): the state stays `uploading`, and the next start resumes it.
    if (ctx.signal.aborted) throw new HearthError("unavailable", "Stopped");
    await setState(ctx, id, { state: "failed", done, total: size, error: "unavailable" });
    throw new HearthError("unavailable", "File upload failed; try again");
  }
}

/**
 * Download a peer's file: state `downloading`, then `complete` once every
 * chunk is here and verified, or `failed` with `last_error`
 * `download_failed`. A complete file is left alone.
 * @throws {HearthError} `download_failed` when a chunk is missing or does not verify
 *   (nothing unverified is ever written; a retry fetches what is still missing)
 */
export async function downloadFile(ctx: TransferContext, id: string): Promise<void> {
  const { db } = ctx;
  const row = await db.selectFrom("attachments")
    .select(["file_key", "size", "chunk_count", "state", "index_hashes"])
    .where("id", "=", id).where("direction", "=", "in").executeTakeFirst();
  if (!row || row.state === "complete") return;
  const fileKey = new Uint8Array(row.file_key);
  const size = row.size;
  const have = new Set((await db.selectFrom("attachment_chunks").select("idx")
    .where("attachment_id", "=", id).execute()).map((r) => r.idx));
  let done = [...have].reduce((sum, i) => sum + plainLength(size, i), 0);
  await setState(ctx, id, { state: "downloading", done, total: size });
  try {
    const sealedIndex: Uint8Array[] = [];
    for (const hex of JSON.parse(row.index_hashes) as string[]) {
      sealedIndex.push(await fetchChunk(ctx, fromHex(hex, 32), ctx.signal));
    }
    const keys = await openIndex(fileKey, sealedIndex, size).catch(() => {
      throw new Corrupt();
    });
    if (keys.length !== row.chunk_count) throw new Corrupt();
    const pending = keys.map((_, i) => i).filter((i) => !have.has(i));
    await eachAtMost(ctx, pending, async (idx, signal) => {
      const sealed = await fetchChunk(ctx, keys[idx]!, signal);
      const plain = await openFileChunk(fileKey, sealed, { index: idx, size }).catch(() => {
        throw new Corrupt();
      });
      // The file may have gone meanwhile (its message deleted): write nothing then.
      await db.transaction().execute(async (tx) => {
        const live = await tx.selectFrom("attachments").select("id").where("id", "=", id)
          .executeTakeFirst();
        if (!live) throw new Gone();
        await tx.insertInto("attachment_chunks")
          .values({ attachment_id: id, idx, data: plain.slice(), chunk_key: null })
          .onConflict((oc) => oc.columns(["attachment_id", "idx"]).doNothing()).execute();
        done += plain.length;
        await tx.updateTable("attachments").set({ done_bytes: done }).where("id", "=", id)
          .execute();
      });
      ctx.progress({ id, state: "downloading", done, total: size }, false);
    });
    const n = await db.selectFrom("attachment_chunks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("attachment_id", "=", id).executeTakeFirstOrThrow();
    if (Number(n.n) !== row.chunk_count) throw new Corrupt();
    const res = await db.updateTable("attachments")
      .set({ state: "complete", done_bytes: size, last_error: null })
      .where("id", "=", id).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      ctx.progress({ id, state: "complete", done: size, total: size }, true);
    }
  } catch (err) {
    if (err instanceof Gone) return;
    if (ctx.signal.aborted) throw new HearthError("unavailable", "Stopped");
    await setState(ctx, id, { state: "failed", done, total: size, error: "download_failed" });
    if (err instanceof Corrupt) {
      throw new HearthError(
        "download_failed",
        "A chunk of the file is missing or corrupt; try again",
      );
    }
    throw new HearthError("download_failed", "The file could not be fetched; try again");
  }
}

/** A chunk by its key, checked against it. */
async function fetchChunk(
  ctx: TransferContext,
  key: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const data = await ctx.network.retrieveChunk(key, { signal });
  if (!data || !isChunk(data, key)) throw new Corrupt();
  return data;
}

/** A chunk is missing or does not verify. */
class Corrupt extends Error {}
/** The file's row went while it was moving (its message was deleted). */
class Gone extends Error {}

/** The plaintext bytes of chunk `i` of a file of `size` bytes. */
function plainLength(size: number, i: number): number {
  return Math.max(0, Math.min(CHUNK_BYTES, size - i * CHUNK_BYTES));
}

async function setState(
  ctx: TransferContext,
  id: string,
  s: { state: AttachmentState; done: number; total: number; error?: string },
): Promise<void> {
  const res = await ctx.db.updateTable("attachments")
    .set({ state: s.state, done_bytes: s.done, last_error: s.error ?? null })
    .where("id", "=", id).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 1) {
    ctx.progress({ id, state: s.state, done: s.done, total: s.total }, true);
  }
}

/**
 * Run `fn` over `items` with at most `ctx.concurrency` at once; after the
 * first failure no new item starts (those in flight finish, so their work
 * is kept for a retry), and it is thrown.
 */
async function eachAtMost<T>(
  ctx: TransferContext,
  items: readonly T[],
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const signal = ctx.signal;
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      if (signal.aborted) {
        failure ??= signal.reason ?? new Error("Aborted");
        return;
      }
      const item = items[next++]!;
      try {
        await fn(item, signal);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure;
  if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("Aborted");
}
