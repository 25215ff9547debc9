/**
 * Nicknames, message search and Note to Self in a real browser, on a real
 * devnet: Alice and Bob made through onboarding on two nodes. A fresh
 * account lists Note to Self at once; Alice gives Bob a nickname from the
 * contact menu and sees it in the conversation list and the chat header
 * (Bob's own name stays in the menu, and Bob's node never learns it);
 * the search box finds a message by a word of its text, and the result
 * opens that conversation with the message highlighted; a message sent
 * while its file is still going up to the node waits in the chat as
 * queued and goes once the file is there. Screenshots go to
 * tests/browser/screenshots/.
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
  conversationItem,
  logTail,
  onboard,
  openConversation,
  prekeysPublished,
  sendText,
  startChat,
  STEP_MS,
  waitText,
  watchDialogs,
} from "./flows.ts";
import type { Browser, Page } from "playwright-core";

const PASS = "browser contacts and search passphrase";
const NICKNAME = "Bobby <b>Tables</b>";
const NEEDLE = "Pineapple";

/** Every dialog a page opened (an `alert` would be injected script). */
const dialogs: string[] = [];

/** Wait until the first element of `selector` on `page` shows exactly `text`. */
async function waitShown(page: Page, selector: string, text: string, what: string) {
  const el = page.locator(selector).first();
  let last = "";
  await waitFor(async () => {
    last = ((await el.textContent({ timeout: 5_000 }).catch(() => "")) ?? "").trim();
    return last === text;
  }, { timeoutMs: STEP_MS, intervalMs: 200, what: `${what} (shows ${JSON.stringify(last)})` });
}

Deno.test(
  browserTest("the web UI: Note to Self from the start, nicknames, message search", async () => {
    await withDevnet(5, async (devnet) => {
      const nodeA = devnet.nodes[1]!;
      const nodeB = devnet.nodes[2]!;
      let browser: Browser | undefined;
      try {
        browser = await launchBrowser();
        const pageA = (await newPage(browser)).page;
        const pageB = (await newPage(browser)).page;
        watchDialogs(pageA, "A", dialogs);
        watchDialogs(pageB, "B", dialogs);
        await signInWithLink(pageA, nodeA);
        await signInWithLink(pageB, nodeB);
        const alice = (await onboard(pageA, "Alice", { passphrase: PASS })).accountId;
        const bob = (await onboard(pageB, "Bob", { passphrase: PASS })).accountId;

        // --- Note to Self is there on a fresh account, before any note ---
        await conversationItem(pageA, "self").waitFor({ timeout: STEP_MS });
        assertEquals(
          await conversationItem(pageA, "self").getByTestId("conversation-name").textContent(),
          "Note to Self",
        );
        const fresh = await ownerApi(nodeB, "GET", "/api/conversations");
        const listed = fresh.json.conversations as { id: string; lastMessage: unknown }[];
        assertEquals(listed.map((c) => [c.id, c.lastMessage]), [["self", null]]);
        await screenshot(pageA, "90-fresh-account-note-to-self");

        // --- Alice writes to Bob; Bob accepts and answers with the text to find later ---
        await prekeysPublished(nodeB, "Bob");
        await startChat(pageA, bob, "hello Bob");
        const request = pageB.locator(`[data-testid="request-item"][data-account-id="${alice}"]`);
        await request.waitFor({ timeout: STEP_MS });
        await byId(request, "request-accept").click();
        await openConversation(pageB, alice);
        await waitText(pageB, "hello Bob", "B sees A's first message");
        const answer = `${NEEDLE} on pizza, yes or no?`;
        await sendText(pageB, answer);
        await sendText(pageB, "(asking for a friend)");
        await waitText(pageA, answer, "A sees B's question");
        await waitText(pageA, "(asking for a friend)", "A sees B's second message");

        // --- A gives Bob a nickname from the contact menu ---
        await waitShown(pageA, '[data-testid="chat-title"]', "Bob", "the header shows Bob's name");
        await byId(pageA, "contact-menu").click();
        const own = byId(pageA, "contact-own-name");
        await own.waitFor();
        assertEquals((await own.textContent())?.trim(), "Their name: Bob");
        await byId(pageA, "contact-nickname-input").fill(`  ${NICKNAME}  `);
        await screenshot(pageA, "91-contact-nickname");
        await byId(pageA, "contact-nickname-save").click();
        await waitShown(pageA, '[data-testid="chat-title"]', NICKNAME, "the header shows it");
        await waitShown(
          pageA,
          `[data-testid="conversation-item"][data-conversation-id="${bob}"] [data-testid="conversation-name"]`,
          NICKNAME,
          "the conversation list shows it",
        );
        // Shown as text, never as markup.
        assertEquals(await pageA.locator(".sidebar b, .chat-header b").count(), 0);
        const contactsA = (await ownerApi(nodeA, "GET", "/api/contacts")).json.contacts as {
          accountId: string;
          displayName: string | null;
          nickname: string | null;
        }[];
        assertEquals(
          contactsA.map((c) => [c.accountId, c.displayName, c.nickname]),
          [[bob, "Bob", NICKNAME]],
        );
        // The menu still shows Bob's own name.
        await byId(pageA, "contact-menu").click();
        assertEquals(
          (await byId(pageA, "contact-own-name").textContent())?.trim(),
          "Their name: Bob",
        );
        assertEquals(await byId(pageA, "contact-nickname-input").inputValue(), NICKNAME);
        await pageA.keyboard.press("Escape");
        await screenshot(pageA, "92-nickname-in-list-and-header");

        // The nickname never reaches Bob: after another message, Bob still knows Alice as Alice.
        await sendText(pageA, "still Alice here");
        await waitText(pageB, "still Alice here", "B sees A's next message");
        const contactsB = (await ownerApi(nodeB, "GET", "/api/contacts")).json.contacts as {
          accountId: string;
          displayName: string | null;
          nickname: string | null;
        }[];
        assertEquals(contactsB.map((c) => [c.displayName, c.nickname]), [["Alice", null]]);
        assert(!(await pageB.content()).includes("Bobby"), "B's page never shows the nickname");

        // --- Search finds Bob's message by a word of it, and opens it ---
        await conversationItem(pageA, "self").click();
        await byId(pageA, "chat-view").waitFor();
        await waitFor(
          async () =>
            (await byId(pageA, "chat-view").getAttribute("data-conversation-id")) === "self",
          { timeoutMs: STEP_MS, what: "Note to Self open" },
        );
        await byId(pageA, "conversation-search").fill(NEEDLE.toLowerCase());
        const result = pageA.locator('[data-testid="search-result"]');
        await result.first().waitFor({ timeout: STEP_MS });
        assertEquals(await result.count(), 1);
        assertEquals(await result.getAttribute("data-conversation-id"), bob);
        const messageId = await result.getAttribute("data-message-id");
        assert(messageId && /^[0-9a-f]{32}$/.test(messageId), `message id ${messageId}`);
        assertEquals(await result.locator("mark").textContent(), NEEDLE);
        assert((await result.textContent())?.includes(NICKNAME), "the result names the nickname");
        await screenshot(pageA, "93-message-search");
        await result.click();
        await waitFor(
          async () => (await byId(pageA, "chat-view").getAttribute("data-conversation-id")) === bob,
          { timeoutMs: STEP_MS, what: "the result opens Bob's conversation" },
        );
        const hit = pageA.locator(`[data-testid="message"][data-message-id="${messageId}"]`);
        await hit.waitFor({ timeout: STEP_MS });
        assertEquals(await hit.getAttribute("data-highlight"), "true");
        assertEquals((await hit.getByTestId("message-text").textContent())?.trim(), answer);
        assert(await hit.isVisible(), "the found message is in view");
        await screenshot(pageA, "94-search-result-opened");
        // A word no message holds finds nothing.
        await byId(pageA, "conversation-search").fill("zzzqqq");
        await byId(pageA, "search-results").getByText("No messages contain").waitFor({
          timeout: STEP_MS,
        });
        assertEquals(await result.count(), 0);
        await byId(pageA, "conversation-search").fill("");

        // --- Send while a file is still going up: the message waits as queued, then goes ---
        // The file's upload to Alice's node is held back until released, so the queued state
        // is there for certain (then it goes on to the node unchanged).
        let release!: () => void;
        const held = new Promise<void>((resolve) => release = resolve);
        await pageA.route("**/api/attachments", async (route) => {
          if (route.request().method() === "POST") await held;
          await route.continue();
        });
        await byId(pageA, "attach-input").setInputFiles({
          name: "menu.txt",
          mimeType: "text/plain",
          buffer: Buffer.from("pizza menu\n".repeat(500)),
        });
        await byId(pageA, "pending-attachment").first().waitFor({ timeout: STEP_MS });
        await byId(pageA, "composer").fill("the menu");
        await byId(pageA, "send-button").click();
        const queued = byId(pageA, "message-queued");
        await queued.waitFor({ timeout: STEP_MS });
        assertEquals(await queued.getAttribute("data-status"), "queued");
        assertEquals(
          (await queued.getByTestId("queued-attachment").textContent())?.includes("menu.txt"),
          true,
        );
        assertEquals(await byId(pageA, "composer").inputValue(), "", "the composer is free");
        assertEquals(await byId(pageA, "pending-attachment").count(), 0);
        await screenshot(pageA, "95-queued-while-uploading");
        release();
        const sent = pageA.locator('[data-testid="message"][data-direction="out"]').filter({
          has: pageA.getByTestId("attachment"),
        });
        await sent.first().waitFor({ timeout: STEP_MS });
        assertEquals(
          (await sent.first().getByTestId("message-text").textContent())?.trim(),
          "the menu",
        );
        await queued.waitFor({ state: "detached", timeout: STEP_MS });
        await pageA.unroute("**/api/attachments");
        await waitText(pageB, "the menu", "B gets the message with its file");
        const file = pageB.locator('[data-testid="message"]').filter({
          has: pageB.getByText("the menu"),
        })
          .getByTestId("attachment");
        assert((await file.textContent())?.includes("menu.txt"), "B sees the file");

        assertEquals(dialogs.filter((d) => / alert:/.test(d)), [], "no alert ran");
      } catch (err) {
        const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
        for (const [label, page] of pages.entries()) {
          await screenshot(page, `failure-contacts-search-${label}`);
        }
        await logTail(devnet.nodes.slice(1, 3));
        throw err;
      } finally {
        await closeBrowser(browser);
      }
    }, { prefix: "hearth-browser-contacts-" });
  }),
);
