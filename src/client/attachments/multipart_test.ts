/**
 * The streaming multipart reader: parts and bodies come out whole however
 * the bytes are split (at every offset, so the delimiter itself is cut in
 * two), a body that contains near-delimiters stays intact, and malformed
 * bodies (bad headers, a cut-short body, oversized headers, a bad boundary)
 * are `bad_request`.
 */
import { assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, utf8 } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  boundaryOf,
  MAX_PART_HEADER_BYTES,
  MultipartReader,
  type PartHeaders,
} from "./multipart.ts";

const B = "----hearthBoundary7MA4YWxkTrZu0gW";

/** A stream handing out `bytes` in pieces of the given sizes (cycled). */
function streamOf(bytes: Uint8Array, sizes: number[] = [bytes.length]): ReadableStream<Uint8Array> {
  let at = 0;
  let n = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const size = Math.max(1, sizes[n++ % sizes.length]!);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function body(parts: { headers: string; data: Uint8Array }[], options: { preamble?: string } = {}) {
  const pieces: Uint8Array[] = [];
  if (options.preamble) pieces.push(utf8(options.preamble + "\r\n"));
  for (const p of parts) pieces.push(utf8(`--${B}\r\n${p.headers}\r\n\r\n`), p.data, utf8("\r\n"));
  pieces.push(utf8(`--${B}--\r\nepilogue`));
  return concatBytes(...pieces);
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<{ headers: PartHeaders; data: Uint8Array }[]> {
  const reader = new MultipartReader(stream, B);
  const out: { headers: PartHeaders; data: Uint8Array }[] = [];
  for (let h = await reader.nextPart(); h; h = await reader.nextPart()) {
    const pieces: Uint8Array[] = [];
    for (let p = await reader.read(); p; p = await reader.read()) pieces.push(p);
    out.push({ headers: h, data: concatBytes(...pieces) });
  }
  return out;
}

Deno.test("the boundary comes from a multipart/form-data Content-Type", () => {
  assertEquals(boundaryOf(`multipart/form-data; boundary=${B}`), B);
  assertEquals(boundaryOf(`Multipart/Form-Data;charset=utf-8; boundary="a b:c"`), "a b:c");
  for (
    const bad of [
      null,
      "",
      "application/json",
      "multipart/form-data",
      "multipart/mixed; boundary=x",
      `multipart/form-data; boundary=${"x".repeat(71)}`,
      "multipart/form-data; boundary=a\u0000b",
      'multipart/form-data; boundary=""',
    ]
  ) {
    assertThrows(() => boundaryOf(bad), HearthError);
  }
});

Deno.test("parts come out whole wherever the bytes are split", async () => {
  // The file holds near-delimiters: CR LF, "--", and the boundary without its CR LF.
  const file = concatBytes(
    randomBytes(300),
    utf8(`\r\n--${B.slice(0, 10)}\r\n-${B}--`),
    randomBytes(200),
  );
  const bytes = body([
    { headers: 'Content-Disposition: form-data; name="voice"', data: utf8("true") },
    {
      headers: 'Content-Disposition: form-data; name="file"; filename="a %22b%22\\c.png"\r\n' +
        "Content-Type: Image/PNG; x=y",
      data: file,
    },
    { headers: 'Content-Disposition: form-data; name="empty"', data: new Uint8Array(0) },
  ], { preamble: "ignored preamble" });
  const expected = [
    { headers: { name: "voice" }, data: utf8("true") },
    { headers: { name: "file", filename: 'a "b"\\c.png', type: "image/png" }, data: file },
    { headers: { name: "empty" }, data: new Uint8Array(0) },
  ];
  assertEquals(await readAll(streamOf(bytes)), expected);
  for (let split = 1; split < bytes.length; split += 7) {
    assertEquals(await readAll(streamOf(bytes, [split, bytes.length])), expected, `split ${split}`);
  }
  for (const sizes of [[1], [2, 3], [5, 1, 64], [37]]) {
    assertEquals(await readAll(streamOf(bytes, sizes)), expected);
  }
});

Deno.test("a part not read is skipped", async () => {
  const bytes = body([
    { headers: 'Content-Disposition: form-data; name="a"', data: randomBytes(5000) },
    { headers: 'Content-Disposition: form-data; name="b"', data: utf8("x") },
  ]);
  const reader = new MultipartReader(streamOf(bytes, [100]), B);
  assertEquals((await reader.nextPart())?.name, "a");
  assertEquals((await reader.nextPart())?.name, "b");
  assertEquals(await reader.read(), utf8("x"));
  assertEquals(await reader.read(), null);
  assertEquals(await reader.nextPart(), null);
  assertEquals(await reader.nextPart(), null);
});

Deno.test("malformed bodies are bad_request", async () => {
  const ok = 'Content-Disposition: form-data; name="file"';
  const cases: Uint8Array[] = [
    // Cut short: no closing delimiter, inside a body, inside headers.
    utf8(`--${B}\r\n${ok}\r\n\r\nabc`),
    utf8(`--${B}\r\n${ok}\r\n`),
    utf8(""),
    // No Content-Disposition, not form-data, no name, a header without a colon, folding.
    body([{ headers: "Content-Type: text/plain", data: utf8("x") }]),
    body([{ headers: 'Content-Disposition: attachment; name="a"', data: utf8("x") }]),
    body([{ headers: "Content-Disposition: form-data; filename=a", data: utf8("x") }]),
    body([{ headers: `${ok}\r\nno colon here`, data: utf8("x") }]),
    body([{ headers: `${ok}\r\n folded`, data: utf8("x") }]),
    body([{ headers: 'Content-Disposition: form-data; name="a', data: utf8("x") }]),
    body([{ headers: 'Content-Disposition: form-data; name="a"; name="b"', data: utf8("x") }]),
    body([{ headers: `${ok}\r\n${ok}`, data: utf8("x") }]),
    // Headers that are not UTF-8, or too large.
    concatBytes(
      utf8(`--${B}\r\n${ok}; filename="`),
      new Uint8Array([0xff]),
      utf8(`"\r\n\r\nx\r\n--${B}--`),
    ),
    body([{ headers: `${ok}\r\nX-Pad: ${"p".repeat(MAX_PART_HEADER_BYTES)}`, data: utf8("x") }]),
    // Junk after a delimiter.
    utf8(`--${B}junk\r\n${ok}\r\n\r\nx\r\n--${B}--`),
  ];
  for (const [i, bytes] of cases.entries()) {
    const err = await assertRejects(() => readAll(streamOf(bytes, [16])), HearthError);
    assertEquals(err.code, "bad_request", `case ${i}: ${err.message}`);
  }
});

Deno.test("a body that stalls is refused after the idle time", async () => {
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(utf8(`--${B}\r\n`));
    },
  });
  const reader = new MultipartReader(stalled, B, { idleMs: 50 });
  const err = await assertRejects(() => reader.nextPart(), HearthError);
  assertEquals(err.code, "bad_request");
});

Deno.test("an error of the body stream comes through as it is", async () => {
  const failing = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new HearthError("too_large", "Body is too large"));
    },
  });
  const err = await assertRejects(() => new MultipartReader(failing, B).nextPart(), HearthError);
  assertEquals(err.code, "too_large");
});
