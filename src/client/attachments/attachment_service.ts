/**
 * Files, photos and voice clips while the client is unlocked
 * (docs/PROTOCOL.md §13): new files are kept locally and uploaded in the
 * background; a message carries their manifests ({@link AttachmentService.refsFor});
 * a peer's files are recorded with its message and downloaded on demand;
 * every file is served chunk by chunk from the client database. Progress
 * goes out as `attachment` events, at most every 250 ms per file and at
 * every state change. Files interrupted by a lock resume at the next unlock.
 * @module
 */
import type { Kysely } from "kysely";
import { randomBytes } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import { inTx } from "../db/transaction.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import type { AttachmentState, ClientDb } from "../db/schema.ts";
import { type AttachmentRef, checkFileName } from "./attachment_ref.ts";
import {
  attachmentById,
  type AttachmentView,
  attachmentViews,
  attachTo,
  recordIncoming,
} from "./attachment_rows.ts";
import { AttachmentWriter, type FileMeta } from "./attachment_writer.ts";
import { type ChunkNetwork, downloadFile, uploadFile } from "./file_transfer.ts";

/** The default largest file the owner may send, bytes (100 MB). */
export const DEFAULT_MAX_FILE_BYTES = 100 * 1000 * 1000;
/** How long uploaded chunks live in the network, ms (14 days, the inbox maximum). */
export const CHUNK_TTL_MS = 14 * 24 * 3600_000;
/**
 * A file whose chunks expire sooner than this when it is attached goes up
 * again, under a fresh key (2 days: time for the recipient to fetch it).
 */
export const REUPLOAD_MARGIN_MS = 2 * 24 * 3600_000;
/** Chunks uploaded at once, per file. */
export const UPLOAD_CONCURRENCY = 4;
/** Chunks downloaded at once, per file. */
export const DOWNLOAD_CONCURRENCY = 6;
/** The shortest interval between two progress events of one file, ms. */
export const PROGRESS_INTERVAL_MS = 250;

/** A file's progress, as the `attachment` event carries it. */
export interface AttachmentProgress {
  /** The file's id. */
  id: string;
  /** Its state. */
  state: AttachmentState;
  /** Bytes transferred. */
  done: number;
  /** Its size, bytes. */
  total: number;
}

/** A file opened for reading. */
export interface OpenedFile {
  /** The file name. */
  name: string;
  /** The media type (as the sender gave it). */
  type: string;
  /** The size, bytes. */
  size: number;
  /** The bytes, one chunk at a time from the client database. */
  stream: ReadableStream<Uint8Array>;
}

/** Options of {@link AttachmentService}. */
export interface AttachmentServiceOptions {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The swarms (absent: no network, so nothing is uploaded or downloaded). */
  network?: ChunkNetwork;
  /** The largest file the owner may add, bytes (default {@link DEFAULT_MAX_FILE_BYTES}). */
  maxFileBytes?: number;
  /** Progress events. */
  onProgress?: (progress: AttachmentProgress) => void;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Events and counts only (default silent). */
  log?: Logger;
}

/** What {@link AttachmentService.add} takes: the file's bytes and what it is. */
export interface NewFile extends FileMeta {
  /** The bytes. */
  stream: ReadableStream<Uint8Array>;
}

/** The owner's files; one per running chat. */
export class AttachmentService {
  readonly #db: Kysely<ClientDb>;
  readonly #network: ChunkNetwork | undefined;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #onProgress: (progress: AttachmentProgress) => void;
  readonly #abort = new AbortController();
  readonly #uploads = new Map<string, Promise<void>>();
  readonly #downloads = new Map<string, Promise<void>>();
  readonly #lastProgress = new Map<string, number>();
  /** The largest file the owner may add, bytes. */
  readonly maxFileBytes: number;

  /** Create the service; see {@link AttachmentServiceOptions}. Call {@link start} next. */
  constructor(options: AttachmentServiceOptions) {
    this.#db = options.db;
    this.#network = options.network;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log ?? silentLogger;
    this.#onProgress = options.onProgress ?? (() => {});
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  /**
   * Sweep what an interrupted run left (chunks of files never finished) and
   * resume the uploads and downloads a lock interrupted, in the background.
   */
  async start(): Promise<void> {
    await this.#db.deleteFrom("attachment_chunks").where(
      "attachment_id",
      "not in",
      this.#db.selectFrom("attachments").select("id"),
    ).execute();
    const rows = await this.#db.selectFrom("attachments").select(["id", "direction", "state"])
      .where("state", "in", ["local", "uploading", "downloading"]).execute();
    for (const r of rows) {
      if (r.direction === "out") this.upload(r.id).catch(() => {});
      else this.download(r.id).catch(() => {});
    }
  }

  /** Stop every transfer (their state stays, to resume at the next start) and wait for them. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled([...this.#uploads.values(), ...this.#downloads.values()]);
  }

  /**
   * Start receiving a new file's bytes (e.g. as an upload arrives); the
   * file exists once {@link AttachmentWriter.finish} returns, and is then
   * uploaded in the background (see {@link upload}).
   */
  writer(): AttachmentWriter {
    return new AttachmentWriter(this.#db, {
      maxBytes: this.maxFileBytes,
      clock: this.#clock,
      onFinish: (id) => {
        if (this.#network) this.upload(id).catch(() => {});
      },
    });
  }

  /**
   * Add a file: its bytes are stored locally as they are read, then it is
   * uploaded in the background.
   * @returns the new file (state `local`)
   * @throws {HearthError} `too_large` over {@link maxFileBytes}; `bad_request` for a bad
   *   name, type, duration or thumbnail
   */
  async add(input: NewFile): Promise<AttachmentView> {
    checkFileName(input.name);
    const writer = this.writer();
    const reader = input.stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
    } catch (err) {
      await writer.abort();
      await reader.cancel().catch(() => {});
      throw err;
    }
    const { stream: _, ...meta } = input;
    return await writer.finish(meta);
  }

  /**
   * Upload one of the owner's files (or join the upload under way). Chunks
   * already acknowledged are not sent again.
   * @throws {HearthError} `unavailable` without a network or when the upload failed
   */
  upload(id: string): Promise<void> {
    const running = this.#uploads.get(id);
    if (running) return running;
    const network = this.#network;
    if (!network) return Promise.reject(new HearthError("unavailable", "No network"));
    const run = uploadFile(this.#transfer(network, UPLOAD_CONCURRENCY), id).finally(() => {
      this.#uploads.delete(id);
    });
    this.#uploads.set(id, run);
    run.then(
      () => this.#log.debug("attachment.uploaded"),
      () => this.#log.info("attachment.upload-failed"),
    );
    return run;
  }

  /**
   * Download a peer's file (or join the download under way); one already
   * complete (or the owner's own) is left alone.
   * @throws {HearthError} `not_found` for an unknown file; `download_failed` when a chunk is
   *   missing or corrupt; `unavailable` without a network
   */
  async download(id: string): Promise<void> {
    const running = this.#downloads.get(id);
    if (running) return await running;
    const row = await this.#row(id);
    if (row.direction !== "in" || row.state === "complete") return;
    const network = this.#network;
    if (!network) throw new HearthError("unavailable", "No network");
    if (this.#downloads.has(id)) return await this.#downloads.get(id);
    const run = downloadFile(this.#transfer(network, DOWNLOAD_CONCURRENCY), id).finally(() => {
      this.#downloads.delete(id);
    });
    this.#downloads.set(id, run);
    run.then(
      () => this.#log.debug("attachment.downloaded"),
      () => this.#log.info("attachment.download-failed"),
    );
    return await run;
  }

  /**
   * The manifests of the owner's files for a message, once each is
   * uploaded (waiting for uploads under way, retrying failed ones).
   * @param ids 1 … 10 file ids, each once
   * @throws {HearthError} `conflict` for an unknown id, a peer's file, or one already
   *   sent; `bad_request` for a repeated id; `unavailable` when an upload failed
   */
  async refsFor(ids: readonly string[]): Promise<AttachmentRef[]> {
    if (new Set(ids).size !== ids.length) {
      throw new HearthError("bad_request", "A file is attached twice");
    }
    for (const id of ids) await this.#ownUnsent(id);
    await this.#renewStale(ids);
    await Promise.all(ids.map((id) => this.upload(id)));
    const refs: AttachmentRef[] = [];
    for (const id of ids) {
      const r = await this.#db.selectFrom("attachments").selectAll().where("id", "=", id)
        .executeTakeFirst();
      if (!r || r.state !== "uploaded") {
        throw new HearthError("unavailable", "File upload failed; try again");
      }
      const ref: AttachmentRef = {
        key: new Uint8Array(r.file_key),
        index: JSON.parse(r.index_hashes),
        name: r.name,
        size: r.size,
        type: r.type,
      };
      if (r.thumbnail) ref.thumbnail = new Uint8Array(r.thumbnail);
      if (r.duration_ms !== null) ref.durationMs = r.duration_ms;
      refs.push(ref);
    }
    return refs;
  }

  /**
   * Make files uploaded so long ago that their chunks expire within
   * {@link REUPLOAD_MARGIN_MS} go up again. Storing the same chunks again
   * would not help: a content-addressed item stored twice keeps its first
   * expiry, and nobody owns it to extend it. So the file gets a fresh key,
   * which gives every chunk new bytes and a new key; its plaintext is here.
   */
  async #renewStale(ids: readonly string[]): Promise<void> {
    const limit = this.#clock() + REUPLOAD_MARGIN_MS;
    for (const id of ids) {
      await inTx(this.#db, async (tx) => {
        const r = await tx.selectFrom("attachments").select(["state", "expires_at"])
          .where("id", "=", id).executeTakeFirst();
        if (r?.state !== "uploaded" || r.expires_at === null || r.expires_at > limit) return;
        await tx.updateTable("attachments").set({
          file_key: randomBytes(32),
          state: "local",
          index_hashes: "[]",
          done_bytes: 0,
          expires_at: null,
        }).where("id", "=", id).execute();
        await tx.updateTable("attachment_chunks").set({ chunk_key: null })
          .where("attachment_id", "=", id).execute();
      });
    }
  }

  /**
   * Check that the owner's files can go into a message kept locally (Note
   * to Self): each is the owner's and unsent; nothing is uploaded.
   * @throws {HearthError} as {@link refsFor}
   */
  async checkLocal(ids: readonly string[]): Promise<void> {
    if (new Set(ids).size !== ids.length) {
      throw new HearthError("bad_request", "A file is attached twice");
    }
    for (const id of ids) await this.#ownUnsent(id);
  }

  /**
   * Link the owner's files to the message carrying them (in its transaction).
   * @throws {HearthError} `conflict` when one is unknown, a peer's, or already sent
   */
  attachTo(db: Kysely<ClientDb>, messageId: string, ids: readonly string[]): Promise<void> {
    return attachTo(db, messageId, ids, { now: this.#clock() });
  }

  /**
   * Record a peer's files with its message (in the message's transaction),
   * state `remote`.
   * @returns the new files' ids
   */
  recordIncoming(
    db: Kysely<ClientDb>,
    messageId: string,
    refs: readonly AttachmentRef[],
    options: { voice?: boolean } = {},
  ): Promise<string[]> {
    return recordIncoming(db, messageId, refs, { ...options, now: this.#clock() });
  }

  /** A message's files, in order. */
  async viewsFor(messageId: string): Promise<AttachmentView[]> {
    return (await attachmentViews(this.#db, [messageId])).get(messageId) ?? [];
  }

  /**
   * One file.
   * @throws {HearthError} `not_found`
   */
  async view(id: string): Promise<AttachmentView> {
    const view = await attachmentById(this.#db, id);
    if (!view) throw new HearthError("not_found", "No such file");
    return view;
  }

  /**
   * A file's thumbnail, or null when it has none.
   * @throws {HearthError} `not_found` for an unknown file
   */
  async thumbnail(id: string): Promise<{ type: string; bytes: Uint8Array } | null> {
    const row = await this.#db.selectFrom("attachments").select(["thumbnail", "thumbnail_type"])
      .where("id", "=", id).executeTakeFirst();
    if (!row) throw new HearthError("not_found", "No such file");
    if (!row.thumbnail || !row.thumbnail_type) return null;
    return { type: row.thumbnail_type, bytes: new Uint8Array(row.thumbnail) };
  }

  /**
   * Open a file for reading, downloading a peer's first when it is not here yet.
   * @throws {HearthError} `not_found`; `download_failed` when it cannot be fetched whole
   */
  async open(id: string): Promise<OpenedFile> {
    let view = await this.view(id);
    const row = await this.#row(id);
    if (row.direction === "in" && row.state !== "complete") {
      await this.download(id);
      view = await this.view(id);
      if (view.state !== "complete") {
        throw new HearthError("download_failed", "The file could not be fetched; try again");
      }
    }
    const db = this.#db;
    const count = row.chunk_count;
    let idx = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (idx >= count) return controller.close();
        const row = await db.selectFrom("attachment_chunks").select("data")
          .where("attachment_id", "=", id).where("idx", "=", idx).executeTakeFirst();
        if (!row) return controller.error(new HearthError("not_found", "File is gone"));
        idx++;
        if (row.data.byteLength > 0) controller.enqueue(new Uint8Array(row.data));
        if (idx >= count) controller.close();
      },
    }, { highWaterMark: 1 });
    return { name: view.name, type: view.type, size: view.size, stream };
  }

  /** Whether a transfer of the file is under way. */
  busy(id: string): boolean {
    return this.#uploads.has(id) || this.#downloads.has(id);
  }

  /** @throws {HearthError} `not_found` */
  async #row(id: string) {
    const row = await this.#db.selectFrom("attachments")
      .select(["direction", "state", "chunk_count"]).where("id", "=", id).executeTakeFirst();
    if (!row) throw new HearthError("not_found", "No such file");
    return row;
  }

  async #ownUnsent(id: string): Promise<void> {
    const row = await this.#db.selectFrom("attachments").select(["direction", "message_id"])
      .where("id", "=", id).executeTakeFirst();
    if (!row || row.direction !== "out" || row.message_id !== null) {
      throw new HearthError("conflict", "No such file to send (or it was sent already)");
    }
  }

  #transfer(network: ChunkNetwork, concurrency: number) {
    return {
      db: this.#db,
      network,
      clock: this.#clock,
      concurrency,
      ttlMs: CHUNK_TTL_MS,
      signal: this.#abort.signal,
      progress: (p: AttachmentProgress, force: boolean) => this.#progress(p, force),
    };
  }

  #progress(p: AttachmentProgress, force: boolean): void {
    const now = this.#clock();
    const last = this.#lastProgress.get(p.id);
    if (!force && last !== undefined && now - last < PROGRESS_INTERVAL_MS) return;
    this.#lastProgress.set(p.id, now);
    if (force && p.state !== "uploading" && p.state !== "downloading") {
      this.#lastProgress.delete(p.id);
    }
    this.#onProgress(p);
  }
}
