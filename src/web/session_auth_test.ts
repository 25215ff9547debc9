import { assert, assertEquals } from "../../tests/assert.ts";
import { TEST_KDF } from "../client/db/_test_helpers.ts";
import { HTML_CSP } from "./login_page.ts";
import {
  LOGIN_LINK_TTL_MS,
  MAX_SESSIONS,
  OwnerPassword,
  SESSION_COOKIE,
  SESSION_IDLE_MS,
  SessionStore,
} from "./session_auth.ts";
import { TEST_HOST, TEST_PASSPHRASE, TEST_TOKEN, withWebApp } from "./test_web_app.ts";
import { FREE_FAILURES } from "./unlock_limiter.ts";
import type { Hono } from "hono";
import { quietLog } from "./test_web_app.ts";
import { startWebPort } from "./web_port.ts";

const ORIGIN = `http://${TEST_HOST}`;

/** A request as a browser would make it: to TEST_HOST, no token. */
function browser(
  app: Hono,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return Promise.resolve(app.request(`http://${TEST_HOST}${path}`, {
    method,
    redirect: "manual",
    headers: { host: TEST_HOST, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  }));
}

function form(secret: string): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams({ secret }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  };
}

/** Sign in with the token; return the cookie header value and the CSRF token. */
async function signIn(app: Hono, secret = TEST_TOKEN): Promise<{ cookie: string; csrf: string }> {
  const res = await browser(app, "POST", "/login", form(secret));
  assertEquals(res.status, 303);
  const set = res.headers.get("set-cookie")!;
  const cookie = set.split(";")[0]!;
  const session = await browser(app, "GET", "/api/session", { headers: { cookie } });
  assertEquals(session.status, 200);
  const json = await session.json();
  return { cookie, csrf: json.csrfToken };
}

function assertPageHeaders(res: Response, what: string): void {
  assertEquals(res.headers.get("content-security-policy"), HTML_CSP, what);
  assertEquals(res.headers.get("x-frame-options"), "DENY", what);
  assertEquals(res.headers.get("referrer-policy"), "same-origin", what);
  assertEquals(res.headers.get("x-content-type-options"), "nosniff", what);
  assertEquals(res.headers.get("cache-control"), "no-store", what);
}

Deno.test("without a session or token: 401 on /api/*, / goes to /login, the login page is open", async () => {
  await withWebApp(async ({ app }) => {
    for (
      const [method, path] of [["GET", "/api/status"], ["POST", "/api/lock"], [
        "GET",
        "/api/session",
      ]]
    ) {
      const res = await browser(app, method!, path!);
      assertEquals(res.status, 401, `${method} ${path}`);
      assertEquals((await res.json()).error, "unauthorized");
    }
    const root = await browser(app, "GET", "/");
    assertEquals(root.status, 303);
    assertEquals(root.headers.get("location"), "/login");
    const login = await browser(app, "GET", "/login");
    assertEquals(login.status, 200);
    assertPageHeaders(login, "GET /login");
    const html = await login.text();
    assert(
      html.includes('data-testid="login-secret"') && html.includes('data-testid="login-submit"'),
    );
    assert(html.includes('name="secret"') && !html.includes("<script") && !html.includes("style="));
    const css = await browser(app, "GET", "/login.css");
    assertEquals(css.status, 200);
    assert(css.headers.get("content-type")!.startsWith("text/css"));
    // A bad cookie is no session.
    const forged = await browser(app, "GET", "/api/status", {
      headers: { cookie: `${SESSION_COOKIE}=${"a".repeat(64)}` },
    });
    assertEquals(forged.status, 401);
  });
});

Deno.test("a forged Host is refused on every kind of route, signed in or not", async () => {
  await withWebApp(async ({ app }) => {
    const { cookie } = await signIn(app);
    for (const host of ["evil.example:7080", "127.0.0.1:7081", "localhost", ""]) {
      for (
        const [method, path, body] of [
          ["GET", "/"],
          ["GET", "/login"],
          ["GET", "/login?token=x"],
          ["POST", "/login", form(TEST_TOKEN).body],
          ["GET", "/login.css"],
          ["GET", "/ui/app.js"],
          ["GET", "/api/status"],
          ["POST", "/logout"],
        ] as const
      ) {
        const res = await app.request(`http://${TEST_HOST}${path}`, {
          method,
          redirect: "manual",
          headers: {
            host,
            cookie,
            authorization: `Bearer ${TEST_TOKEN}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          ...(body === undefined ? {} : { body }),
        });
        assertEquals(res.status, 401, `${method} ${path} with Host ${host}`);
        assertEquals((await res.json()).message, "Host not allowed");
      }
    }
  });
});

Deno.test("sign in with the token: the cookie's flags, the session, GET /", async () => {
  await withWebApp(async ({ app }) => {
    const res = await browser(app, "POST", "/login", {
      ...form(TEST_TOKEN),
      headers: { ...form(TEST_TOKEN).headers, origin: ORIGIN },
    });
    assertEquals(res.status, 303);
    assertEquals(res.headers.get("location"), "/");
    const set = res.headers.get("set-cookie")!;
    const m = /^hearth_session=([0-9a-f]{64}); HttpOnly; SameSite=Strict; Path=\/$/.exec(set);
    assert(m, set);
    assert(!/secure/i.test(set));
    const cookie = `${SESSION_COOKIE}=${m[1]}`;
    const status = await browser(app, "GET", "/api/status", { headers: { cookie } });
    assertEquals(status.status, 200);
    const session = await (await browser(app, "GET", "/api/session", { headers: { cookie } }))
      .json();
    assert(/^[0-9a-f]{64}$/.test(session.csrfToken));
    assert(typeof session.expiresAt === "number");
    // With the owner token instead, there is no browser session to show.
    const bearer = await browser(app, "GET", "/api/session", {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    assertEquals(bearer.status, 404);
    const root = await browser(app, "GET", "/", { headers: { cookie } });
    let indexExists = true;
    try {
      await Deno.stat(new URL("./ui/index.html", import.meta.url));
    } catch {
      indexExists = false;
    }
    if (indexExists) {
      assertEquals(root.status, 200);
      assert(root.headers.get("content-type")!.startsWith("text/html"));
      assertPageHeaders(root, "GET /");
    } else {
      assertEquals(root.status, 404);
      await root.body?.cancel();
    }
    // A sign-in from another site is refused.
    const cross = await browser(app, "POST", "/login", {
      ...form(TEST_TOKEN),
      headers: { ...form(TEST_TOKEN).headers, origin: "http://127.0.0.1:9999" },
    });
    assertEquals(cross.status, 401);
    assertEquals(cross.headers.get("set-cookie"), null);
  });
});

Deno.test("sign in with the owner password; wrong secrets get 401 and back off", async () => {
  const now = { ms: 1_000_000 };
  const password = await OwnerPassword.create("correct horse battery", TEST_KDF);
  await withWebApp(async ({ app }) => {
    assertEquals((await browser(app, "POST", "/login", form("correct horse battery"))).status, 303);
    for (let i = 0; i < FREE_FAILURES; i++) {
      const res = await browser(app, "POST", "/login", form(`wrong ${i}`));
      assertEquals(res.status, 401, `attempt ${i}`);
      assertPageHeaders(res, "401 page");
      assertEquals(res.headers.get("set-cookie"), null);
      assert((await res.text()).includes('data-testid="login-error"'));
    }
    // Now even the right secret must wait.
    const early = await browser(app, "POST", "/login", form(TEST_TOKEN));
    assertEquals(early.status, 429);
    assertEquals(early.headers.get("retry-after"), "1");
    await early.body?.cancel();
    now.ms += 1_000;
    assertEquals((await browser(app, "POST", "/login", form(TEST_TOKEN))).status, 303);
    // Empty, missing and overlong secrets are a 400 page.
    assertEquals((await browser(app, "POST", "/login", form(""))).status, 400);
    assertEquals((await browser(app, "POST", "/login", form("x".repeat(1025)))).status, 400);
    const huge = await browser(app, "POST", "/login", form("x".repeat(5000)));
    assertEquals(huge.status, 400);
  }, { password, clock: () => now.ms });
});

Deno.test("the one-time sign-in link works once and expires after 10 minutes", async () => {
  const now = { ms: 1_000_000 };
  const sessions = new SessionStore({ clock: () => now.ms });
  await withWebApp(async ({ app }) => {
    const token = sessions.issueLoginLink();
    assertEquals((await browser(app, "GET", `/login?token=${"0".repeat(64)}`)).status, 401);
    const first = await browser(app, "GET", `/login?token=${token}`);
    assertEquals(first.status, 303);
    assertEquals(first.headers.get("location"), "/");
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    assertEquals((await browser(app, "GET", "/api/status", { headers: { cookie } })).status, 200);
    const again = await browser(app, "GET", `/login?token=${token}`);
    assertEquals(again.status, 401);
    assertPageHeaders(again, "used link");
    assertEquals(again.headers.get("set-cookie"), null);

    const late = sessions.issueLoginLink();
    now.ms += LOGIN_LINK_TTL_MS + 1;
    assertEquals((await browser(app, "GET", `/login?token=${late}`)).status, 401);
    // A newer link replaces an older one.
    const older = sessions.issueLoginLink();
    const newer = sessions.issueLoginLink();
    assertEquals((await browser(app, "GET", `/login?token=${older}`)).status, 401);
    assertEquals((await browser(app, "GET", `/login?token=${newer}`)).status, 303);
  }, { sessions, clock: () => now.ms });
});

Deno.test("the cookie alone never changes state: Origin and the CSRF token are both needed", async () => {
  await withWebApp(async ({ app }) => {
    const { cookie, csrf } = await signIn(app);
    const cases: [string, Record<string, string>][] = [
      ["no Origin, no token", {}],
      ["no Origin", { "x-csrf-token": csrf }],
      ["a foreign Origin", { origin: "http://evil.example", "x-csrf-token": csrf }],
      ["another port of 127.0.0.1", { origin: "http://127.0.0.1:8000", "x-csrf-token": csrf }],
      ["https Origin", { origin: `https://${TEST_HOST}`, "x-csrf-token": csrf }],
      ["null Origin", { origin: "null", "x-csrf-token": csrf }],
      ["no token", { origin: ORIGIN }],
      ["a wrong token", { origin: ORIGIN, "x-csrf-token": "0".repeat(64) }],
      ["a short token", { origin: ORIGIN, "x-csrf-token": csrf.slice(1) }],
    ];
    for (const [what, headers] of cases) {
      for (
        const [method, path] of [["POST", "/api/lock"], ["PATCH", "/api/settings"], [
          "DELETE",
          `/api/messages/${"a".repeat(32)}`,
        ], ["POST", "/logout"]]
      ) {
        const res = await browser(app, method!, path!, { headers: { cookie, ...headers } });
        assertEquals(res.status, 401, `${method} ${path}: ${what}`);
        assertEquals((await res.json()).error, "unauthorized");
      }
    }
    // GET with the cookie alone is fine; a state change with both is too.
    assertEquals((await browser(app, "GET", "/api/status", { headers: { cookie } })).status, 200);
    const ok = await browser(app, "POST", "/api/account", {
      body: JSON.stringify({ passphrase: TEST_PASSPHRASE }),
      headers: { cookie, origin: ORIGIN, "x-csrf-token": csrf },
    });
    assertEquals(ok.status, 201);
    const lock = await browser(app, "POST", "/api/lock", {
      headers: { cookie, origin: "http://LOCALHOST:7080", "x-csrf-token": csrf },
    });
    assertEquals(lock.status, 200);
    // Another session's token does not fit this one.
    const other = await signIn(app);
    const mixed = await browser(app, "POST", "/api/lock", {
      headers: { cookie, origin: ORIGIN, "x-csrf-token": other.csrf },
    });
    assertEquals(mixed.status, 401);
    // A wrong bearer token is refused even with a good session.
    const wrongBearer = await browser(app, "GET", "/api/status", {
      headers: { cookie, authorization: "Bearer nope" },
    });
    assertEquals(wrongBearer.status, 401);
  });
});

Deno.test("logout ends the session and clears the cookie", async () => {
  await withWebApp(async ({ app }) => {
    const { cookie, csrf } = await signIn(app);
    const out = await browser(app, "POST", "/logout", {
      headers: { cookie, origin: ORIGIN, "x-csrf-token": csrf },
    });
    assertEquals(out.status, 200);
    assertEquals(
      out.headers.get("set-cookie"),
      `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`,
    );
    assertEquals((await browser(app, "GET", "/api/status", { headers: { cookie } })).status, 401);
    assertEquals((await browser(app, "GET", "/", { headers: { cookie } })).status, 303);
    const twice = await browser(app, "POST", "/logout", {
      headers: { cookie, origin: ORIGIN, "x-csrf-token": csrf },
    });
    assertEquals(twice.status, 401);
  });
});

Deno.test("sessions expire when idle and at most 32 are held", () => {
  const now = { ms: 0 };
  const store = new SessionStore({ clock: () => now.ms });
  const a = store.create();
  now.ms += SESSION_IDLE_MS - 1;
  assert(store.touch(a.id), "used just in time");
  now.ms += SESSION_IDLE_MS - 1;
  assert(store.touch(a.id), "idle expiry moves with use");
  now.ms += SESSION_IDLE_MS;
  assertEquals(store.touch(a.id), undefined);
  const ids = Array.from({ length: MAX_SESSIONS + 1 }, () => store.create().id);
  assertEquals(store.size, MAX_SESSIONS);
  assertEquals(store.touch(ids[0]), undefined, "the least recently used went");
  assert(store.touch(ids[1]));
  store.create();
  assert(store.touch(ids[1]), "touched: not the oldest any more");
  assertEquals(store.touch(ids[2]), undefined);
  assertEquals(store.touch("not hex"), undefined);
  assertEquals(store.touch(undefined), undefined);
});

Deno.test("static files: types, page headers, and no way out of the UI folder", async () => {
  await withWebApp(async ({ app }) => {
    const js = await browser(app, "GET", "/ui/app.js");
    assertEquals(js.status, 200);
    assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assertPageHeaders(js, "app.js");
    await js.body?.cancel();
    for (
      const path of [
        "/ui/../deno.json",
        "/ui/%2e%2e/deno.json",
        "/ui/..%2fdeno.json",
        "/ui/%2e%2e%2fdeno.json",
        "/ui/..%5cdeno.json",
        "/ui/%2E%2E/%2E%2E/deno.json",
        "/ui/../web_app.ts",
        "/ui/",
        "/ui//app.js",
        "/ui/APP.js",
        "/ui/.app.js",
        "/ui/app.js%00.css",
        "/ui/app.ts",
        "/ui/nope.js",
        "/ui/app.js/",
        "/ui/a/../app.js.map",
        "/deno.json",
        "/web_app.ts",
      ]
    ) {
      const res = await browser(app, "GET", path);
      assertEquals(res.status, 404, path);
      assertEquals((await res.json()).error, "not_found", path);
    }
  });
});

Deno.test("change the passphrase and show the recovery phrase, both behind the passphrase", async () => {
  await withWebApp(async ({ app, messenger }) => {
    const auth = { authorization: `Bearer ${TEST_TOKEN}` };
    const call = async (path: string, body: unknown) => {
      const res = await browser(app, "POST", path, { body: JSON.stringify(body), headers: auth });
      return { status: res.status, json: await res.json() };
    };
    assertEquals((await call("/api/account/phrase", { passphrase: "x" })).json.error, "not_found");
    const created = await call("/api/account", { passphrase: TEST_PASSPHRASE });
    const phrase = created.json.recoveryPhrase as string;
    assertEquals(phrase.split(" ").length, 24);

    assertEquals((await call("/api/account/phrase", { passphrase: "wrong" })).status, 401);
    assertEquals((await call("/api/account/phrase", {})).status, 400);
    assertEquals(
      (await call("/api/account/phrase", { passphrase: TEST_PASSPHRASE })).json,
      { recoveryPhrase: phrase },
    );

    const wrong = await call("/api/account/passphrase", { current: "nope", new: "new one" });
    assertEquals([wrong.status, wrong.json.error], [401, "wrong_passphrase"]);
    assertEquals((await call("/api/account/passphrase", { current: TEST_PASSPHRASE })).status, 400);
    assertEquals(
      (await call("/api/account/passphrase", { current: TEST_PASSPHRASE, new: "" })).status,
      400,
    );
    assertEquals(
      (await call("/api/account/passphrase", { current: TEST_PASSPHRASE, new: "new one" })).json,
      { ok: true },
    );
    assertEquals(messenger.state(), "unlocked");
    assertEquals((await call("/api/conversations", {})).status, 404, "still routes");
    assertEquals((await browser(app, "GET", "/api/conversations", { headers: auth })).status, 200);
    await messenger.lock();
    assertEquals((await call("/api/unlock", { passphrase: TEST_PASSPHRASE })).status, 401);
    assertEquals((await call("/api/unlock", { passphrase: "new one" })).status, 200);
    // Locked: neither route runs.
    await messenger.lock();
    assertEquals((await call("/api/account/phrase", { passphrase: "new one" })).status, 423);
    assertEquals(
      (await call("/api/account/passphrase", { current: "new one", new: "x" })).status,
      423,
    );
  });
});

Deno.test("wrong passphrases on the phrase route back off like unlock", async () => {
  const now = { ms: 1_000_000 };
  await withWebApp(async ({ app }) => {
    const auth = { authorization: `Bearer ${TEST_TOKEN}` };
    const call = async (path: string, body: unknown) =>
      (await browser(app, "POST", path, { body: JSON.stringify(body), headers: auth })).status;
    assertEquals(await call("/api/account", { passphrase: TEST_PASSPHRASE }), 201);
    for (let i = 0; i < FREE_FAILURES; i++) {
      assertEquals(await call("/api/account/phrase", { passphrase: `bad ${i}` }), 401);
    }
    assertEquals(await call("/api/account/phrase", { passphrase: TEST_PASSPHRASE }), 429);
    assertEquals(await call("/api/account/passphrase", { current: "x", new: "y" }), 429);
    now.ms += 1_000;
    assertEquals(await call("/api/account/phrase", { passphrase: TEST_PASSPHRASE }), 200);
  }, { clock: () => now.ms });
});

/** Send raw request bytes to a port and read the status line (paths a URL parser would clean). */
async function rawStatus(
  port: number,
  target: string,
  headers = "",
  host = `127.0.0.1:${port}`,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      if (text.includes("\r\n")) break;
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "over a real socket: the start-up link signs in once, raw traversal paths are 404",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hearth-web-session-" });
    const web = await startWebPort({
      dataDir: dir,
      listen: { host: "127.0.0.1", port: 0 },
      nodeStatus: () => ({ id: "ab".repeat(32), reachable: false, directorySize: 1 }),
      log: quietLog,
      kdfParams: TEST_KDF,
    });
    try {
      const base = `http://127.0.0.1:${web.addr.port}`;
      assert(web.loginUrl.startsWith(`${base}/login?token=`), web.loginUrl);
      assert(/token=[0-9a-f]{64}$/.test(web.loginUrl));
      const first = await fetch(web.loginUrl, { redirect: "manual" });
      assertEquals(first.status, 303);
      await first.body?.cancel();
      const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
      const again = await fetch(web.loginUrl, { redirect: "manual" });
      assertEquals(again.status, 401);
      await again.body?.cancel();
      const status = await fetch(`${base}/api/status`, { headers: { cookie } });
      assertEquals(status.status, 200);
      await status.body?.cancel();
      const session = await (await fetch(`${base}/api/session`, { headers: { cookie } })).json();
      const post = await fetch(`${base}/api/lock`, {
        method: "POST",
        headers: { cookie, origin: base, "x-csrf-token": session.csrfToken },
      });
      assertEquals(post.status, 200);
      await post.body?.cancel();
      const crossSite = await fetch(`${base}/api/lock`, {
        method: "POST",
        headers: { cookie, origin: "http://127.0.0.1:1" },
      });
      assertEquals(crossSite.status, 401);
      await crossSite.body?.cancel();
      for (
        const target of [
          "/ui/../deno.json",
          "/ui/../../deno.json",
          "/ui/%2e%2e/%2e%2e/deno.json",
          "/ui/..%2f..%2fdeno.json",
          "/ui/..\\..\\deno.json",
          "/ui/./../web_app.ts",
        ]
      ) {
        assertEquals(await rawStatus(web.addr.port, target, `Cookie: ${cookie}\r\n`), 404, target);
      }
      for (const target of ["/login", "/", "/ui/app.js", "/api/status"]) {
        assertEquals(await rawStatus(web.addr.port, target, "", "rebind.example:80"), 401);
      }
      assertEquals(await rawStatus(web.addr.port, "/login"), 200);
    } finally {
      await web.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
