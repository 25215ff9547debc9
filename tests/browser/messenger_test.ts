/**
 * The web UI as a person uses it, in a real browser, on a real devnet:
 * two node processes, each with a browser page signed in on it. Both
 * accounts are created through the UI (onboarding, recovery phrase); A
 * starts a chat with B's Account ID, B accepts the request, they exchange
 * text, A sends a photo and a file, B sees both and downloads the file
 * (same bytes), both see delivered and read; a group of three (the third
 * account made through the API on a third node) is created and used, and a
 * member is removed; a message holding HTML renders as text. Screenshots
 * of the main screens go to tests/browser/screenshots/.
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../assert.ts";
import { ownerApi, waitFor, withDevnet } from "../../tools/devnet_lib.ts";
import {
  browserTest,
  closeBrowser,
  launchBrowser,
  newPage,
  screenshot,
  signInWithLink,
} from "./browser.ts";
import {
  byId,
  logTail,
  message,
  onboard,
  openConversation,
  prekeysPublished,
  sendText,
  settingOn,
  startChat,
  STEP_MS,
  waitAttr,
  waitText,
  watchDialogs,
} from "./flows.ts";
import type { Browser, Page } from "playwright-core";

const PASS = "browser messenger test passphrase";
const HTML_TEXT = "<img src=x onerror=alert(1)><b>bold</b>";
/** A file name and a display name holding HTML: shown as text too. */
const HTML_FILE = "<img src=x onerror=alert(2)>notes.txt";
const HTML_NAME = "<i>Carol</i>";

/** Every dialog a page opened (an `alert` would be injected script). */
const dialogs: string[] = [];

/** Attach a file and send it (the composer's send button). */
async function sendFile(page: Page, file: { name: string; mimeType: string; buffer: Uint8Array }) {
  const before = await byId(page, "attachment").count();
  await byId(page, "attach-input").setInputFiles({
    name: file.name,
    mimeType: file.mimeType,
    buffer: Buffer.from(file.buffer),
  });
  // It waits in the composer's tray while it goes up to the node; a click on send
  // before it is there only says "wait" (as for a person, who clicks again).
  await byId(page, "pending-attachment").first().waitFor({ timeout: STEP_MS });
  await waitFor(async () => {
    if ((await byId(page, "attachment").count()) > before) return true;
    if (await byId(page, "pending-attachment").count() > 0) {
      await byId(page, "send-button").click();
    }
    return await waitFor(async () => (await byId(page, "attachment").count()) > before, {
      timeoutMs: 3_000,
      intervalMs: 200,
    }).then(() => true, () => false);
  }, { timeoutMs: STEP_MS, intervalMs: 200, what: `${file.name} shown as sent` });
}

Deno.test(
  browserTest("the web UI on a devnet: chat, photo, file, receipts, group, safe text", async () => {
    await withDevnet(5, async (devnet) => {
      const nodeA = devnet.nodes[1]!;
      const nodeB = devnet.nodes[2]!;
      const nodeC = devnet.nodes[3]!;
      let browser: Browser | undefined;
      try {
        browser = await launchBrowser();
        const a = await newPage(browser);
        const b = await newPage(browser);
        const pageA = a.page;
        const pageB = b.page;
        watchDialogs(pageA, "A", dialogs);
        watchDialogs(pageB, "B", dialogs);
        await signInWithLink(pageA, nodeA);
        await signInWithLink(pageB, nodeB);

        // --- Two accounts through the UI ---
        const alice = (await onboard(pageA, "Alice", { passphrase: PASS, shots: true })).accountId;
        const bob = (await onboard(pageB, "Bob", { passphrase: PASS })).accountId;
        assertEquals((await ownerApi(nodeA, "GET", "/api/account")).json.accountId, alice);
        assertEquals((await ownerApi(nodeB, "GET", "/api/account")).json.accountId, bob);
        await settingOn(pageA, "settings-read-receipts", "20-settings");
        await settingOn(pageB, "settings-read-receipts");
        assertEquals((await ownerApi(nodeA, "GET", "/api/settings")).json.readReceipts, true);
        assertEquals((await ownerApi(nodeB, "GET", "/api/settings")).json.readReceipts, true);

        // Bob's prekey bundle is published before Alice's first message (a session, not sealed).
        await prekeysPublished(nodeB, "Bob");

        // --- A starts a chat with B's Account ID ---
        await startChat(pageA, bob, "hello Bob");

        // --- B accepts the request ---
        const request = pageB.locator(`[data-testid="request-item"][data-account-id="${alice}"]`);
        await request.waitFor({ timeout: STEP_MS });
        await screenshot(pageB, "12-message-request");
        await byId(request, "request-accept").click();
        await openConversation(pageB, alice);
        await waitText(pageB, "hello Bob", "B sees A's first message");
        assertEquals(await message(pageB, "hello Bob").getAttribute("data-direction"), "in");
        await sendText(pageB, "hi Alice");
        await waitText(pageA, "hi Alice", "A sees B's reply");

        // --- Shift+Enter is a new line, Enter sends ---
        const composerA = byId(pageA, "composer");
        await composerA.fill("two");
        await composerA.press("Shift+Enter");
        await composerA.pressSequentially("lines");
        assertEquals(await composerA.inputValue(), "two\nlines");
        await composerA.press("Enter");
        await waitText(pageB, "two\nlines", "B sees the two-line message");

        // --- A sends a photo and a file ---
        const png = await makePng(browser);
        const fileBytes = new TextEncoder().encode(
          "hearth browser test file\n" + "0123456789abcdef".repeat(256),
        );
        await sendFile(pageA, { name: "dot.png", mimeType: "image/png", buffer: png });
        await sendFile(pageA, { name: HTML_FILE, mimeType: "text/plain", buffer: fileBytes });
        const imgB = byId(pageB, "attachment-image").first();
        await imgB.waitFor({ timeout: STEP_MS });
        await waitFor(
          () =>
            imgB.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth > 0)
              .catch(() => false),
          { timeoutMs: STEP_MS, what: "the photo to load on B" },
        );
        await byId(pageA, "attachment-image").first().waitFor({ timeout: STEP_MS });
        await screenshot(pageA, "30-chat-with-photo");
        await screenshot(pageB, "31-chat-with-photo-recipient");
        const fileBox = byId(pageB, "attachment").filter({ hasText: HTML_FILE });
        const downloadLink = byId(fileBox, "attachment-download").first();
        await downloadLink.waitFor({ timeout: STEP_MS });
        const [download] = await Promise.all([
          pageB.waitForEvent("download", { timeout: STEP_MS }),
          downloadLink.click(),
        ]);
        const saved = await Deno.makeTempFile({ prefix: "hearth-download-" });
        try {
          // Chromium makes `<` and `>` safe in the saved name.
          assert(download.suggestedFilename().endsWith("notes.txt"), download.suggestedFilename());
          assertEquals(await fileBox.locator("img").count(), 0);
          await download.saveAs(saved);
          assertEquals(new Uint8Array(await Deno.readFile(saved)), fileBytes);
        } finally {
          await Deno.remove(saved).catch(() => {});
        }

        // --- Delivered and read on both sides ---
        await waitAttr(message(pageA, "hello Bob"), "data-status", ["read"], "A's first read");
        await waitAttr(message(pageA, "two\nlines"), "data-status", ["read"], "A's second read");
        await waitAttr(message(pageB, "hi Alice"), "data-status", ["read"], "B's reply read");
        await byId(message(pageA, "hello Bob"), "message-status").waitFor({ state: "attached" });

        // --- HTML from a peer renders as text ---
        await sendText(pageB, HTML_TEXT);
        await waitText(pageA, HTML_TEXT, "A sees the HTML message");
        for (const page of [pageA, pageB]) {
          const textEl = byId(message(page, HTML_TEXT), "message-text");
          assertEquals(await textEl.textContent(), HTML_TEXT);
          assertEquals(await textEl.locator("b, img").count(), 0);
          assertEquals(
            await message(page, HTML_TEXT).locator("b, img:not([data-testid])").count(),
            0,
          );
        }

        // --- A group of three; C is made through the API on a third node ---
        const created = await ownerApi(nodeC, "POST", "/api/account", {
          passphrase: PASS,
          displayName: HTML_NAME,
        });
        assertEquals(created.status, 201);
        const carol = created.json.accountId as string;
        await byId(pageA, "new-group").click();
        await byId(pageA, "group-name").fill("Hearth club");
        await byId(pageA, "group-members").fill(`${bob}\n${carol}`);
        await byId(pageA, "group-create").click();
        let groupId = "";
        await waitFor(async () => {
          const g = await ownerApi(nodeA, "GET", "/api/groups");
          const groups = g.json.groups as { id: string; name: string }[];
          groupId = groups.find((x) => x.name === "Hearth club")?.id ?? "";
          return groupId !== "";
        }, { timeoutMs: STEP_MS, what: "the group on A" });
        await byId(pageA, "chat-view").waitFor();

        // B joins through the UI, C through the API.
        const invite = pageB.locator(`[data-testid="group-invite"]`).first();
        await invite.waitFor({ timeout: STEP_MS });
        await byId(invite, "group-join").click();
        await waitFor(async () => {
          const g = await ownerApi(nodeC, "GET", `/api/groups/${groupId}`);
          return g.status === 200 && g.json.state === "invited";
        }, { timeoutMs: STEP_MS, what: "C's invitation" });
        assertEquals((await ownerApi(nodeC, "POST", `/api/groups/${groupId}/join`)).status, 200);
        await waitFor(async () => {
          const [gb, gc] = await Promise.all([
            ownerApi(nodeB, "GET", `/api/groups/${groupId}`),
            ownerApi(nodeC, "GET", `/api/groups/${groupId}`),
          ]);
          return gb.json.memberCount === 3 && gc.json.memberCount === 3 &&
            gb.json.state === "joined" && gc.json.state === "joined";
        }, { timeoutMs: STEP_MS, what: "B and C joined with the group's state" });

        // B looks at the chat with A: the group shows an unread badge until opened.
        await openConversation(pageB, alice);
        await openConversation(pageA, groupId);
        await sendText(pageA, "hello club");
        const groupOnB = pageB.locator(
          `[data-testid="conversation-item"][data-conversation-id="${groupId}"]`,
        );
        await byId(groupOnB, "unread-badge").waitFor({ timeout: STEP_MS });
        await openConversation(pageB, groupId);
        await byId(groupOnB, "unread-badge").waitFor({ state: "detached", timeout: STEP_MS });
        await waitText(pageB, "hello club", "B sees the group message");
        await sendText(pageB, "hi club");
        await waitText(pageA, "hi club", "A sees B's group message");
        await waitFor(async () => {
          const r = await ownerApi(nodeC, "GET", `/api/conversations/${groupId}/messages`);
          const texts = ((r.json.messages ?? []) as { text: string }[]).map((m) => m.text);
          return texts.includes("hello club") && texts.includes("hi club");
        }, { timeoutMs: STEP_MS, what: "C has both group messages" });
        const fromCarol = await ownerApi(nodeC, "POST", "/api/messages", {
          to: groupId,
          text: "hi from Carol",
        });
        assertEquals(fromCarol.status, 201, JSON.stringify(fromCarol.json));
        await waitText(pageA, "hi from Carol", "A sees C's group message");
        // Her name (HTML) shows as text in the list's last-message line.
        const groupItem = pageA.locator(
          `[data-testid="conversation-item"][data-conversation-id="${groupId}"]`,
        );
        await waitFor(async () => ((await groupItem.textContent()) ?? "").includes(HTML_NAME), {
          timeoutMs: STEP_MS,
          what: "C's HTML display name shown as text",
        });
        assertEquals(await byId(pageA, "conversation-list").locator("b, i").count(), 0);

        // Peer-supplied HTML (a message, a file name, a display name) never became elements.
        for (const page of [pageA, pageB]) {
          assertEquals(await page.locator('[data-testid="chat-view"] :is(b, i)').count(), 0);
        }

        // A removes C through the members list.
        await byId(pageA, "group-info-open").click();
        await byId(pageA, "group-members-list").waitFor();
        const carolItem = pageA.locator(`[data-testid="group-member"][data-account-id="${carol}"]`);
        await carolItem.waitFor();
        await screenshot(pageA, "40-group");
        await byId(carolItem, "group-remove-member").click();
        await waitFor(async () => {
          const g = await ownerApi(nodeA, "GET", `/api/groups/${groupId}`);
          return g.json.memberCount === 2;
        }, { timeoutMs: STEP_MS, what: "C removed on A" });
        await carolItem.waitFor({ state: "detached", timeout: STEP_MS });
        await pageA.keyboard.press("Escape");
        await sendText(pageA, "after Carol left");
        await waitText(pageB, "after Carol left", "B sees the message after the removal");
        const cTexts = ((await ownerApi(nodeC, "GET", `/api/conversations/${groupId}/messages`))
          .json.messages as { text: string }[] | undefined ?? []).map((m) => m.text);
        assert(!cTexts.includes("after Carol left"), "the removed member gets no new message");

        // --- The conversation list, and the node status with the path view ---
        await screenshot(pageA, "13-conversation-list");
        assert((await byId(pageA, "conversation-item").count()) >= 2, "1:1 and the group listed");
        await byId(pageA, "status-open").click();
        await byId(pageA, "status-reachable").waitFor();
        await byId(pageA, "status-peers").waitFor();
        await byId(pageA, "path-view").waitFor();
        await waitFor(async () => (await byId(pageA, "path-hop").count()) === 3, {
          timeoutMs: STEP_MS,
          what: "the onion path's three hops",
        });
        await screenshot(pageA, "50-node-status");
        await pageA.keyboard.press("Escape");

        // --- A phone-sized screen, and the dark scheme ---
        await pageB.setViewportSize({ width: 390, height: 844 });
        await screenshot(pageB, "60-phone-chat");
        await pageB.emulateMedia({ colorScheme: "dark" });
        await screenshot(pageB, "61-phone-chat-dark");
        await pageA.emulateMedia({ colorScheme: "dark" });
        await screenshot(pageA, "62-desktop-dark");

        assertEquals(dialogs.filter((d) => / alert:/.test(d)), [], "no alert ran");
      } catch (err) {
        for (const [label, page] of browser?.contexts().flatMap((c) => c.pages()).entries() ?? []) {
          await screenshot(page, `failure-${label}`);
        }
        await logTail(devnet.nodes.slice(1, 4));
        throw err;
      } finally {
        await closeBrowser(browser);
      }
    }, { prefix: "hearth-browser-ui-" });
  }),
);

/** A small PNG made by the browser itself (a screenshot of a coloured square). */
async function makePng(browser: Browser): Promise<Uint8Array> {
  const { context, page } = await newPage(browser, { width: 48, height: 48 });
  try {
    await page.setContent(
      '<body style="margin:0"><div style="width:48px;height:48px;background:#d9480f"></div></body>',
    );
    return new Uint8Array(await page.screenshot({ type: "png" }));
  } finally {
    await context.close();
  }
}
