/**
 * The owner API as the route tests call it: a web app over a fresh
 * messenger with an account ("Ada") already made, JSON in and out, the
 * headers every answer must carry checked, and a peer (Bob) whose items can
 * be stored in the owner's inbox as if he had sent them. No socket is
 * opened. Not used outside tests.
 * @module
 */
import { assertEquals } from "../../tests/assert.ts";
import { formatAccountId, parseAccountId } from "../client/account/mod.ts";
import type { Messenger } from "../client/messenger.ts";
import { encodeContent, type MessageContent } from "../client/messages/content.ts";
import { sealEnvelope } from "../client/messages/envelope.ts";
import { type TestAccount, testAccount } from "../client/messages/test_keys.ts";
import { randomBytes, toHex } from "../shared/crypto/mod.ts";
import { ownerRequest, TEST_PASSPHRASE, withWebApp } from "./test_web_app.ts";

/** A JSON object as an answer holds it. */
export type Json = Record<string, unknown>;

/** One answer of the owner API. */
export interface Answer {
  /** The HTTP status. */
  status: number;
  /** The JSON body (`{}` when the body is not JSON). */
  json: Json;
  /** The body's bytes. */
  bytes: Uint8Array;
  /** The headers. */
  headers: Headers;
}

/** What a route test gets. */
export interface OwnerHarness {
  /** Call a route with a JSON body (serialised here). */
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  /** Call a route with a raw body. */
  raw(method: string, path: string, body: string): Promise<Answer>;
  /** The messenger behind the app. */
  messenger: Messenger;
  /** The owner's Account ID. */
  me: string;
  /** A peer (Bob): its keys. */
  bob: TestAccount;
  /** Bob's Account ID. */
  bobId: string;
  /** Store an item as if Bob had sent it to the owner. */
  fromBob(content: MessageContent): Promise<void>;
}

/**
 * Run `fn` over the owner API of a fresh messenger with an account made
 * (display name "Ada"); everything is removed after.
 * @param fn the test body
 * @returns when the messenger is closed and its folder removed
 */
export async function withOwnerHarness(fn: (h: OwnerHarness) => Promise<void>): Promise<void> {
  await withWebApp(async ({ app, messenger }) => {
    const send = async (method: string, path: string, body?: string): Promise<Answer> => {
      const res = await ownerRequest(app, method, path, { body });
      assertEquals(res.headers.get("cache-control"), "no-store", `${method} ${path}`);
      assertEquals(res.headers.get("x-content-type-options"), "nosniff", `${method} ${path}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const json = res.headers.get("content-type")?.startsWith("application/json")
        ? JSON.parse(new TextDecoder().decode(bytes))
        : {};
      return { status: res.status, json, bytes, headers: res.headers };
    };
    const bob = await testAccount();
    const bobId = formatAccountId(bob.signing.publicKey);
    const created = await send(
      "POST",
      "/api/account",
      JSON.stringify({ passphrase: TEST_PASSPHRASE, displayName: "Ada" }),
    );
    assertEquals(created.status, 201);
    const me = created.json.accountId as string;
    await fn({
      messenger,
      me,
      bob,
      bobId,
      call: (method, path, body) =>
        send(method, path, body === undefined ? undefined : JSON.stringify(body)),
      raw: send,
      async fromBob(content) {
        const data = await sealEnvelope(encodeContent(content), bob, parseAccountId(me));
        await messenger.chat().receive([{ hash: toHex(randomBytes(32)), expiry: 0, data }]);
      },
    });
  });
}

/**
 * The JSON of a successful answer, checking its status and that it is no error.
 * @param a the answer
 * @param status the status expected (default 200)
 * @returns its JSON body
 */
export function okJson(a: Answer, status = 200): Json {
  assertEquals([a.status, a.json.error, a.json.message], [status, undefined, undefined]);
  return a.json;
}

/**
 * Check that an answer is an error of a code and status.
 * @param a the answer
 * @param status the status expected
 * @param code the error code expected
 * @param what what is being checked, for the failure message
 */
export function assertError(a: Answer, status: number, code: string, what = ""): void {
  assertEquals([a.status, a.json.error], [status, code], what);
}
