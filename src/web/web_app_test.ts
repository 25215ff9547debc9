import { assert, assertEquals } from "../../tests/assert.ts";
import { parseAccountId } from "../client/account/mod.ts";
import { HISTORY_NOTICE, type Messenger } from "../client/messenger.ts";
import { BASE_WAIT_MS, FREE_FAILURES } from "./unlock_limiter.ts";
import {
  ownerRequest,
  TEST_HOST,
  TEST_PASSPHRASE,
  TEST_TOKEN,
  type TestWebApp,
  withWebApp,
} from "./test_web_app.ts";

interface Harness {
  call(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }>;
  now: { ms: number };
  messenger: Messenger;
}

function harness(t: TestWebApp, now: { ms: number }): Harness {
  return {
    now,
    messenger: t.messenger,
    async call(method, path, options = {}) {
      const body = options.raw ??
        (options.body === undefined ? undefined : JSON.stringify(options.body));
      const res = await ownerRequest(t.app, method, path, { body, headers: options.headers });
      assertEquals(res.headers.get("cache-control"), "no-store", `${method} ${path}`);
      assert(res.headers.get("content-type")?.startsWith("application/json"), `${method} ${path}`);
      return { status: res.status, json: await res.json(), headers: res.headers };
    },
  };
}

async function withHarness(fn: (h: Harness, dir: string) => Promise<void>): Promise<void> {
  const now = { ms: 1_000_000 };
  await withWebApp((t) => fn(harness(t, now), t.dir), { clock: () => now.ms });
}

Deno.test("every /api route needs the owner token and a local Host", async () => {
  await withHarness(async (h) => {
    for (
      const [method, path] of [
        ["GET", "/api/status"],
        ["GET", "/api/account"],
        ["POST", "/api/unlock"],
        ["POST", "/api/nope"],
        ["PATCH", "/api/account"],
        ["GET", "/api/account/avatar"],
        ["GET", "/api/settings"],
        ["PATCH", "/api/settings"],
        ["PUT", `/api/messages/${"a".repeat(32)}/reaction`],
        ["DELETE", `/api/messages/${"a".repeat(32)}`],
        ["PATCH", "/api/conversations/self"],
        ["POST", "/api/contacts/x/block"],
      ]
    ) {
      const none = await h.call(method!, path!, { headers: { authorization: "" } });
      assertEquals([none.status, none.json.error], [401, "unauthorized"], `${method} ${path}`);
      const wrong = await h.call(method!, path!, {
        headers: { authorization: `Bearer ${"u".repeat(43)}` },
      });
      assertEquals([wrong.status, wrong.json.error], [401, "unauthorized"]);
      const short = await h.call(method!, path!, {
        headers: { authorization: `Bearer ${TEST_TOKEN.slice(1)}` },
      });
      assertEquals(short.status, 401);
    }
    const basic = await h.call("GET", "/api/status", {
      headers: { authorization: `Basic ${TEST_TOKEN}` },
    });
    assertEquals(basic.status, 401);
    for (const host of ["evil.example:7080", "127.0.0.1:7081", "localhost", "attacker.test"]) {
      const r = await h.call("GET", "/api/status", { headers: { host } });
      assertEquals([r.status, r.json.error, r.json.message], [
        401,
        "unauthorized",
        "Host not allowed",
      ]);
    }
    for (const host of ["localhost:7080", "LOCALHOST:7080", "[::1]:7080", TEST_HOST]) {
      assertEquals((await h.call("GET", "/api/status", { headers: { host } })).status, 200, host);
    }
    const lower = await h.call("GET", "/api/status", {
      headers: { authorization: `bearer ${TEST_TOKEN}` },
    });
    assertEquals(lower.status, 200);
    const other = await h.call("GET", "/v1/info");
    assertEquals([other.status, other.json.error], [404, "not_found"]);
  });
});

Deno.test("create, conflict, lock, wrong passphrase, unlock and status", async () => {
  await withHarness(async (h) => {
    const status0 = await h.call("GET", "/api/status");
    assertEquals(status0.json, {
      node: {
        id: "ab".repeat(8),
        reachable: true,
        directorySize: 7,
        peers: 7,
        swarmsServed: 2,
        itemsStored: 3,
        bytesRelayed: 4,
      },
      account: "absent",
    });
    assertEquals((await h.call("GET", "/api/account")).json.error, "not_found");
    assertEquals(
      (await h.call("POST", "/api/unlock", { body: { passphrase: TEST_PASSPHRASE } })).json.error,
      "not_found",
    );

    const created = await h.call("POST", "/api/account", {
      body: { passphrase: TEST_PASSPHRASE, displayName: "Ada" },
    });
    assertEquals(created.status, 201);
    const accountId = created.json.accountId as string;
    assertEquals(parseAccountId(accountId).length, 32);
    assertEquals((created.json.recoveryPhrase as string).split(" ").length, 24);

    const again = await h.call("POST", "/api/account", { body: { passphrase: TEST_PASSPHRASE } });
    assertEquals([again.status, again.json.error], [409, "conflict"]);

    const account = await h.call("GET", "/api/account");
    assertEquals([account.json.accountId, account.json.displayName], [accountId, "Ada"]);
    assertEquals(account.json.hasAvatar, false);
    assert((account.json.qrSvg as string).startsWith("<svg"));
    assertEquals((await h.call("GET", "/api/status")).json.account, "unlocked");

    assertEquals((await h.call("POST", "/api/lock")).json, { state: "locked" });
    const locked = await h.call("GET", "/api/account");
    assertEquals([locked.status, locked.json.error], [423, "locked"]);
    assertEquals((await h.call("GET", "/api/status")).json.account, "locked");

    const wrong = await h.call("POST", "/api/unlock", { body: { passphrase: "not it" } });
    assertEquals([wrong.status, wrong.json.error], [401, "wrong_passphrase"]);
    assertEquals((await h.call("GET", "/api/account")).status, 423);

    const unlocked = await h.call("POST", "/api/unlock", { body: { passphrase: TEST_PASSPHRASE } });
    assertEquals([unlocked.status, unlocked.json.state], [200, "unlocked"]);
    assertEquals((await h.call("GET", "/api/account")).json.accountId, accountId);
  });
});

Deno.test("restore from the phrase in a fresh data dir gives the same Account ID and the messenger's history notice", async () => {
  let phrase = "";
  let accountId = "";
  await withHarness(async (h) => {
    const created = await h.call("POST", "/api/account", { body: { passphrase: TEST_PASSPHRASE } });
    phrase = created.json.recoveryPhrase as string;
    accountId = created.json.accountId as string;
  });
  await withHarness(async (h) => {
    const restored = await h.call("POST", "/api/account", {
      body: { passphrase: "other", recoveryPhrase: `  ${phrase.toUpperCase()}\n` },
    });
    assertEquals(restored.status, 201);
    assertEquals(
      restored.json,
      { accountId, historyNotice: HISTORY_NOTICE },
      "the messenger's notice, passed through",
    );
    assert(HISTORY_NOTICE.includes("history is not restored"));

    assertEquals((await h.call("GET", "/api/account")).json.displayName, "");
  });
});

Deno.test("bad input gets a 4xx with a code and changes nothing", async () => {
  await withHarness(async (h) => {
    const cases: [
      string,
      { body?: unknown; raw?: string; headers?: Record<string, string> },
      number,
      string,
    ][] = [
      ["/api/account", { raw: "not json" }, 400, "bad_request"],
      ["/api/account", { raw: "[1]" }, 400, "bad_request"],
      ["/api/account", { raw: "" }, 400, "bad_request"],
      [
        "/api/account",
        { raw: JSON.stringify({ passphrase: "x".repeat(20_000) }) },
        413,
        "too_large",
      ],
      ["/api/account", { raw: "{}", headers: { "content-length": "99999999" } }, 413, "too_large"],
      ["/api/account", { body: { passphrase: "" } }, 400, "bad_request"],
      ["/api/account", { body: {} }, 400, "bad_request"],
      ["/api/account", { body: { passphrase: 42 } }, 400, "bad_request"],
      ["/api/account", { body: { passphrase: "x".repeat(1025) } }, 413, "too_large"],
      [
        "/api/account",
        { body: { passphrase: TEST_PASSPHRASE, recoveryPhrase: "abandon ".repeat(24) } },
        400,
        "bad_request",
      ],
      [
        "/api/account",
        { body: { passphrase: TEST_PASSPHRASE, recoveryPhrase: "one two" } },
        400,
        "bad_request",
      ],
      [
        "/api/account",
        { body: { passphrase: TEST_PASSPHRASE, displayName: "x".repeat(65) } },
        400,
        "bad_request",
      ],
      [
        "/api/account",
        { body: { passphrase: TEST_PASSPHRASE, displayName: "a\u202Eb" } },
        400,
        "bad_request",
      ],
      [
        "/api/account",
        { body: { passphrase: TEST_PASSPHRASE, displayName: 7 } },
        400,
        "bad_request",
      ],
      ["/api/unlock", { body: { passphrase: "" } }, 400, "bad_request"],
      ["/api/unlock", { raw: "{" }, 400, "bad_request"],
    ];
    for (const [path, options, status, code] of cases) {
      const r = await h.call("POST", path, options);
      assertEquals(
        [r.status, r.json.error],
        [status, code],
        `${path} ${JSON.stringify(options).slice(0, 80)}`,
      );
      assertEquals(typeof r.json.message, "string");
    }
    assertEquals((await h.call("GET", "/api/status")).json.account, "absent");
  });
});

Deno.test("after 5 wrong passphrases in a row, unlock attempts back off exponentially", async () => {
  await withHarness(async (h) => {
    await h.call("POST", "/api/account", { body: { passphrase: TEST_PASSPHRASE } });
    await h.call("POST", "/api/lock");
    const unlock = (passphrase: string) => h.call("POST", "/api/unlock", { body: { passphrase } });
    for (let i = 0; i < FREE_FAILURES; i++) {
      assertEquals((await unlock(`wrong ${i}`)).json.error, "wrong_passphrase", `attempt ${i + 1}`);
    }
    // The right passphrase is refused too while the wait runs, and not counted.
    const early = await unlock(TEST_PASSPHRASE);
    assertEquals([early.status, early.json.error], [429, "rate_limited"]);
    assertEquals(early.json.retryAfterMs, BASE_WAIT_MS);
    assertEquals(early.headers.get("retry-after"), "1");
    h.now.ms += BASE_WAIT_MS;
    assertEquals((await unlock("wrong again")).json.error, "wrong_passphrase");
    h.now.ms += BASE_WAIT_MS; // the wait is now 2 s: still early
    const second = await unlock(TEST_PASSPHRASE);
    assertEquals([second.status, second.json.retryAfterMs], [429, BASE_WAIT_MS]);
    h.now.ms += BASE_WAIT_MS;
    assertEquals((await unlock(TEST_PASSPHRASE)).json.state, "unlocked");
    // A success resets the count: five more wrong ones are free again.
    await h.call("POST", "/api/lock");
    for (let i = 0; i < FREE_FAILURES - 1; i++) {
      assertEquals((await unlock(`wrong ${i}`)).status, 401);
    }
    assertEquals((await unlock(TEST_PASSPHRASE)).status, 200);
  });
});
