/**
 * Fuzzing the owner API of a live node process (docs/API.md): its
 * messaging, conversation, settings, profile, contact and QR routes, with
 * bodies of plausible and malformed fields. Used by tests/owner_api_test.ts.
 * @module
 */
import fc from "fast-check";
import { assert, assertEquals } from "./assert.ts";
import { call, expectError, fieldArb, fuzz, hexArb, jsonArb, seededBytes } from "./fuzz_cases.ts";
import { type NodeProcess, ownerApi } from "../tools/devnet_lib.ts";
import { formatAccountId } from "../src/client/account/mod.ts";
import { generateSigningKeyPair } from "../src/shared/crypto/sign.ts";
import { buf, toBase64, utf8 } from "../src/shared/crypto/bytes.ts";
import type { ErrorCode } from "../src/shared/errors.ts";

/** Codes the owner API answers bad input with (docs/API.md), while unlocked. */
const OWNER_CODES: readonly ErrorCode[] = [
  "bad_request",
  "bad_encoding",
  "bad_account_id",
  "too_large",
  "not_found",
  "conflict",
  "group_full",
];

/** A message id the owner API fuzzer puts in a path: one of a pool (by index), or given text. */
type IdPick = { pool: number } | { text: string };

/** Message ids: known ones, well-formed unknown ones, malformed hex, any text. */
const idPickArb: fc.Arbitrary<IdPick> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ pool: fc.nat() }) },
  { weight: 3, arbitrary: hexArb(16).map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((text) => ({ text })) },
);

/** Message texts: short ones, blank ones, and ones around the 10,000-character limit. */
const messageTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\n\t", "\ud800") },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 9_995, max: 10_005 }), fc.constantFrom("x", "é", "👍"))
      .map(([n, c]) => c.repeat(n)),
  },
);

/** Emoji: plausible ones, and any text up to 20 characters. */
const emojiArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("👍", "❤️", "🎉", "👍🏽"),
  fc.string({ maxLength: 20 }),
);

/** A disappearing timer: valid modes and times around the limits, and any JSON. */
const timerArb: fc.Arbitrary<unknown> = fieldArb(fc.record({
  mode: fieldArb(fc.constantFrom("off", "after_send", "after_read", "never", "")),
  seconds: fieldArb(fc.oneof(
    fc.constantFrom(9, 10, 60, 86_400, 31_536_000, 31_536_001, -1, 0.5),
    fc.integer({ min: -100, max: 40_000_000 }),
    fc.double(),
  )),
}, { requiredKeys: [] }));

/**
 * An avatar field: base64 of an image of a PNG, JPEG or WebP header (or
 * none) around the 8 KiB limit, null, or text that is not base64.
 */
const avatarArb: fc.Arbitrary<unknown> = fieldArb(fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 4,
    arbitrary: fc.tuple(
      fc.constantFrom("png", "jpeg", "webp", "none"),
      fc.oneof(fc.nat({ max: 9_000 }), fc.integer({ min: 8_190, max: 8_194 })),
      fc.integer(),
    ).map(([kind, size, seed]) => toBase64(imageOf(kind, size, seed))),
  },
  { weight: 1, arbitrary: fc.constantFrom("", "abc", "!!!!", "a===", "Zm9v\n") },
));

const MAGIC: Record<string, number[]> = {
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  jpeg: [0xff, 0xd8, 0xff],
  webp: [0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50],
};

/** `size` seeded bytes that start with the magic number of `kind` (as far as they reach). */
function imageOf(kind: string, size: number, seed: number): Uint8Array {
  const bytes = seededBytes(seed, size);
  bytes.set((MAGIC[kind] ?? []).slice(0, size));
  return bytes;
}

/** A multipart upload of the fuzzer (POST /api/attachments): its parts, in order. */
type UploadPart = { name: string; filename?: string; type?: string; data: Uint8Array };

const UPLOAD_BOUNDARY = "fuzzBoundary0x2a";

/**
 * Upload bodies: a file part (sizes around a chunk edge, names good and
 * bad, types good and bad), optional thumbnail, voice and durationMs parts
 * (good and bad), sometimes a repeated or unknown part; and now and then
 * cut short.
 */
const uploadArb: fc.Arbitrary<{ parts: UploadPart[]; cut?: number }> = fc.record({
  file: fc.option(
    fc.record({
      size: fc.oneof(fc.nat({ max: 2_000 }), fc.integer({ min: 65_530, max: 65_540 })),
      seed: fc.integer(),
      filename: fc.option(
        fc.oneof(fc.constantFrom("a.png", "x‮gpj.exe", "..", "dir/a.txt", "é.txt", ""), fc.string()),
        { nil: undefined },
      ),
      type: fc.option(fc.constantFrom("image/png", "audio/webm", "text/html", "bad", "a/b/c", ""), {
        nil: undefined,
      }),
    }),
    { nil: undefined },
  ),
  thumbnail: fc.option(
    fc.tuple(
      fc.constantFrom("png", "jpeg", "none"),
      fc.integer({ min: 0, max: 8_300 }),
      fc.integer(),
    )
      .map(([kind, size, seed]) => imageOf(kind, size, seed)),
    { nil: undefined },
  ),
  voice: fc.option(fc.constantFrom("true", "false", "yes", ""), { nil: undefined }),
  durationMs: fc.option(fc.constantFrom("0", "1500", "-1", "1e3", "99999999999"), {
    nil: undefined,
  }),
  extra: fc.option(fc.constantFrom("file", "other"), { nil: undefined }),
  cut: fc.option(fc.nat({ max: 400 }), { nil: undefined }),
}).map((u) => {
  const parts: UploadPart[] = [];
  const text = (name: string, v: string) => parts.push({ name, data: utf8(v) });
  if (u.thumbnail) parts.push({ name: "thumbnail", type: "image/png", data: u.thumbnail });
  if (u.file) {
    parts.push({
      name: "file",
      ...(u.file.filename === undefined ? {} : { filename: u.file.filename }),
      ...(u.file.type === undefined ? {} : { type: u.file.type }),
      data: seededBytes(u.file.seed, u.file.size),
    });
  }
  if (u.voice !== undefined) text("voice", u.voice);
  if (u.durationMs !== undefined) text("durationMs", u.durationMs);
  if (u.extra) text(u.extra, "x");
  return { parts, ...(u.cut === undefined ? {} : { cut: u.cut }) };
});

/** An upload's multipart body (names written as browsers do: a quote as %22). */
function multipartOf(upload: { parts: UploadPart[]; cut?: number }): Uint8Array {
  const pieces: Uint8Array[] = [];
  for (const p of upload.parts) {
    const q = (v: string) =>
      v.replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
    let head = `--${UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name="${q(p.name)}"`;
    if (p.filename !== undefined) head += `; filename="${q(p.filename)}"`;
    if (p.type !== undefined) head += `\r\nContent-Type: ${p.type}`;
    pieces.push(utf8(`${head}\r\n\r\n`), p.data, utf8("\r\n"));
  }
  pieces.push(utf8(`--${UPLOAD_BOUNDARY}--\r\n`));
  const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    whole.set(p, at);
    at += p.length;
  }
  return upload.cut === undefined ? whole : whole.subarray(0, Math.min(upload.cut, whole.length));
}

/** Widths and heights the fuzzer puts in a QR decode's query: valid ones and not. */
const QR_SIDES = ["16", "32", "48", "16", "32", "064", "24", "15", "1025", "x"];

/** A side of {@link QR_SIDES} as the route takes it, or undefined when it is refused. */
function qrSide(text: string): number | undefined {
  const n = Number(text);
  return /^[0-9]{1,4}$/.test(text) && n >= 16 && n <= 1024 ? n : undefined;
}

/** Whether a fuzzed QR decode (by its number `n`) says its body is `application/octet-stream`. */
function qrTyped(n: number): boolean {
  return n % 11 !== 5;
}

/** The route of QR decoding in the fuzzer's table. */
const QR_ROUTE = "POST /api/qr/decode?width=:qrw&height=:qrh";

/** A request of the owner API fuzzer: a route, a path id and a body. */
interface OwnerCase {
  route: string;
  id: IdPick;
  body:
    | { json: unknown }
    | { pixels: { seed: number; cut: number } }
    | { seed: number; random: number }
    | { oversize: number }
    | { upload: { parts: UploadPart[]; cut?: number } };
}

/**
 * Fuzz the owner API of `node` (creating its account when it has none;
 * an existing one must be unlocked): every
 * answer is 2xx, or a JSON error of {@link OWNER_CODES} with its status;
 * malformed message ids and unknown settings are `bad_request`; the
 * messages and the contact stored before (never named in a path) are
 * still there, and the node still runs without an error in its log.
 * @param node a node process with an unlocked account
 * @param options.runs how many requests (default 600)
 */
export async function ownerRoutes(
  node: NodeProcess,
  options: { runs?: number } = {},
): Promise<void> {
  const api = (method: string, path: string, body?: unknown) => ownerApi(node, method, path, body);
  if ((await api("GET", "/api/status")).json.account === "absent") {
    const created = await api("POST", "/api/account", { passphrase: "fuzzed owner passphrase" });
    assertEquals(created.status, 201);
  }
  const canaryPeer = formatAccountId((await generateSigningKeyPair()).publicKey);
  const victim = formatAccountId((await generateSigningKeyPair()).publicKey);
  const stranger = formatAccountId((await generateSigningKeyPair()).publicKey);
  const canaries: string[] = [];
  for (const to of ["self", canaryPeer]) {
    const sent = await api("POST", "/api/messages", { to, text: `canary for ${to}` });
    assertEquals(sent.status, 201);
    canaries.push(sent.json.id as string);
  }
  const pool: string[] = [];
  for (const to of ["self", victim, "self", victim]) {
    pool.push((await api("POST", "/api/messages", { to, text: "victim" })).json.id as string);
  }
  // Files to name in paths and to attach: uploaded here, more by the fuzzer.
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call(`http://${node.webAddr}/api/attachments`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${node.ownerToken}`,
        "content-type": `multipart/form-data; boundary=${UPLOAD_BOUNDARY}`,
      },
      body: buf(
        multipartOf({
          parts: [{ name: "file", filename: `f${i}.bin`, data: seededBytes(i, 100) }],
        }),
      ),
    });
    assertEquals(res.status, 201);
    files.push(JSON.parse(new TextDecoder().decode(res.body)).id);
  }
  const fileArb = fc.oneof(
    { weight: 3, arbitrary: fc.nat().map((i) => files[i % files.length]!) },
    { weight: 1, arbitrary: hexArb(16) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
  // A group with the victim, named by the group routes (and its conversation).
  const group = await api("POST", "/api/groups", { name: "Fuzzed group", members: [victim] });
  assertEquals(group.status, 201);
  const groupId = group.json.id as string;
  const groups = [
    groupId,
    groupId,
    `${groupId.slice(0, -1)}x`,
    "hearthg1",
    "nope",
    groupId.toUpperCase(),
  ];
  const conversations = ["self", victim, stranger, `${victim.slice(0, -1)}x`, "nope", ""];
  const peers = [victim, stranger, `${victim.slice(0, -1)}x`, "self", "hearth1"];
  const pick = (arr: readonly string[]) => fc.nat({ max: arr.length - 1 }).map((i) => arr[i]!);
  const idOf = (p: IdPick) => "pool" in p ? pool[p.pool % pool.length]! : p.text;
  const json = (fields: fc.Arbitrary<Record<string, unknown>>) =>
    fc.tuple(fields, fc.dictionary(fc.string({ maxLength: 8 }), jsonArb, { maxKeys: 2 }))
      .map(([f, extra]) => ({ json: { ...extra, ...f } }));
  const routeBodies: Record<string, fc.Arbitrary<{ json: unknown }>> = {
    "POST /api/messages": json(fc.record({
      to: fieldArb(pick(["self", victim, canaryPeer, stranger, "hearth1x"])),
      text: fieldArb(messageTextArb),
      replyTo: fieldArb(idPickArb.map(idOf)),
      attachments: fieldArb(fc.array(fileArb, { maxLength: 11 })),
      voice: fieldArb(fc.boolean()),
    }, { requiredKeys: ["to"] })),
    "POST /api/attachments": uploadArb.map((upload) => ({ upload })) as unknown as fc.Arbitrary<
      { json: unknown }
    >,
    "GET /api/attachments/:file": fc.constant({ json: undefined }),
    "GET /api/attachments/:file/info": fc.constant({ json: undefined }),
    "GET /api/attachments/:file/thumbnail": fc.constant({ json: undefined }),
    "POST /api/attachments/:file/download": fc.constant({ json: undefined }),
    "PATCH /api/messages/:id": json(fc.record({ text: fieldArb(messageTextArb) })),
    "DELETE /api/messages/:id": fc.constant({ json: undefined }),
    "PUT /api/messages/:id/reaction": json(fc.record({ emoji: fieldArb(emojiArb) })),
    "DELETE /api/messages/:id/reaction": fc.constant({ json: undefined }),
    "GET /api/conversations/:conversation": fc.constant({ json: undefined }),
    "PATCH /api/conversations/:conversation": json(fc.record({
      disappearing: timerArb,
      muted: fieldArb(fc.boolean()),
    }, { requiredKeys: [] })),
    "POST /api/conversations/:conversation/typing": json(
      fc.record({ active: fieldArb(fc.boolean()) }, { requiredKeys: [] }),
    ),
    "PATCH /api/settings": fc.dictionary(
      fc.oneof(fc.constantFrom("readReceipts", "typingIndicators"), fc.string({ maxLength: 8 })),
      fieldArb(fc.boolean()),
      { maxKeys: 3 },
    ).map((body) => ({ json: body })),
    "PATCH /api/account": json(fc.record({
      displayName: fieldArb(fc.oneof(fc.constantFrom("Ada", " Bo ", "a\u202Eb"), fc.string())),
      avatar: avatarArb,
    }, { requiredKeys: [] })),
    "GET /api/account/avatar": fc.constant({ json: undefined }),
    "PATCH /api/contacts/:peer": json(fc.record({
      nickname: fieldArb(
        fc.oneof(fc.constantFrom("Uncle B", " ", "", "a\u202Eb", "x".repeat(65)), fc.string()),
      ),
    }, { requiredKeys: [] })),
    "GET /api/messages/search?q=:id&limit=:limit": fc.constant({ json: undefined }),
    "POST /api/contacts/:peer/block": fc.constant({ json: undefined }),
    "POST /api/contacts/:peer/unblock": fc.constant({ json: undefined }),
    "GET /api/contacts/:peer/avatar": fc.constant({ json: undefined }),
    "POST /api/groups": json(fc.record({
      name: fieldArb(fc.oneof(fc.constantFrom("Club", " ", "a\u202Eb"), fc.string())),
      members: fieldArb(fc.array(pick([...peers, canaryPeer]), { maxLength: 4 })),
    }, { requiredKeys: [] })),
    "GET /api/groups": fc.constant({ json: undefined }),
    "GET /api/groups/:group": fc.constant({ json: undefined }),
    "GET /api/groups/:group/picture": fc.constant({ json: undefined }),
    "POST /api/groups/:group/join": fc.constant({ json: undefined }),
    "POST /api/groups/:group/decline": fc.constant({ json: undefined }),
    "POST /api/groups/:group/members": json(fc.record({
      accountId: fieldArb(pick([...peers, canaryPeer])),
    }, { requiredKeys: [] })),
    "DELETE /api/groups/:group/members/:peer": fc.constant({ json: undefined }),
    "PATCH /api/groups/:group": json(fc.record({
      name: fieldArb(fc.oneof(fc.constantFrom("Renamed"), fc.string())),
      picture: avatarArb,
      admins: fieldArb(fc.array(pick(peers), { maxLength: 2 })),
    }, { requiredKeys: [] })),
    // Pixels of exactly width × height × 4 bytes (noise: no code), or a few bytes off.
    [QR_ROUTE]: fc.record({
      pixels: fc.record({ seed: fc.integer(), cut: fc.constantFrom(0, 0, 0, 0, -1, 1, -4_000) }),
    }) as unknown as fc.Arbitrary<{ json: unknown }>,
  };
  const cases: fc.Arbitrary<OwnerCase> = fc.constantFrom(...Object.keys(routeBodies)).chain((
    route,
  ) =>
    fc.record({
      route: fc.constant(route),
      id: idPickArb,
      body: fc.oneof(
        { weight: 8, arbitrary: routeBodies[route]! },
        { weight: 1, arbitrary: fc.record({ seed: fc.integer(), random: fc.nat({ max: 300 }) }) },
        { weight: 1, arbitrary: fc.record({ oversize: fc.integer({ min: 1, max: 70_000 }) }) },
      ),
    })
  );
  const seen = new Set<string>();
  await fuzz(
    "the owner API",
    fc.asyncProperty(cases, fc.nat(), fc.constantFrom("me", "everyone", "all", ""), fileArb, async (
      c,
      n,
      scope,
      file,
    ) => {
      const [method, template] = c.route.split(" ") as [string, string];
      const messageId = idOf(c.id);
      const path = template
        .replace(":id", encodeURIComponent(messageId))
        .replace(":conversation", encodeURIComponent(conversations[n % conversations.length]!))
        .replace(":peer", encodeURIComponent(peers[n % peers.length]!))
        .replace(":group", encodeURIComponent(groups[n % groups.length]!))
        .replace(":file", encodeURIComponent(file))
        .replace(":limit", ["", "1", "50", "200", "0", "201", "-1", "x"][n % 8]!)
        .replace(":qrw", QR_SIDES[n % QR_SIDES.length]!)
        .replace(":qrh", QR_SIDES[Math.floor(n / 7) % QR_SIDES.length]!) +
        (c.route === "DELETE /api/messages/:id" && scope !== "" ? `?for=${scope}` : "");
      const body = method === "GET"
        ? undefined
        : "json" in c.body
        ? c.body.json === undefined ? undefined : utf8(JSON.stringify(c.body.json))
        : "random" in c.body
        ? seededBytes(c.body.seed, c.body.random)
        : "upload" in c.body
        ? multipartOf(c.body.upload)
        : "pixels" in c.body
        ? seededBytes(c.body.pixels.seed, Math.max(0, qrPixelBytes(path) + c.body.pixels.cut))
        : new Uint8Array(c.body.oversize + 65_536);
      const multipart = "upload" in c.body || (c.route === "POST /api/attachments" && n % 2 === 0);
      const answer = await call(`http://${node.webAddr}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${node.ownerToken}`,
          ...(multipart
            ? { "content-type": `multipart/form-data; boundary=${UPLOAD_BOUNDARY}` }
            : {}),
          ...(c.route === QR_ROUTE && qrTyped(n)
            ? { "content-type": "application/octet-stream" }
            : {}),
        },
        ...(body === undefined ? {} : { body: buf(body) }),
      });
      const what = `${c.route} ${path.slice(0, 120)}`;
      if (answer.status < 300) {
        seen.add("ok");
        // A file's bytes come as whatever they are; everything else is an image or JSON.
        const bytes = c.route === "GET /api/attachments/:file";
        const image = answer.contentType?.startsWith("image/");
        assert(bytes || image || answer.contentType?.startsWith("application/json"), what);
        if (!image && !bytes) JSON.parse(new TextDecoder().decode(answer.body));
        if (c.route === "POST /api/messages") {
          pool.push(JSON.parse(new TextDecoder().decode(answer.body)).id);
        }
        if (c.route === "POST /api/attachments") {
          files.push(JSON.parse(new TextDecoder().decode(answer.body)).id);
        }
        return;
      }
      // A send with files waits for their upload, which a node alone cannot do.
      const uploads = c.route === "POST /api/messages" ? ["unavailable" as const] : [];
      const code = expectError(answer, [...OWNER_CODES, ...uploads], what);
      seen.add(code);
      // A message id that is not 32 lower-case hex digits never reaches the chat.
      const hexish = "text" in c.id && /^[0-9a-zA-Z]+$/.test(messageId);
      const search = template.startsWith("/api/messages/search");
      if (search) assertEquals(code, "bad_request", what);
      if (template.includes(":id") && !search && hexish && !/^[0-9a-f]{32}$/.test(messageId)) {
        assertEquals(code, "bad_request", what);
      }
      if (
        template.includes(":file") && /^[0-9a-zA-Z]+$/.test(file) && !/^[0-9a-f]{32}$/.test(file)
      ) {
        assertEquals(code, "bad_request", what);
      }
      if (c.route === QR_ROUTE) {
        const sides = [n % QR_SIDES.length, Math.floor(n / 7) % QR_SIDES.length]
          .map((i) => qrSide(QR_SIDES[i]!));
        const typed = qrTyped(n);
        // Bad sizes and types are refused; whole noise images have no code in them.
        if (sides.includes(undefined) || !typed) assertEquals(code, "bad_request", what);
        else if ("pixels" in c.body && c.body.pixels.cut === 0) {
          assertEquals(code, "not_found", what);
        } else if ("pixels" in c.body && c.body.pixels.cut > 0) {
          assertEquals(code, "too_large", what);
        } else if ("pixels" in c.body) assertEquals(code, "bad_request", what);
      }
      if (c.route === "PATCH /api/settings" && "json" in c.body) {
        const names = Object.keys(c.body.json as object);
        if (names.some((k) => k !== "readReceipts" && k !== "typingIndicators")) {
          assertEquals(code, "bad_request", what);
        }
      }
    }),
    { runs: options.runs ?? 600, seedOffset: 9 },
  );
  for (const code of ["ok", "bad_request", "not_found", "too_large", "bad_account_id"]) {
    assert(seen.has(code), `No owner API request was answered ${code}`);
  }
  // The stored messages nobody named are untouched, and the node lives on.
  for (const [i, conversation] of ["self", canaryPeer].entries()) {
    const listed = await api("GET", `/api/conversations/${conversation}/messages?limit=200`);
    assertEquals(listed.status, 200, `conversation ${conversation}`);
    const canary = (listed.json.messages as Record<string, unknown>[])
      .find((m) => m.id === canaries[i]);
    assert(canary, `The canary of ${conversation} is still there`);
    assertEquals([canary.text, canary.deleted], [`canary for ${conversation}`, false]);
  }
  // The group is still there (no leave was fuzzed), with its creator as admin.
  const kept = await api("GET", `/api/groups/${groupId}`);
  assertEquals([kept.status, kept.json.admin, kept.json.state], [200, true, "joined"]);
  const contacts = (await api("GET", "/api/contacts")).json.contacts as { accountId: string }[];
  assert(contacts.some((c) => c.accountId === canaryPeer), "The canary contact is still there");
  assertEquals((await api("GET", "/api/status")).json.account, "unlocked");
  const log = await Deno.readTextFile(node.logPath);
  assert(!/^ERROR|internal|uncaught/im.test(log), `Node log has an error:\n${log}`);
}

/** The bytes of the image a QR decode path names (width × height × 4), or 4,096 when refused. */
function qrPixelBytes(path: string): number {
  const query = new URL(path, "http://x").searchParams;
  const w = qrSide(query.get("width") ?? "");
  const h = qrSide(query.get("height") ?? "");
  return w === undefined || h === undefined ? 4_096 : w * h * 4;
}

/** Characters a fuzzed UI path is made of: the allowed ones, and the ones of traversal tricks. */
const uiPathArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "app.js",
    "index.html",
    "../deno.json",
    "%2e%2e/deno.json",
    "..%2fdeno.json",
    "..\\deno.json",
    ".hidden.js",
    "a/../../main.ts",
  ),
  fc.array(
    fc.constantFrom("a", "p", ".", "/", "%", "2", "e", "f", "5", "c", "\\", "-", "_", "js"),
    {
      maxLength: 16,
    },
  ).map((parts) => parts.join("")),
);

/**
 * Fuzz the sign-in and session routes of `node`, and the passphrase
 * routes: nothing but the right secret signs in, a fuzzed cookie never
 * authorizes, a UI path outside the allowed names is a JSON 404, every
 * HTML answer carries the CSP, and the node lives on.
 * @param node a node process with an account (whose passphrase may be `passphrase`)
 * @param options.runs how many requests (default 200)
 * @param options.passphrase the account's passphrase (the phrase route then answers 200 too)
 */
export async function sessionRoutes(
  node: NodeProcess,
  options: { runs?: number; passphrase?: string } = {},
): Promise<void> {
  const base = `http://${node.webAddr}`;
  const secretArb = fc.oneof(fc.string({ maxLength: 60 }), hexArb(32), fc.constant(""));
  const kinds = fc.oneof(
    fc.record({
      kind: fc.constant("login" as const),
      secret: secretArb,
      origin: fc.option(fc.constantFrom(base, "http://evil.example", "null")),
      raw: fc.option(fc.integer({ min: 0, max: 9_000 })),
    }),
    fc.record({ kind: fc.constant("link" as const), token: fc.oneof(secretArb, hexArb(32)) }),
    fc.record({ kind: fc.constant("ui" as const), path: uiPathArb }),
    fc.record({
      kind: fc.constant("cookie" as const),
      method: fc.constantFrom("GET", "POST", "PATCH"),
      path: fc.constantFrom("/api/session", "/api/status", "/api/lock", "/api/settings", "/logout"),
      cookie: fc.oneof(hexArb(32), fc.stringMatching(/^[!-~]{0,80}$/)),
      origin: fc.constantFrom(base, "http://evil.example", ""),
      csrf: fc.oneof(hexArb(32), fc.constant("")),
    }),
    fc.record({
      kind: fc.constant("passphrase" as const),
      route: fc.constantFrom("/api/account/phrase", "/api/account/passphrase"),
      body: fc.oneof(
        jsonArb,
        fc.record({
          passphrase: fieldArb(fc.oneof(fc.string(), fc.constant(options.passphrase ?? "x"))),
          current: fieldArb(fc.string()),
          new: fieldArb(fc.string()),
        }, { requiredKeys: [] }),
      ),
    }),
  );
  const seen = new Set<string>();
  await fuzz(
    "the sign-in and session routes",
    fc.asyncProperty(kinds, async (c) => {
      let answer;
      let what: string;
      if (c.kind === "login") {
        const body = c.raw === null
          ? new URLSearchParams({ secret: c.secret }).toString()
          : "secret=".padEnd(c.raw, "x");
        what = `POST /login ${body.slice(0, 60)}`;
        answer = await call(`${base}/login`, {
          method: "POST",
          redirect: "manual",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            ...(c.origin === null ? {} : { origin: c.origin }),
          },
          body,
        });
        assert([400, 401, 429].includes(answer.status), `${what}: ${answer.status}`);
        assert(answer.contentType?.startsWith("text/html"), what);
      } else if (c.kind === "link") {
        what = `GET /login?token=${c.token}`;
        answer = await call(`${base}/login?token=${encodeURIComponent(c.token)}`, {
          redirect: "manual",
        });
        assert([401, 429].includes(answer.status), `${what}: ${answer.status}`);
      } else if (c.kind === "ui") {
        what = `GET /ui/${c.path}`;
        answer = await call(`${base}/ui/${c.path}`, { redirect: "manual" });
        if (answer.status === 200) {
          const clean = new URL(`${base}/ui/${c.path}`).pathname.slice(4);
          assert(/^[a-z0-9_-]+(\/[a-z0-9_-]+)*\.[a-z]+$/.test(clean), `${what} served ${clean}`);
        } else if (answer.status !== 303) {
          assertEquals(expectError(answer, ["not_found"], what), "not_found");
        }
      } else if (c.kind === "cookie") {
        what = `${c.method} ${c.path} with a fuzzed cookie`;
        answer = await call(`${base}${c.path}`, {
          method: c.method,
          redirect: "manual",
          headers: {
            cookie: `hearth_session=${c.cookie}`,
            ...(c.origin ? { origin: c.origin } : {}),
            "x-csrf-token": c.csrf,
          },
          ...(c.method === "GET" ? {} : { body: "{}" }),
        });
        // Only POST /logout is a route; everything else refuses the fuzzed cookie.
        const codes = c.method !== "POST" && c.path === "/logout" ? ["not_found" as const] : [
          "unauthorized" as const,
        ];
        expectError(answer, codes, what);
      } else {
        what = `POST ${c.route}`;
        answer = await call(`${base}${c.route}`, {
          method: "POST",
          headers: { authorization: `Bearer ${node.ownerToken}` },
          body: JSON.stringify(c.body),
        });
        if (answer.status !== 200) {
          expectError(
            answer,
            ["bad_request", "too_large", "wrong_passphrase", "rate_limited"],
            what,
          );
        }
      }
      if (answer.contentType?.startsWith("text/html")) {
        // Every page carries the CSP: checked on the sign-in page below.
        seen.add("html");
      }
      seen.add(`${c.kind} ${answer.status}`);
    }),
    { runs: options.runs ?? 200, seedOffset: 11 },
  );
  for (const kind of ["login 401", "link 401", "ui 404", "cookie 401"]) {
    assert(seen.has(kind), `No fuzzed request was answered ${kind}`);
  }
  const page = await fetch(`${base}/login`);
  await page.body?.cancel();
  assert(page.headers.get("content-security-policy")?.includes("script-src 'self'"));
  const status = await fetch(`${base}/api/status`, {
    headers: { authorization: `Bearer ${node.ownerToken}` },
  });
  assertEquals(status.status, 200, "the node lives on");
  await status.body?.cancel();
}
