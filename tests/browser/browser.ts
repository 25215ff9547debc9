/**
 * The real-browser harness: playwright-core driving Debian's Chromium at
 * `/usr/bin/chromium` (or `HEARTH_CHROMIUM_PATH`; never a downloaded browser). A test that needs the
 * browser fails when it is missing, unless `HEARTH_SKIP_BROWSER=1` is set
 * (local runs only; CI never sets it), in which case it is reported as
 * ignored, never as passed.
 *
 * Also: signing in on a node (one-time link from its log, or the login
 * form), screenshots into `tests/browser/screenshots/` (ignored by git),
 * and bounded closing of everything.
 * @module
 */
import "./fs_guard.ts";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { NodeProcess } from "../../tools/devnet_lib.ts";

/** Where Debian installs Chromium; `HEARTH_CHROMIUM_PATH` names another binary. */
export const CHROMIUM_PATH = Deno.env.get("HEARTH_CHROMIUM_PATH") || "/usr/bin/chromium";

/** The folder screenshots go to (in .gitignore). */
export const SCREENSHOT_DIR = new URL("./screenshots/", import.meta.url).pathname;

/** How long one browser action or wait may take by default, ms (a slow, noisy machine). */
export const ACTION_TIMEOUT_MS = 30_000;

/** Whether the browser tests are explicitly skipped (local runs only). */
export function browserSkipped(): boolean {
  return Deno.env.get("HEARTH_SKIP_BROWSER") === "1";
}

/** Whether Chromium is installed where the harness expects it. */
export function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * `Deno.test` options for a browser test: ignored (reported, not passed)
 * when `HEARTH_SKIP_BROWSER=1`; otherwise it runs, and {@link launchBrowser}
 * fails it when Chromium is missing. Leaks are not checked: playwright keeps
 * pipes and timers of its own.
 */
export function browserTest(name: string, fn: () => Promise<void>): Deno.TestDefinition {
  return {
    name,
    ignore: browserSkipped(),
    sanitizeOps: false,
    sanitizeResources: false,
    sanitizeExit: false,
    fn: async () => {
      requireChromium(); // fail at once, before starting nodes
      let timer: ReturnType<typeof setTimeout> | undefined;
      const overdue = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Browser test over ${BROWSER_TEST_LIMIT_MS / 60_000} minutes`)),
          BROWSER_TEST_LIMIT_MS,
        );
      });
      try {
        await Promise.race([fn(), overdue]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The longest a browser test may run before it fails (it never hangs a run), ms. */
const BROWSER_TEST_LIMIT_MS = 6 * 60_000;

/** Throw a clear error when Chromium is not installed. */
export function requireChromium(): void {
  if (!chromiumPresent()) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: install it (apt-get install chromium), ` +
        "or set HEARTH_SKIP_BROWSER=1 to skip the browser tests on a local run",
    );
  }
}

/**
 * Launch Chromium headless; throws a clear error when it is not installed.
 * @param options.args flags added after the default ones, e.g.
 *   {@link FAKE_MEDIA_ARGS} for a fake microphone
 */
export async function launchBrowser(options: { args?: string[] } = {}): Promise<Browser> {
  requireChromium();
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...(options.args ?? []),
    ],
    timeout: 60_000,
  });
}

/** Chromium flags for a fake camera and microphone (a beep) that need no prompt. */
export const FAKE_MEDIA_ARGS: readonly string[] = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];

/**
 * A fresh context (own cookies) and page with generous timeouts.
 * @param options.permissions browser permissions granted to every origin, e.g. `["microphone"]`
 */
export async function newPage(
  browser: Browser,
  options: { width?: number; height?: number; permissions?: string[] } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    acceptDownloads: true,
    permissions: options.permissions ?? [],
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  return { context, page };
}

/** Save a full-page screenshot as `screenshots/<name>.png`; never fails the test. */
export async function screenshot(page: Page, name: string): Promise<void> {
  try {
    await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({
      path: `${SCREENSHOT_DIR}${name}.png`,
      fullPage: true,
      timeout: 20_000,
    });
  } catch (err) {
    console.warn(`screenshot ${name} failed: ${err instanceof Error ? err.message : err}`);
  }
}

/** Run `p` but give up after `ms` (for closing things that may hang). */
export async function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** Close the browser, waiting at most 20 s; then kill its process if still there. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  await bounded(Promise.all(browser.contexts().map((c) => c.close())), 10_000);
  await bounded(browser.close(), 10_000);
}

/** Base URL of a node's web port. */
export function webUrl(node: NodeProcess): string {
  return `http://${node.webAddr}`;
}

/**
 * The one-time sign-in link the node printed at start-up (the last one in
 * its log), waiting up to `timeoutMs` for it to appear. The printed host
 * is replaced by the node's actual web address.
 */
export async function oneTimeLink(node: NodeProcess, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const log = await Deno.readTextFile(node.logPath).catch(() => "");
    const found = [...log.matchAll(/\/login\?token=([A-Za-z0-9_\-.~%]+)/g)];
    const last = found.at(-1);
    if (last) return `${webUrl(node)}/login?token=${last[1]}`;
    if (Date.now() > deadline) {
      throw new Error(`No "/login?token=" line in ${node.logPath}:\n${log.slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sign in through the one-time link; the page ends on the node's `/`. */
export async function signInWithLink(page: Page, node: NodeProcess): Promise<void> {
  const link = await oneTimeLink(node);
  const res = await page.goto(link, { waitUntil: "domcontentloaded" });
  if (!res || new URL(page.url()).pathname !== "/") {
    throw new Error(`sign-in link ended on ${page.url()} (status ${res?.status()})`);
  }
}

/** Sign in through the login form with the owner token; the page ends on `/`. */
export async function signInWithForm(page: Page, node: NodeProcess): Promise<void> {
  await page.goto(`${webUrl(node)}/login`, { waitUntil: "domcontentloaded" });
  await page.getByTestId("login-secret").fill(node.ownerToken);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/login") && r.request().method() === "POST"),
    page.getByTestId("login-submit").click(),
  ]);
  if (res.status() !== 303) {
    await page.waitForLoadState("domcontentloaded");
    const error = await page.getByTestId("login-error").textContent({ timeout: 2_000 })
      .catch(() => "");
    const origin = await res.request().headerValue("origin");
    throw new Error(
      `POST /login answered ${res.status()} (Origin sent: ${origin}): ${error ?? ""}`.trim(),
    );
  }
  await page.waitForURL((u) => u.pathname === "/", { waitUntil: "domcontentloaded" });
}
