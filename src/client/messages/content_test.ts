/**
 * Message content (docs/PROTOCOL.md §10): every type round-trips through a
 * real envelope, every limit holds at its edge, and malformed input is a
 * HearthError with a stable code.
 */
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { randomBytes, toBase64, utf8 } from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  CONTENT_TYPES,
  contentFromJson,
  encodeContent,
  MAX_AVATAR_BYTES,
  MAX_DISPLAY_NAME_CHARS,
  MAX_EMOJI_CHARS,
  MAX_RECEIPT_IDS,
  MAX_TEXT_CHARS,
  type MessageContent,
  newMessageId,
  parseContent,
} from "./content.ts";
import { MAX_CONTENT_BYTES, openEnvelope, sealEnvelope } from "./envelope.ts";
import { testAccount } from "./test_keys.ts";

const [alice, bob] = await Promise.all([testAccount(), testAccount()]);
const id = () => newMessageId();

const samples: MessageContent[] = [
  { type: "text", id: id(), text: "hello" },
  {
    type: "text",
    id: id(),
    text: "a reply ✓",
    replyTo: id(),
    profile: { displayName: "Alice", avatar: randomBytes(300) },
    expiresIn: 3_600,
    mode: "after_read",
  },
  { type: "reaction", id: id(), target: id(), emoji: "👍" },
  { type: "reaction", id: id(), target: id(), emoji: "👨‍👩‍👧‍👦", remove: true },
  { type: "edit", id: id(), target: id(), text: "fixed typo" },
  { type: "delete", id: id(), target: id() },
  { type: "receipt", id: id(), kind: "delivered", ids: [id()] },
  { type: "receipt", id: id(), kind: "read", ids: Array.from({ length: MAX_RECEIPT_IDS }, id) },
  { type: "typing", id: id(), active: true },
  { type: "typing", id: id(), active: false, expiresIn: 30, mode: "after_send" },
  { type: "request-accept", id: id(), profile: { displayName: "Bob" } },
  { type: "profile", id: id(), profile: { displayName: "Alice", avatar: randomBytes(10) } },
  { type: "profile", id: id(), profile: { displayName: "Alice", avatar: new Uint8Array(0) } },
  { type: "disappearing", id: id(), expiresIn: 300, mode: "after_read" },
  { type: "disappearing", id: id() },
  { type: "session-reset", id: id() },
  {
    type: "group-invite",
    id: id(),
    group: "hearthg1" + "q".repeat(58),
    name: "Club",
    access: toBase64(new Uint8Array(32).fill(1)),
    token: toBase64(new Uint8Array(64).fill(2)),
    admin: toBase64(new Uint8Array(32).fill(3)),
  },
  { type: "group-leave", id: id(), access: toBase64(new Uint8Array(32).fill(4)) },
  { type: "group-update", id: id() },
];

Deno.test("every content type round-trips through a sealed envelope", async () => {
  assertEquals(new Set(samples.map((s) => s.type)).size, CONTENT_TYPES.length);
  for (const content of samples) {
    const envelope = await sealEnvelope(encodeContent(content), alice, bob.signing.publicKey);
    const opened = await openEnvelope(envelope, bob);
    assertEquals(parseContent(opened.content), content, content.type);
  }
});

function code(fn: () => unknown): string {
  return assertThrows(fn, HearthError).code;
}

function json(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value));
}

Deno.test("a session-reset has no fields of its own; extra ones are dropped", () => {
  const reset = parseContent(json({ type: "session-reset", id: "ab".repeat(16), target: id() }));
  assertEquals(reset, { type: "session-reset", id: "ab".repeat(16) });
  assertEquals(code(() => parseContent(json({ type: "session-reset" }))), "bad_request");
});

Deno.test("a group-leave must name a 32-byte access key", () => {
  const leave = (access?: unknown) =>
    parseContent(
      json({ type: "group-leave", id: id(), ...(access === undefined ? {} : { access }) }),
    );
  assertEquals(code(() => leave()), "bad_request");
  assertEquals(code(() => leave(42)), "bad_request");
  assertEquals(code(() => leave(toBase64(new Uint8Array(31)))), "bad_request");
  assertEquals(code(() => leave("not base64!")), "bad_encoding");
  const ok = leave(toBase64(new Uint8Array(32).fill(7)));
  assert(ok.type === "group-leave");
  assertEquals(ok.access, toBase64(new Uint8Array(32).fill(7)));
});

Deno.test("text is normalized to NFC and counted in characters", () => {
  const decomposed = "e\u0301";
  const parsed = parseContent(json({ type: "text", id: id(), text: decomposed }));
  assert(parsed.type === "text");
  assertEquals(parsed.text, "\u00e9");
  const encoded = encodeContent({ type: "text", id: id(), text: decomposed });
  assertEquals(new TextDecoder().decode(encoded).includes("\u00e9"), true);
  // 10,000 astral characters are 20,000 UTF-16 units, and allowed.
  const astral = "😀".repeat(MAX_TEXT_CHARS);
  assertEquals(
    (parseContent(json({ type: "text", id: id(), text: astral })) as { text: string }).text,
    astral,
  );
  assertEquals(
    code(() => parseContent(json({ type: "text", id: id(), text: astral + "a" }))),
    "bad_request",
  );
  assertEquals(
    code(() => encodeContent({ type: "text", id: id(), text: "x".repeat(10_001) })),
    "bad_request",
  );
  assertEquals(
    code(() => encodeContent({ type: "edit", id: id(), target: id(), text: "" })),
    "bad_request",
  );
  // A lone surrogate is not text.
  assertEquals(
    code(() => parseContent(utf8('{"type":"text","id":"' + id() + '","text":"\\ud800"}'))),
    "bad_request",
  );
});

Deno.test("limits hold at their edges", () => {
  const ok = (value: unknown) => contentFromJson(value);
  ok({ type: "reaction", id: id(), target: id(), emoji: "x".repeat(MAX_EMOJI_CHARS) });
  assertEquals(
    code(() =>
      ok({ type: "reaction", id: id(), target: id(), emoji: "x".repeat(MAX_EMOJI_CHARS + 1) })
    ),
    "bad_request",
  );
  assertEquals(
    code(() => ok({ type: "reaction", id: id(), target: id(), emoji: "" })),
    "bad_request",
  );
  const ids = Array.from({ length: MAX_RECEIPT_IDS + 1 }, id);
  assertEquals(code(() => ok({ type: "receipt", id: id(), kind: "read", ids })), "too_large");
  assertEquals(code(() => ok({ type: "receipt", id: id(), kind: "read", ids: [] })), "bad_request");
  assertEquals(
    code(() => ok({ type: "receipt", id: id(), kind: "seen", ids: [id()] })),
    "bad_request",
  );
  assertEquals(
    code(() => ok({ type: "receipt", id: id(), kind: "read", ids: ["zz"] })),
    "bad_request",
  );
  const name = "n".repeat(MAX_DISPLAY_NAME_CHARS);
  ok({ type: "profile", id: id(), profile: { displayName: name } });
  assertEquals(
    code(() => ok({ type: "profile", id: id(), profile: { displayName: name + "n" } })),
    "bad_request",
  );
  assertEquals(code(() => ok({ type: "profile", id: id() })), "bad_request");
  const avatar = (n: number) => btoa(String.fromCharCode(...randomBytes(n)));
  ok({
    type: "typing",
    id: id(),
    active: true,
    profile: { displayName: "a", avatar: avatar(MAX_AVATAR_BYTES) },
  });
  assertEquals(
    code(() =>
      ok({
        type: "typing",
        id: id(),
        active: true,
        profile: { displayName: "a", avatar: avatar(MAX_AVATAR_BYTES + 1) },
      })
    ),
    "too_large",
  );
  assertEquals(
    code(() =>
      ok({ type: "typing", id: id(), active: true, profile: { displayName: "a", avatar: "***" } })
    ),
    "bad_encoding",
  );
});

Deno.test("common fields are checked", () => {
  const ok = (extra: Record<string, unknown>) =>
    contentFromJson({ type: "typing", active: true, id: id(), ...extra });
  assertEquals(code(() => ok({ id: undefined })), "bad_request");
  assertEquals(code(() => ok({ id: id().toUpperCase() })), "bad_request");
  assertEquals(code(() => ok({ id: id().slice(2) })), "bad_request");
  assertEquals(code(() => ok({ mode: "after_read" })), "bad_request");
  assertEquals(code(() => ok({ expiresIn: 0 })), "bad_request");
  assertEquals(code(() => ok({ expiresIn: 1.5 })), "bad_request");
  assertEquals(code(() => ok({ expiresIn: 60, mode: "never" })), "bad_request");
  assertEquals(code(() => ok({ active: "yes" })), "bad_request");
  // Unknown fields are dropped, not carried into the typed value.
  assertEquals(Object.keys(ok({ future: 1 })).sort(), ["active", "id", "type"]);
});

Deno.test("malformed bytes and unknown types are refused with a code", () => {
  assertEquals(code(() => parseContent(json({ type: "poll", id: id() }))), "bad_request");
  assertEquals(code(() => parseContent(json({ id: id() }))), "bad_request");
  assertEquals(code(() => parseContent(json([1, 2]))), "bad_request");
  assertEquals(code(() => parseContent(json(null))), "bad_request");
  assertEquals(code(() => parseContent(utf8("{"))), "bad_request");
  assertEquals(code(() => parseContent(new Uint8Array([0x7b, 0xff, 0x7d]))), "bad_request");
  assertEquals(code(() => parseContent(new Uint8Array(0))), "bad_request");
  assertEquals(code(() => parseContent(new Uint8Array(MAX_CONTENT_BYTES + 1))), "too_large");
});

Deno.test("the largest valid content still fits one envelope", async () => {
  // Worst case per character: a control character, escaped as \u00XX.
  const content: MessageContent = {
    type: "text",
    id: id(),
    text: "\u0001".repeat(MAX_TEXT_CHARS),
    replyTo: id(),
    profile: {
      displayName: "\u0001".repeat(MAX_DISPLAY_NAME_CHARS),
      avatar: randomBytes(MAX_AVATAR_BYTES),
    },
    expiresIn: 1,
    mode: "after_read",
  };
  const bytes = encodeContent(content);
  assert(bytes.length <= MAX_CONTENT_BYTES, `${bytes.length} bytes`);
  const opened = await openEnvelope(await sealEnvelope(bytes, alice, bob.signing.publicKey), bob);
  assertEquals(parseContent(opened.content), content);
});

Deno.test("property: any well-formed text round-trips as its NFC form", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 300 }), (text) => {
      const content: MessageContent = { type: "text", id: id(), text };
      assertEquals(parseContent(encodeContent(content)), {
        ...content,
        text: text.normalize("NFC"),
      });
    }),
    { numRuns: 300 },
  );
});
