/**
 * Helpers of the fuzz tests (tests/fuzz_test.ts, tests/owner_api_test.ts):
 * a fixed seed, seeded bytes, byte mutations, HTTP calls that always time
 * out, raw HTTP/1.1 over TCP, checks of the error answers of
 * docs/PROTOCOL.md §1, and arbitraries of hex, JSON and header values.
 * @module
 */
import fc from "fast-check";
import { buf, fromHex, toHex, u64, utf8 } from "../src/shared/crypto/bytes.ts";
import { labeledHash, sha256 } from "../src/shared/crypto/hash.ts";
import { sign } from "../src/shared/crypto/sign.ts";
import { ERROR_STATUS, type ErrorCode, isErrorCode } from "../src/shared/errors.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import type { NodeRecord } from "../src/shared/node_record.ts";
import type { SigningKeyPair } from "../src/shared/crypto/sign.ts";
import type { Devnet } from "../tools/devnet_lib.ts";
import { AssertionError } from "./assert.ts";

/** The devnet under fuzzing: node 1 is the target; node 2's key signs "known node" requests. */
export interface FuzzNet {
  devnet: Devnet;
  /** The target's address, "127.0.0.1:port". */
  addr: string;
  /** A URL of the target. */
  url: (path: string) => string;
  target: NodeRecord;
  /** The other nodes' records. */
  others: NodeRecord[];
  /** The account whose item must survive the fuzzing. */
  owner: SigningKeyPair;
  canary: { hash: string; data: Uint8Array };
  /** A node of the directory (its key read from its data dir). */
  peer: NodeIdentity;
  /** A well-formed node identity no node knows. */
  stranger: NodeIdentity;
}

/** The seed of every fuzz run; set HEARTH_FUZZ_SEED to replay another one. */
export const FUZZ_SEED: number = Number(Deno.env.get("HEARTH_FUZZ_SEED") ?? 20_261_124);

/** Every request gives up after this long; a timeout fails the test. */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Run a seeded property of `runs` cases; on failure, name the seed.
 * @param name what is fuzzed, for the failure message
 * @param property the fast-check property
 */
export async function fuzz<T>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<T>,
  options: { runs: number; seedOffset: number },
): Promise<void> {
  const seed = FUZZ_SEED + options.seedOffset;
  try {
    await fc.assert(property, { seed, numRuns: options.runs, endOnFailure: true });
  } catch (err) {
    const text = `Fuzzing ${name} failed with seed ${seed} (HEARTH_FUZZ_SEED=${FUZZ_SEED})`;
    const cause = (err as Error).cause;
    const why = cause instanceof Error ? `\n${cause.message}` : "";
    throw new AssertionError(`${text}\n${(err as Error).message}${why}`);
  }
}

/** Deterministic bytes from a seed (xorshift32): large random inputs without fast-check's cost. */
export function seededBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed | 0) || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** One change to a byte string; positions are fractions of its length. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "overwrite"; at: number; length: number; seed: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; length: number; seed: number }
  | { kind: "remove"; at: number; length: number };

/** A uniform fraction in [0, 1) (fc.double is uniform over doubles: nearly always tiny). */
export const fractionArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 2 ** 32 - 1 })
  .map((n) => n / 2 ** 32);
// Mostly unbiased: fast-check's bias toward 0 would hit the first bytes far too often.
const at = fc.oneof({ weight: 1, arbitrary: fractionArb }, {
  weight: 5,
  arbitrary: fc.noBias(fractionArb),
});

/** Mutations of any kind. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at, value: fc.nat({ max: 255 }) }),
  fc.record({
    kind: fc.constant("overwrite" as const),
    at,
    length: fc.integer({ min: 1, max: 64 }),
    seed: fc.integer(),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at }),
  fc.record({
    kind: fc.constant("insert" as const),
    at,
    length: fc.integer({ min: 1, max: 64 }),
    seed: fc.integer(),
  }),
  fc.record({ kind: fc.constant("remove" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
);

/**
 * Apply a mutation.
 * @returns the new bytes and the range [from, to) of the input that changed
 *   (empty when nothing changed; a change of length reaches the end)
 */
export function mutate(
  input: Uint8Array,
  m: Mutation,
): { bytes: Uint8Array; from: number; to: number } {
  const pos = Math.min(Math.floor(m.at * input.length), Math.max(0, input.length - 1));
  const out = input.slice();
  switch (m.kind) {
    case "flip":
      if (input.length === 0) return { bytes: out, from: 0, to: 0 };
      out[pos]! ^= 1 << m.bit;
      return { bytes: out, from: pos, to: pos + 1 };
    case "set":
      if (input.length === 0 || out[pos] === m.value) return { bytes: out, from: 0, to: 0 };
      out[pos] = m.value;
      return { bytes: out, from: pos, to: pos + 1 };
    case "overwrite": {
      const patch = seededBytes(m.seed, Math.min(m.length, input.length - pos));
      out.set(patch, pos);
      let from = pos;
      let to = pos + patch.length;
      while (from < to && out[from] === input[from]) from++;
      while (to > from && out[to - 1] === input[to - 1]) to--;
      return from === to ? { bytes: out, from: 0, to: 0 } : { bytes: out, from, to };
    }
    case "truncate":
      return { bytes: input.slice(0, pos), from: pos, to: input.length };
    case "insert": {
      const bytes = new Uint8Array(input.length + m.length);
      bytes.set(input.subarray(0, pos));
      bytes.set(seededBytes(m.seed, m.length), pos);
      bytes.set(input.subarray(pos), pos + m.length);
      return { bytes, from: pos, to: input.length };
    }
    case "remove": {
      const rest = input.subarray(Math.min(input.length, pos + m.length));
      const bytes = new Uint8Array(pos + rest.length);
      bytes.set(input.subarray(0, pos));
      bytes.set(rest, pos);
      return { bytes, from: pos, to: input.length };
    }
  }
}

/** An HTTP answer, read whole. */
export interface Answer {
  status: number;
  body: Uint8Array;
  /** The Content-Type header, when {@link call} made the request. */
  contentType?: string;
}

/** Make a request that gives up after {@link REQUEST_TIMEOUT_MS}; a timeout throws. */
export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(url, { ...init, signal });
    const body = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, body, contentType: res.headers.get("content-type") ?? "" };
  } catch (err) {
    if (signal.aborted) throw new AssertionError(`Request timed out: ${init.method} ${url}`);
    throw err;
  }
}

/**
 * Check an answer is a JSON error `{"error": code, ...}` with a code of
 * the closed set, one of `allowed`, and the status PROTOCOL §1 gives it.
 * @returns the code
 */
export function expectError(answer: Answer, allowed: readonly ErrorCode[], what = ""): ErrorCode {
  const text = new TextDecoder().decode(answer.body);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AssertionError(`${what}: status ${answer.status} with a non-JSON body ${text}`);
  }
  const code = (body as { error?: unknown } | null)?.error;
  if (!isErrorCode(code) || !allowed.includes(code)) {
    throw new AssertionError(
      `${what}: expected one of ${allowed.join(", ")}, got ${answer.status} ${text.slice(0, 300)}`,
    );
  }
  if (answer.status !== ERROR_STATUS[code]) {
    throw new AssertionError(`${what}: ${code} came with status ${answer.status}`);
  }
  return code;
}

/** The codes no bad input may ever produce. */
export const NEVER: readonly ErrorCode[] = ["internal"];

/** Codes the storage RPC answers bad requests with (PROTOCOL §5). */
export const STORAGE_CODES: readonly ErrorCode[] = [
  "bad_request",
  "bad_encoding",
  "too_large",
  "unknown_method",
  "bad_namespace",
  "bad_ttl",
  "wrong_swarm",
  "bad_signature",
  "bad_timestamp",
  "quota_exceeded",
  // A valid store the swarm could not make durable in time: a retry, not a refusal.
  "not_durable",
];

/**
 * The three signature headers of a peer request (PROTOCOL §6), computed
 * here from the spec rather than by the node's own code.
 */
export async function peerHeaders(
  identity: NodeIdentity,
  request: { method: string; path: string; receiver: string; body: Uint8Array; ts: number },
): Promise<Record<string, string>> {
  const signed = labeledHash(
    "hearth/peer-request/v1",
    utf8(request.method),
    utf8(request.path),
    fromHex(request.receiver, 32),
    u64(request.ts),
    sha256(request.body),
  );
  return {
    "x-hearth-node": identity.id,
    "x-hearth-ts": String(request.ts),
    "x-hearth-sig": toHex(await sign(identity.signing, signed)),
  };
}

/** A raw HTTP/1.1 answer; `status` 0 when the server closed without one. */
export interface RawAnswer extends Answer {
  headers: Record<string, string>;
}

/**
 * Write raw bytes to `addr` over TCP and read the first HTTP answer.
 * @param options.closeWrite half-close after writing (a body that ends early)
 * @throws {AssertionError} when no answer or close comes within the timeout
 */
export async function rawHttp(
  addr: string,
  request: Uint8Array,
  options: { closeWrite?: boolean } = {},
): Promise<RawAnswer> {
  const [hostname, port] = addr.split(":") as [string, string];
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    conn.close();
  }, REQUEST_TIMEOUT_MS);
  try {
    await writeAll(conn, request).catch(() => {});
    if (options.closeWrite) await conn.closeWrite().catch(() => {});
    let data: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(16_384);
    while (true) {
      const parsed = parseAnswer(data);
      if (parsed) return parsed;
      const n = await conn.read(chunk).catch(() => null);
      if (expired) throw new AssertionError(`Raw request to ${addr} did not end in time`);
      if (n === null) break;
      data = concat(data, chunk.subarray(0, n));
    }
    if (data.length > 0) throw new AssertionError("Connection closed inside an answer");
    return { status: 0, headers: {}, body: new Uint8Array(0) };
  } finally {
    clearTimeout(timer);
    if (!expired) conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function parseAnswer(data: Uint8Array): RawAnswer | undefined {
  const text = new TextDecoder("latin1").decode(data);
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = Number(headers["content-length"] ?? "0");
  if (data.length < end + 4 + length) return undefined;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? NaN);
  if (!Number.isInteger(status)) throw new AssertionError(`Bad status line ${statusLine}`);
  return { status, headers, body: data.slice(end + 4, end + 4 + length) };
}

/** A request body as a stream of chunks, so it is sent without a Content-Length. */
export function chunkedBody(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      controller.enqueue(buf(bytes.slice(off, off + chunk)));
      off += chunk;
    },
  });
}

/** Hex strings: mostly of `bytes` bytes, sometimes of another length, in upper case or not hex. */
export function hexArb(bytes: number): fc.Arbitrary<string> {
  const exact = fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(toHex);
  return fc.oneof(
    { weight: 4, arbitrary: exact },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: bytes + 2 }).map(toHex) },
    { weight: 1, arbitrary: exact.map((h) => h.toUpperCase()) },
    { weight: 1, arbitrary: exact.map((h) => `${h.slice(1)}g`) },
    { weight: 1, arbitrary: exact.map((h) => h.slice(1)) },
  );
}

/** Any JSON value, small. */
export const jsonArb: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });

/** A field that is usually plausible and sometimes any JSON. */
export function fieldArb<T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: jsonArb });
}

/** The fields of storage RPC headers (PROTOCOL §5). */
export const STORAGE_FIELDS = [
  "method",
  "key",
  "ns",
  "ttl",
  "pubkey",
  "ts",
  "sig",
  "after",
  "wait",
  "maxBytes",
  "expiry",
  "hashes",
  "member",
  "token",
] as const;

/** Storage RPC headers (PROTOCOL §5) with fields of every shape, and stray fields. */
export const storageHeaderArb: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  fc.record({
    method: fieldArb(
      fc.oneof(
        fc.constantFrom("store", "retrieve", "delete", "expire", "swarm"),
        fc.string({ maxLength: 10 }),
      ),
    ),
    key: fieldArb(hexArb(32)),
    ns: fieldArb(fc.oneof(fc.integer({ min: -40_000, max: 40_000 }), fc.double())),
    ttl: fieldArb(fc.integer({ min: -1_000_000, max: 40 * 86_400_000 })),
    pubkey: fieldArb(hexArb(32)),
    ts: fieldArb(fc.oneof(fc.integer({ min: 0 }), fc.double())),
    sig: fieldArb(hexArb(64)),
    after: fieldArb(hexArb(32)),
    wait: fieldArb(fc.integer({ min: -100, max: 30_000 })),
    maxBytes: fieldArb(fc.integer({ min: -10, max: 100_000 })),
    expiry: fieldArb(fc.integer({ min: -1, max: 2 ** 53 })),
    hashes: fieldArb(fc.array(fieldArb(hexArb(32)), { maxLength: 110 })),
    // A group member's access key and token (member-signed requests).
    member: fieldArb(hexArb(32)),
    token: fieldArb(hexArb(64)),
  }, { requiredKeys: [] }),
  fc.dictionary(fc.string({ maxLength: 8 }), jsonArb, { maxKeys: 3 }),
).map(([fields, extra]) => ({ ...extra, ...fields }));

/** Printable ASCII without spaces: what an HTTP header value may hold. */
export const headerValueArb: fc.Arbitrary<string> = fc.stringMatching(/^[!-~]{0,80}$/);
