/**
 * File manifests in message content: a text with files round-trips
 * through encodeContent/parseContent (text optional with files), and every
 * field is checked strictly; the writer keeps nothing of a file over the
 * limit; thumbnails are dropped, last first, when content would not fit.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { randomBytes, toBase64, toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  contentFromJson,
  encodeContent,
  type MessageContent,
  newMessageId,
  parseContent,
} from "../messages/content.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import { type AttachmentRef, checkFileName, checkMediaType } from "./attachment_ref.ts";
import { AttachmentWriter } from "./attachment_writer.ts";
import { CHUNK_BYTES } from "./chunk_crypto.ts";
import { fitThumbnails } from "./content_fit.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function ref(over: Partial<AttachmentRef> = {}): AttachmentRef {
  return {
    key: randomBytes(32),
    index: [toHex(randomBytes(32))],
    name: "cat.png",
    size: 1000,
    type: "image/png",
    ...over,
  };
}

function wire(fields: Record<string, unknown>): Record<string, unknown> {
  const r = ref();
  return {
    type: "text",
    id: newMessageId(),
    attachments: [{
      key: toBase64(r.key),
      index: r.index,
      name: r.name,
      size: r.size,
      type: r.type,
      ...fields,
    }],
  };
}

Deno.test("a text with files round-trips; its text may be absent", () => {
  const content: MessageContent = {
    type: "text",
    id: newMessageId(),
    text: "",
    attachments: [ref({ thumbnail: PNG }), ref({ type: "audio/ogg", durationMs: 1500 })],
  };
  const bytes = encodeContent(content);
  assert(!new TextDecoder().decode(bytes).includes('"text":'));
  assertEquals(parseContent(bytes), content);
  const voice: MessageContent = {
    type: "text",
    id: newMessageId(),
    text: "listen",
    attachments: [ref({ type: "audio/webm" })],
    voice: true,
  };
  assertEquals(parseContent(encodeContent(voice)), voice);
  // Without files an empty text is still refused.
  assertThrows(() => encodeContent({ type: "text", id: newMessageId(), text: "" }), HearthError);
});

Deno.test("every manifest field is checked", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ key: toBase64(randomBytes(31)) }, "bad_request"],
    [{ key: "!!" }, "bad_encoding"],
    [{ index: [] }, "bad_request"],
    [{ index: ["AB".repeat(32)] }, "bad_request"],
    [{ index: [toHex(randomBytes(32)), toHex(randomBytes(32))] }, "bad_request"],
    [{ index: Array(5).fill(toHex(randomBytes(32))) }, "too_large"],
    [{ name: "" }, "bad_request"],
    [{ name: "a/b" }, "bad_request"],
    [{ name: "a\\b" }, "bad_request"],
    [{ name: "a\u0000b" }, "bad_request"],
    [{ name: "evil\u202egpj.exe" }, "bad_request"],
    [{ name: ".." }, "bad_request"],
    [{ name: "x".repeat(256) }, "bad_request"],
    [{ name: 7 }, "bad_request"],
    [{ size: -1 }, "bad_request"],
    [{ size: 1.5 }, "bad_request"],
    [{ size: 2 ** 40 }, "bad_request"],
    [{ type: "image" }, "bad_request"],
    [{ type: "image/png; x=y" }, "bad_request"],
    [{ type: "x".repeat(128) + "/a" }, "bad_request"],
    [{ thumbnail: toBase64(utf8("not an image")) }, "bad_request"],
    [{ thumbnail: toBase64(new Uint8Array(9000)) }, "too_large"],
    [{ durationMs: -1 }, "bad_request"],
    [{ durationMs: "5" }, "bad_request"],
  ];
  for (const [fields, code] of bad) {
    const err = assertThrows(() => contentFromJson(wire(fields)), HearthError);
    assertEquals(err.code, code, JSON.stringify(fields).slice(0, 80));
  }
  for (const attachments of [[], "x", {}]) {
    assertThrows(() => contentFromJson({ ...wire({}), attachments }), HearthError);
  }
  assertThrows(
    () =>
      contentFromJson({
        ...wire({}),
        attachments: Array(11).fill((wire({}).attachments as unknown[])[0]),
      }),
    HearthError,
  );
  // voice: only `true`, and only with one audio file.
  assertThrows(() => contentFromJson({ ...wire({}), voice: true }), HearthError);
  assertThrows(
    () => contentFromJson({ ...wire({ type: "audio/ogg" }), voice: "yes" }),
    HearthError,
  );
  assertEquals(contentFromJson({ ...wire({ type: "audio/ogg" }), voice: true }).type, "text");
  assertEquals(checkFileName("e\u0301.txt"), "\u00e9.txt");
  assertEquals(checkMediaType("Image/PNG"), "image/png");
});

Deno.test("thumbnails are dropped, last first, until the content fits", () => {
  const thumb = new Uint8Array(8_000);
  thumb.set(PNG);
  const content: MessageContent = {
    type: "text",
    id: newMessageId(),
    text: "x".repeat(10_000),
    attachments: Array.from({ length: 10 }, () => ref({ thumbnail: thumb })),
  };
  const fitted = fitThumbnails(content);
  assert(fitted.type === "text" && fitted.attachments);
  const kept = fitted.attachments.map((a) => a.thumbnail !== undefined);
  assert(kept[0] && !kept[9], JSON.stringify(kept));
  assertEquals(kept.indexOf(false), kept.filter(Boolean).length, "the kept ones come first");
  assert(encodeContent(fitted).length <= 74_000);
});

Deno.test("a file over the limit keeps nothing; a finished one is whole", async () => {
  await withClientDb(async (db) => {
    const over = new AttachmentWriter(db, { maxBytes: CHUNK_BYTES + 10, clock: Date.now });
    await over.write(new Uint8Array(CHUNK_BYTES));
    const err = await assertRejects(() => over.write(new Uint8Array(11)), HearthError);
    assertEquals(err.code, "too_large");
    const left = await db.selectFrom("attachment_chunks").selectAll().execute();
    assertEquals(left.length, 0);
    const ok = new AttachmentWriter(db, { maxBytes: 10 * CHUNK_BYTES, clock: Date.now });
    for (let i = 0; i < 5; i++) await ok.write(new Uint8Array(CHUNK_BYTES / 2 + 3));
    const view = await ok.finish({ name: "a.bin" });
    assertEquals([view.size, view.state, view.type], [
      5 * (CHUNK_BYTES / 2 + 3),
      "local",
      "application/octet-stream",
    ]);
    const rows = await db.selectFrom("attachment_chunks").select(["idx", "data"])
      .where("attachment_id", "=", view.id).orderBy("idx").execute();
    assertEquals(rows.map((r) => r.data.byteLength), [
      CHUNK_BYTES,
      CHUNK_BYTES,
      5 * (CHUNK_BYTES / 2 + 3) - 2 * CHUNK_BYTES,
    ]);
    // A bad name at the end keeps nothing either.
    const bad = new AttachmentWriter(db, { maxBytes: CHUNK_BYTES, clock: Date.now });
    await bad.write(new Uint8Array(10));
    await assertRejects(() => bad.finish({ name: "a/b" }), HearthError);
    assertEquals(
      (await db.selectFrom("attachment_chunks").select("idx").where("attachment_id", "=", bad.id)
        .execute()).length,
      0,
    );
  });
});
