/**
 * Read a request body with its size checked first: Content-Length before
 * reading, then the bytes actually read, so an oversized or lying request
 * is refused without buffering it.
 * @module
 */
import { readLimited } from "../../shared/codec/read_limited.ts";
import { HearthError } from "../../shared/errors.ts";

/** How long a client may take to send a whole body, ms. */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * Read at most `maxBytes` of a request body, within {@link BODY_TIMEOUT_MS}.
 * @param options.timeoutMs a shorter or longer deadline for the body
 * @throws {HearthError} `too_large` when the body is larger; `bad_request`
 *   when it is malformed or does not arrive in time
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  options: { timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (!/^[0-9]+$/.test(declared)) throw new HearthError("bad_request", "Bad Content-Length");
    // Any length over the limit is too large, even one beyond 2^53.
    if (Number(declared) > maxBytes) throw new HearthError("too_large", "Body is too large");
  }
  try {
    return await readLimited(request, maxBytes, {
      timeoutMs: options.timeoutMs ?? BODY_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new HearthError("too_large", "Body is too large");
    throw new HearthError("bad_request", "Body could not be read");
  }
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
