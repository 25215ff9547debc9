/**
 * A streaming multipart/form-data reader (RFC 7578) for file uploads: it
 * pulls the request body as it arrives and hands out each part's headers,
 * then its body piece by piece, so a file is never held whole in memory.
 * Only what an upload needs: `Content-Disposition: form-data; name=…;
 * filename=…` and `Content-Type` per part; part headers are bounded, and a
 * body that ends before the closing delimiter is `bad_request`.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";

/** The most bytes of one part's headers. */
export const MAX_PART_HEADER_BYTES = 8_192;
/** The longest boundary RFC 2046 allows. */
const MAX_BOUNDARY_CHARS = 70;

/** One part's headers, as parsed. */
export interface PartHeaders {
  /** The form field's name. */
  name: string;
  /** The file name the browser gave, if any (not yet checked). */
  filename?: string;
  /** The part's Content-Type, lower case, parameters dropped; absent when not given. */
  type?: string;
}

const CRLF = new Uint8Array([13, 10]);
const HEADER_END = new Uint8Array([13, 10, 13, 10]);

function bad(message: string): HearthError {
  return new HearthError("bad_request", message);
}

/**
 * The boundary of a `multipart/form-data` Content-Type header.
 * @throws {HearthError} `bad_request` when the header is not multipart/form-data with a boundary
 */
export function boundaryOf(contentType: string | null): string {
  if (!contentType) throw bad("Content-Type must be multipart/form-data");
  const [type, ...params] = contentType.split(";");
  if (type!.trim().toLowerCase() !== "multipart/form-data") {
    throw bad("Content-Type must be multipart/form-data");
  }
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (v.length < 1 || v.length > MAX_BOUNDARY_CHARS || !/^[0-9A-Za-z'()+_,\-./:=? ]+$/.test(v)) {
      throw bad("Multipart boundary is malformed");
    }
    return v;
  }
  throw bad("Multipart boundary is missing");
}

/**
 * Reads one multipart body. Call {@link nextPart} for each part's headers,
 * then {@link read} until it answers null for that part's body (a part not
 * read to its end is skipped by the next {@link nextPart}).
 */
export class MultipartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #delimiter: Uint8Array;
  readonly #idleMs: number;
  #buf: Uint8Array;
  #eof = false;
  /** `start`: before the first delimiter; `body`: inside a part; `between`: at a delimiter; `done`. */
  #where: "start" | "body" | "between" | "done" = "start";

  /**
   * Read `body` as multipart with `boundary`.
   * @param body the request body
   * @param boundary from {@link boundaryOf}
   * @param options.idleMs how long a read may wait for the next bytes (default 30 s)
   */
  constructor(
    body: ReadableStream<Uint8Array>,
    boundary: string,
    options: { idleMs?: number } = {},
  ) {
    this.#reader = body.getReader();
    this.#delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
    this.#idleMs = options.idleMs ?? 30_000;
    // The first delimiter has no CRLF before it: pretend it has one.
    this.#buf = CRLF.slice();
  }

  /**
   * The next part's headers, or null after the closing delimiter.
   * @throws {HearthError} `bad_request` for a malformed body or headers, or a body cut short
   */
  async nextPart(): Promise<PartHeaders | null> {
    if (this.#where === "done") return null;
    if (this.#where === "start" || this.#where === "body") {
      // Skip the preamble, or the rest of the current part.
      while ((await this.read()) !== null) { /* skip */ }
    }
    // Just after a delimiter: "--" closes, else optional blanks and CRLF.
    await this.#fill(2);
    if (this.#buf[0] === 45 && this.#buf[1] === 45) {
      this.#where = "done";
      await this.#reader.cancel().catch(() => {});
      return null;
    }
    let i = 0;
    for (;;) {
      await this.#fill(i + 2);
      if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) break;
      if (this.#buf[i] !== 32 && this.#buf[i] !== 9) throw bad("Multipart delimiter is malformed");
      if (++i > 64) throw bad("Multipart delimiter is malformed");
    }
    this.#buf = this.#buf.subarray(i + 2);
    // Headers, up to an empty line.
    let end: number;
    for (;;) {
      end = indexOf(this.#buf, HEADER_END, 0);
      if (end >= 0) break;
      if (this.#buf.length > MAX_PART_HEADER_BYTES) throw bad("Part headers are too large");
      if (!(await this.#more())) throw bad("Multipart body ends too soon");
    }
    if (end > MAX_PART_HEADER_BYTES) throw bad("Part headers are too large");
    const raw = this.#buf.subarray(0, end);
    this.#buf = this.#buf.subarray(end + 4);
    this.#where = "body";
    return parseHeaders(raw);
  }

  /**
   * The next piece of the current part's body, or null at its end.
   * @throws {HearthError} `bad_request` when the body ends before the closing delimiter
   */
  async read(): Promise<Uint8Array | null> {
    if (this.#where !== "body" && this.#where !== "start") return null;
    const d = this.#delimiter;
    for (;;) {
      const at = indexOf(this.#buf, d, 0);
      if (at >= 0) {
        const piece = this.#buf.slice(0, at);
        this.#buf = this.#buf.subarray(at + d.length);
        this.#where = "between";
        return piece.length > 0 ? piece : null;
      }
      // Hand out all but a tail that could start a delimiter.
      const safe = this.#buf.length - (d.length - 1);
      if (safe > 0) {
        const piece = this.#buf.slice(0, safe);
        this.#buf = this.#buf.subarray(safe);
        return piece;
      }
      if (!(await this.#more())) throw bad("Multipart body ends too soon");
    }
  }

  /** Stop reading (the rest of the body is cancelled). */
  async cancel(): Promise<void> {
    this.#where = "done";
    await this.#reader.cancel().catch(() => {});
  }

  /** Read until at least `n` bytes are buffered. */
  async #fill(n: number): Promise<void> {
    while (this.#buf.length < n) {
      if (!(await this.#more())) throw bad("Multipart body ends too soon");
    }
  }

  /** Append the next bytes of the body; false at its end. */
  async #more(): Promise<boolean> {
    if (this.#eof) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(bad("Body did not arrive in time")), this.#idleMs);
    });
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await Promise.race([this.#reader.read(), idle]);
    } catch (err) {
      if (err instanceof HearthError) {
        await this.#reader.cancel().catch(() => {});
        throw err;
      }
      throw bad("Body could not be read");
    } finally {
      clearTimeout(timer);
    }
    if (r.done) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + r.value.length);
    next.set(this.#buf);
    next.set(r.value, this.#buf.length);
    this.#buf = next;
    return true;
  }
}

/** Parse a part's header lines (ASCII or UTF-8; obsolete line folding refused). */
function parseHeaders(raw: Uint8Array): PartHeaders {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw bad("Part headers are not UTF-8");
  }
  let disposition: string | undefined;
  let type: string | undefined;
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /^[ \t]/.test(line)) throw bad("Part header is malformed");
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (field === "content-disposition") {
      if (disposition !== undefined) throw bad("Part has two Content-Disposition headers");
      disposition = value;
    } else if (field === "content-type") {
      type = value.split(";")[0]!.trim().toLowerCase();
    }
  }
  if (disposition === undefined) throw bad("Part has no Content-Disposition");
  const params = dispositionParams(disposition);
  const name = params.get("name");
  if (name === undefined) throw bad("Part has no name");
  const out: PartHeaders = { name };
  const filename = params.get("filename");
  if (filename !== undefined) out.filename = filename;
  if (type !== undefined && type !== "") out.type = type;
  return out;
}

/**
 * `form-data; name="a"; filename="b"`: the parameters. As browsers write
 * them (the WHATWG multipart/form-data encoding), a quoted value has no
 * backslash escapes and a quote in it is `%22`.
 */
function dispositionParams(value: string): Map<string, string> {
  const semi = value.indexOf(";");
  const kind = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (kind !== "form-data") throw bad("Part is not form-data");
  const out = new Map<string, string>();
  let i = semi < 0 ? value.length : semi + 1;
  while (i < value.length) {
    while (value[i] === " " || value[i] === "\t") i++;
    const eq = value.indexOf("=", i);
    if (eq < 0) throw bad("Content-Disposition is malformed");
    const key = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let v = "";
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) throw bad("Content-Disposition is malformed");
        const ch = value[i]!;
        if (ch === '"') break;
        v += ch;
        i++;
      }
      i++;
      // Browsers write a quote in a name as %22 (and a backslash as itself).
      v = v.replaceAll("%22", '"');
    } else {
      const next = value.indexOf(";", i);
      v = value.slice(i, next < 0 ? value.length : next).trim();
      i = next < 0 ? value.length : next;
    }
    while (value[i] === " " || value[i] === "\t") i++;
    if (i < value.length) {
      if (value[i] !== ";") throw bad("Content-Disposition is malformed");
      i++;
    }
    if (key === "") throw bad("Content-Disposition is malformed");
    if (out.has(key)) throw bad("Content-Disposition repeats a parameter");
    out.set(key, v);
  }
  return out;
}

/** The first index of `needle` in `hay` from `from`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = hay.length - needle.length;
  let i = from;
  while (i <= last) {
    i = hay.indexOf(first, i);
    if (i < 0 || i > last) return -1;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i++;
  }
  return -1;
}
