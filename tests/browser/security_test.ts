/**
 * The web UI's security in a real browser, against a real node process:
 * no session and no token → 401 on the API and a redirect to /login at /;
 * a forged Host header is refused on every route; the one-time sign-in link
 * works once; the login form takes the owner token and refuses a wrong
 * secret; the session cookie is HttpOnly and SameSite=Strict; a
 * state-changing request carried by the cookie alone is refused, whether it
 * comes from a page of another origin on the same site (another port of
 * 127.0.0.1: the cookie is sent) or lacks the CSRF token or the right
 * Origin; with both it is accepted; HTML answers carry the strict CSP.
 */
import { assert, assertEquals } from "../assert.ts";
import { type NodeProcess, ownerApi, spawnNode, waitFor } from "../../tools/devnet_lib.ts";
import { freePort } from "../../tools/devnet_lib.ts";
import {
  browserTest,
  closeBrowser,
  launchBrowser,
  newPage,
  oneTimeLink,
  screenshot,
  signInWithForm,
  signInWithLink,
  webUrl,
} from "./browser.ts";
import type { Browser, Response as PwResponse } from "playwright-core";

const PASS = "browser security test passphrase";

/** One raw HTTP/1.1 request with a chosen Host header; the status code. */
async function rawStatus(node: NodeProcess, path: string, host: string): Promise<number> {
  const [hostname, port] = node.webAddr.split(":");
  const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
  try {
    const req = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
      `Authorization: Bearer ${node.ownerToken}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(req));
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 15_000;
    while (!text.includes("\r\n") && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!m) throw new Error(`no status line in ${JSON.stringify(text.slice(0, 200))}`);
    return Number(m[1]);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  }
}

async function selfTexts(node: NodeProcess): Promise<string[]> {
  const res = await ownerApi(node, "GET", "/api/conversations/self/messages?limit=200");
  assertEquals(res.status, 200, JSON.stringify(res.json));
  return (res.json.messages as { text: string }[]).map((m) => m.text);
}

/** The page another origin of the same site serves: a form POST and a no-cors fetch. */
function attackerPage(target: string): string {
  const url = `${target}/api/messages`;
  const body = JSON.stringify({ to: "self", text: "csrf-fetch" });
  // A text/plain form whose body is `{"to":"self","text":"csrf-form","x":"="}`.
  return `<!doctype html><html><body>
<form id="f" method="POST" action="${url}" enctype="text/plain">
<input name='{"to":"self","text":"csrf-form","x":"' value='"}'>
</form>
<script>
fetch(${JSON.stringify(url)}, {method: "POST", mode: "no-cors", credentials: "include",
  headers: {"content-type": "text/plain"}, body: ${JSON.stringify(body)}})
  .catch(() => {}).finally(() => { document.title = "fetched"; document.getElementById("f").submit(); });
</script></body></html>`;
}

Deno.test(browserTest("web UI security in a real browser: auth, Host, sign-in, CSRF", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hearth-browser-sec-" });
  let node: NodeProcess | undefined;
  let browser: Browser | undefined;
  let attacker: Deno.HttpServer | undefined;
  try {
    node = await spawnNode({ dataDir, port: freePort() });
    const base = webUrl(node);
    const created = await ownerApi(node, "POST", "/api/account", {
      passphrase: PASS,
      displayName: "Owner",
    });
    assertEquals(created.status, 201, JSON.stringify(created.json));

    // --- Without a session or a token (plain HTTP, no browser) ---
    for (const path of ["/api/status", "/api/conversations", "/api/session", "/api/events"]) {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15_000) });
      await res.body?.cancel();
      assertEquals(res.status, 401, `GET ${path} without auth`);
    }
    const post = await fetch(`${base}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ to: "self", text: "no auth" }),
      signal: AbortSignal.timeout(15_000),
    });
    await post.body?.cancel();
    assertEquals(post.status, 401);
    const root = await fetch(`${base}/`, {
      redirect: "manual",
      signal: AbortSignal.timeout(15_000),
    });
    await root.body?.cancel();
    assertEquals(root.status, 303);
    assertEquals(new URL(root.headers.get("location")!, base).pathname, "/login");
    const wrongBearer = await fetch(`${base}/api/status`, {
      headers: { authorization: `Bearer ${"x".repeat(43)}` },
      signal: AbortSignal.timeout(15_000),
    });
    await wrongBearer.body?.cancel();
    assertEquals(wrongBearer.status, 401);

    // --- A forged Host header is refused on every route, even with the token ---
    const port = node.webAddr.split(":")[1]!;
    for (const path of ["/api/status", "/", "/login"]) {
      assertEquals(await rawStatus(node, path, `evil.example:${port}`), 401, `Host forged ${path}`);
      assertEquals(await rawStatus(node, path, `127.0.0.1:${Number(port) + 1}`), 401);
    }
    assertEquals(await rawStatus(node, "/api/status", `127.0.0.1:${port}`), 200);
    assertEquals(await rawStatus(node, "/api/status", `localhost:${port}`), 200);

    // --- In the browser ---
    browser = await launchBrowser();
    const { context, page } = await newPage(browser);

    // Without a session: / ends on the login page; the API answers 401.
    await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
    assertEquals(new URL(page.url()).pathname, "/login");
    await page.getByTestId("login-secret").waitFor();
    await page.getByTestId("login-submit").waitFor();
    await screenshot(page, "00-login");
    const apiRes = await page.goto(`${base}/api/status`);
    assertEquals(apiRes?.status(), 401);

    // The login page carries the strict headers.
    const loginRes = await page.goto(`${base}/login`, { waitUntil: "domcontentloaded" });
    const csp = (await loginRes!.allHeaders())["content-security-policy"] ?? "";
    assert(csp.includes("default-src 'none'"), `CSP of /login: ${csp}`);
    assert(csp.includes("frame-ancestors 'none'"), `CSP of /login: ${csp}`);

    // A wrong secret in the form: 401, no cookie.
    await page.getByTestId("login-secret").fill("not the owner token");
    const [wrong] = await Promise.all([
      page.waitForResponse((r) =>
        r.url().startsWith(`${base}/login`) && r.request().method() === "POST"
      ),
      page.getByTestId("login-submit").click(),
    ]);
    assertEquals(wrong.status(), 401);
    assertEquals((await context.cookies()).filter((c) => c.name === "hearth_session"), []);

    // The one-time link signs in once.
    const link = await oneTimeLink(node);
    await signInWithLink(page, node);
    const cookies = (await context.cookies()).filter((c) => c.name === "hearth_session");
    assertEquals(cookies.length, 1);
    const cookie = cookies[0]!;
    assert(cookie.httpOnly, "the session cookie is HttpOnly");
    assertEquals(cookie.sameSite, "Strict");
    assert(/^[0-9a-f]{64}$/.test(cookie.value), "a 32-byte hex session id");
    const indexRes = await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
    assertEquals(indexRes?.status(), 200);
    const indexCsp = (await indexRes!.allHeaders())["content-security-policy"] ?? "";
    assert(indexCsp.includes("script-src 'self'"), `CSP of /: ${indexCsp}`);
    assert(!indexCsp.includes("unsafe-inline"), `CSP of /: ${indexCsp}`);

    // The link is used: a second browser (no cookie) is refused with it.
    {
      const other = await newPage(browser);
      const again = await other.page.goto(link, { waitUntil: "domcontentloaded" });
      assertEquals(again?.status(), 401);
      const bad = await other.page.goto(`${base}/login?token=${"A".repeat(43)}`);
      assertEquals(bad?.status(), 401);
      // The login form with the owner token works.
      await signInWithForm(other.page, node);
      const formCookies = (await other.context.cookies()).filter((c) =>
        c.name === "hearth_session"
      );
      assertEquals(formCookies.length, 1);
      assert(formCookies[0]!.value !== cookie.value, "a new session per sign-in");
      const session = await other.page.evaluate(async () => {
        const r = await fetch("/api/session", { credentials: "same-origin" });
        return { status: r.status, body: await r.json() };
      });
      assertEquals(session.status, 200);
      await other.context.close();
    }

    // --- Cross-site POST: a page on another port of 127.0.0.1 (same site: the cookie is sent) ---
    const attackerPort = freePort();
    attacker = Deno.serve(
      { hostname: "127.0.0.1", port: attackerPort, onListen: () => {} },
      () => new Response(attackerPage(base), { headers: { "content-type": "text/html" } }),
    );
    const seen: PwResponse[] = [];
    const onResponse = (r: PwResponse) => {
      if (r.url().startsWith(`${base}/api/messages`)) seen.push(r);
    };
    page.on("response", onResponse);
    await page.goto(`http://127.0.0.1:${attackerPort}/attack.html`, {
      waitUntil: "domcontentloaded",
    });
    await waitFor(() => seen.length >= 2, {
      timeoutMs: 30_000,
      what: "the attacker page's fetch and form POST to reach the node " +
        `(seen ${seen.map((r) => r.status())}, page ${page.url()})`,
    });
    page.off("response", onResponse);
    await screenshot(page, "01-cross-site-post-refused");
    let cookieSent = false;
    for (const r of seen) {
      assertEquals(r.request().method(), "POST");
      assertEquals(r.status(), 401, `cross-site POST answered ${r.status()}`);
      const cookieHeader = await r.request().headerValue("cookie").catch(() => null);
      if (cookieHeader?.includes("hearth_session=")) cookieSent = true;
    }
    assert(cookieSent, "the session cookie went with the cross-site POST (same site)");

    // --- Same origin, cookie only: without the CSRF token refused, with it accepted ---
    await page.goto(`${base}/`, { waitUntil: "domcontentloaded" });
    const sameOrigin = await page.evaluate(async () => {
      const post = (headers: Record<string, string>, text: string) =>
        fetch("/api/messages", {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ to: "self", text }),
        }).then((r) => r.status);
      const noToken = await post({}, "csrf-no-token");
      const wrongToken = await post({ "x-csrf-token": "0".repeat(64) }, "csrf-wrong-token");
      const s = await fetch("/api/session", { credentials: "same-origin" }).then((r) => r.json());
      const ok = await post({ "x-csrf-token": s.csrfToken }, "same-origin ok");
      return { noToken, wrongToken, ok, csrfToken: s.csrfToken as string };
    });
    assertEquals(sameOrigin.noToken, 401);
    assertEquals(sameOrigin.wrongToken, 401);
    assertEquals(sameOrigin.ok, 201);

    // The cookie and the right CSRF token, but another Origin (outside a browser): refused.
    const withCookie = (origin: string | undefined, text: string) =>
      fetch(`${base}/api/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          cookie: `hearth_session=${cookie.value}`,
          "x-csrf-token": sameOrigin.csrfToken,
          ...(origin === undefined ? {} : { origin }),
        },
        body: JSON.stringify({ to: "self", text }),
        signal: AbortSignal.timeout(15_000),
      }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      });
    assertEquals(await withCookie("http://evil.example", "csrf-evil-origin"), 401);
    assertEquals(await withCookie(`http://127.0.0.1:${attackerPort}`, "csrf-port-origin"), 401);
    assertEquals(await withCookie(undefined, "csrf-no-origin"), 401);
    assertEquals(await withCookie(base, "cookie ok"), 201);

    // Only the two accepted messages exist.
    assertEquals(await selfTexts(node), ["same-origin ok", "cookie ok"]);

    // Logout ends the session.
    const loggedOut = await page.evaluate(async (token) => {
      const r = await fetch("/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "x-csrf-token": token },
      });
      const after = await fetch("/api/session", { credentials: "same-origin" });
      return { logout: r.status, after: after.status };
    }, sameOrigin.csrfToken);
    assert(loggedOut.logout < 400, `logout answered ${loggedOut.logout}`);
    assertEquals(loggedOut.after, 401);
    await context.close();
  } finally {
    await closeBrowser(browser);
    await attacker?.shutdown().catch(() => {});
    await node?.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}));
