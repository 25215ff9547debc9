/**
 * The owner API's file routes (docs/API.md "Files"): uploading a file as
 * multipart/form-data, read as a stream and written chunk by chunk (the
 * size limit is checked as bytes arrive, never after buffering), serving a
 * file's bytes chunk by chunk (downloading a peer's through the network
 * first), its thumbnail, and starting a download in the background. Files
 * are served as `attachment` downloads; only a short list of media types is
 * served as itself, anything else as `application/octet-stream`. Every route
 * answers 423 `locked` while the client database is locked.
 * @module
 */
import { Hono } from "hono";
import type { Messenger } from "../client/messenger.ts";
import { checkMediaType, MAX_THUMBNAIL_BYTES } from "../client/attachments/attachment_ref.ts";
import type { AttachmentWriter, FileMeta } from "../client/attachments/attachment_writer.ts";
import { boundaryOf, MultipartReader } from "../client/attachments/multipart.ts";
import { HearthError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";

/** Bytes an upload may carry besides the file: part headers, the thumbnail, small fields. */
export const UPLOAD_OVERHEAD_BYTES = 65_536;

/** The media types served as themselves; anything else is application/octet-stream. */
export const SAFE_TYPES: readonly string[] = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "audio/mpeg",
  "audio/mp4",
  "audio/aac",
  "audio/ogg",
  "audio/opus",
  "audio/wav",
  "audio/webm",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "text/plain",
];

/** What {@link attachmentRoutes} needs. */
export interface AttachmentRoutesDeps {
  /** The owner's messenger. */
  messenger: Messenger;
  /** Where events go (names and numbers only). */
  log: Logger;
}

const FILE_ID = /^[0-9a-f]{32}$/;
/** The most bytes of a small text field (`voice`, `durationMs`). */
const MAX_FIELD_BYTES = 32;

/**
 * The routes `POST /api/attachments`, `GET /api/attachments/{id}` (the bytes),
 * `GET /api/attachments/{id}/info` (the view), `GET /api/attachments/{id}/thumbnail`
 * and `POST /api/attachments/{id}/download`.
 * @param deps the messenger and a logger
 * @returns a sub-app to mount at "/"
 */
export function attachmentRoutes(deps: AttachmentRoutesDeps): Hono {
  const { messenger, log } = deps;
  const app = new Hono();

  app.post("/api/attachments", async (c) => {
    const files = messenger.chat().attachments();
    const limit = files.maxFileBytes + UPLOAD_OVERHEAD_BYTES;
    const declared = c.req.header("content-length");
    if (declared !== undefined) {
      if (!/^[0-9]{1,16}$/.test(declared)) {
        throw new HearthError("bad_request", "Bad Content-Length");
      }
      if (Number(declared) > limit) {
        throw new HearthError("too_large", "File is too large", { maxBytes: files.maxFileBytes });
      }
    }
    const boundary = boundaryOf(c.req.header("content-type") ?? null);
    const body = c.req.raw.body;
    if (!body) throw new HearthError("bad_request", "Body is empty");
    const reader = new MultipartReader(body.pipeThrough(limitBytes(limit)), boundary);
    let writer: AttachmentWriter | undefined;
    try {
      const meta: Partial<FileMeta> = {};
      let name = "file";
      let type: string | undefined;
      const seen = new Set<string>();
      for (;;) {
        const part = await reader.nextPart();
        if (!part) break;
        if (seen.has(part.name)) throw new HearthError("bad_request", `${part.name} is repeated`);
        seen.add(part.name);
        switch (part.name) {
          case "file": {
            writer = files.writer();
            name = baseName(part.filename);
            type = uploadType(part.type);
            for (let piece = await reader.read(); piece; piece = await reader.read()) {
              await writer.write(piece);
            }
            break;
          }
          case "thumbnail":
            meta.thumbnail = await readSmall(reader, MAX_THUMBNAIL_BYTES, "thumbnail");
            break;
          case "voice": {
            const v = new TextDecoder().decode(await readSmall(reader, MAX_FIELD_BYTES, "voice"));
            if (v !== "true" && v !== "false") {
              throw new HearthError("bad_request", "voice must be true or false");
            }
            meta.voice = v === "true";
            break;
          }
          case "durationMs": {
            const v = new TextDecoder().decode(
              await readSmall(reader, MAX_FIELD_BYTES, "durationMs"),
            );
            if (!/^[0-9]{1,9}$/.test(v)) {
              throw new HearthError("bad_request", "durationMs must be a non-negative integer");
            }
            meta.durationMs = Number(v);
            break;
          }
          default:
            throw new HearthError("bad_request", "Unknown form field");
        }
      }
      if (!writer) throw new HearthError("bad_request", "file is required");
      const view = await writer.finish({ ...meta, name, ...(type ? { type } : {}) });
      log.debug("attachment.added", { bytes: view.size, voice: view.voice });
      return c.json(view, 201);
    } catch (err) {
      await writer?.abort().catch(() => {});
      await reader.cancel();
      throw err;
    }
  });

  app.get("/api/attachments/:id", async (c) => {
    const files = messenger.chat().attachments();
    const file = await files.open(fileId(c.req.param("id")));
    return new Response(file.stream, {
      headers: {
        "Content-Type": servedType(file.type),
        "Content-Length": String(file.size),
        "Content-Disposition": contentDisposition(file.name),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
      },
    });
  });

  app.get("/api/attachments/:id/info", async (c) => {
    return c.json(await messenger.chat().attachments().view(fileId(c.req.param("id"))));
  });

  app.get("/api/attachments/:id/thumbnail", async (c) => {
    const files = messenger.chat().attachments();
    const thumbnail = await files.thumbnail(fileId(c.req.param("id")));
    if (!thumbnail) throw new HearthError("not_found", "No thumbnail");
    return new Response(thumbnail.bytes.slice(), {
      headers: {
        "Content-Type": thumbnail.type,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
      },
    });
  });

  app.post("/api/attachments/:id/download", async (c) => {
    const files = messenger.chat().attachments();
    const id = fileId(c.req.param("id"));
    await files.view(id);
    files.download(id).catch(() => {});
    return c.json(await files.view(id), 202);
  });

  return app;
}

/**
 * `Content-Disposition: attachment` with the name as RFC 6266 wants it: an
 * ASCII fallback and the exact name percent-encoded in `filename*`.
 * @param name the file name
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/** The type a file is served as: itself when on {@link SAFE_TYPES}, else application/octet-stream. */
export function servedType(type: string): string {
  return SAFE_TYPES.includes(type) ? type : "application/octet-stream";
}

function fileId(value: string): string {
  if (!FILE_ID.test(value)) throw new HearthError("bad_request", "The file id is malformed");
  return value;
}

/** The last segment of a browser's file name (some send a path); "file" when none. */
function baseName(filename: string | undefined): string {
  const base = (filename ?? "").split(/[/\\]/).pop() ?? "";
  return base === "" ? "file" : base;
}

/** A part's Content-Type as a file's type, or undefined (octet-stream) when it is not one. */
function uploadType(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  try {
    return checkMediaType(type);
  } catch {
    return undefined;
  }
}

/**
 * A small part's body, whole.
 * @throws {HearthError} `too_large` over `max` bytes
 */
async function readSmall(reader: MultipartReader, max: number, name: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let piece = await reader.read(); piece; piece = await reader.read()) {
    size += piece.length;
    if (size > max) throw new HearthError("too_large", `${name} is too large`);
    parts.push(piece);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A stream that errors with `too_large` once more than `max` bytes passed. */
function limitBytes(max: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.length;
      if (seen > max) {
        controller.error(new HearthError("too_large", "Body is too large"));
        return;
      }
      controller.enqueue(chunk);
    },
  });
}
