/**
 * Field readers for untrusted JSON: each returns the typed value or throws
 * a HearthError with a stable code. Parsers use these once, at the edge,
 * to turn input into typed values; logic never touches raw input.
 * @module
 */
import { fromBase64, fromHex } from "../crypto/bytes.ts";
import { HearthError } from "../errors.ts";

type Obj = Record<string, unknown>;

/** Require a JSON object. */
export function asObject(value: unknown, what = "body"): Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HearthError("bad_request", `Expected ${what} to be an object`);
  }
  return value as Obj;
}

/** Read a string field, optionally bounded in length. */
export function str(
  o: Obj,
  name: string,
  options: { max?: number; optional?: false } = {},
): string {
  const v = o[name];
  if (typeof v !== "string") throw new HearthError("bad_request", `Field ${name} must be a string`);
  if (options.max !== undefined && v.length > options.max) {
    throw new HearthError("bad_request", `Field ${name} is too long`);
  }
  return v;
}

/** Read an integer field within [min, max]. */
export function int(o: Obj, name: string, min: number, max: number): number {
  const v = o[name];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new HearthError("bad_request", `Field ${name} must be an integer`);
  }
  if (v < min || v > max) throw new HearthError("bad_request", `Field ${name} is out of range`);
  return v;
}

/** Read an optional integer field within [min, max], or the fallback. */
export function optInt(o: Obj, name: string, min: number, max: number, fallback: number): number {
  return o[name] === undefined ? fallback : int(o, name, min, max);
}

/** Read a hex field of an exact byte length. */
export function hexField(o: Obj, name: string, bytes: number): Uint8Array {
  const v = o[name];
  if (typeof v !== "string") throw new HearthError("bad_request", `Field ${name} must be hex`);
  try {
    return fromHex(v, bytes);
  } catch {
    throw new HearthError("bad_encoding", `Field ${name} must be ${bytes} bytes of hex`);
  }
}

/** Read a base64 field of at most `maxBytes` decoded bytes. */
export function base64Field(o: Obj, name: string, maxBytes: number): Uint8Array {
  const v = o[name];
  if (typeof v !== "string") throw new HearthError("bad_request", `Field ${name} must be base64`);
  if (v.length > Math.ceil(maxBytes / 3) * 4) {
    throw new HearthError("too_large", `Field ${name} is too large`);
  }
  try {
    return fromBase64(v);
  } catch {
    throw new HearthError("bad_encoding", `Field ${name} must be base64`);
  }
}

/** Read an array field of at most `max` elements. */
export function arr(o: Obj, name: string, max: number): unknown[] {
  const v = o[name];
  if (!Array.isArray(v)) throw new HearthError("bad_request", `Field ${name} must be an array`);
  if (v.length > max) throw new HearthError("too_large", `Field ${name} has too many elements`);
  return v;
}
