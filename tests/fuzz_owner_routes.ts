/**
 * Fuzzing the owner API of a live node process (docs/API.md): its
 * messaging, conversation, settings, profile and contact routes, with
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

/** A request of the owner API fuzzer: a route, a path id and a body. */
interface OwnerCase {
  route: string;
  id: IdPick;
  body: { json: unknown } | { seed: number; random: number } | { oversize: number };
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
    }, { requiredKeys: ["to", "text"] })),
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
    "POST /api/contacts/:peer/block": fc.constant({ json: undefined }),
    "POST /api/contacts/:peer/unblock": fc.constant({ json: undefined }),
    "GET /api/contacts/:peer/avatar": fc.constant({ json: undefined }),
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
    fc.asyncProperty(cases, fc.nat(), fc.constantFrom("me", "everyone", "all", ""), async (
      c,
      n,
      scope,
    ) => {
      const [method, template] = c.route.split(" ") as [string, string];
      const messageId = idOf(c.id);
      const path = template
        .replace(":id", encodeURIComponent(messageId))
        .replace(":conversation", encodeURIComponent(conversations[n % conversations.length]!))
        .replace(":peer", encodeURIComponent(peers[n % peers.length]!)) +
        (c.route === "DELETE /api/messages/:id" && scope !== "" ? `?for=${scope}` : "");
      const body = method === "GET"
        ? undefined
        : "json" in c.body
        ? c.body.json === undefined ? undefined : utf8(JSON.stringify(c.body.json))
        : "random" in c.body
        ? seededBytes(c.body.seed, c.body.random)
        : new Uint8Array(c.body.oversize + 65_536);
      const answer = await call(`http://${node.webAddr}${path}`, {
        method,
        headers: { authorization: `Bearer ${node.ownerToken}` },
        ...(body === undefined ? {} : { body: buf(body) }),
      });
      const what = `${c.route} ${path.slice(0, 120)}`;
      if (answer.status < 300) {
        seen.add("ok");
        const image = answer.contentType?.startsWith("image/");
        assert(image || answer.contentType?.startsWith("application/json"), what);
        if (!image) JSON.parse(new TextDecoder().decode(answer.body));
        if (c.route === "POST /api/messages") {
          pool.push(JSON.parse(new TextDecoder().decode(answer.body)).id);
        }
        return;
      }
      const code = expectError(answer, OWNER_CODES, what);
      seen.add(code);
      // A message id that is not 32 lower-case hex digits never reaches the chat.
      const hexish = "text" in c.id && /^[0-9a-zA-Z]+$/.test(messageId);
      if (template.includes(":id") && hexish && !/^[0-9a-f]{32}$/.test(messageId)) {
        assertEquals(code, "bad_request", what);
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
  const contacts = (await api("GET", "/api/contacts")).json.contacts as { accountId: string }[];
  assert(contacts.some((c) => c.accountId === canaryPeer), "The canary contact is still there");
  assertEquals((await api("GET", "/api/status")).json.account, "unlocked");
  const log = await Deno.readTextFile(node.logPath);
  assert(!/^ERROR|internal|uncaught/im.test(log), `Node log has an error:\n${log}`);
}
