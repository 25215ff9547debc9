/**
 * Read an owner API request's JSON body with its size checked first
 * (Content-Length, then the bytes actually read), so an oversized body is
 * never buffered or parsed. A thin wrapper over the shared readLimited.
 * @module
 */
import { readLimited } from "../shared/codec/read_limited.ts";
import { HearthError } from "../shared/errors.ts";

/** The largest JSON body of the account routes, bytes. */
export const MAX_JSON_BODY_BYTES = 16_384;

/** How long a client may take to send a whole body, ms. */
const BODY_TIMEOUT_MS = 30_000;

/**
 * Read a JSON object body of at most `maxBytes`.
 * @param request the request
 * @param maxBytes the size limit (default {@link MAX_JSON_BODY_BYTES})
 * @returns the parsed object
 * @throws {HearthError} `too_large` when the body is larger; `bad_request` when it is
 *   not a JSON object, not UTF-8, or does not arrive in time
 */
export async function readJsonObject(
  request: Request,
  maxBytes: number = MAX_JSON_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (!/^[0-9]+$/.test(declared)) throw new HearthError("bad_request", "Bad Content-Length");
    if (Number(declared) > maxBytes) throw new HearthError("too_large", "Body is too large");
  }
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(request, maxBytes, { timeoutMs: BODY_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof RangeError) throw new HearthError("too_large", "Body is too large");
    throw new HearthError("bad_request", "Body could not be read");
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HearthError("bad_request", "Body is not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HearthError("bad_request", "Body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * A field that must be text when present.
 * @param body the parsed body
 * @param name the field's name
 * @returns the text, or undefined when absent or null
 * @throws {HearthError} `bad_request` when present and not text
 */
export function optionalText(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new HearthError("bad_request", `${name} must be text`);
  return value;
}

/**
 * A field that must be non-empty text.
 * @param body the parsed body
 * @param name the field's name
 * @returns the text
 * @throws {HearthError} `bad_request` when absent, empty or not text
 */
export function requiredText(body: Record<string, unknown>, name: string): string {
  const value = optionalText(body, name);
  if (value === undefined || value === "") {
    throw new HearthError("bad_request", `${name} is required`);
  }
  return value;
}
