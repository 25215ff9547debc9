/**
 * The chat's actions and the account screens in a real browser, on a real
 * devnet: Alice and Bob made through onboarding on two nodes. Reply with a
 * quote, react, edit, delete for me and for everyone; the typing indicator
 * (turned on in Settings on both sides); the disappearing-messages timer
 * set from the chat header and shown on both sides; a voice clip recorded
 * from Chromium's fake microphone; block and unblock from the contact menu;
 * declining a request from a third account; lock and unlock (a wrong
 * passphrase first), a passphrase change, the recovery phrase shown again;
 * and a restore from Alice's recovery phrase on a fresh node, which brings
 * back what PROTOCOL §11 promises (profile, contacts, conversation and
 * owner settings; not the history). Screenshots go to tests/browser/screenshots/.
 */
import { assert, assertEquals } from "../assert.ts";
import { type NodeProcess, ownerApi, waitFor, withDevnet } from "../../tools/devnet_lib.ts";
import {
  browserTest,
  closeBrowser,
  FAKE_MEDIA_ARGS,
  launchBrowser,
  newPage,
  screenshot,
  signInWithLink,
} from "./browser.ts";
import {
  byId,
  conversationItem,
  logTail,
  message,
  newChatWith,
  onboard,
  openConversation,
  phraseWords,
  prekeysPublished,
  sendText,
  settingOn,
  shownAccountId,
  startChat,
  STEP_MS,
  waitText,
  watchDialogs,
} from "./flows.ts";
import type { Browser, Locator, Page } from "playwright-core";

const PASS = "browser chat actions passphrase";
const NEW_PASS = "a new passphrase for the chat actions test";
const DAY_TIMER = "after_send:86400";

/** Every dialog a page opened (an `alert` would be injected script). */
const dialogs: string[] = [];

/** Assert that `text` matches `pattern`. */
function assertMatch(text: string, pattern: RegExp, what = "text"): void {
  assert(pattern.test(text), `${what}: ${JSON.stringify(text)} does not match ${pattern}`);
}

/** The row around a message bubble: it holds the message's action buttons. */
function actionsOf(msg: Locator): Locator {
  return msg.first().locator("xpath=..");
}

/** The message with this id (the sender's id: the same on both sides). */
function messageById(page: Page, id: string): Locator {
  return page.locator(`[data-testid="message"][data-message-id="${id}"]`);
}

async function messageId(page: Page, text: string): Promise<string> {
  const id = await message(page, text).first().getAttribute("data-message-id");
  assert(id && /^[0-9a-f]{32}$/.test(id), `message id of ${JSON.stringify(text)}: ${id}`);
  return id;
}

/** The texts of a conversation on a node, through the owner API. */
async function apiTexts(node: NodeProcess, conversation: string): Promise<string[]> {
  const r = await ownerApi(node, "GET", `/api/conversations/${conversation}/messages?limit=200`);
  assertEquals(r.status, 200, JSON.stringify(r.json));
  return (r.json.messages as { text: string }[]).map((m) => m.text);
}

/** The subset of an `<audio>` element the load check uses. */
interface MediaElement {
  readyState: number;
  preload: string;
  error: { code: number } | null;
  load(): void;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}

/** Load an `<audio>` element's source; "loaded" once its metadata is read. */
function loadMedia(audio: Locator): Promise<string> {
  return audio.evaluate((el, timeoutMs) =>
    new Promise<string>((resolve) => {
      const media = el as unknown as MediaElement;
      if (media.readyState >= 1) return resolve("loaded");
      media.addEventListener("loadedmetadata", () => resolve("loaded"), { once: true });
      media.addEventListener("error", () => resolve(`error ${media.error?.code}`), { once: true });
      setTimeout(() => resolve(`not loaded (readyState ${media.readyState})`), timeoutMs);
      media.preload = "auto";
      media.load();
    }), STEP_MS / 2);
}

/** Lock from Settings; the unlock screen shows. */
async function lockFromSettings(page: Page): Promise<void> {
  await byId(page, "settings-open").click();
  await byId(page, "settings-lock").click();
  await byId(page, "unlock-passphrase").waitFor({ timeout: STEP_MS });
}

/** Unlock with `passphrase`; the main screen shows again. */
async function unlock(page: Page, passphrase: string): Promise<void> {
  await byId(page, "unlock-passphrase").fill(passphrase);
  await byId(page, "unlock-submit").click();
  await byId(page, "conversation-list").waitFor({ state: "attached", timeout: STEP_MS });
}

/** Unlock with a wrong passphrase; the unlock screen says so and stays. */
async function unlockRefused(page: Page, passphrase: string): Promise<void> {
  await byId(page, "unlock-passphrase").fill(passphrase);
  await byId(page, "unlock-submit").click();
  const error = byId(page, "unlock-error");
  await waitFor(async () => ((await error.textContent()) ?? "").trim() !== "", {
    timeoutMs: STEP_MS,
    what: "the unlock error",
  });
  assertMatch((await error.textContent()) ?? "", /passphrase/i);
  assertEquals(await byId(page, "conversation-list").count(), 0, "still locked");
}

/** Alice and Bob, each signed in on a node of their own, in a chat with each other. */
interface Pair {
  nodeA: NodeProcess;
  nodeB: NodeProcess;
  pageA: Page;
  pageB: Page;
  alice: string;
  bob: string;
  /** Alice's recovery phrase, as onboarding showed it. */
  alicePhrase: string;
}

/** Both accounts through onboarding, typing indicators on for both; A writes, B accepts. */
async function startPair(browser: Browser, nodeA: NodeProcess, nodeB: NodeProcess): Promise<Pair> {
  const pageA = (await newPage(browser, { permissions: ["microphone"] })).page;
  const pageB = (await newPage(browser)).page;
  watchDialogs(pageA, "A", dialogs);
  watchDialogs(pageB, "B", dialogs);
  await signInWithLink(pageA, nodeA);
  await signInWithLink(pageB, nodeB);
  const { accountId: alice, phrase: alicePhrase } = await onboard(pageA, "Alice", {
    passphrase: PASS,
  });
  const bob = (await onboard(pageB, "Bob", { passphrase: PASS })).accountId;
  // Typing indicators are opt-in and reciprocal: both turn them on in Settings.
  await settingOn(pageA, "settings-typing");
  await settingOn(pageB, "settings-typing");
  assertEquals((await ownerApi(nodeA, "GET", "/api/settings")).json.typingIndicators, true);
  assertEquals((await ownerApi(nodeB, "GET", "/api/settings")).json.typingIndicators, true);
  await prekeysPublished(nodeB, "Bob");

  await startChat(pageA, bob, "hello Bob");
  const request = pageB.locator(`[data-testid="request-item"][data-account-id="${alice}"]`);
  await byId(request, "request-accept").click({ timeout: STEP_MS });
  await openConversation(pageB, alice);
  await waitText(pageB, "hello Bob", "B sees A's first message");
  await sendText(pageB, "hi Alice");
  await waitText(pageA, "hi Alice", "A sees B's message");
  return { nodeA, nodeB, pageA, pageB, alice, bob, alicePhrase };
}

/** Reply with a quote, react, edit, delete for me (B), delete for everyone (A). */
async function messageActions(p: Pair): Promise<void> {
  const { pageA, pageB } = p;
  const both = [[pageA, "A"], [pageB, "B"]] as const;

  // A reply quotes the message on both sides.
  await byId(actionsOf(message(pageA, "hi Alice")), "message-reply").click();
  await byId(pageA, "reply-cancel").waitFor();
  await sendText(pageA, "a reply to you");
  for (const [page, who] of both) {
    await waitText(page, "a reply to you", `${who} sees the reply`);
    const quote = byId(message(page, "a reply to you"), "message-quote");
    assertEquals((await quote.locator(".quote-text").textContent())?.trim(), "hi Alice");
  }
  assertEquals(await byId(pageA, "reply-cancel").count(), 0, "the reply bar went away");

  // A reaction; the other side sees it.
  await byId(actionsOf(message(pageA, "hi Alice")), "message-react").click();
  await pageA.locator('[data-testid="emoji-option"][data-emoji="👍"]').click();
  await byId(message(pageA, "hi Alice"), "reaction").waitFor({ timeout: STEP_MS });
  await message(pageB, "hi Alice").locator('[data-testid="reaction"][data-emoji="👍"]')
    .waitFor({ timeout: STEP_MS });

  // An edit: the new text and "edited" on both sides, the old text nowhere.
  await sendText(pageA, "a mesage with a typo");
  await waitText(pageB, "a mesage with a typo", "B sees the text before the edit");
  const editedId = await messageId(pageA, "a mesage with a typo");
  await byId(actionsOf(message(pageA, "a mesage with a typo")), "message-edit").click();
  const composerA = byId(pageA, "composer");
  assertEquals(await composerA.inputValue(), "a mesage with a typo");
  await composerA.fill("a message without a typo");
  await composerA.press("Enter");
  for (const [page, who] of both) {
    await waitText(page, "a message without a typo", `${who} sees the edited text`);
    await byId(messageById(page, editedId), "message-edited").waitFor({ timeout: STEP_MS });
    assertEquals(await message(page, "a mesage with a typo").count(), 0);
  }

  // Delete for me: gone on B only.
  await byId(actionsOf(message(pageB, "a message without a typo")), "message-delete").click();
  await byId(pageB, "delete-for-me").click();
  await messageById(pageB, editedId).waitFor({ state: "detached", timeout: STEP_MS });
  assert(!(await apiTexts(p.nodeB, p.alice)).includes("a message without a typo"));
  assert((await apiTexts(p.nodeA, p.bob)).includes("a message without a typo"), "A keeps it");
  assertEquals(await messageById(pageA, editedId).count(), 1);

  // Delete for everyone: both copies become "This message was deleted" (a tombstone).
  await sendText(pageA, "a message to take back");
  await waitText(pageB, "a message to take back", "B sees the message to take back");
  const unsentId = await messageId(pageA, "a message to take back");
  await byId(actionsOf(message(pageA, "a message to take back")), "message-delete").click();
  await byId(pageA, "delete-for-everyone").click();
  for (const [page, who] of both) {
    const tomb = messageById(page, unsentId);
    await waitFor(
      async () => ((await tomb.getAttribute("class").catch(() => "")) ?? "").includes("deleted"),
      { timeoutMs: STEP_MS, what: `${who} shows the message deleted for everyone` },
    );
    assertEquals(
      (await byId(tomb, "message-text").textContent())?.trim(),
      "This message was deleted",
    );
    assertEquals(await message(page, "a message to take back").count(), 0);
  }
  const lastOnB = conversationItem(pageB, p.alice);
  await waitFor(
    async () => ((await lastOnB.textContent()) ?? "").includes("This message was deleted"),
    { timeoutMs: STEP_MS, what: "B's conversation list shows the deletion" },
  );
  await screenshot(pageB, "70-chat-actions");
}

/** B sees "Alice is typing…" while A types, and it goes once she stops. */
async function typingIndicator(p: Pair): Promise<void> {
  const composerA = byId(p.pageA, "composer");
  const typingB = byId(p.pageB, "typing-indicator");
  assert(await typingB.isHidden(), "no typing indicator before A types");
  await composerA.fill("");
  // A types on until B shows it (each key keeps her indicator alive).
  await waitFor(async () => {
    await composerA.pressSequentially("x");
    return await typingB.waitFor({ state: "visible", timeout: 1_000 })
      .then(() => true, () => false);
  }, { timeoutMs: STEP_MS, what: "B's typing indicator while A types" });
  assertMatch((await typingB.textContent()) ?? "", /Alice is typing/);
  await screenshot(p.pageB, "71-typing");
  await composerA.fill("");
  await typingB.waitFor({ state: "hidden", timeout: STEP_MS });
}

/** A sets a timer in the chat header; B's header shows it; new messages carry it. */
async function disappearingTimer(p: Pair): Promise<void> {
  await byId(p.pageA, "disappearing-select").selectOption(DAY_TIMER);
  await waitFor(async () => {
    const r = await ownerApi(p.nodeA, "GET", `/api/conversations/${p.bob}`);
    const timer = r.json.disappearing as { mode?: string; seconds?: number } | undefined;
    return timer?.mode === "after_send" && timer.seconds === 86400;
  }, { timeoutMs: STEP_MS, what: "the timer set on A" });
  const timerB = byId(p.pageB, "disappearing-select");
  await waitFor(async () => (await timerB.inputValue()) === DAY_TIMER, {
    timeoutMs: STEP_MS,
    what: "B's header shows A's timer",
  });
  assertEquals(await byId(p.pageA, "disappearing-select").inputValue(), DAY_TIMER);
  await sendText(p.pageA, "this one disappears in a day");
  await waitText(p.pageB, "this one disappears in a day", "B sees the timed message");
  for (const page of [p.pageA, p.pageB]) {
    await byId(message(page, "this one disappears in a day"), "message-timer")
      .waitFor({ state: "attached", timeout: STEP_MS });
  }
}

/** A records about 2 s from the fake microphone and sends it; B's clip has a duration and loads. */
async function voiceClip(p: Pair): Promise<void> {
  const record = byId(p.pageA, "voice-record");
  await record.click();
  const recTime = byId(p.pageA, "voice-record-time");
  await recTime.waitFor({ timeout: STEP_MS });
  await waitFor(async () => ((await recTime.textContent()) ?? "0:00") >= "0:02", {
    timeoutMs: STEP_MS,
    intervalMs: 100,
    what: "two seconds of recording",
  });
  await record.click();
  await byId(p.pageA, "voice-audio").first().waitFor({ state: "attached", timeout: STEP_MS });
  const durationB = byId(p.pageB, "voice-duration").first();
  await durationB.waitFor({ timeout: STEP_MS });
  const shown = ((await durationB.textContent()) ?? "").trim();
  assertMatch(shown, /^\d+:\d\d$/, "the clip's duration on B");
  const [min, sec] = shown.split(":").map(Number);
  assert(min! * 60 + sec! >= 2, `a clip of about 2 s shows ${shown}`);
  const audioB = byId(p.pageB, "voice-audio").first();
  assertEquals(await loadMedia(audioB), "loaded", "the clip's audio loads on B");
  await screenshot(p.pageB, "72-voice-clip");
}

/** B blocks A from the contact menu, then unblocks her there; her messages come again. */
async function blockAndUnblock(p: Pair): Promise<void> {
  const { pageB, alice } = p;
  await byId(pageB, "contact-menu").click();
  await byId(pageB, "contact-block").click();
  await conversationItem(pageB, alice).waitFor({ state: "detached", timeout: STEP_MS });
  assertEquals(await contactState(p.nodeB, alice), "blocked");
  await byId(pageB, "settings-open").click();
  await pageB.locator(`[data-testid="blocked-contact"][data-account-id="${alice}"]`).waitFor();
  await pageB.keyboard.press("Escape");
  // A blocked peer's chat is reached by its Account ID; its contact menu unblocks.
  await newChatWith(pageB, alice);
  await pageB.locator(`[data-testid="chat-view"][data-conversation-id="${alice}"]`).waitFor();
  assert(await byId(pageB, "composer").isDisabled(), "no writing to a blocked contact");
  await byId(pageB, "contact-menu").click();
  await byId(pageB, "contact-unblock").click();
  await conversationItem(pageB, alice).waitFor({ timeout: STEP_MS });
  await waitFor(async () => await byId(pageB, "composer").isEnabled(), {
    timeoutMs: STEP_MS,
    what: "B's composer after the unblock",
  });
  assertEquals(await contactState(p.nodeB, alice), "contact");
  await sendText(p.pageA, "after the unblock");
  await openConversation(pageB, alice);
  await waitText(pageB, "after the unblock", "B gets A's messages again");
}

/** Carol (a third account, made through the API) writes to B; B declines the request. */
async function declineRequest(p: Pair, nodeC: NodeProcess): Promise<void> {
  const created = await ownerApi(nodeC, "POST", "/api/account", {
    passphrase: PASS,
    displayName: "Carol",
  });
  assertEquals(created.status, 201, JSON.stringify(created.json));
  const carol = created.json.accountId as string;
  const sent = await ownerApi(nodeC, "POST", "/api/messages", { to: p.bob, text: "hi Bob" });
  assertEquals(sent.status, 201, JSON.stringify(sent.json));
  const request = p.pageB.locator(`[data-testid="request-item"][data-account-id="${carol}"]`);
  await request.waitFor({ timeout: STEP_MS });
  await byId(request, "request-decline").click();
  await request.waitFor({ state: "detached", timeout: STEP_MS });
  assertEquals(await contactState(p.nodeB, carol), "declined");
  assertEquals(await conversationItem(p.pageB, carol).count(), 0);
}

/**
 * A's Settings: the recovery phrase again after the passphrase (a wrong one
 * first); lock and unlock (a wrong passphrase first); a passphrase change,
 * after which only the new one unlocks.
 */
async function passphraseScreens(p: Pair): Promise<void> {
  const { pageA } = p;
  await byId(pageA, "settings-open").click();
  await byId(pageA, "account-qr").first().waitFor({ state: "attached" });
  await screenshot(pageA, "73-settings");
  await byId(pageA, "settings-show-phrase").click();
  await byId(pageA, "phrase-passphrase").fill("not the passphrase");
  await byId(pageA, "phrase-submit").click();
  await pageA.getByRole("alert").filter({ hasText: "Wrong passphrase" }).waitFor();
  assertEquals(await byId(pageA, "phrase-text").count(), 0);
  await byId(pageA, "phrase-passphrase").fill(PASS);
  await byId(pageA, "phrase-submit").click();
  const phraseList = byId(pageA, "phrase-text");
  await phraseList.waitFor({ timeout: STEP_MS });
  const words = await phraseWords(phraseList);
  assertEquals(words.length, 24);
  assertEquals(words.join(" "), p.alicePhrase, "the same phrase as at creation");
  await screenshot(pageA, "74-settings-recovery-phrase");
  await pageA.keyboard.press("Escape");

  await lockFromSettings(pageA);
  await unlockRefused(pageA, "not the passphrase");
  await screenshot(pageA, "75-unlock-wrong-passphrase");
  await unlock(pageA, PASS);
  assertEquals(await shownAccountId(pageA), p.alice);

  await byId(pageA, "settings-open").click();
  await byId(pageA, "settings-change-passphrase").click();
  await byId(pageA, "passphrase-current").fill(PASS);
  await byId(pageA, "passphrase-new").fill(NEW_PASS);
  await byId(pageA, "passphrase-submit").click();
  await pageA.getByRole("status").filter({ hasText: "Passphrase changed." })
    .waitFor({ timeout: STEP_MS });
  await pageA.keyboard.press("Escape");
  // The main screen stays (messaging restarted, the account stayed unlocked).
  await lockFromSettings(pageA);
  await unlockRefused(pageA, PASS);
  await unlock(pageA, NEW_PASS);
  assertEquals(await shownAccountId(pageA), p.alice);
}

/**
 * Restore Alice from her recovery phrase on a fresh node: the main screen
 * with her Account ID, and what PROTOCOL §11 promises back (the profile,
 * the contacts with their state, the conversations' and the owner's
 * settings); the history is not promised (it lives on the node that
 * received it), so it is not looked for.
 */
async function restoreOnFreshNode(browser: Browser, p: Pair, node: NodeProcess): Promise<void> {
  const page = (await newPage(browser)).page;
  watchDialogs(page, "R", dialogs);
  await signInWithLink(page, node);
  await byId(page, "onboard-restore").click();
  await byId(page, "onboard-phrase-input").fill(p.alicePhrase);
  await byId(page, "onboard-passphrase").fill("the restored node's passphrase");
  await screenshot(page, "80-restore");
  await byId(page, "onboard-submit").click();
  await page.getByRole("heading", { name: "Account restored" }).waitFor({ timeout: STEP_MS });
  assertMatch(
    (await page.locator(".card").textContent()) ?? "",
    /history is not restored/i,
    "the history notice",
  );
  await screenshot(page, "81-restore-notice");
  await byId(page, "onboard-continue").click();
  assertEquals(await shownAccountId(page), p.alice, "the same Account ID");
  await waitFor(async () => (await contactState(node, p.bob)) === "contact", {
    timeoutMs: STEP_MS,
    what: "Bob restored as a contact",
  });
  assertEquals((await ownerApi(node, "GET", "/api/account")).json.displayName, "Alice");
  assertEquals((await ownerApi(node, "GET", "/api/settings")).json.typingIndicators, true);
  await openConversation(page, p.bob);
  assertEquals(await byId(page, "disappearing-select").inputValue(), DAY_TIMER);
  await screenshot(page, "82-restored-main");
}

/** A peer's contact state on a node (`contact`, `blocked`, `declined`), or undefined. */
async function contactState(node: NodeProcess, peer: string): Promise<string | undefined> {
  const r = await ownerApi(node, "GET", "/api/contacts");
  const contacts = r.json.contacts as { accountId: string; state: string }[];
  return contacts.find((c) => c.accountId === peer)?.state;
}

Deno.test(
  browserTest(
    "the web UI's chat actions, voice, settings, block, decline and restore",
    async () => {
      const started = Date.now();
      await withDevnet(5, async (devnet) => {
        const [, nodeA, nodeB, nodeRestore, nodeC] = devnet.nodes;
        let browser: Browser | undefined;
        try {
          browser = await launchBrowser({ args: [...FAKE_MEDIA_ARGS] });
          const pair = await startPair(browser, nodeA!, nodeB!);
          await messageActions(pair);
          await typingIndicator(pair);
          await disappearingTimer(pair);
          await voiceClip(pair);
          await blockAndUnblock(pair);
          await declineRequest(pair, nodeC!);
          await passphraseScreens(pair);
          await restoreOnFreshNode(browser, pair, nodeRestore!);
          assertEquals(dialogs.filter((d) => / alert:/.test(d)), [], "no alert ran");
        } catch (err) {
          const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
          for (const [label, page] of pages.entries()) {
            await screenshot(page, `failure-actions-${label}`);
          }
          await logTail(devnet.nodes.slice(1, 5));
          throw err;
        } finally {
          await closeBrowser(browser);
        }
      }, { prefix: "hearth-browser-actions-" });
      console.log(`chat actions browser test: ${Math.round((Date.now() - started) / 1000)} s`);
    },
  ),
);
