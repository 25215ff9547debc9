/**
 * The owner API's file routes over a real messenger (real encrypted client
 * database, no network): multipart uploads, read as a stream and bounded as
 * bytes arrive; serving files with safe headers; thumbnails; files in Note
 * to Self messages and in a peer's incoming message; removal with the
 * message. Every bad input gets its code, never a 500.
 */
import type { Hono } from "hono";
import { assert, assertEquals } from "../../tests/assert.ts";
import { formatAccountId, parseAccountId } from "../client/account/mod.ts";
import { TEST_KDF } from "../client/db/_test_helpers.ts";
import { Messenger } from "../client/messenger.ts";
import { encodeContent, newMessageId } from "../client/messages/content.ts";
import { sealEnvelope } from "../client/messages/envelope.ts";
import { testAccount } from "../client/messages/test_keys.ts";
import { buf, concatBytes, randomBytes, sha256, toHex, utf8 } from "../shared/crypto/mod.ts";
import { contentDisposition, servedType } from "./attachment_routes.ts";
import { ownerRequest, quietLog, TEST_HOST, TEST_PASSPHRASE, TEST_TOKEN } from "./test_web_app.ts";
import { allowedHostsFor } from "./auth.ts";
import { webApp } from "./web_app.ts";

const MAX = 300_000;
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const B = "hearthTestBoundary";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

type Part = { name: string; filename?: string; type?: string; data: Uint8Array | string };

function multipart(parts: Part[]): Uint8Array {
  const pieces: Uint8Array[] = [];
  for (const p of parts) {
    let h = `--${B}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) h += `; filename="${p.filename}"`;
    if (p.type) h += `\r\nContent-Type: ${p.type}`;
    pieces.push(
      utf8(`${h}\r\n\r\n`),
      typeof p.data === "string" ? utf8(p.data) : p.data,
      utf8("\r\n"),
    );
  }
  pieces.push(utf8(`--${B}--\r\n`));
  return concatBytes(...pieces);
}

/** A body sent in pieces with no Content-Length (as a chunked upload). */
function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + 50_000));
      at += 50_000;
    },
  });
}

interface Harness {
  app: Hono;
  messenger: Messenger;
  upload(
    parts: Part[],
    options?: { stream?: boolean; headers?: Record<string, string> },
  ): Promise<Response>;
  json(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }>;
}

async function withFiles(fn: (h: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-files-" });
  const messenger = await Messenger.open(dir, { kdfParams: TEST_KDF, maxFileBytes: MAX });
  const app = webApp({
    messenger,
    token: TEST_TOKEN,
    nodeStatus: () => ({ id: "ab".repeat(32), reachable: true, directorySize: 1 }),
    hosts: () => allowedHostsFor({ host: "127.0.0.1", port: 7080 }),
    log: quietLog,
  });
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await ownerRequest(app, method, path, {
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text.startsWith("{") ? JSON.parse(text) : text };
  };
  try {
    assertEquals(
      (await json("POST", "/api/account", { passphrase: TEST_PASSPHRASE })).status,
      201,
    );
    await fn({
      app,
      messenger,
      json,
      upload: async (parts, options = {}) => {
        const bytes = multipart(parts);
        return await app.request(`http://${TEST_HOST}/api/attachments`, {
          method: "POST",
          headers: {
            host: TEST_HOST,
            authorization: `Bearer ${TEST_TOKEN}`,
            "content-type": `multipart/form-data; boundary=${B}`,
            ...options.headers,
          },
          body: options.stream ? chunked(bytes) : buf(bytes),
        });
      },
    });
  } finally {
    await messenger.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function created(res: Response): Promise<Json> {
  const body = await res.json();
  assertEquals([res.status, body.error], [201, undefined], JSON.stringify(body));
  return body;
}

Deno.test("an upload is stored and served back with safe headers", async () => {
  await withFiles(async (h) => {
    const file = randomBytes(200_000);
    const view = await created(
      await h.upload([
        { name: "thumbnail", type: "image/png", data: PNG },
        { name: "file", filename: "C:\\photos\\été %221%22.png", type: "image/png", data: file },
        { name: "durationMs", data: "1500" },
      ], { stream: true }),
    );
    assertEquals(
      [view.name, view.size, view.type, view.hasThumbnail, view.durationMs, view.voice],
      ['été "1".png', file.length, "image/png", true, 1500, false],
    );
    assert(/^[0-9a-f]{32}$/.test(view.id));
    const res = await ownerRequest(h.app, "GET", `/api/attachments/${view.id}`);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "image/png");
    assertEquals(res.headers.get("content-length"), String(file.length));
    assertEquals(res.headers.get("x-content-type-options"), "nosniff");
    assertEquals(res.headers.get("cache-control"), "no-store");
    assertEquals(
      res.headers.get("content-disposition"),
      `attachment; filename="_t_ _1_.png"; filename*=UTF-8''%C3%A9t%C3%A9%20%221%22.png`,
    );
    assertEquals(sha256(new Uint8Array(await res.arrayBuffer())), sha256(file));
    const thumb = await ownerRequest(h.app, "GET", `/api/attachments/${view.id}/thumbnail`);
    assertEquals([thumb.status, thumb.headers.get("content-type")], [200, "image/png"]);
    assertEquals(new Uint8Array(await thumb.arrayBuffer()), PNG);
    // Anything not on the safe list is served as bytes.
    const html = await created(
      await h.upload([{ name: "file", filename: "x.html", type: "text/html", data: "<script>" }]),
    );
    const served = await ownerRequest(h.app, "GET", `/api/attachments/${html.id}`);
    assertEquals(served.headers.get("content-type"), "application/octet-stream");
    assertEquals(await served.text(), "<script>");
    const none = await ownerRequest(h.app, "GET", `/api/attachments/${html.id}/thumbnail`);
    assertEquals(none.status, 404);
    await none.body?.cancel();
    // An empty file, and one with no type.
    const empty = await created(await h.upload([{ name: "file", filename: "e", data: "" }]));
    assertEquals([empty.size, empty.type], [0, "application/octet-stream"]);
    const got = await ownerRequest(h.app, "GET", `/api/attachments/${empty.id}`);
    assertEquals((await got.arrayBuffer()).byteLength, 0);
  });
});

Deno.test("bad uploads get their codes and keep nothing", async () => {
  await withFiles(async (h) => {
    const file = { name: "file", filename: "a.bin", data: "abc" };
    const cases: [Part[], number, string, Record<string, string>?][] = [
      [[{ name: "voice", data: "true" }], 400, "bad_request"],
      [[file, file], 400, "bad_request"],
      [[file, { name: "other", data: "x" }], 400, "bad_request"],
      [[file, { name: "voice", data: "yes" }], 400, "bad_request"],
      [[{ ...file, type: "audio/ogg" }, { name: "durationMs", data: "-1" }], 400, "bad_request"],
      [[file, { name: "voice", data: "true" }], 400, "bad_request"],
      [[file, { name: "thumbnail", data: "not an image" }], 400, "bad_request"],
      [
        [file, { name: "thumbnail", data: concatBytes(PNG, new Uint8Array(9000)) }],
        413,
        "too_large",
      ],
      [[{ ...file, filename: "bad\u202egpj.exe" }], 400, "bad_request"],
      [[{ ...file, data: new Uint8Array(MAX + 1) }], 413, "too_large"],
      [[file], 400, "bad_request", { "content-type": "application/json" }],
      [[file], 400, "bad_request", { "content-type": "multipart/form-data" }],
      [[file], 413, "too_large", { "content-length": String(MAX + 1_000_000) }],
      [[file], 400, "bad_request", { "content-length": "12abc" }],
    ];
    for (const [parts, status, code, headers] of cases) {
      const res = await h.upload(parts, { ...(headers ? { headers } : {}) });
      const body = await res.json();
      assertEquals(
        [res.status, body.error],
        [status, code],
        JSON.stringify([parts.map((p) => p.name), body]),
      );
    }
    // Streamed past the limit with no Content-Length: refused as the bytes arrive.
    const over = await h.upload([{ ...file, data: new Uint8Array(MAX + 100_000) }], {
      stream: true,
    });
    assertEquals([over.status, (await over.json()).error], [413, "too_large"]);
    // A file cut short.
    const cut = await h.app.request(`http://${TEST_HOST}/api/attachments`, {
      method: "POST",
      headers: {
        host: TEST_HOST,
        authorization: `Bearer ${TEST_TOKEN}`,
        "content-type": `multipart/form-data; boundary=${B}`,
      },
      body: buf(multipart([file]).slice(0, 80)),
    });
    assertEquals([cut.status, (await cut.json()).error], [400, "bad_request"]);
    for (const path of ["/api/attachments/nope", `/api/attachments/${"0".repeat(32)}`]) {
      const res = await h.json("GET", path);
      assertEquals(res.status, path.endsWith("nope") ? 400 : 404);
    }
    assertEquals((await h.json("POST", `/api/attachments/${"0".repeat(32)}/download`)).status, 404);
    // Nothing of the refused uploads was kept.
    assertEquals(await h.messenger.chat().attachments().viewsFor("x"), []);
  });
});

Deno.test("files ride in Note to Self and in a peer's message, and go with them", async () => {
  await withFiles(async (h) => {
    const audio = randomBytes(70_000);
    const clip = await created(
      await h.upload([
        { name: "file", filename: "clip.webm", type: "audio/webm", data: audio },
        { name: "voice", data: "true" },
        { name: "durationMs", data: "4200" },
      ]),
    );
    const doc = await created(await h.upload([{ name: "file", filename: "doc.txt", data: "x" }]));
    // voice needs one audio file; text may be absent with files.
    const badVoice = await h.json("POST", "/api/messages", {
      to: "self",
      attachments: [doc.id],
      voice: true,
    });
    assertEquals([badVoice.status, badVoice.json.error], [400, "bad_request"]);
    for (const attachments of [["nope"], [doc.id, doc.id], Array(11).fill(doc.id), "x"]) {
      const res = await h.json("POST", "/api/messages", { to: "self", attachments });
      assert(res.status === 400 || res.status === 413, JSON.stringify(res.json));
    }
    const noText = await h.json("POST", "/api/messages", { to: "self" });
    assertEquals(noText.status, 400);
    const note = await h.json("POST", "/api/messages", {
      to: "self",
      attachments: [clip.id],
      voice: true,
    });
    assertEquals(note.status, 201, JSON.stringify(note.json));
    assertEquals(note.json.text, "");
    assertEquals((note.json.attachments as Json[]).map((a) => [a.id, a.voice, a.durationMs]), [
      [clip.id, true, 4200],
    ]);
    // A file goes out once.
    const again = await h.json("POST", "/api/messages", { to: "self", attachments: [clip.id] });
    assertEquals([again.status, again.json.error], [409, "conflict"]);
    const listed = await h.json("GET", "/api/conversations/self/messages");
    assertEquals(listed.json.messages[0].attachments[0].id, clip.id);
    // A group that does not exist (or no group service yet) is never a 500 nor a 201.
    const group = await h.json("POST", "/api/messages", {
      to: "hearthg1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
      text: "hi",
    });
    assert(group.status >= 400 && group.status < 500, JSON.stringify(group));

    // A peer's message with a file: recorded as remote with its thumbnail.
    const bob = await testAccount();
    const me = h.messenger.account().accountId;
    const id = newMessageId();
    const content = encodeContent({
      type: "text",
      id,
      text: "",
      attachments: [{
        key: randomBytes(32),
        index: [toHex(randomBytes(32))],
        name: "cat.png",
        size: 1234,
        type: "image/png",
        thumbnail: PNG,
      }],
    });
    const data = await sealEnvelope(content, bob, parseAccountId(me));
    await h.messenger.chat().receive([{ hash: toHex(randomBytes(32)), expiry: 0, data }]);
    const fromBob = await h.json(
      "GET",
      `/api/conversations/${formatAccountId(bob.signing.publicKey)}/messages`,
    );
    const file = fromBob.json.messages[0].attachments[0];
    assertEquals([file.name, file.state, file.size, file.hasThumbnail, file.done], [
      "cat.png",
      "remote",
      1234,
      true,
      0,
    ]);
    const thumb = await ownerRequest(h.app, "GET", `/api/attachments/${file.id}/thumbnail`);
    assertEquals(new Uint8Array(await thumb.arrayBuffer()), PNG);
    // No network here: fetching it cannot work, and says so.
    const fetched = await h.json("GET", `/api/attachments/${file.id}`);
    assert(fetched.status === 503 || fetched.status === 502, JSON.stringify(fetched));

    // Deleting a message for me removes its files.
    assertEquals((await h.json("DELETE", `/api/messages/${note.json.id}`)).status, 200);
    assertEquals((await h.json("GET", `/api/attachments/${clip.id}`)).status, 404);
    assertEquals((await h.json("DELETE", `/api/messages/${id}`)).status, 200);
    assertEquals((await h.json("GET", `/api/attachments/${file.id}/thumbnail`)).status, 404);
  });
});

Deno.test("Content-Disposition encodes any name, and only safe types are served as themselves", () => {
  assertEquals(contentDisposition("a.txt"), `attachment; filename="a.txt"; filename*=UTF-8''a.txt`);
  assertEquals(
    contentDisposition("x'(*)%;\\.txt"),
    `attachment; filename="x'(*)_;_.txt"; filename*=UTF-8''x%27%28%2A%29%25%3B%5C.txt`,
  );
  assertEquals(
    contentDisposition("😀"),
    `attachment; filename="__"; filename*=UTF-8''%F0%9F%98%80`,
  );
  assertEquals(servedType("image/svg+xml"), "application/octet-stream");
  assertEquals(servedType("text/html"), "application/octet-stream");
  assertEquals(servedType("image/png"), "image/png");
});
