/**
 * The client database's side of files: the views the owner API shows, the
 * rows of a peer's files recorded with its message, linking the owner's
 * files to the message that carries them, and removing a message's files
 * with it. Each runs in the caller's transaction when given one.
 * @module
 */
import type { Kysely } from "kysely";
import { randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { AttachmentState, ClientDb } from "../db/schema.ts";
import { inTx } from "../db/transaction.ts";
import { type AttachmentRef, checkThumbnail } from "./attachment_ref.ts";
import { chunkCount } from "./chunk_crypto.ts";

type Db = Kysely<ClientDb>;

/** Ids per statement when a list of ids is bound. */
const ID_CHUNK = 500;

/** A file as the owner API shows it. */
export interface AttachmentView {
  /** The local id, 32 lowercase hex (served at `GET /api/attachments/{id}`). */
  id: string;
  /** The file name. */
  name: string;
  /** The size, bytes. */
  size: number;
  /** The media type. */
  type: string;
  /** Where it stands; see {@link AttachmentState}. */
  state: AttachmentState;
  /** Whether it is a voice clip. */
  voice: boolean;
  /** The duration of audio, ms, or null. */
  durationMs: number | null;
  /** Whether it has a thumbnail (served at `GET /api/attachments/{id}/thumbnail`). */
  hasThumbnail: boolean;
  /** Bytes transferred so far (all of them once uploaded or complete). */
  done: number;
}

/** The columns {@link attachmentView} reads. */
export const VIEW_COLUMNS = [
  "id",
  "message_id",
  "name",
  "size",
  "type",
  "state",
  "voice",
  "duration_ms",
  "done_bytes",
  "created_at",
] as const;

type ViewRow = {
  id: string;
  name: string;
  size: number;
  type: string;
  state: AttachmentState;
  voice: number;
  duration_ms: number | null;
  done_bytes: number;
  has_thumbnail: unknown;
};

/** A row as the owner API shows it. */
export function attachmentView(r: ViewRow): AttachmentView {
  return {
    id: r.id,
    name: r.name,
    size: r.size,
    type: r.type,
    state: r.state,
    voice: r.voice === 1,
    durationMs: r.duration_ms,
    hasThumbnail: Boolean(r.has_thumbnail),
    done: r.done_bytes,
  };
}

/** One file's view, or undefined. */
export async function attachmentById(db: Db, id: string): Promise<AttachmentView | undefined> {
  const row = await db.selectFrom("attachments").select(VIEW_COLUMNS)
    .select((eb) => eb("thumbnail", "is not", null).as("has_thumbnail"))
    .where("id", "=", id).executeTakeFirst();
  return row ? attachmentView(row) : undefined;
}

/**
 * The files of messages, in the order they were attached, by message id.
 * @param messageIds the messages
 * @returns a map holding only messages with files
 */
export async function attachmentViews(
  db: Db,
  messageIds: readonly string[],
): Promise<Map<string, AttachmentView[]>> {
  const out = new Map<string, AttachmentView[]>();
  for (let i = 0; i < messageIds.length; i += ID_CHUNK) {
    const ids = messageIds.slice(i, i + ID_CHUNK);
    if (ids.length === 0) continue;
    const rows = await db.selectFrom("attachments").select(VIEW_COLUMNS)
      .select((eb) => eb("thumbnail", "is not", null).as("has_thumbnail"))
      .where("message_id", "in", ids).orderBy("created_at").orderBy("id").execute();
    for (const r of rows) {
      const list = out.get(r.message_id!) ?? [];
      list.push(attachmentView(r));
      out.set(r.message_id!, list);
    }
  }
  return out;
}

/**
 * Record a peer's files with its message (run in the message's
 * transaction): one row per manifest, state `remote`, nothing fetched yet.
 * With `voice`, the one audio file is marked a voice clip. A thumbnail
 * that is not a PNG, JPEG or WebP image is dropped.
 * @param messageId the message that carries them
 * @param refs the manifests, as parsed from the content
 * @returns the new rows' ids, in order
 */
export async function recordIncoming(
  db: Db,
  messageId: string,
  refs: readonly AttachmentRef[],
  options: { voice?: boolean; now: number },
): Promise<string[]> {
  const ids: string[] = [];
  await inTx(db, async (tx) => {
    for (const [i, ref] of refs.entries()) {
      const id = toHex(randomBytes(16));
      let thumbnailType: string | null = null;
      if (ref.thumbnail) {
        try {
          thumbnailType = checkThumbnail(ref.thumbnail);
        } catch { /* dropped */ }
      }
      await tx.insertInto("attachments").values({
        id,
        message_id: messageId,
        direction: "in",
        name: ref.name,
        type: ref.type,
        size: ref.size,
        file_key: ref.key,
        chunk_count: chunkCount(ref.size),
        index_hashes: JSON.stringify(ref.index),
        state: "remote",
        voice: options.voice && ref.type.startsWith("audio/") ? 1 : 0,
        duration_ms: ref.durationMs ?? null,
        thumbnail: thumbnailType ? ref.thumbnail! : null,
        thumbnail_type: thumbnailType,
        last_error: null,
        // Order within the message: the rows share the message's arrival time.
        created_at: options.now + i,
        expires_at: null,
      }).execute();
      ids.push(id);
    }
  });
  return ids;
}

/**
 * Link the owner's files to the message that carries them (run in the
 * message's transaction). They keep the order given.
 * @param options.now the current time, ms
 * @throws {HearthError} `conflict` when one is unknown, a peer's, or already sent
 */
export async function attachTo(
  db: Db,
  messageId: string,
  ids: readonly string[],
  options: { now: number },
): Promise<void> {
  await inTx(db, async (tx) => {
    for (const [i, id] of ids.entries()) {
      // created_at orders a message's files: the order given.
      const res = await tx.updateTable("attachments")
        .set({ message_id: messageId, created_at: options.now + i })
        .where("id", "=", id).where("direction", "=", "out").where("message_id", "is", null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        throw new HearthError("conflict", "No such file to send (or it was sent already)");
      }
    }
  });
}

/**
 * Remove the files of messages: their rows and chunks (run in the removal's
 * transaction).
 * @returns the removed files' ids
 */
export async function removeAttachmentsOf(
  db: Db,
  messageIds: readonly string[],
): Promise<string[]> {
  const removed: string[] = [];
  await inTx(db, async (tx) => {
    for (let i = 0; i < messageIds.length; i += ID_CHUNK) {
      const ids = messageIds.slice(i, i + ID_CHUNK);
      if (ids.length === 0) continue;
      const rows = await tx.selectFrom("attachments").select("id")
        .where("message_id", "in", ids).execute();
      if (rows.length === 0) continue;
      const files = rows.map((r) => r.id);
      await tx.deleteFrom("attachment_chunks").where("attachment_id", "in", files).execute();
      await tx.deleteFrom("attachments").where("id", "in", files).execute();
      removed.push(...files);
    }
  });
  return removed;
}
