import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import { HearthError } from "../../shared/errors.ts";
import { readBody, readJson } from "./body.ts";

function streamOf(chunks: number[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const n of chunks) c.enqueue(new Uint8Array(n));
      c.close();
    },
  });
}

Deno.test("readBody refuses a declared length over the limit before reading", async () => {
  const req = new Request("http://x/", {
    method: "POST",
    body: "x".repeat(10),
    headers: { "content-length": "1000000" },
  });
  const err = await assertRejects(() => readBody(req, 100), HearthError);
  assertEquals(err.code, "too_large");
});

Deno.test("readBody counts streamed bytes when no length is declared", async () => {
  const req = new Request("http://x/", { method: "POST", body: streamOf([60, 60]) });
  const err = await assertRejects(() => readBody(req, 100), HearthError);
  assertEquals(err.code, "too_large");
  const ok = new Request("http://x/", { method: "POST", body: streamOf([30, 30]) });
  assertEquals((await readBody(ok, 100)).length, 60);
});

Deno.test("readJson refuses non-JSON and invalid UTF-8 with bad_request", async () => {
  for (const body of [new Uint8Array([0xff, 0xfe]), new TextEncoder().encode("{nope")]) {
    const err = await assertRejects(
      () => readJson(new Request("http://x/", { method: "POST", body }), 100),
      HearthError,
    );
    assertEquals(err.code, "bad_request");
  }
});

Deno.test("readBody gives up on a body that never finishes", async () => {
  let pull = 0;
  const stalled = new ReadableStream<Uint8Array>({
    pull(c) {
      // One chunk, then nothing: the client stalls.
      if (pull++ === 0) c.enqueue(new Uint8Array(10));
      return new Promise(() => {});
    },
  });
  const req = new Request("http://x/", { method: "POST", body: stalled });
  const err = await assertRejects(() => readBody(req, 100, { timeoutMs: 50 }), HearthError);
  assertEquals(err.code, "bad_request");
});
