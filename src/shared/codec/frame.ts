/**
 * The one binary frame used for RPC requests and responses:
 * `u32 jsonLength || JSON header (UTF-8) || blob`.
 * The header carries the fields, the blob carries raw bytes (message data),
 * so large payloads are never base64-inflated.
 * @module
 */
import { concatBytes, fromUtf8, readU32, u32, utf8 } from "../crypto/bytes.ts";
import { HearthError } from "../errors.ts";

/** A decoded frame: a JSON object header and the raw blob after it. */
export interface Frame {
  header: Record<string, unknown>;
  blob: Uint8Array;
}

/** Encode a header object and an optional blob. */
export function encodeFrame(header: Record<string, unknown>, blob?: Uint8Array): Uint8Array {
  const json = utf8(JSON.stringify(header));
  return concatBytes(u32(json.length), json, blob ?? new Uint8Array(0));
}

/**
 * Decode a frame, checking every length before reading.
 * @param maxHeaderBytes the largest JSON header accepted
 * @throws {HearthError} `bad_request` when truncated, not UTF-8, not a JSON object
 */
export function decodeFrame(bytes: Uint8Array, maxHeaderBytes = 16_384): Frame {
  if (bytes.length < 4) throw new HearthError("bad_request", "Frame is truncated");
  const n = readU32(bytes, 0);
  if (n > maxHeaderBytes) throw new HearthError("too_large", "Frame header is too large");
  if (n > bytes.length - 4) throw new HearthError("bad_request", "Frame is truncated");
  let header: unknown;
  try {
    header = JSON.parse(fromUtf8(bytes.subarray(4, 4 + n)));
  } catch {
    throw new HearthError("bad_request", "Frame header is not JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new HearthError("bad_request", "Frame header is not an object");
  }
  return { header: header as Record<string, unknown>, blob: bytes.subarray(4 + n) };
}
