/**
 * Read a request body with its size checked first: Content-Length before
 * reading, then the bytes actually read, so an oversized or lying request
 * is refused without buffering it.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";

/**
 * Read at most `maxBytes` of a request body.
 * @throws {HearthError} `too_large` when the body is larger
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new HearthError("bad_request", "Bad Content-Length");
    }
    if (n > maxBytes) throw new HearthError("too_large", "Body is too large");
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new HearthError("too_large", "Body is too large");
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HearthError) throw err;
    throw new HearthError("bad_request", "Body could not be read");
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Read a JSON body of at most `maxBytes`.
 * @throws {HearthError} `too_large` or `bad_request`
 */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const bytes = await readBody(request, maxBytes);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HearthError("bad_request", "Body is not JSON");
  }
}
