/**
 * Steps of the web UI that several browser tests take the way a person
 * does: creating an account through onboarding, turning a setting on,
 * opening a conversation, sending a text and waiting for one, plus the
 * locators they share (elements are found by their `data-testid`).
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { type NodeProcess, waitFor } from "../../tools/devnet_lib.ts";
import { screenshot, webUrl } from "./browser.ts";
import type { Locator, Page } from "playwright-core";

/** One step's limit: generous for a slow, noisy 2-core machine, still bounded. */
export const STEP_MS = 120_000;

/** The element(s) with `data-testid="<id>"` under `page`. */
export function byId(page: Page | Locator, id: string): Locator {
  return page.getByTestId(id);
}

/** The message whose text is exactly `text`. */
export function message(page: Page, text: string): Locator {
  return byId(page, "message").filter({
    has: page.getByTestId("message-text").getByText(text, { exact: true }),
  });
}

/** Wait until `locator` has `attr` equal to one of `values`. */
export async function waitAttr(
  locator: Locator,
  attr: string,
  values: string[],
  what: string,
): Promise<void> {
  let last: string | null = null;
  await waitFor(async () => {
    last = await locator.first().getAttribute(attr, { timeout: 5_000 }).catch(() => null);
    return last !== null && values.includes(last);
  }, { timeoutMs: STEP_MS, intervalMs: 300, what: `${what} (last ${attr}=${last})` });
}

/**
 * Create an account through the onboarding screens.
 * @param options.passphrase the account's passphrase
 * @param options.shots take the onboarding screenshots
 * @returns the Account ID and the 24-word recovery phrase shown once
 */
export async function onboard(
  page: Page,
  name: string,
  options: { passphrase: string; shots?: boolean },
): Promise<{ accountId: string; phrase: string }> {
  await byId(page, "onboard-create").click();
  await byId(page, "onboard-name").fill(name);
  await byId(page, "onboard-passphrase").fill(options.passphrase);
  if (options.shots) await screenshot(page, "10-onboarding");
  await byId(page, "onboard-submit").click();
  const phraseEl = byId(page, "onboard-phrase");
  await phraseEl.waitFor({ timeout: STEP_MS });
  const words = await phraseWords(phraseEl);
  assertEquals(words.length, 24, `recovery phrase: ${words.join(" ")}`);
  if (options.shots) await screenshot(page, "11-recovery-phrase");
  assert(await byId(page, "onboard-continue").isDisabled(), "continue waits for the confirmation");
  await byId(page, "onboard-phrase-confirm").check();
  await byId(page, "onboard-continue").click();
  await byId(page, "conversation-list").waitFor({ state: "attached", timeout: STEP_MS });
  const accountId = await shownAccountId(page);
  return { accountId, phrase: words.join(" ") };
}

/** The words of a shown recovery phrase (an `<ol>` of words). */
export async function phraseWords(list: Locator): Promise<string[]> {
  return (await list.innerText()).split(/\s+/).filter((w) => /^[a-z]+$/.test(w));
}

/** The Account ID the main screen's header shows. */
export async function shownAccountId(page: Page): Promise<string> {
  const idEl = byId(page, "account-id").first();
  await idEl.waitFor({ state: "attached", timeout: STEP_MS });
  const id = ((await idEl.textContent()) ?? "").trim();
  assert(/^hearth1/.test(id), `account-id shows ${JSON.stringify(id)}`);
  return id;
}

/**
 * Open the settings and turn a privacy toggle on (read receipts and typing
 * indicators are reciprocal: both sides need them), then close them.
 * @param testid the toggle's checkbox, e.g. `settings-read-receipts`
 * @param shotName a screenshot of the open settings, when given
 */
export async function settingOn(page: Page, testid: string, shotName?: string): Promise<void> {
  await byId(page, "settings-open").click();
  const box = byId(page, testid);
  await box.waitFor();
  await byId(page, "account-qr").first().waitFor({ state: "attached" });
  if (!(await box.isChecked())) await box.check();
  if (shotName) await screenshot(page, shotName);
  await page.keyboard.press("Escape");
}

/** The list entry of a conversation (a peer's Account ID, a Group ID or `self`). */
export function conversationItem(page: Page, id: string): Locator {
  return page.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"]`);
}

/** Open a conversation from the list. */
export async function openConversation(page: Page, id: string): Promise<void> {
  const item = conversationItem(page, id);
  await item.first().waitFor({ timeout: STEP_MS });
  await item.first().click();
  await byId(page, "chat-view").waitFor();
}

/** Type and send a text with Enter; wait until it shows as an outgoing message. */
export async function sendText(page: Page, text: string): Promise<void> {
  const composer = byId(page, "composer");
  await composer.fill(text);
  await composer.press("Enter");
  await message(page, text).first().waitFor({ timeout: STEP_MS });
  assertEquals(await message(page, text).first().getAttribute("data-direction"), "out");
}

/** Open a chat with `accountId` from New chat (no wait for the chat view). */
export async function newChatWith(page: Page, accountId: string): Promise<void> {
  await byId(page, "new-chat").click();
  await byId(page, "new-chat-id").fill(accountId);
  await byId(page, "new-chat-submit").click();
}

/** Start a chat with `accountId` and send it a first text (a message request). */
export async function startChat(page: Page, accountId: string, text: string): Promise<void> {
  await newChatWith(page, accountId);
  await byId(page, "chat-view").waitFor();
  await sendText(page, text);
}

/** Wait until the open chat shows a message whose text is exactly `text`. */
export async function waitText(page: Page, text: string, what: string): Promise<void> {
  await message(page, text).first().waitFor({ timeout: STEP_MS }).catch((err) => {
    throw new Error(`${what}: ${err instanceof Error ? err.message : err}`);
  });
}

/** Wait until a node has published its prekey bundle (its log says so). */
export async function prekeysPublished(node: NodeProcess, who: string): Promise<void> {
  await waitFor(async () => {
    const log = await Deno.readTextFile(node.logPath).catch(() => "");
    return log.includes("prekeys_published");
  }, { timeoutMs: STEP_MS, what: `${who}'s prekey bundle published` });
}

/**
 * Record every dialog the page opens into `seen` (an `alert` would be
 * injected script; alerts are dismissed, confirms accepted) and print its
 * script errors.
 */
export function watchDialogs(page: Page, label: string, seen: string[]): void {
  page.on("dialog", (d) => {
    seen.push(`${label} ${d.type()}: ${d.message()}`);
    if (d.type() === "alert") d.dismiss().catch(() => {});
    else d.accept().catch(() => {});
  });
  page.on("pageerror", (err) => console.warn(`${label} page error: ${err.message}`));
}

/** How many pixels the page is wider than its window (0: no horizontal scrollbar). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return await page.evaluate(() => {
    // in the page (the type checker here has no DOM types)
    const w = globalThis as unknown as {
      innerWidth: number;
      document: { documentElement: { scrollWidth: number } };
    };
    return Math.max(0, w.document.documentElement.scrollWidth - w.innerWidth);
  });
}

/** Print the end of each node's log (after a failure). */
export async function logTail(nodes: NodeProcess[]): Promise<void> {
  for (const n of nodes) {
    const log = await Deno.readTextFile(n.logPath).catch(() => "");
    console.log(`--- ${webUrl(n)} log tail ---\n${log.slice(-1500)}`);
  }
}
