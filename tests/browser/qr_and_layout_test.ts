/**
 * Adding a contact from a QR code, and the rest of the UI checklist, in a
 * real browser on a real devnet: Alice (made through onboarding) reads
 * Bob's Account ID (Bob made through the API on another node) from a GIF
 * of its QR code, from the camera (Chromium's fake camera playing a Y4M
 * file of the code), and by pasting it with a line break; she writes to
 * him with the keyboard alone (Tab to the conversation, Enter, Shift+Enter,
 * Enter); with notifications turned on and the tab hidden, Bob's reply
 * makes a browser notification; the text colours pass WCAG AA contrast in
 * both themes; and at phone size (390×844) the list, a chat (and its back
 * button) and the settings fit without a horizontal scrollbar.
 * Screenshots go to tests/browser/screenshots/.
 */
import { Buffer } from "node:buffer";
import { encodeQR } from "@paulmillr/qr";
import { assert, assertEquals } from "../assert.ts";
import { ownerApi, waitFor, withDevnet } from "../../tools/devnet_lib.ts";
import { accountIdQrText } from "../../src/client/account/qr.ts";
import {
  browserTest,
  closeBrowser,
  FAKE_MEDIA_ARGS,
  launchBrowser,
  newPage,
  screenshot,
  signInWithForm,
  signInWithLink,
} from "./browser.ts";
import {
  byId,
  conversationItem,
  horizontalOverflow,
  logTail,
  message,
  onboard,
  prekeysPublished,
  STEP_MS,
  waitText,
  watchDialogs,
} from "./flows.ts";
import type { Browser, Page } from "playwright-core";

const PASS = "browser qr and layout passphrase";

// The functions below marked "in the page" run in Chromium; the type checker
// here has no DOM types, so the page's globals they use are declared loosely.
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;
declare const getComputedStyle: Dom;
declare const localStorage: Dom;
declare const DataTransfer: Dom;
declare const ClipboardEvent: Dom;

/** Every dialog a page opened (an `alert` would be injected script). */
const dialogs: string[] = [];

/** The side of the fake camera's picture, px. */
const CAMERA_SIDE = 320;

/**
 * A Y4M video (what Chromium's fake camera plays) of a QR code of `text`:
 * black modules on white, a 4-module quiet zone, centred in a square
 * picture of {@link CAMERA_SIDE} pixels, a few identical frames.
 */
function qrY4m(text: string): Uint8Array {
  const grid = encodeQR(text, "raw", { ecc: "medium", border: 0 });
  const modules = grid.length + 8;
  const scale = Math.floor(CAMERA_SIDE / modules);
  assert(scale >= 3, `a ${grid.length}-module code fits the picture`);
  const offset = Math.floor((CAMERA_SIDE - grid.length * scale) / 2);
  const luma = new Uint8Array(CAMERA_SIDE * CAMERA_SIDE).fill(235); // white
  for (let y = 0; y < grid.length * scale; y++) {
    for (let x = 0; x < grid.length * scale; x++) {
      if (grid[Math.floor(y / scale)]![Math.floor(x / scale)]) {
        luma[(offset + y) * CAMERA_SIDE + offset + x] = 16; // black
      }
    }
  }
  const chroma = new Uint8Array((CAMERA_SIDE / 2) * (CAMERA_SIDE / 2)).fill(128);
  const header = `YUV4MPEG2 W${CAMERA_SIDE} H${CAMERA_SIDE} F10:1 Ip A1:1 C420jpeg\n`;
  const parts: Uint8Array[] = [new TextEncoder().encode(header)];
  for (let i = 0; i < 5; i++) parts.push(new TextEncoder().encode("FRAME\n"), luma, chroma, chroma);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Before the app loads: record every `Notification` made (and every
 * permission request) instead of showing it, and every camera stream
 * opened, so the test can see them.
 */
function recordNotificationsAndCamera(): void {
  // in the page
  const w = globalThis as Dom;
  const Real = w.Notification;
  const notes: { title: string; body: string }[] = [];
  let asks = 0;
  w.__notes = notes;
  w.__asks = () => asks;
  function Recording(title: string, options?: { body?: string }) {
    notes.push({ title, body: options?.body ?? "" });
    return new EventTarget();
  }
  Object.defineProperty(Recording, "permission", { get: () => Real.permission });
  Recording.requestPermission = () => {
    asks++;
    return Real.requestPermission();
  };
  w.Notification = Recording;
  const streams: Dom[] = [];
  w.__streams = streams;
  const media = w.navigator.mediaDevices;
  if (media) {
    const open = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints: unknown) => {
      const s = await open(constraints);
      streams.push(s);
      return s;
    };
  }
}

/** The New chat dialog's Account ID field, once it holds `id`. */
async function idFieldShows(page: Page, id: string, what: string): Promise<void> {
  let last = "";
  await waitFor(async () => {
    last = await byId(page, "new-chat-id").inputValue({ timeout: 5_000 }).catch(() => "");
    return last === id;
  }, {
    timeoutMs: STEP_MS,
    intervalMs: 200,
    what: `${what} (field holds ${JSON.stringify(last)})`,
  });
}

/** Whether every camera track the page opened has ended. */
function cameraOff(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const streams: Dom[] = (globalThis as Dom).__streams;
    return streams.every((s) => s.getTracks().every((t: Dom) => t.readyState === "ended"));
  });
}

/** How many camera streams the page opened. */
function cameraStreams(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as Dom).__streams.length);
}

/** Pretend the tab is hidden (or visible again), as when another tab is in front. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => hidden ? "hidden" : "visible",
    });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** The notifications recorded on the page. */
function notes(page: Page): Promise<{ title: string; body: string }[]> {
  return page.evaluate(() => (globalThis as unknown as { __notes: never[] }).__notes.slice());
}

/**
 * WCAG contrast ratios of the text of each element of `selector` (the
 * first one) against what is behind it: the text colour (with its alpha
 * and the elements' opacity) over the backgrounds of the element and its
 * ancestors, composited from the page down.
 */
function contrastOf(page: Page, selectors: string[]): Promise<Record<string, number>> {
  return page.evaluate((selectors) => {
    const rgba = (css: string): number[] => {
      const m = css.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0]!, p[1]!, p[2]!, p[3] ?? 1];
    };
    const over = (top: number[], under: number[]) =>
      [0, 1, 2].map((i) => top[i]! * top[3]! + under[i]! * (1 - top[3]!)).concat(1);
    const lum = (c: number[]) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(c[0]!) + 0.7152 * f(c[1]!) + 0.0722 * f(c[2]!);
    };
    const out: Record<string, number> = {};
    for (const selector of selectors) {
      const el = document.querySelector(selector);
      if (!el) continue;
      const chain: Dom[] = [];
      for (let e: Dom = el; e; e = e.parentElement) chain.unshift(e);
      let back = [255, 255, 255, 1]; // the canvas
      let opacity = 1;
      for (const e of chain) {
        const style = getComputedStyle(e);
        back = over(rgba(style.backgroundColor), back);
        opacity *= Number(style.opacity);
      }
      const fg = rgba(getComputedStyle(el).color);
      const text = over([fg[0]!, fg[1]!, fg[2]!, fg[3]! * opacity], back);
      const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
      out[selector] = (a! + 0.05) / (b! + 0.05);
    }
    return out;
  }, selectors);
}

Deno.test(
  browserTest(
    "the web UI: a contact from a QR code, notifications, keyboard, contrast, phone",
    async () => {
      await withDevnet(5, async (devnet) => {
        const nodeA = devnet.nodes[1]!;
        const nodeB = devnet.nodes[2]!;
        const tmp = await Deno.makeTempDir({ prefix: "hearth-qr-browser-" });
        let browser: Browser | undefined;
        let plain: Browser | undefined;
        try {
          // Bob, through the API; his ID as a GIF (as typed) and as the camera's picture (as
          // the Settings QR code holds it: upper case).
          const made = await ownerApi(nodeB, "POST", "/api/account", {
            passphrase: PASS,
            displayName: "Bob",
          });
          assertEquals(made.status, 201);
          const bob = made.json.accountId as string;
          const y4m = `${tmp}/qr.y4m`;
          await Deno.writeFile(y4m, qrY4m(accountIdQrText(bob)));
          browser = await launchBrowser({
            args: [...FAKE_MEDIA_ARGS, `--use-file-for-fake-video-capture=${y4m}`],
          });
          const { context, page } = await newPage(browser, {
            permissions: ["camera", "notifications"],
          });
          watchDialogs(page, "A", dialogs);
          await context.addInitScript(recordNotificationsAndCamera);
          await signInWithLink(page, nodeA);
          const alice = (await onboard(page, "Alice", { passphrase: PASS })).accountId;

          // --- (a) From an image: a GIF of Bob's QR code ---
          await byId(page, "new-chat").click();
          await byId(page, "qr-file").setInputFiles({
            name: "bob-qr.gif",
            mimeType: "image/gif",
            buffer: Buffer.from(encodeQR(bob, "gif")),
          });
          await idFieldShows(page, bob, "the ID read from the GIF");
          await screenshot(page, "a0-new-chat-from-image");
          await page.keyboard.press("Escape");

          // An image without a code, or a file that is no image, says so; the dialog still works.
          await byId(page, "new-chat").click();
          await byId(page, "qr-file").setInputFiles({
            name: "grey.bmp",
            mimeType: "image/bmp",
            buffer: Buffer.from(greyBmp(64)),
          });
          await page.getByText("No QR code was found in this image.").waitFor();
          await byId(page, "qr-file").setInputFiles({
            name: "notes.txt",
            mimeType: "text/plain",
            buffer: Buffer.from("not an image"),
          });
          await page.getByText("This file is not an image the browser can read.").waitFor();
          assertEquals(await byId(page, "new-chat-id").inputValue(), "");
          // A QR code of something else is not taken for an Account ID.
          await byId(page, "qr-file").setInputFiles({
            name: "link.gif",
            mimeType: "image/gif",
            buffer: Buffer.from(encodeQR("https://example.org/", "gif")),
          });
          await page.getByText("This QR code does not hold a hearth Account ID.").waitFor();
          assertEquals(await byId(page, "new-chat-id").inputValue(), "");

          // --- Pasting: the spaces and line break copied along are dropped ---
          await byId(page, "new-chat-id").focus();
          await page.evaluate((text) => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            document.activeElement!.dispatchEvent(
              new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
            );
          }, `  ${bob}\n`);
          await idFieldShows(page, bob, "the pasted ID");
          await page.keyboard.press("Escape");

          // --- (b) The camera: the fake camera shows the upper-case code of Settings ---
          await byId(page, "new-chat").click();
          await byId(page, "qr-scan").click();
          await idFieldShows(page, bob, "the ID read by the camera");
          assert(await byId(page, "qr-video").isHidden(), "the camera view is gone");
          assert(await cameraOff(page), "the camera is off once the code is read");
          // Starting the chat works: the checksum is checked, the chat opens, the composer has focus.
          await byId(page, "new-chat-submit").click();
          await page.locator(`[data-testid="chat-view"][data-conversation-id="${bob}"]`).waitFor();
          await waitFor(
            () =>
              page.evaluate(() =>
                document.activeElement?.getAttribute("data-testid") === "composer"
              ),
            { timeoutMs: STEP_MS, what: "the composer focused" },
          );
          // Closing the dialog while the camera starts turns it off too.
          await byId(page, "new-chat").click();
          await byId(page, "qr-scan").click();
          await page.keyboard.press("Escape");
          await waitFor(
            async () => (await cameraStreams(page)) === 2 && await cameraOff(page),
            { timeoutMs: STEP_MS, what: "the second camera opened, then off" },
          );

          // --- Keyboard only: Tab from the search box to a conversation, Enter, type, send ---
          await prekeysPublished(nodeB, "Bob");
          await byId(page, "conversation-search").focus();
          // Bob's chat is listed once it has a message: first a note to self.
          let reached = "";
          for (let i = 0; i < 40 && reached !== "self"; i++) {
            await page.keyboard.press("Tab");
            reached = await page.evaluate(() =>
              document.activeElement?.getAttribute("data-conversation-id") ?? ""
            );
          }
          assertEquals(reached, "self", "Tab reaches Note to Self in the list");
          await page.keyboard.press("Enter");
          await page.locator('[data-testid="chat-view"][data-conversation-id="self"]').waitFor();
          await focusComposer(page);
          await page.keyboard.type("first line");
          await page.keyboard.press("Shift+Enter");
          await page.keyboard.type("second line");
          await page.keyboard.press("Enter");
          await waitText(page, "first line\nsecond line", "the two-line note");
          // Now to Bob, by keyboard too: New chat, his ID, Enter.
          await page.goto(page.url()); // a fresh start: focus is on the search box
          await byId(page, "conversation-search").waitFor();
          await waitFor(
            () =>
              page.evaluate(() =>
                document.activeElement?.getAttribute("data-testid") === "conversation-search"
              ),
            { timeoutMs: STEP_MS, what: "the search box focused at start" },
          );
          await newChatByKeyboard(page, bob);
          await page.keyboard.type("hello Bob");
          await page.keyboard.press("Enter");
          await waitText(page, "hello Bob", "the first message to Bob");
          await conversationItem(page, bob).waitFor({ timeout: STEP_MS });

          // --- Bob accepts; notifications on; Bob's reply while the tab is hidden ---
          await waitFor(async () => {
            const r = await ownerApi(nodeB, "GET", "/api/requests");
            return (r.json.requests as { accountId: string }[]).some((x) => x.accountId === alice);
          }, { timeoutMs: STEP_MS, what: "Alice's request on Bob's node" });
          assertEquals(
            (await ownerApi(nodeB, "POST", `/api/requests/${alice}/accept`, {})).status,
            200,
          );
          await byId(page, "settings-open").click();
          const toggle = byId(page, "settings-notifications");
          await toggle.waitFor();
          assert(!(await toggle.isChecked()), "notifications start off");
          await toggle.check();
          // It asks for the permission (granted to this context), then keeps the choice.
          await waitFor(
            () => page.evaluate(() => localStorage.getItem("hearth.notifications") === "on"),
            { timeoutMs: STEP_MS, what: "notifications turned on" },
          );
          assertEquals(await page.evaluate(() => (globalThis as Dom).__asks()), 1);
          await page.keyboard.press("Escape");
          await setHidden(page, true);
          assertEquals(
            (await ownerApi(nodeB, "POST", "/api/messages", { to: alice, text: "hi while hidden" }))
              .status,
            201,
          );
          await waitFor(async () => (await notes(page)).length > 0, {
            timeoutMs: STEP_MS,
            what: "a notification for Bob's message",
          });
          const note = (await notes(page))[0]!;
          assertEquals(note.body, "hi while hidden");
          // The sender's name, or a short ID when the name has not arrived yet.
          assert(note.title === "Bob" || note.title.startsWith("hearth1"), note.title);
          await setHidden(page, false);
          await ownerApi(nodeB, "POST", "/api/messages", { to: alice, text: "hi while visible" });
          await waitText(page, "hi while visible", "Bob's second reply in the open chat");
          assertEquals((await notes(page)).length, 1, "no notification while the tab is visible");
          assertEquals(await message(page, "hi while hidden").getAttribute("data-direction"), "in");

          // --- Contrast: body and secondary text, light and dark ---
          await byId(page, "composer").fill("one more");
          await byId(page, "composer").press("Enter");
          await waitText(page, "one more", "an outgoing message to measure");
          const texts = {
            "body": "body",
            "list name": '[data-testid="conversation-name"]',
            "list preview": ".conversation-item .last",
            "list time": ".conversation-item .time",
            "chat title": '[data-testid="chat-title"]',
            "chat subtitle": ".chat-header .sub",
            "incoming text": '.message.in [data-testid="message-text"]',
            "incoming time": ".message.in .meta time",
            "outgoing text": '.message.out [data-testid="message-text"]',
            "outgoing time": ".message.out .meta time",
          };
          for (const scheme of ["light", "dark"] as const) {
            await page.emulateMedia({ colorScheme: scheme });
            const ratios = await contrastOf(page, Object.values(texts));
            for (const [what, selector] of Object.entries(texts)) {
              const ratio = ratios[selector];
              assert(ratio !== undefined, `${what} (${selector}) is on the page`);
              assert(ratio >= 4.5, `${scheme}: ${what} has contrast ${ratio.toFixed(2)}:1 < 4.5:1`);
            }
            await screenshot(page, `a1-desktop-${scheme}`);
          }
          await page.emulateMedia({ colorScheme: "light" });
          assert(
            (await Deno.readTextFile(new URL("../../src/web/ui/styles.css", import.meta.url)))
              .includes(":focus-visible"),
            "styles.css draws a visible focus",
          );

          // --- A phone-sized screen: list, chat with its back button, settings ---
          // (In a browser of its own, without the fake camera.)
          plain = await launchBrowser();
          const phone = await newPage(plain, { width: 390, height: 844 });
          watchDialogs(phone.page, "phone", dialogs);
          await signInWithForm(phone.page, nodeA);
          await conversationItem(phone.page, bob).waitFor({ timeout: STEP_MS });
          await screenshot(phone.page, "a2-phone-list");
          assertEquals(await horizontalOverflow(phone.page), 0, "the list fits the phone's width");
          await conversationItem(phone.page, bob).click();
          await waitText(phone.page, "hi while visible", "the chat at phone size");
          assert(await byId(phone.page, "conversation-list").isHidden(), "one column at a time");
          await screenshot(phone.page, "a3-phone-chat");
          assertEquals(await horizontalOverflow(phone.page), 0, "the chat fits the phone's width");
          await byId(phone.page, "chat-back").click();
          await byId(phone.page, "conversation-list").waitFor({ state: "visible" });
          assert(await byId(phone.page, "chat-view").isHidden(), "back shows the list alone");
          await byId(phone.page, "settings-open").click();
          await byId(phone.page, "account-qr").first().waitFor({ state: "attached" });
          await screenshot(phone.page, "a4-phone-settings");
          assertEquals(
            await horizontalOverflow(phone.page),
            0,
            "the settings fit the phone's width",
          );
          await phone.page.keyboard.press("Escape");
          await byId(phone.page, "new-chat").click();
          await byId(phone.page, "qr-scan").waitFor();
          await screenshot(phone.page, "a5-phone-new-chat");
          assertEquals(await horizontalOverflow(phone.page), 0, "New chat fits the phone's width");
          // This browser has no camera (and no permission for one): a clear message, and the
          // Account ID can still be typed.
          await byId(phone.page, "qr-scan").click();
          await phone.page.getByText(/^(No camera was found|Camera access was not allowed)\./)
            .waitFor();
          assert(await byId(phone.page, "qr-video").isHidden(), "no camera view");
          await byId(phone.page, "new-chat-id").fill(bob);
          await byId(phone.page, "new-chat-submit").click();
          await phone.page.locator(`[data-testid="chat-view"][data-conversation-id="${bob}"]`)
            .waitFor();

          assertEquals(
            dialogs.filter((d) => / alert:/.test(d)),
            [],
            "no alert ran",
          );
        } catch (err) {
          const pages = [browser, plain].flatMap((b) =>
            b?.contexts().flatMap((c) => c.pages()) ?? []
          );
          for (const [label, page] of pages.entries()) {
            await screenshot(page, `failure-qr-${label}`);
          }
          await logTail([nodeA, nodeB]);
          throw err;
        } finally {
          await closeBrowser(browser);
          await closeBrowser(plain);
          await Deno.remove(tmp, { recursive: true }).catch(() => {});
        }
      }, { prefix: "hearth-browser-qr-" });
    },
  ),
);

/**
 * Make sure the composer has the focus: opening a chat puts it there once
 * the messages are read; else Tab (at most 10 times) must reach it.
 */
async function focusComposer(page: Page): Promise<void> {
  const onComposer = () =>
    page.evaluate(() => document.activeElement?.getAttribute("data-testid") === "composer");
  await waitFor(onComposer, { timeoutMs: 10_000, intervalMs: 200 }).catch(() => {});
  for (let i = 0; i < 10 && !(await onComposer()); i++) await page.keyboard.press("Tab");
  assert(await onComposer(), "the composer can be reached with Tab");
}

/** A grey square as a BMP file (24-bit, bottom-up rows): an image with no code in it. */
function greyBmp(side: number): Uint8Array {
  const row = Math.ceil((side * 3) / 4) * 4;
  const size = 54 + row * side;
  const out = new Uint8Array(size).fill(0x80, 54);
  const view = new DataView(out.buffer);
  out.set([0x42, 0x4d]); // "BM"
  view.setUint32(2, size, true);
  view.setUint32(10, 54, true); // where the pixels start
  view.setUint32(14, 40, true); // BITMAPINFOHEADER
  view.setInt32(18, side, true);
  view.setInt32(22, side, true);
  view.setUint16(26, 1, true); // planes
  view.setUint16(28, 24, true); // bits per pixel
  view.setUint32(34, row * side, true);
  return out;
}

/** Open New chat with the keyboard (Tab from the search box, Enter), type an ID, Enter. */
async function newChatByKeyboard(page: Page, id: string): Promise<void> {
  await page.keyboard.press("Tab");
  assertEquals(
    await page.evaluate(() => document.activeElement?.getAttribute("data-testid")),
    "new-chat",
  );
  await page.keyboard.press("Enter");
  await byId(page, "new-chat-id").waitFor();
  await page.keyboard.type(id);
  await page.keyboard.press("Enter");
  await page.locator(`[data-testid="chat-view"][data-conversation-id="${id}"]`).waitFor();
  await focusComposer(page);
}
