/**
 * The manifest of a file as a message carries it (docs/PROTOCOL.md §13):
 * the file key, the keys of its index chunks, its name, size and media
 * type, and for photos a small thumbnail, for audio a duration. Untrusted
 * JSON is parsed here with the same strict field checks as the rest of the
 * content (content.ts): every field's type, length and form.
 * @module
 */
import { toBase64, toHex } from "../../shared/crypto/bytes.ts";
import { arr, asObject, base64Field, int, str } from "../../shared/codec/fields.ts";
import { HearthError } from "../../shared/errors.ts";
import { sniffAvatarType } from "../account/profile.ts";
import { indexChunkCount, MAX_FORMAT_FILE_BYTES, MAX_INDEX_CHUNKS } from "./chunk_crypto.ts";

/** Most files one message carries. */
export const MAX_ATTACHMENTS = 10;
/** Largest thumbnail, bytes. */
export const MAX_THUMBNAIL_BYTES = 8_192;
/** Longest file name, characters (code points). */
export const MAX_NAME_CHARS = 255;
/** Longest media type, characters. */
export const MAX_TYPE_CHARS = 127;
/** Longest audio duration, ms (one day). */
export const MAX_DURATION_MS = 86_400_000;

/** One file of a message: what a recipient needs to fetch and open it. */
export interface AttachmentRef {
  /** The file's random key, 32 bytes (JSON: base64). */
  key: Uint8Array;
  /** The hex keys of the index chunks, 1 … 4 (as many as the size needs). */
  index: string[];
  /** The file name: 1 … 255 characters, no control or text-direction characters, no `/` or `\`. */
  name: string;
  /** The size, bytes. */
  size: number;
  /** The media type, `type/subtype`, lower case, at most 127 characters. */
  type: string;
  /** A PNG, JPEG or WebP thumbnail of at most 8 KiB (photos only). */
  thumbnail?: Uint8Array;
  /** The duration of audio, ms. */
  durationMs?: number;
}

const CHUNK_KEY_HEX = /^[0-9a-f]{64}$/;
const TOKEN = "[a-z0-9][a-z0-9!#$&^_.+-]*";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);
// C0, DEL, C1, and the characters that reorder text (a name must not hide its extension).
// deno-lint-ignore no-control-regex
const FORBIDDEN_NAME = new RegExp(
  "[\\u0000-\\u001f\\u007f-\\u009f/\\\\\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]",
);

function bad(message: string): HearthError {
  return new HearthError("bad_request", message);
}

/**
 * A file name as sent and shown: NFC, 1 … {@link MAX_NAME_CHARS} characters,
 * well-formed, without control or text-direction characters, `/` or `\`,
 * and neither `.` nor `..`.
 * @returns the normalized name
 * @throws {HearthError} `bad_request` otherwise
 */
export function checkFileName(name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_NAME_CHARS * 4) {
    throw bad("File name must be 1 to 255 characters");
  }
  if (!name.isWellFormed()) throw bad("File name is not well-formed Unicode");
  const v = name.normalize("NFC");
  const chars = [...v].length;
  if (chars < 1 || chars > MAX_NAME_CHARS) throw bad("File name must be 1 to 255 characters");
  if (FORBIDDEN_NAME.test(v)) throw bad("File name has a forbidden character");
  if (v === "." || v === "..") throw bad("File name is not a name");
  return v;
}

/**
 * A media type as sent: `type/subtype` of RFC 6838 characters, at most
 * {@link MAX_TYPE_CHARS}, lower case (parameters are not allowed).
 * @returns the type, lower-cased
 * @throws {HearthError} `bad_request` otherwise
 */
export function checkMediaType(type: unknown): string {
  if (typeof type !== "string" || type.length > MAX_TYPE_CHARS) {
    throw bad("Media type must be type/subtype");
  }
  const v = type.toLowerCase();
  if (!MEDIA_TYPE.test(v)) throw bad("Media type must be type/subtype");
  return v;
}

/**
 * A thumbnail: a PNG, JPEG or WebP image (told by its bytes) of at most 8 KiB.
 * @returns its media type
 * @throws {HearthError} `too_large` over 8 KiB; `bad_request` when it is not such an image
 */
export function checkThumbnail(bytes: Uint8Array): string {
  if (bytes.length > MAX_THUMBNAIL_BYTES) {
    throw new HearthError("too_large", "Thumbnail is too large");
  }
  const type = sniffAvatarType(bytes);
  if (!type) throw bad("Thumbnail must be a PNG, JPEG or WebP image");
  return type;
}

/**
 * Parse one manifest from untrusted JSON.
 * @throws {HearthError} `bad_request`, `bad_encoding` or `too_large` naming the field
 */
export function attachmentRefFromJson(value: unknown): AttachmentRef {
  const o = asObject(value, "attachment");
  const key = base64Field(o, "key", 32);
  if (key.length !== 32) throw bad("Field key must be 32 bytes");
  const size = int(o, "size", 0, MAX_FORMAT_FILE_BYTES);
  const index = arr(o, "index", MAX_INDEX_CHUNKS).map((h) => {
    if (typeof h !== "string" || !CHUNK_KEY_HEX.test(h)) {
      throw bad("Field index must be chunk keys");
    }
    return h;
  });
  if (index.length !== indexChunkCount(size)) throw bad("Field index does not match the size");
  const ref: AttachmentRef = {
    key,
    index,
    name: checkFileName(str(o, "name", { max: MAX_NAME_CHARS * 4 })),
    size,
    type: checkMediaType(str(o, "type", { max: MAX_TYPE_CHARS })),
  };
  if (o.thumbnail !== undefined) {
    const thumbnail = base64Field(o, "thumbnail", MAX_THUMBNAIL_BYTES);
    checkThumbnail(thumbnail);
    ref.thumbnail = thumbnail;
  }
  if (o.durationMs !== undefined) ref.durationMs = int(o, "durationMs", 0, MAX_DURATION_MS);
  return ref;
}

/**
 * Parse the `attachments` field of a text: 1 … {@link MAX_ATTACHMENTS} manifests.
 * @throws {HearthError} `bad_request` (or `too_large` over 10) naming the field
 */
export function attachmentRefsFromJson(value: unknown): AttachmentRef[] {
  const list = arr({ attachments: value }, "attachments", MAX_ATTACHMENTS);
  if (list.length === 0) throw bad("Field attachments is empty");
  return list.map(attachmentRefFromJson);
}

/** A manifest as JSON (bytes as base64). */
export function attachmentRefToJson(ref: AttachmentRef): Record<string, unknown> {
  const out: Record<string, unknown> = {
    key: toBase64(ref.key),
    index: ref.index,
    name: ref.name,
    size: ref.size,
    type: ref.type,
  };
  if (ref.thumbnail !== undefined) out.thumbnail = toBase64(ref.thumbnail);
  if (ref.durationMs !== undefined) out.durationMs = ref.durationMs;
  return out;
}

/** The hex form of chunk keys. */
export function hexKeys(keys: readonly Uint8Array[]): string[] {
  return keys.map(toHex);
}
