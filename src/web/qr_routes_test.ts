// POST /api/qr/decode through the whole web app (owner gate included), with
// real QR images: `encodeQR(text, "raw")` from @paulmillr/qr (the module
// grid) drawn as RGBA pixels with a 4-module quiet zone, read back by the
// node's decoder in its worker. The decoder's time limit is checked with an
// image it cannot finish (a page of tiny finder-like squares: minutes of
// work without the limit).
import { encodeQR } from "@paulmillr/qr";
import type { Hono } from "hono";
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { formatAccountId, parseAccountId } from "../client/account/mod.ts";
import { accountIdQrText } from "../client/account/qr.ts";
import { fromHex, randomBytes, signingKeyPairFromSeed } from "../shared/crypto/mod.ts";
import { HearthError } from "../shared/errors.ts";
import { QrDecoder, type QrPixels } from "./qr_decoder.ts";
import { TEST_HOST, TEST_TOKEN, withWebApp } from "./test_web_app.ts";

/** RFC 8032 §7.1 TEST 1–2 secret keys, as account seeds. */
const FIXED_SEEDS = [
  "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
];

/**
 * A QR code of `text` as an RGBA image: black modules on white, `scale`
 * pixels per module, a 4-module quiet zone, and `pad` more white pixels
 * to the right and below (a non-square image).
 */
function qrImage(text: string, options: { scale: number; pad?: number }): QrPixels {
  const grid = encodeQR(text, "raw", { ecc: "medium", border: 0 });
  const quiet = 4 * options.scale;
  const side = grid.length * options.scale + 2 * quiet;
  const width = side + (options.pad ?? 0);
  const height = side + Math.floor((options.pad ?? 0) / 2);
  const data = new Uint8Array(width * height * 4).fill(255);
  for (let y = 0; y < grid.length * options.scale; y++) {
    for (let x = 0; x < grid.length * options.scale; x++) {
      if (!grid[Math.floor(y / options.scale)]![Math.floor(x / options.scale)]) continue;
      const at = ((quiet + y) * width + quiet + x) * 4;
      data[at] = data[at + 1] = data[at + 2] = 0;
    }
  }
  return { width, height, data };
}

/** Random RGBA pixels. */
function noise(width: number, height: number): QrPixels {
  const data = new Uint8Array(width * height * 4);
  for (let at = 0; at < data.length; at += 65_536) {
    crypto.getRandomValues(data.subarray(at, at + 65_536));
  }
  return { width, height, data };
}

/**
 * An image the decoder cannot finish in minutes: rows of 7×7-pixel finder
 * patterns (dark ring, light ring, dark 3×3 core), 9 pixels apart.
 */
function finderCarpet(side: number): QrPixels {
  const data = new Uint8Array(side * side * 4).fill(255);
  for (let top = 0; top + 7 <= side; top += 9) {
    for (let left = 0; left + 7 <= side; left += 9) {
      for (let y = 0; y < 7; y++) {
        for (let x = 0; x < 7; x++) {
          const ring = y === 0 || y === 6 || x === 0 || x === 6;
          const core = y >= 2 && y <= 4 && x >= 2 && x <= 4;
          if (!ring && !core) continue;
          const at = ((top + y) * side + left + x) * 4;
          data[at] = data[at + 1] = data[at + 2] = 0;
        }
      }
    }
  }
  return { width: side, height: side, data };
}

/** POST pixels (or any body) to the route as the owner. */
async function post(
  app: Hono,
  query: string,
  body: Uint8Array | string,
  headers: Record<string, string> = { "content-type": "application/octet-stream" },
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await app.request(`http://${TEST_HOST}/api/qr/decode${query}`, {
    method: "POST",
    headers: { host: TEST_HOST, authorization: `Bearer ${TEST_TOKEN}`, ...headers },
    body: typeof body === "string" ? body : body.slice().buffer,
  });
  assertEquals(res.headers.get("cache-control"), "no-store");
  return { status: res.status, json: await res.json() };
}

/** POST an image as the UI does. */
function postImage(app: Hono, image: QrPixels) {
  return post(app, `?width=${image.width}&height=${image.height}`, image.data);
}

Deno.test("a QR code of an Account ID decodes back to the ID", async () => {
  const ids: string[] = [];
  for (const seed of FIXED_SEEDS) {
    ids.push(formatAccountId((await signingKeyPairFromSeed(fromHex(seed))).publicKey));
  }
  for (let i = 0; i < 3; i++) {
    ids.push(formatAccountId((await signingKeyPairFromSeed(randomBytes(32))).publicKey));
  }
  await withWebApp(async ({ app }) => {
    for (const [i, id] of ids.entries()) {
      // The upper-case text of the Settings code, and the lower-case ID as typed.
      const text = i % 2 === 0 ? accountIdQrText(id) : id;
      const image = qrImage(text, { scale: 3 + i, pad: 40 * i });
      const answer = await postImage(app, image);
      assertEquals(answer.status, 200, `${id} at scale ${3 + i}: ${JSON.stringify(answer.json)}`);
      assertEquals(answer.json, { text });
      assertEquals(parseAccountId(answer.json.text as string), parseAccountId(id));
    }
    // Any text: the node decodes, the UI judges what it holds.
    const other = await postImage(app, qrImage("https://example.org/?q=1", { scale: 5 }));
    assertEquals(other.json, { text: "https://example.org/?q=1" });
  });
});

Deno.test("an image without a QR code is 404 not_found", async () => {
  await withWebApp(async ({ app }) => {
    for (const [w, h] of [[16, 16], [640, 480], [1024, 1024]] as const) {
      const answer = await postImage(app, noise(w, h));
      assertEquals([answer.status, answer.json.error], [404, "not_found"], `${w}×${h}`);
    }
    const white = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 4).fill(255) };
    assertEquals((await postImage(app, white)).json.error, "not_found");
  });
});

Deno.test("wrong sizes, parameters and types are refused before decoding", async () => {
  await withWebApp(async ({ app }) => {
    const pixels = new Uint8Array(32 * 32 * 4);
    const refused = async (
      query: string,
      body: Uint8Array | string,
      status: number,
      code: string,
    ) => {
      const answer = await post(app, query, body);
      assertEquals([answer.status, answer.json.error], [status, code], query);
      assert(typeof answer.json.message === "string");
    };
    for (
      const query of [
        "",
        "?width=32",
        "?height=32",
        "?width=15&height=32",
        "?width=32&height=1025",
        "?width=0&height=32",
        "?width=-32&height=32",
        "?width=32.0&height=32",
        "?width=0x20&height=32",
        "?width=%2032&height=32",
        "?width=32&height=abc",
        "?width=99999&height=32",
      ]
    ) await refused(query, pixels, 400, "bad_request");
    await refused("?width=32&height=32", pixels.subarray(1), 400, "bad_request");
    await refused("?width=32&height=32", new Uint8Array(0), 400, "bad_request");
    await refused("?width=32&height=32", new Uint8Array(pixels.length + 1), 413, "too_large");
    await refused("?width=1024&height=1024", new Uint8Array(4 * 1024 * 1024 + 4), 413, "too_large");
    for (const type of ["", "application/json", "image/png", "text/plain"]) {
      const answer = await post(
        app,
        "?width=32&height=32",
        pixels,
        type ? { "content-type": type } : {},
      );
      assertEquals([answer.status, answer.json.error], [400, "bad_request"], `type ${type}`);
    }
    // The owner gate comes first.
    const res = await app.request(`http://${TEST_HOST}/api/qr/decode?width=32&height=32`, {
      method: "POST",
      headers: { host: TEST_HOST, "content-type": "application/octet-stream" },
      body: pixels,
    });
    assertEquals([res.status, (await res.json()).error], [401, "unauthorized"]);
  });
});

Deno.test("a decode that runs too long is ended; one image at a time", async () => {
  const decoder = new QrDecoder({ limitMs: 500 });
  const started = Date.now();
  const slow = decoder.decode(finderCarpet(640));
  // While it runs, another image is refused, not queued.
  const busy = await assertRejects(() => decoder.decode(noise(64, 64)), HearthError);
  assertEquals(busy.code, "rate_limited");
  assertEquals(await slow, { found: false, timedOut: true });
  assert(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`);
  // The next image gets a fresh worker and decodes.
  const text = accountIdQrText(
    formatAccountId((await signingKeyPairFromSeed(fromHex(FIXED_SEEDS[0]!))).publicKey),
  );
  assertEquals(await decoder.decode(qrImage(text, { scale: 4 })), { found: true, text });
});

Deno.test("through the route, the endless image answers not_found within the limit", async () => {
  await withWebApp(async ({ app }) => {
    const started = Date.now();
    const answer = await postImage(app, finderCarpet(640));
    assertEquals([answer.status, answer.json.error], [404, "not_found"]);
    assert(Date.now() - started < 30_000, `answered after ${Date.now() - started} ms`);
  });
});

Deno.test("with a session cookie, the route needs Origin and the CSRF token like any write", async () => {
  await withWebApp(async ({ app }) => {
    const base = `http://${TEST_HOST}`;
    const login = await app.request(`${base}/login`, {
      method: "POST",
      headers: {
        host: TEST_HOST,
        origin: base,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ secret: TEST_TOKEN }).toString(),
    });
    assertEquals(login.status, 303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const session = await app.request(`${base}/api/session`, {
      headers: { host: TEST_HOST, cookie },
    });
    const csrf = (await session.json()).csrfToken as string;
    const image = noise(32, 32);
    const send = (headers: Record<string, string>) =>
      app.request(`${base}/api/qr/decode?width=32&height=32`, {
        method: "POST",
        headers: {
          host: TEST_HOST,
          cookie,
          "content-type": "application/octet-stream",
          ...headers,
        },
        body: image.data.slice(),
      });
    const partial: Record<string, string>[] = [{}, { origin: base }, { "x-csrf-token": csrf }];
    for (const headers of partial) {
      const res = await send(headers);
      assertEquals([res.status, (await res.json()).error], [401, "unauthorized"]);
    }
    const res = await send({ origin: base, "x-csrf-token": csrf });
    assertEquals([res.status, (await res.json()).error], [404, "not_found"]);
  });
});

Deno.test("a worker that cannot start is 503 unavailable, and the decoder stays usable", async () => {
  // A worker module that fails as it loads, as a missing one does.
  const broken = "data:text/javascript,throw new Error('no decoder here')";
  const decoder = new QrDecoder({ workerUrl: broken });
  for (let i = 0; i < 2; i++) {
    const err = await assertRejects(() => decoder.decode(noise(32, 32)), HearthError);
    assertEquals(err.code, "unavailable");
  }
});
