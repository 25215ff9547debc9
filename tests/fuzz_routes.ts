/**
 * The fuzzed plain-HTTP routes of tests/fuzz_test.ts: announce, info and
 * directory, the signed replication and sync routes, unknown routes, and
 * raw HTTP/1.1 framing. Each step checks the exact codes of
 * docs/PROTOCOL.md §1, §3, §6 and §9. The owner API is fuzzed by
 * tests/fuzz_owner_routes.ts.
 * @module
 */
import fc from "fast-check";
import { assert, assertEquals } from "./assert.ts";
import {
  call,
  expectError,
  fractionArb,
  fuzz,
  type FuzzNet,
  headerValueArb,
  hexArb,
  jsonArb,
  mutate,
  type Mutation,
  mutationArb,
  peerHeaders,
  rawHttp,
  seededBytes,
} from "./fuzz_cases.ts";
import { freePort } from "../tools/devnet_lib.ts";
import { buf, randomBytes, toHex, utf8 } from "../src/shared/crypto/bytes.ts";
import { encodeFrame } from "../src/shared/codec/frame.ts";
import { ONION_PACKET_SIZES } from "../src/shared/codec/limits.ts";
import type { ErrorCode } from "../src/shared/errors.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import { signRecord } from "../src/relay/directory/record.ts";

const HOUR = 3_600_000;
const MAX_PACKET = 98_304;
const isPacketSize = (n: number) => (ONION_PACKET_SIZES as readonly number[]).includes(n);

/** Fuzz `POST /v1/announce` with random JSON and mutated records. */
export async function announce(net: FuzzNet): Promise<void> {
  const base = net.others[0]!;
  const post = (body: BodyInit) => call(net.url("/v1/announce"), { method: "POST", body });
  const RECORD_CODES: ErrorCode[] = [
    "bad_request",
    "bad_encoding",
    "too_large",
    "stale_record",
    "bad_pow",
    "bad_signature",
  ];
  const seen = new Set<ErrorCode>();
  // Either the record is unchanged (and accepted again), or it is refused.
  const judge = async (text: Uint8Array): Promise<void> => {
    const answer = await post(buf(text));
    if (text.length > 1_024) {
      expectError(answer, ["too_large"], "big record");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(text));
    } catch {
      expectError(answer, ["bad_request"], "not JSON");
      return;
    }
    if (JSON.stringify(parsed) === JSON.stringify(base)) {
      assertEquals(answer.status, 200);
      return;
    }
    seen.add(expectError(answer, RECORD_CODES, "changed record"));
  };
  const fields = ["id", "x25519", "addr", "version", "ts", "pow", "sig"];
  const edit = fc.oneof(
    fc.record({ drop: fc.constantFrom(...fields) }),
    fc.record({ set: fc.oneof(fc.constantFrom(...fields), fc.string()), to: jsonArb }),
    fc.record({ set: fc.constantFrom("id", "x25519", "pow"), to: hexArb(32) }),
    fc.record({ set: fc.constant("sig"), to: hexArb(64) }),
    fc.record({ set: fc.constant("id"), to: fc.constant(net.target.id) }),
    fc.record({ set: fc.constant("ts"), to: fc.integer({ min: -1, max: 2 ** 53 }) }),
    fc.record({ set: fc.constant("addr"), to: fc.constantFrom("127.0.0.1:1", "a:1", "[::1]:80") }),
  );
  const cases = fc.oneof(
    fc.tuple(fc.integer(), fc.nat({ max: 1_500 })).map(([s, n]) => seededBytes(s, n)),
    jsonArb.map((v) => utf8(JSON.stringify(v))),
    fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
      const record: Record<string, unknown> = { ...base };
      for (const e of edits) {
        if ("drop" in e) delete record[e.drop];
        else record[e.set] = e.to;
      }
      return utf8(JSON.stringify(record));
    }),
    fc.array(mutationArb, { minLength: 1, maxLength: 2 })
      .map((ms) => ms.reduce((t, m) => mutate(t, m).bytes, utf8(JSON.stringify(base)))),
  );
  await fuzz("POST /v1/announce", fc.asyncProperty(cases, judge), {
    runs: 500,
    seedOffset: 4,
  });
  for (const code of ["bad_encoding", "stale_record", "bad_pow", "bad_signature"] as const) {
    assert(seen.has(code), `No record was refused with ${code}`);
  }
  // Records signed by a node nobody can dial back, or of the wrong age or version.
  const now = Date.now();
  for (
    const [addr, ts, version, code] of [
      [`127.0.0.1:${freePort()}`, now, 1, "unreachable"],
      [net.others[1]!.addr, now, 1, "unreachable"],
      [`127.0.0.1:${freePort()}`, now - 4 * HOUR, 1, "stale_record"],
      [`127.0.0.1:${freePort()}`, now + HOUR, 1, "stale_record"],
      [`127.0.0.1:${freePort()}`, now, 2, "bad_request"],
    ] as const
  ) {
    const record = await signRecord(net.stranger, { addr, ts, version });
    expectError(await post(JSON.stringify(record)), [code], `record ${code}`);
  }
}

/** Fuzz the query and headers of `GET /v1/info` and `/v1/directory`. */
export async function infoAndDirectory(net: FuzzNet): Promise<void> {
  const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);
  await fuzz(
    "GET /v1/info and /v1/directory",
    fc.asyncProperty(
      fc.constantFrom("/v1/info", "/v1/directory"),
      fc.string({ maxLength: 40 }),
      fc.dictionary(headerName, headerValueArb, { maxKeys: 4 }),
      async (path, query, headers) => {
        const answer = await call(net.url(`${path}?${encodeURIComponent(query)}`), { headers });
        assertEquals(answer.status, 200);
        const body = JSON.parse(new TextDecoder().decode(answer.body));
        if (path === "/v1/info") {
          assertEquals(Object.keys(body).sort(), ["directorySize", "id", "version", "x25519"]);
          assertEquals(body.id, net.target.id);
        } else {
          assertEquals(body.records.length, 4);
        }
      },
    ),
    { runs: 200, seedOffset: 5 },
  );
  // The change cursor: a well-formed one from elsewhere starts over, anything else is refused.
  const cursorShaped = fc.tuple(fc.stringMatching(/^[0-9a-f]{16}$/), fc.nat()).map(([e, n]) =>
    `${e}.${n}`
  );
  await fuzz(
    "GET /v1/directory?after=",
    fc.asyncProperty(fc.oneof(fc.string({ maxLength: 60 }), cursorShaped), async (cursor) => {
      const answer = await call(net.url(`/v1/directory?after=${encodeURIComponent(cursor)}`));
      const body = JSON.parse(new TextDecoder().decode(answer.body));
      if (/^[0-9a-f]{16}\.(0|[1-9][0-9]{0,14})$/.test(cursor)) {
        assertEquals(answer.status, 200);
        assertEquals(body.records.length, 4);
      } else {
        assertEquals(answer.status, 400);
        assertEquals(body.error, "bad_request");
      }
    }),
    { runs: 200, seedOffset: 6 },
  );
}

const PEER_ROUTES = {
  "/v1/replicate/store": 1_048_576,
  "/v1/replicate/delete": 262_144,
  "/v1/replicate/expire": 262_144,
  "/v1/sync/digest": 262_144,
  "/v1/sync/hashes": 262_144,
  "/v1/sync/fetch": 262_144,
} as const;
type PeerRoute = keyof typeof PEER_ROUTES;

/** A well-formed body of each peer route, about nothing this test stored. */
function validPeerBody(route: PeerRoute): Uint8Array {
  const key = toHex(randomBytes(32));
  const hashes = [toHex(randomBytes(32))];
  const expiry = Date.now() + HOUR;
  switch (route) {
    case "/v1/replicate/store":
      return encodeFrame({ items: [{ key, ns: 0, expiry, size: 50 }] }, randomBytes(50));
    case "/v1/replicate/delete":
      return utf8(JSON.stringify({ key, ns: 0, hashes }));
    case "/v1/replicate/expire":
      return utf8(JSON.stringify({ key, ns: 0, hashes, expiry }));
    case "/v1/sync/digest":
      return utf8("{}");
    case "/v1/sync/hashes":
      return utf8(JSON.stringify({ prefixes: ["00", "ab"] }));
    case "/v1/sync/fetch":
      return utf8(JSON.stringify({ hashes }));
  }
}

type BodyShape =
  | { seed: number; random: number }
  | { json: unknown }
  | { mutations: Mutation[] }
  | { oversize: number };

function peerBody(route: PeerRoute, shape: BodyShape): Uint8Array {
  if ("random" in shape) return seededBytes(shape.seed, shape.random);
  if ("json" in shape) return utf8(JSON.stringify(shape.json));
  if ("oversize" in shape) return new Uint8Array(PEER_ROUTES[route] + shape.oversize);
  return shape.mutations.reduce((b, m) => mutate(b, m).bytes, validPeerBody(route));
}

/** Fuzz the replication and sync routes: sizes, signature headers, bodies. */
export async function peerRoutes(net: FuzzNet): Promise<void> {
  const routes = Object.keys(PEER_ROUTES) as PeerRoute[];
  const seen = new Set<string>();
  const auth = fc.oneof(
    fc.constantFrom("none", "stranger", "other-body", "other-path", "signed", "signed", "signed"),
    fc.record({ node: headerValueArb }),
    fc.record({
      ts: fc.constantFrom("", "abc", "-1", "1e12", "-120000", "120000", "1".repeat(17)),
    }),
    fc.record({ sig: fc.oneof(headerValueArb, hexArb(64)) }),
  );
  const body = fc.oneof(
    fc.record({ seed: fc.integer(), random: fc.nat({ max: 2_000 }) }),
    fc.record({ json: jsonArb }),
    fc.record({ mutations: fc.array(mutationArb, { maxLength: 2 }) }),
    fc.record({ oversize: fc.integer({ min: 1, max: 50_000 }) }),
  );
  await fuzz(
    "the replication and sync routes",
    fc.asyncProperty(fc.constantFrom(...routes), auth, body, async (route, how, shape) => {
      const bytes = peerBody(route, shape);
      const ts = Date.now();
      const signed = (id: NodeIdentity, path = route, b = bytes) =>
        peerHeaders(id, { method: "POST", path, receiver: net.target.id, body: b, ts });
      let headers: Record<string, string> = {};
      let expected: ErrorCode[];
      if (typeof how === "object") {
        headers = await signed(net.peer);
        if ("node" in how) headers["x-hearth-node"] = how.node;
        if ("ts" in how) {
          const shift = Number(how.ts);
          headers["x-hearth-ts"] = Math.abs(shift) === 120_000 ? String(ts + shift) : how.ts;
        }
        if ("sig" in how) headers["x-hearth-sig"] = how.sig;
        expected = "node" in how ? ["unknown_node"] : "ts" in how ? ["bad_timestamp"] : [
          "bad_signature",
        ];
      } else if (how === "none" || how === "stranger") {
        if (how === "stranger") headers = await signed(net.stranger);
        expected = ["unknown_node"];
      } else if (how === "other-body" || how === "other-path") {
        headers = how === "other-body"
          ? await signed(net.peer, route, randomBytes(8))
          : await signed(net.peer, routes.find((r) => r !== route)!);
        expected = ["bad_signature"];
      } else {
        headers = await signed(net.peer);
        expected = ["bad_request", "bad_encoding", "bad_namespace", "too_large", "bad_ttl"];
      }
      // The body's size is checked first, then the headers, then the body.
      if (bytes.length > PEER_ROUTES[route]) expected = ["too_large"];
      const answer = await call(net.url(route), { method: "POST", headers, body: buf(bytes) });
      if (answer.status === 200 && how === "signed") return void seen.add("ok");
      seen.add(expectError(answer, expected, `${route} (${JSON.stringify(how)})`));
    }),
    { runs: 800, seedOffset: 6 },
  );
  const all = ["ok", "too_large", "unknown_node", "bad_timestamp", "bad_signature", "bad_request"];
  for (const code of all) assert(seen.has(code), `No peer request was answered ${code}`);
}

const ROUTES = new Set([
  "GET /v1/info",
  "GET /v1/directory",
  "HEAD /v1/info",
  "HEAD /v1/directory",
  "POST /v1/onion",
  "POST /v1/announce",
  ...Object.keys(PEER_ROUTES).map((r) => `POST ${r}`),
]);

/** Fuzz unknown paths and methods. */
export async function unknownRoutes(net: FuzzNet): Promise<void> {
  const known = [...ROUTES].map((r) => r.split(" ")[1]!);
  const method = fc.oneof(
    fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
    fc.stringMatching(/^[A-Z]{1,10}$/).filter((m) => !["CONNECT", "TRACE", "TRACK"].includes(m)),
  );
  const path = fc.oneof(
    fc.constantFrom(...known, ...known.map((p) => `${p}/`), "/", "/v1", "/v1/", "/v2/info"),
    fc.tuple(fc.boolean(), fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 4 }))
      .map(([v1, segments]) => `/${v1 ? "v1/" : ""}${segments.map(encodeURIComponent).join("/")}`),
  );
  await fuzz(
    "unknown routes and methods",
    fc.asyncProperty(method, path, fc.uint8Array({ maxLength: 64 }), async (m, p, body) => {
      const url = new URL(net.url(p));
      fc.pre(!ROUTES.has(`${m} ${url.pathname}`));
      const withBody = m !== "GET" && m !== "HEAD" && body.length > 0;
      const answer = await call(url.href, { method: m, body: withBody ? buf(body) : undefined });
      if (m === "HEAD") assertEquals(answer.status, 404);
      else expectError(answer, ["not_found"], `${m} ${p}`);
    }),
    { runs: 300, seedOffset: 7 },
  );
}

/** Fuzz raw HTTP/1.1 with lying, huge and malformed lengths. */
export async function rawFraming(net: FuzzNet): Promise<void> {
  const limits: Record<string, number> = {
    "/v1/onion": MAX_PACKET,
    "/v1/announce": 1_024,
    "/v1/replicate/store": 1_048_576,
    "/v1/sync/digest": 262_144,
  };
  // The answer to a body of n random bytes that arrived whole.
  const answerTo = (route: string, n: number): ErrorCode => {
    if (n > limits[route]!) return "too_large";
    if (route === "/v1/onion") return isPacketSize(n) ? "decrypt_failed" : "bad_size";
    return route === "/v1/announce" ? "bad_request" : "unknown_node";
  };
  const variant = fc.oneof(
    fc.record({
      kind: fc.constant("huge" as const),
      extra: fc.integer({ min: 1, max: 2 ** 40 }),
      text: fc.option(fc.constantFrom("9007199254740993", "18446744073709551615")),
    }),
    fc.record({ kind: fc.constant("short" as const), declared: fc.nat({ max: 5_000 }) }),
    fc.record({ kind: fc.constant("long" as const), declared: fc.nat({ max: 900 }) }),
    fc.record({
      kind: fc.constant("chunked" as const),
      chunk: fc.integer({ min: 1, max: 70_000 }),
    }),
    fc.record({
      kind: fc.constant("malformed" as const),
      field: fc.oneof(
        fc.constantFrom("abc", "-1", "1.5", "0x10", "1 2", "+5", "9".repeat(25), "5, 6")
          .map((n) => `content-length: ${n}`),
        fc.constantFrom(
          "content-length: 5\r\ncontent-length: 6",
          "transfer-encoding: chunked\r\ncontent-length: 3",
          `x-big: ${"a".repeat(100_000)}`,
        ),
      ),
    }),
    fc.record({
      kind: fc.constant("bad-chunk" as const),
      chunk: fc.constantFrom("zz", "-1", "f".repeat(20), "1;", ""),
    }),
  );
  await fuzz(
    "raw HTTP framing",
    fc.asyncProperty(
      fc.constantFrom(...Object.keys(limits)),
      variant,
      fractionArb,
      fc.integer(),
      async (route, v, fraction, seed) => {
        const head = (field: string) =>
          utf8(`POST ${route} HTTP/1.1\r\nhost: x\r\n${field}\r\n\r\n`);
        const limit = limits[route]!;
        const what = `${route} ${JSON.stringify(v).slice(0, 200)}`;
        if (v.kind === "huge") {
          const length = v.text ?? String(limit + v.extra);
          const answer = await rawHttp(net.addr, head(`content-length: ${length}`));
          expectError(answer, ["too_large"], what);
        } else if (v.kind === "short") {
          // The body ends (half-close) before the declared length.
          const sent = seededBytes(seed, Math.floor(v.declared * fraction));
          const request = concat([head(`content-length: ${v.declared + 1}`), sent]);
          const answer = await rawHttp(net.addr, request, { closeWrite: true });
          expectError(answer, [v.declared + 1 > limit ? "too_large" : "bad_request"], what);
        } else if (v.kind === "long") {
          // More bytes than declared: the route sees the declared ones.
          const sent = seededBytes(seed, v.declared + 1 + Math.floor(200 * fraction));
          const answer = await rawHttp(
            net.addr,
            concat([head(`content-length: ${v.declared}`), sent]),
          );
          expectError(answer, [answerTo(route, v.declared)], what);
        } else if (v.kind === "chunked") {
          const n = Math.floor(fraction * (limit + 5_000));
          const chunk = Math.max(v.chunk, Math.ceil(n / 2_000));
          const parts: Uint8Array[] = [head("transfer-encoding: chunked")];
          for (let off = 0; off < n; off += chunk) {
            const size = Math.min(chunk, n - off);
            parts.push(
              utf8(`${size.toString(16)}\r\n`),
              seededBytes(seed + off, size),
              utf8("\r\n"),
            );
          }
          parts.push(utf8("0\r\n\r\n"));
          const answer = await rawHttp(net.addr, concat(parts));
          expectError(answer, [answerTo(route, n)], what);
        } else if (v.kind === "malformed") {
          // Refused by the HTTP layer before any route sees it: a bare 400.
          const answer = await rawHttp(net.addr, head(v.field));
          assertEquals([answer.status, answer.body.length], [400, 0], what);
        } else {
          // A broken chunk: the HTTP layer drops the connection (status 0) or says 400.
          const request = concat([
            head("transfer-encoding: chunked"),
            utf8(`${v.chunk}\r\nabc\r\n`),
          ]);
          const answer = await rawHttp(net.addr, request, { closeWrite: true });
          assert([0, 400].includes(answer.status), `${what}: status ${answer.status}`);
        }
      },
    ),
    { runs: 300, seedOffset: 8 },
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
