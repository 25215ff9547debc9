/**
 * Read an HTTP body (a request's or an answer's) with its size bounded:
 * Content-Length first, then the bytes actually read, so an oversized body
 * is never buffered.
 * @module
 */
import { concatBytes } from "../crypto/bytes.ts";

/**
 * Read at most `maxBytes` of a request or response body.
 * @param options.timeoutMs give up when the whole body has not arrived by then
 * @throws {RangeError} when the body is larger
 * @throws {TypeError} when the stream fails (e.g. the peer hangs up or a
 *   timeout aborts it) or does not finish within `timeoutMs`
 */
export async function readLimited(
  response: Request | Response,
  maxBytes: number,
  options: { timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new RangeError("Answer is too large");
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, options.timeoutMs);
  try {
    while (true) {
      const { done, value } = await reader.read();
      // A cancelled stream ends like a short one: tell them apart.
      if (timedOut) throw new TypeError("Body did not arrive in time");
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new RangeError("Answer is too large");
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}
