/**
 * Writing a new file of the owner into the client database as its bytes
 * arrive: every {@link CHUNK_BYTES} of plaintext becomes one
 * `attachment_chunks` row, written {@link CHUNKS_PER_COMMIT} to a
 * transaction (one fsync per MiB, not per chunk), so at most 1 MiB is held
 * in memory.
 * The size limit is checked as bytes arrive; past it nothing is kept. The
 * file's row is made only when it is whole ({@link AttachmentWriter.finish}),
 * so a file cut short leaves no row (its chunks are removed, or swept at the
 * next start).
 * @module
 */
import type { Kysely } from "kysely";
import { randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb } from "../db/schema.ts";
import {
  checkFileName,
  checkMediaType,
  checkThumbnail,
  MAX_DURATION_MS,
} from "./attachment_ref.ts";
import { attachmentById, type AttachmentView } from "./attachment_rows.ts";
import { CHUNK_BYTES, chunkCount } from "./chunk_crypto.ts";

/** Chunks written in one transaction. */
export const CHUNKS_PER_COMMIT = 16;

/** What a new file is, besides its bytes. */
export interface FileMeta {
  /** The file name (checked: see checkFileName). */
  name: string;
  /** The media type (checked: see checkMediaType; absent: application/octet-stream). */
  type?: string;
  /** Whether it is a voice clip (its type must be audio). */
  voice?: boolean;
  /** The duration of audio, ms. */
  durationMs?: number;
  /** A PNG, JPEG or WebP thumbnail of at most 8 KiB (photos). */
  thumbnail?: Uint8Array;
}

/** Receives one new file's bytes; see the module doc. */
export class AttachmentWriter {
  /** The new file's id (its row exists once finished). */
  readonly id: string = toHex(randomBytes(16));
  readonly #db: Kysely<ClientDb>;
  readonly #maxBytes: number;
  readonly #clock: () => number;
  readonly #onFinish: ((id: string) => void) | undefined;
  #buf = new Uint8Array(CHUNK_BYTES);
  #fill = 0;
  /** Chunks numbered but not yet written. */
  #held: Uint8Array[] = [];
  #chunks = 0;
  #size = 0;
  #closed = false;

  /**
   * Start a new file.
   * @param db the client database
   * @param options.maxBytes the largest file; options.clock the time; options.onFinish
   *   called with the id once the file's row is made
   */
  constructor(
    db: Kysely<ClientDb>,
    options: { maxBytes: number; clock: () => number; onFinish?: (id: string) => void },
  ) {
    this.#db = db;
    this.#maxBytes = options.maxBytes;
    this.#clock = options.clock;
    this.#onFinish = options.onFinish;
  }

  /** Bytes received so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Add bytes; each full chunk is written at once.
   * @throws {HearthError} `too_large` past the limit (everything written so far is removed)
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw new HearthError("conflict", "File is closed");
    if (this.#size + bytes.length > this.#maxBytes) {
      await this.abort();
      throw new HearthError("too_large", "File is too large", { maxBytes: this.#maxBytes });
    }
    this.#size += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(CHUNK_BYTES - this.#fill, bytes.length - at);
      this.#buf.set(bytes.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === CHUNK_BYTES) await this.#flush();
    }
  }

  /**
   * Write the last chunk and make the file's row (state `local`).
   * @returns the new file
   * @throws {HearthError} `bad_request` for a bad name, type, thumbnail or duration, or
   *   `voice` on a type that is not audio; `too_large` for a thumbnail over 8 KiB
   *   (nothing is kept on any error)
   */
  async finish(meta: FileMeta): Promise<AttachmentView> {
    try {
      const name = checkFileName(meta.name);
      const type = meta.type === undefined ? "application/octet-stream" : checkMediaType(meta.type);
      const thumbnailType = meta.thumbnail ? checkThumbnail(meta.thumbnail) : null;
      if (meta.voice && !type.startsWith("audio/")) {
        throw new HearthError("bad_request", "A voice clip must be audio");
      }
      if (
        meta.durationMs !== undefined &&
        (!Number.isSafeInteger(meta.durationMs) || meta.durationMs < 0 ||
          meta.durationMs > MAX_DURATION_MS)
      ) {
        throw new HearthError("bad_request", "durationMs is out of range");
      }
      if (this.#fill > 0 || this.#chunks === 0) await this.#flush();
      await this.#commit();
      this.#closed = true;
      if (this.#chunks !== chunkCount(this.#size)) throw new Error("Chunk count does not match");
      await this.#db.insertInto("attachments").values({
        id: this.id,
        message_id: null,
        direction: "out",
        name,
        type,
        size: this.#size,
        file_key: randomBytes(32),
        chunk_count: this.#chunks,
        index_hashes: "[]",
        state: "local",
        voice: meta.voice ? 1 : 0,
        duration_ms: meta.durationMs ?? null,
        thumbnail: meta.thumbnail ?? null,
        thumbnail_type: thumbnailType,
        last_error: null,
        created_at: this.#clock(),
        expires_at: null,
      }).execute();
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.#onFinish?.(this.id);
    return (await attachmentById(this.#db, this.id))!;
  }

  /** Give up: remove the chunks written. Idempotent. */
  async abort(): Promise<void> {
    this.#closed = true;
    this.#buf = new Uint8Array(0);
    this.#held = [];
    await this.#db.deleteFrom("attachment_chunks").where("attachment_id", "=", this.id).execute();
  }

  /** Number the chunk in the buffer; write the held ones when there are enough. */
  async #flush(): Promise<void> {
    this.#held.push(this.#buf.slice(0, this.#fill));
    this.#chunks++;
    this.#fill = 0;
    if (this.#held.length >= CHUNKS_PER_COMMIT) await this.#commit();
  }

  /** Write the held chunks in one transaction. */
  async #commit(): Promise<void> {
    if (this.#held.length === 0) return;
    const first = this.#chunks - this.#held.length;
    const rows = this.#held.map((data, i) => ({
      attachment_id: this.id,
      idx: first + i,
      data,
      chunk_key: null,
    }));
    this.#held = [];
    await this.#db.transaction().execute(async (tx) => {
      for (const row of rows) await tx.insertInto("attachment_chunks").values(row).execute();
    });
  }
}
