/**
 * Small assertion helpers for `Deno.test`, standing in for jsr:@std/assert
 * (JSR is unreachable here). Failures throw {@link AssertionError} with a
 * message that names the first difference: its path inside the value and,
 * for byte arrays, the first differing index with both sides in hex.
 *
 * @example
 * ```ts
 * import { assertEquals, assertRejects } from "../tests/assert.ts";
 * assertEquals(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
 * await assertRejects(() => Promise.reject(new RangeError("x")), RangeError);
 * ```
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  /**
   * Create an assertion failure.
   * @param message what was expected and what was found
   */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** A constructor of errors, used to check what was thrown. */
// deno-lint-ignore no-explicit-any
export type ErrorClass<E extends Error = Error> = abstract new (...args: any[]) => E;

/**
 * Fail unless the condition is truthy.
 * @param condition the value that must be truthy
 * @param message text to show on failure
 * @throws {AssertionError} when the condition is falsy
 */
export function assert(condition: unknown, message = "Expected a truthy value"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Fail unless the value is falsy.
 * @param value the value that must be falsy
 * @param message text to show on failure
 * @throws {AssertionError} when the value is truthy
 */
export function assertFalse(value: unknown, message?: string): void {
  if (value) throw new AssertionError(message ?? `Expected a falsy value, got ${show(value)}`);
}

/**
 * Fail unless two values are deeply equal. Byte arrays compare by content,
 * plain objects by own enumerable keys, arrays by index, Maps and Sets by
 * entries; primitives compare with `Object.is`.
 * @param actual the value produced by the code under test
 * @param expected the value it should equal
 * @param message text to prefix the failure with
 * @throws {AssertionError} naming the first difference
 */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  const diff = firstDifference(actual, expected, "");
  if (diff === undefined) return;
  const prefix = message ? `${message}: ` : "";
  throw new AssertionError(`${prefix}values differ${diff}`);
}

/**
 * Fail if two values are deeply equal (same rules as {@link assertEquals}).
 * @param actual the value produced by the code under test
 * @param unexpected the value it must not equal
 * @param message text to show on failure
 * @throws {AssertionError} when the values are equal
 */
export function assertNotEquals<T>(actual: T, unexpected: T, message?: string): void {
  if (firstDifference(actual, unexpected, "") !== undefined) return;
  throw new AssertionError(message ?? `Expected values to differ, both are ${show(actual)}`);
}

/**
 * Fail unless `fn` throws; optionally check the error's class and that its
 * message contains a substring.
 * @param fn the code expected to throw
 * @param errorClass the class the error must be an instance of
 * @param messageIncludes text the error message must contain
 * @returns the thrown error, for further checks
 * @throws {AssertionError} when nothing, or the wrong thing, is thrown
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClass?: ErrorClass<E>,
  messageIncludes?: string,
): E {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return checkError(error, errorClass, messageIncludes);
  }
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new AssertionError("Function returned a promise; use assertRejects");
  }
  throw new AssertionError(`Expected function to throw${expectedName(errorClass)}`);
}

/**
 * Fail unless the promise returned by `fn` rejects (or `fn` throws);
 * optionally check the error's class and message.
 * @param fn the code expected to reject
 * @param errorClass the class the error must be an instance of
 * @param messageIncludes text the error message must contain
 * @returns the rejection reason, for further checks
 * @throws {AssertionError} when it resolves, or rejects with the wrong thing
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  errorClass?: ErrorClass<E>,
  messageIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, errorClass, messageIncludes);
  }
  throw new AssertionError(`Expected promise to reject${expectedName(errorClass)}`);
}

function expectedName(errorClass?: ErrorClass): string {
  return errorClass ? ` ${errorClass.name}` : "";
}

function checkError<E extends Error>(
  error: unknown,
  errorClass?: ErrorClass<E>,
  messageIncludes?: string,
): E {
  if (!(error instanceof Error)) {
    throw new AssertionError(`Expected an Error to be thrown, got ${show(error)}`);
  }
  if (errorClass && !(error instanceof errorClass)) {
    throw new AssertionError(
      `Expected ${errorClass.name} to be thrown, got ${error.name}: ${error.message}`,
    );
  }
  if (messageIncludes !== undefined && !error.message.includes(messageIncludes)) {
    throw new AssertionError(
      `Expected error message to include ${show(messageIncludes)}, got ${show(error.message)}`,
    );
  }
  return error as E;
}

/** Describe the first difference between a and b, or undefined when equal. */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  const at = path === "" ? "" : ` at ${path}`;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) return bytesDifference(a, b, at);
  if (a instanceof ArrayBuffer && b instanceof ArrayBuffer) {
    return bytesDifference(new Uint8Array(a), new Uint8Array(b), at);
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${at}:\n  actual:   ${show(a)}\n  expected: ${show(b)}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${at}: different types\n  actual:   ${show(a)}\n  expected: ${show(b)}`;
  }
  if (a instanceof Date) {
    return firstDifference(a.getTime(), (b as Date).getTime(), path);
  }
  if (a instanceof Map || a instanceof Set) {
    return firstDifference([...a], [...(b as Map<unknown, unknown> | Set<unknown>)], path);
  }
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) {
      return `${at}: array length ${a.length}, expected ${bb.length}\n  actual:   ${
        show(a)
      }\n  expected: ${show(bb)}`;
    }
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], bb[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) {
    const sub = path === "" ? k : `${path}.${k}`;
    if (!(k in ao)) return ` at ${sub}: missing, expected ${show(bo[k])}`;
    if (!(k in bo)) return ` at ${sub}: unexpected ${show(ao[k])}`;
    const d = firstDifference(ao[k], bo[k], sub);
    if (d !== undefined) return d;
  }
  return undefined;
}

function bytesDifference(a: ArrayBufferView, b: ArrayBufferView, at: string): string | undefined {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const kind = a.constructor.name === b.constructor.name
    ? ""
    : ` (${a.constructor.name} vs ${b.constructor.name})`;
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  if (i === x.length && i === y.length && kind === "") return undefined;
  const where = x.length === y.length
    ? `first difference at byte ${i}`
    : `length ${x.length}, expected ${y.length}; first difference at byte ${i}`;
  return `${at}${kind}: ${where}\n  actual:   ${hexWindow(x, i)}\n  expected: ${hexWindow(y, i)}`;
}

const HEX_WINDOW = 24;

/** Hex of the bytes around index i, marking elided parts with "..". */
function hexWindow(bytes: Uint8Array, i: number): string {
  const start = Math.max(0, i - 8);
  const end = Math.min(bytes.length, start + HEX_WINDOW);
  let s = start > 0 ? `..` : "";
  for (let j = start; j < end; j++) {
    s += (j === i ? "[" : "") + bytes[j]!.toString(16).padStart(2, "0") + (j === i ? "]" : "");
  }
  if (i >= bytes.length) s += "[end]";
  if (end < bytes.length) s += "..";
  return `${s} (${bytes.length} bytes)`;
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: 4, colors: false, strAbbreviateSize: 200 });
}
