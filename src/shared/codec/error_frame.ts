/**
 * Errors inside frames: the error frame a hop or an RPC answers with, and
 * the HearthError a reader makes of it (docs/PROTOCOL.md §1, §7).
 * @module
 */
import { HearthError, isErrorCode } from "../errors.ts";
import { encodeFrame } from "./frame.ts";

/** Longest remote error message kept, characters. */
const MAX_MESSAGE_LENGTH = 200;

/** Encode an error as a frame: header `{"error": code, "message", …details}`, no blob. */
export function encodeErrorFrame(error: HearthError): Uint8Array {
  return encodeFrame(error.toJSON());
}

/** Whether a frame header is an error `{"error": …}`. */
export function isErrorHeader(header: Record<string, unknown>): boolean {
  return Object.hasOwn(header, "error");
}

/**
 * Turn an error body `{"error": code, "message", …details}` from another
 * node back into a HearthError. An unknown code becomes `hop_failed`.
 * @param body the parsed JSON
 * @param extra details to add, e.g. `{hop: 2}`
 */
export function errorFromJson(body: unknown, extra: Record<string, unknown> = {}): HearthError {
  const o = body !== null && typeof body === "object" && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
  const { error: code, message, ...details } = o;
  if (!isErrorCode(code)) {
    return new HearthError("hop_failed", "Peer gave an unexpected answer", extra);
  }
  const text = typeof message === "string" ? message.slice(0, MAX_MESSAGE_LENGTH) : "Peer error";
  return new HearthError(code, text, { ...details, ...extra });
}
