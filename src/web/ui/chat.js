/**
 * The chat view: messages, composer, replies, reactions, edits, deletes,
 * attachments, voice clips, typing and the disappearing timer.
 * @module
 */
import { api, apiBlob, apiForm, enc } from "./api.js";
import {
  formatBytes,
  formatDay,
  formatDuration,
  formatTime,
  h,
  icon,
  replace,
  shortId,
  showModal,
} from "./dom.js";
import { hooks, isGroupId, labelOf, nameOf, S } from "./state.js";
import { avatarEl, errorText, toast } from "./app.js";
import { openGroupInfo } from "./dialogs.js";

const EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉"];
const TIMERS = [
  ["off:0", "Off"],
  ["after_send:30", "30 seconds after sending"],
  ["after_send:300", "5 minutes after sending"],
  ["after_send:3600", "1 hour after sending"],
  ["after_send:86400", "1 day after sending"],
  ["after_send:604800", "1 week after sending"],
  ["after_read:300", "5 minutes after reading"],
  ["after_read:3600", "1 hour after reading"],
  ["after_read:86400", "1 day after reading"],
];

let pane, mainEl;
let view = null; // the elements of the open chat
let conv = null; // the open conversation
let replyTo = null; // message
let editing = null; // message
let pending = []; // [{key, file, id, name, state, el}]
let loadingOlder = false;
let noOlder = false;
const fullUrls = new Map(); // attachment id → blob URL of the full image
const mediaCache = new Map(); // attachment id → <audio> element (keeps playback across re-renders)
let typingSentAt = 0;
let typingStopTimer = null;
let markReadTimer = null;

export function mountChat(el, main) {
  pane = el;
  mainEl = main;
  closeChat();
}

export function closeChat() {
  S.current = null;
  view = null;
  conv = null;
  replyTo = null;
  editing = null;
  pending = [];
  if (mainEl) mainEl.dataset.view = "list";
  if (pane) {
    replace(
      pane,
      h(
        "div",
        { class: "chat-empty" },
        h("img", { class: "logo", src: "/ui/icon.svg", alt: "" }),
        h("p", { class: "muted", text: "Pick a conversation, or start a new one." }),
      ),
    );
  }
  hooks.renderList();
}

function isSelf(id) {
  return id === "self" || (S.account && id === S.account.accountId);
}

/** A conversation's title: Note to Self, the group's name, or the peer's nickname or name. */
export function titleOf(id) {
  if (isSelf(id)) return "Note to Self";
  if (isGroupId(id)) return S.groups.get(id)?.name ?? conv?.displayName ?? "Group";
  const known = S.contacts.get(id) ?? S.requests.find((r) => r.accountId === id);
  if (known?.nickname || known?.displayName) return labelOf(known);
  const listed = S.conversations.find((c) => c.id === id) ??
    (conv?.id === id ? conv : null);
  return listed?.nickname || listed?.displayName || shortId(id);
}

/**
 * Open a conversation (a peer's Account ID, a Group ID or "self").
 * @param options.messageId a message to scroll to and highlight (a search result)
 */
export async function openConversation(id, options = {}) {
  id = id.toLowerCase(); // IDs are all lower or all upper case; events use lower case
  if (S.account && id === S.account.accountId) id = "self";
  if (S.current !== id) {
    replyTo = null;
    editing = null;
    pending = [];
  }
  S.current = id;
  S.messages = [];
  noOlder = false;
  conv = S.conversations.find((c) => c.id === id) ?? null;
  mainEl.dataset.view = "chat";
  buildView();
  hooks.renderList();
  try {
    conv = await api("GET", `/api/conversations/${enc(id)}`);
  } catch {
    // a new chat with a peer not known yet, or a group: keep defaults
  }
  if (S.current !== id) return;
  renderChatHeader();
  await reloadChat();
  if (options.messageId && S.current === id) await revealMessage(options.messageId);
  else view?.composer.focus();
}
hooks.openConversation = openConversation;

/** The message a search opened, highlighted for a few seconds (kept across re-renders). */
let highlight = { id: null, until: 0 };

/**
 * Scroll to a message of the open chat and highlight it, loading older
 * pages (at most 20, i.e. 2,000 messages back) until it is there.
 */
async function revealMessage(messageId) {
  const id = S.current;
  const deadline = Date.now() + 20_000;
  for (let pages = 0; pages < 20 && Date.now() < deadline;) {
    if (S.messages.some((m) => m.id === messageId) || noOlder) break;
    if (loadingOlder) await new Promise((r) => setTimeout(r, 100)); // a scroll is loading
    else {
      await loadOlder();
      pages++;
    }
    if (S.current !== id) return;
  }
  const el = view?.scroller.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
  if (!el) {
    toast("That message is too far back, or no longer here");
    view?.composer.focus();
    return;
  }
  highlight = { id: messageId, until: Date.now() + 4000 };
  el.classList.add("highlight");
  el.setAttribute("data-highlight", "true");
  el.scrollIntoView({ block: "center" });
  el.focus({ preventScroll: true });
  setTimeout(() => {
    for (const m of view?.scroller.querySelectorAll(".message.highlight") ?? []) {
      m.classList.remove("highlight");
      m.removeAttribute("data-highlight");
    }
  }, 4000);
}

/**
 * Put the names known now into the open chat without drawing it again:
 * group senders shown by a short ID switch to their name (or the owner's
 * nickname for them) once it arrives, and so do quotes and the typing line.
 */
function refreshNames() {
  if (!view) return;
  for (const el of view.scroller.querySelectorAll("[data-sender]")) {
    const name = nameOf(el.getAttribute("data-sender"));
    if (el.textContent !== name) el.textContent = name;
  }
  renderTyping();
}
hooks.refreshNames = refreshNames;

async function reloadChat() {
  const id = S.current;
  if (!id) return;
  try {
    const r = await api("GET", `/api/conversations/${enc(id)}/messages?limit=100`);
    if (S.current !== id) return;
    S.messages = r.messages;
    noOlder = r.messages.length < 100;
  } catch (e) {
    if (e.status !== 404) toast(errorText(e));
    S.messages = [];
  }
  renderMessages(true);
  hooks.refreshLists();
}
hooks.reloadChat = reloadChat;

async function loadOlder() {
  if (loadingOlder || noOlder || !S.messages.length) return;
  loadingOlder = true;
  const id = S.current;
  try {
    const before = S.messages[0].sentAt;
    const r = await api("GET", `/api/conversations/${enc(id)}/messages?limit=100&before=${before}`);
    if (S.current !== id) return;
    noOlder = r.messages.length < 100;
    const known = new Set(S.messages.map((m) => m.id));
    const older = r.messages.filter((m) => !known.has(m.id));
    const sc = view.scroller;
    const fromBottom = sc.scrollHeight - sc.scrollTop;
    S.messages = [...older, ...S.messages];
    renderMessages(false);
    sc.scrollTop = sc.scrollHeight - fromBottom;
  } catch {
    // try again on the next scroll
  } finally {
    loadingOlder = false;
  }
}

function buildView() {
  const id = S.current;
  const group = isGroupId(id);
  const scroller = h("div", {
    class: "messages",
    role: "log",
    "aria-live": "polite",
    "aria-label": "Messages",
    tabindex: "0",
  });
  scroller.addEventListener("scroll", () => {
    if (view) view.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    if (scroller.scrollTop < 80) loadOlder();
  });
  const composer = h("textarea", {
    class: "composer",
    testid: "composer",
    rows: "1",
    placeholder: "Message",
    "aria-label": "Message",
    maxlength: "10000",
  });
  composer.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    } else if (ev.key === "Escape" && (replyTo || editing)) {
      ev.preventDefault();
      cancelReplyEdit();
    } else if (ev.key === "ArrowUp" && !composer.value && !editing) {
      const mine = [...S.messages].reverse().find((m) =>
        m.direction === "out" && !m.deleted && m.text && !group
      );
      if (mine) {
        ev.preventDefault();
        startEdit(mine);
      }
    }
  });
  composer.addEventListener("input", () => {
    autoGrow(composer);
    sendTyping();
  });
  const attachInput = h("input", {
    type: "file",
    multiple: true,
    class: "visually-hidden",
    id: "attach-input",
    testid: "attach-input",
    "aria-label": "Attach files",
  });
  attachInput.addEventListener("change", () => {
    addFiles([...attachInput.files]);
    attachInput.value = "";
  });
  const timer = h(
    "select",
    {
      testid: "disappearing-select",
      class: "timer-select",
      "aria-label": "Disappearing messages",
      title: group
        ? "Disappearing messages are not available in groups yet"
        : "Disappearing messages",
      disabled: group,
    },
    TIMERS.map(([v, label]) => h("option", { value: v, text: label })),
  );
  timer.addEventListener("change", async () => {
    const [mode, seconds] = timer.value.split(":");
    try {
      conv = await api("PATCH", `/api/conversations/${enc(S.current)}`, {
        disappearing: { mode, seconds: Number(seconds) },
      });
      toast(mode === "off" ? "Disappearing messages off" : "Disappearing timer set");
    } catch (e) {
      toast(errorText(e));
      renderChatHeader();
    }
  });
  const header = h("header", { class: "chat-header" });
  const typing = h("div", {
    class: "typing",
    testid: "typing-indicator",
    hidden: true,
    "aria-live": "polite",
  });
  const bar = h("div", { class: "reply-bar", hidden: true });
  const tray = h("div", { class: "tray", hidden: true });
  const voice = h("button", {
    class: "icon-btn",
    type: "button",
    testid: "voice-record",
    title: "Record a voice message",
    "aria-label": "Record a voice message",
    icon: "mic",
    onclick: () => toggleRecording(voice),
  });
  const sendBtn = h("button", {
    class: "send",
    type: "button",
    testid: "send-button",
    title: "Send (Enter)",
    "aria-label": "Send",
    icon: "send",
    onclick: () => send(),
  });
  const chat = h(
    "section",
    {
      class: "chat",
      testid: "chat-view",
      "data-conversation-id": id,
      "aria-label": "Chat",
    },
    header,
    scroller,
    typing,
    bar,
    tray,
    h(
      "div",
      { class: "composer-row" },
      h(
        "label",
        {
          class: "icon-btn",
          for: "attach-input",
          title: "Attach files",
          tabindex: "0",
          role: "button",
          "aria-label": "Attach files",
          onkeydown: (ev) => {
            if (ev.key === "Enter" || ev.key === " ") {
              ev.preventDefault();
              attachInput.click();
            }
          },
        },
        icon("attach"),
      ),
      attachInput,
      composer,
      voice,
      sendBtn,
    ),
    h("div", { class: "drop-hint", "aria-hidden": "true", text: "Drop files to attach" }),
  );
  // drag and drop
  let depth = 0;
  chat.addEventListener("dragenter", (ev) => {
    if (!ev.dataTransfer?.types.includes("Files")) return;
    ev.preventDefault();
    depth++;
    chat.classList.add("dragging");
  });
  chat.addEventListener("dragover", (ev) => {
    if (ev.dataTransfer?.types.includes("Files")) ev.preventDefault();
  });
  chat.addEventListener("dragleave", () => {
    if (--depth <= 0) {
      depth = 0;
      chat.classList.remove("dragging");
    }
  });
  chat.addEventListener("drop", (ev) => {
    ev.preventDefault();
    depth = 0;
    chat.classList.remove("dragging");
    const files = [...(ev.dataTransfer?.files ?? [])];
    if (files.length) addFiles(files);
  });
  composer.addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData?.files ?? [])];
    if (files.length) {
      ev.preventDefault();
      addFiles(files);
    }
  });
  view = { chat, header, scroller, typing, bar, tray, composer, timer, sendBtn, stick: true };
  replace(pane, chat);
  renderChatHeader();
  renderBar();
  renderTray();
  renderTyping();
}

function autoGrow(t) {
  t.style.height = "auto";
  t.style.height = `${Math.min(t.scrollHeight, 200)}px`;
}

export function renderChatHeader() {
  if (!view) return;
  const id = S.current;
  // a chat opened before its conversation existed (a new chat) finds it in the lists once made
  if (!conv) conv = S.conversations.find((c) => c.id === id) ?? null;
  const group = isGroupId(id) ? S.groups.get(id) : null;
  const contact = S.contacts.get(id);
  const request = S.requests.find((r) => r.accountId === id);
  const name = titleOf(id);
  let sub = "";
  if (isSelf(id)) sub = "Only on this node";
  else if (group) {
    const n = group.memberCount ?? group.members?.length ?? 0;
    sub = n === 1 ? "1 member" : `${n} members`;
  } else sub = id;
  const kind = isSelf(id) ? "self" : group ? "group" : "1:1";
  replace(
    view.header,
    h("button", {
      class: "icon-btn back",
      type: "button",
      testid: "chat-back",
      "aria-label": "Back to conversations",
      icon: "back",
      onclick: () => closeChat(),
    }),
    avatarEl(kind, id, name, group ? group.hasPicture : contact?.hasAvatar),
    h(
      "div",
      { class: "who" },
      h("div", { class: "name", testid: "chat-title", text: name }),
      h("div", { class: "sub muted", title: sub, text: sub }),
    ),
    isGroupId(id) ? null : view.timer,
    group
      ? h("button", {
        class: "icon-btn",
        type: "button",
        testid: "group-info-open",
        title: "Group members and settings",
        "aria-label": "Group members and settings",
        icon: "info",
        onclick: () => openGroupInfo(id),
      })
      : null,
    !isGroupId(id) && !isSelf(id)
      ? h("button", {
        class: "icon-btn",
        type: "button",
        testid: "contact-menu",
        title: "Contact",
        "aria-label": "Contact options",
        icon: "info",
        onclick: () => openContactMenu(id),
      })
      : null,
  );
  const d = conv?.disappearing ?? { mode: "off", seconds: 0 };
  const val = `${d.mode}:${d.mode === "off" ? 0 : d.seconds}`;
  if (![...view.timer.options].some((o) => o.value === val)) {
    view.timer.append(
      h("option", { value: val, text: `${d.mode.replace("_", " ")} ${d.seconds} s` }),
    );
  }
  view.timer.value = val;
  // a request: a banner to decide
  view.chat.querySelector(".request-banner")?.remove();
  if (request) {
    const act = (what) => async () => {
      try {
        await api("POST", `/api/requests/${enc(id)}/${what}`);
        if (what === "accept") {
          await hooks.refreshLists();
          renderChatHeader();
        } else {
          closeChat();
          hooks.refreshLists();
        }
      } catch (e) {
        toast(errorText(e));
      }
    };
    view.header.after(
      h(
        "div",
        { class: "request-banner" },
        h("span", {
          text: `${name} wants to message you. Accept to reply and let them know you read it.`,
        }),
        h("button", {
          class: "primary small",
          type: "button",
          text: "Accept",
          onclick: act("accept"),
        }),
        h("button", {
          class: "secondary small",
          type: "button",
          text: "Decline",
          onclick: act("decline"),
        }),
        h("button", {
          class: "danger small",
          type: "button",
          text: "Block",
          onclick: act("block"),
        }),
      ),
    );
  }
  if (group && group.state !== "joined") {
    view.composer.disabled = true;
    view.composer.placeholder = group.state === "removed"
      ? "You were removed from this group"
      : "You left this group";
  } else if (contact?.state === "blocked") {
    view.composer.disabled = true;
    view.composer.placeholder = "You blocked this contact";
  } else {
    view.composer.disabled = false;
    view.composer.placeholder = "Message";
  }
}
hooks.renderChatHeader = renderChatHeader;

export function renderTyping() {
  if (!view) return;
  const on = S.typing.has(S.current);
  view.typing.hidden = !on;
  view.typing.textContent = on ? `${titleOf(S.current)} is typing…` : "";
}
hooks.renderTyping = renderTyping;

// ---------- messages ----------

const STATUS = {
  queued: ["◷", "Sending"],
  sent: ["✓", "Sent"],
  delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["⚠", "Not sent"],
};

function renderMessages(toBottom) {
  if (!view) return;
  const sc = view.scroller;
  const nearBottom = toBottom || view.stick;
  S.messages.sort((a, b) => a.sentAt - b.sentAt);
  let lastDay = "";
  let lastSender = "";
  const nodes = [];
  const waiting = queuedSends.filter((q) => q.to === S.current);
  if (S.messages.length === 0 && waiting.length === 0) {
    nodes.push(h("div", {
      class: "chat-hint muted",
      text: isSelf(S.current)
        ? "Notes you write here stay on this node."
        : "No messages yet. Say hello!",
    }));
  }
  for (const m of S.messages) {
    const day = new Date(m.sentAt).toDateString();
    if (day !== lastDay) {
      nodes.push(
        h(
          "div",
          { class: "day-separator", testid: "day-separator", role: "separator" },
          h("span", { text: formatDay(m.sentAt) }),
        ),
      );
      lastDay = day;
      lastSender = "";
    }
    nodes.push(messageEl(m, m.sender !== lastSender));
    lastSender = m.sender;
  }
  for (const q of waiting) nodes.push(queuedEl(q));
  replace(sc, nodes);
  if (nearBottom) {
    sc.scrollTop = sc.scrollHeight;
    view.stick = true;
  }
}

function messageEl(m, first) {
  const group = isGroupId(m.conversationId);
  const out = m.direction === "out";
  const lit = highlight.id === m.id && Date.now() < highlight.until;
  const bubble = h("div", {
    class: `message ${out ? "out" : "in"}${m.deleted ? " deleted" : ""}${lit ? " highlight" : ""}`,
    testid: "message",
    "data-message-id": m.id,
    "data-direction": m.direction,
    "data-status": m.status,
    "data-highlight": lit ? "true" : undefined,
    tabindex: "0",
  });
  if (group && !out && first) {
    bubble.append(h("div", {
      class: "sender",
      testid: "message-sender",
      "data-sender": m.sender,
      text: nameOf(m.sender),
    }));
  }
  if (m.replyTo) {
    const q = m.replyTo;
    bubble.append(
      h(
        "button",
        {
          type: "button",
          class: "quote",
          testid: "message-quote",
          onclick: () => {
            const el = view.scroller.querySelector(`[data-message-id="${CSS.escape(q.id)}"]`);
            el?.scrollIntoView({ block: "center", behavior: "smooth" });
            el?.focus();
          },
        },
        h("span", {
          class: "quote-name",
          "data-sender": q.sender ?? undefined,
          text: q.sender ? nameOf(q.sender) : "",
        }),
        h("span", { class: "quote-text", text: q.text ?? "Original message not found" }),
      ),
    );
  }
  if (!m.deleted) { for (const a of m.attachments ?? []) bubble.append(attachmentEl(a)); }
  if (m.deleted) {
    bubble.append(
      h("div", { class: "message-text", testid: "message-text", text: "This message was deleted" }),
    );
  } else if (m.text) {
    bubble.append(h("div", { class: "message-text", testid: "message-text", text: m.text }));
  }
  const meta = h("div", { class: "meta" });
  if (m.editedAt && !m.deleted) {
    meta.append(h("span", { testid: "message-edited", text: "edited" }));
  }
  if (m.expiresAt) {
    meta.append(
      h("span", {
        class: "timer-icon",
        testid: "message-timer",
        title: `Disappears ${new Date(m.expiresAt).toLocaleString()}`,
      }, icon("timer")),
    );
  }
  meta.append(
    h("time", { datetime: new Date(m.sentAt).toISOString(), text: formatTime(m.sentAt) }),
  );
  if (out) {
    const [sym, label] = STATUS[m.status] ?? ["", m.status];
    meta.append(h("span", {
      class: `status ${m.status}`,
      testid: "message-status",
      title: label,
      "aria-label": label,
      text: sym,
    }));
  }
  bubble.append(meta);
  if (m.reactions?.length && !m.deleted) {
    const counts = new Map();
    for (const r of m.reactions) {
      const e = counts.get(r.emoji) ?? { n: 0, mine: false, who: [] };
      e.n++;
      e.who.push(nameOf(r.sender));
      if (S.account && r.sender === S.account.accountId) e.mine = true;
      counts.set(r.emoji, e);
    }
    bubble.append(
      h(
        "div",
        { class: "reactions" },
        [...counts].map(([emoji, e]) =>
          h("button", {
            type: "button",
            class: `reaction${e.mine ? " mine" : ""}`,
            testid: "reaction",
            "data-emoji": emoji,
            title: e.who.join(", "),
            text: e.n > 1 ? `${emoji} ${e.n}` : emoji,
            onclick: () => react(m, e.mine ? null : emoji),
          })
        ),
      ),
    );
  }
  // actions
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Message actions" });
  if (!m.deleted) {
    actions.append(h("button", {
      type: "button",
      class: "act",
      testid: "message-reply",
      title: "Reply",
      "aria-label": "Reply",
      icon: "reply",
      onclick: () => startReply(m),
    }));
    if (!group) {
      actions.append(h("button", {
        type: "button",
        class: "act",
        testid: "message-react",
        title: "React",
        "aria-label": "React",
        icon: "smile",
        onclick: (ev) => openEmojiPicker(m, ev.currentTarget),
      }));
    }
    if (out && m.text && !group) {
      actions.append(h("button", {
        type: "button",
        class: "act",
        testid: "message-edit",
        title: "Edit",
        "aria-label": "Edit",
        icon: "edit",
        onclick: () => startEdit(m),
      }));
    }
  }
  actions.append(h("button", {
    type: "button",
    class: "act",
    testid: "message-delete",
    title: "Delete",
    "aria-label": "Delete",
    icon: "trash",
    onclick: () => openDelete(m),
  }));
  bubble.addEventListener("keydown", (ev) => {
    if (ev.target !== bubble) return;
    if (ev.key === "r") startReply(m);
    else if (ev.key === "e" && out && !group && !m.deleted) startEdit(m);
    else if (ev.key === "Delete") openDelete(m);
  });
  return h("div", { class: `msg-row ${out ? "out" : "in"}` }, bubble, actions);
}

function attachmentEl(a) {
  const p = S.progress.get(a.id);
  const state = p?.state ?? a.state;
  const box = h("div", {
    class: "attachment",
    testid: "attachment",
    "data-attachment-id": a.id,
    "data-state": state,
  });
  const isImage = /^image\/(png|jpeg|gif|webp)$/.test(a.type ?? "");
  if (a.voice || (a.type ?? "").startsWith("audio/")) {
    let audio = mediaCache.get(a.id);
    if (!audio) {
      audio = h("audio", {
        controls: true,
        preload: "none",
        testid: "voice-audio",
        src: `/api/attachments/${enc(a.id)}`,
      });
      mediaCache.set(a.id, audio);
    }
    box.classList.add("voice");
    box.append(
      h("span", { class: "voice-icon", "aria-hidden": "true" }, icon("mic")),
      audio,
      h("span", {
        class: "duration",
        testid: "voice-duration",
        text: a.durationMs ? formatDuration(a.durationMs) : "",
      }),
    );
  } else if (isImage) {
    const img = h("img", {
      class: "photo",
      testid: "attachment-image",
      alt: a.name ?? "Photo",
      loading: "lazy",
    });
    const full = fullUrls.get(a.id);
    if (full) img.src = full;
    else {
      if (a.hasThumbnail) img.src = `/api/attachments/${enc(a.id)}/thumbnail`;
      loadFull(a, img);
    }
    img.addEventListener("click", () => openLightbox(a, img.src));
    img.addEventListener("load", () => {
      // a photo that grows keeps the chat at its end
      if (view?.stick && img.isConnected) view.scroller.scrollTop = view.scroller.scrollHeight;
    });
    box.append(img);
  }
  if (!a.voice) {
    box.append(
      h(
        "div",
        { class: "file-row" },
        isImage ? null : h("span", { class: "file-icon", "aria-hidden": "true" }, icon("file")),
        h(
          "span",
          { class: "file-info" },
          h("span", { class: "file-name", text: a.name ?? "file" }),
          h("span", { class: "file-size muted", text: formatBytes(a.size) }),
        ),
        h("a", {
          class: "download",
          testid: "attachment-download",
          href: `/api/attachments/${enc(a.id)}`,
          download: a.name ?? "file",
          title: "Download",
          "aria-label": `Download ${a.name ?? "file"}`,
          icon: "download",
          onclick: (ev) => downloadClick(ev, a),
        }),
      ),
    );
  } else {
    box.append(h("a", {
      class: "download small-link",
      testid: "attachment-download",
      href: `/api/attachments/${enc(a.id)}`,
      download: a.name ?? "voice",
      text: "Download",
      onclick: (ev) => downloadClick(ev, a),
    }));
  }
  if (state === "uploading" || state === "downloading" || state === "local" || state === "remote") {
    if (state === "uploading" || state === "downloading") {
      box.append(progressEl(p?.done ?? a.done, p?.total ?? a.size, state));
    }
  }
  if (state === "failed") {
    box.append(h("span", { class: "error small-text", text: "Transfer failed" }));
  }
  return box;
}

function progressEl(done, total, state) {
  return h("progress", {
    class: "progress",
    testid: "progress",
    max: String(total || 1),
    value: String(done || 0),
    "aria-label": state === "uploading" ? "Uploading" : "Downloading",
  });
}

const loadingFull = new Set();
async function loadFull(a, img) {
  if (loadingFull.has(a.id)) return;
  loadingFull.add(a.id);
  try {
    const blob = await apiBlob(`/api/attachments/${enc(a.id)}`);
    const url = URL.createObjectURL(blob);
    fullUrls.set(a.id, url);
    // the element may have been re-rendered: update every copy
    for (
      const el of document.querySelectorAll(`[data-attachment-id="${CSS.escape(a.id)}"] img.photo`)
    ) {
      el.src = url;
    }
    if (img.isConnected === false) img.src = url;
  } catch {
    // not here yet (a download may fail while the peer's upload goes on): retry later
    setTimeout(() => loadingFull.delete(a.id), 5000);
    return;
  }
}

function openLightbox(a, src) {
  const d = h(
    "dialog",
    { class: "lightbox", "aria-label": a.name ?? "Photo" },
    h("img", { src, alt: a.name ?? "Photo" }),
    h(
      "div",
      { class: "row-buttons" },
      h("a", {
        class: "secondary small",
        href: `/api/attachments/${enc(a.id)}`,
        download: a.name ?? "photo",
        text: "Download",
      }),
      h("button", {
        class: "primary small",
        type: "button",
        testid: "dialog-close",
        text: "Close",
        onclick: () => d.close(),
      }),
    ),
  );
  d.addEventListener("close", () => d.remove());
  d.addEventListener("click", (ev) => {
    if (ev.target === d) d.close();
  });
  document.body.append(d);
  d.showModal();
}

// ---------- events ----------

/** An event from /api/events that may concern the open chat. */
export function chatEvent(type, d) {
  if (!view) return;
  if (type === "message" || type === "update") {
    if (d.conversationId !== S.current) return;
    const i = S.messages.findIndex((m) => m.id === d.id);
    if (i >= 0) S.messages[i] = d;
    else S.messages.push(d);
    if (type === "message" && d.direction === "in") {
      S.typing.delete(d.conversationId);
      renderTyping();
      scheduleMarkRead();
    }
    if (editing?.id === d.id && d.deleted) cancelReplyEdit();
    renderMessages(type === "message" && d.direction === "out");
  } else if (type === "removed") {
    if (d.conversationId !== S.current) return;
    const gone = new Set(d.ids);
    S.messages = S.messages.filter((m) => !gone.has(m.id));
    renderMessages(false);
  } else if (type === "status") {
    const m = S.messages.find((x) => x.id === d.id);
    if (!m) return;
    m.status = d.status;
    const el = view.scroller.querySelector(`[data-message-id="${CSS.escape(d.id)}"]`);
    if (el) {
      el.setAttribute("data-status", d.status);
      const st = el.querySelector('[data-testid="message-status"]');
      const [sym, label] = STATUS[d.status] ?? ["", d.status];
      if (st) {
        st.textContent = sym;
        st.className = `status ${d.status}`;
        st.title = label;
        st.setAttribute("aria-label", label);
      }
    }
  } else if (type === "conversation") {
    if (d.id === S.current || (d.id === "self" && isSelf(S.current))) {
      conv = d;
      renderChatHeader();
    }
  } else if (type === "attachment") {
    updateAttachment(d);
  } else if (type === "group") {
    if (d.id === S.current) {
      renderChatHeader();
      refreshNames(); // a member's name arrived (before its message's own event)
    }
  }
}

/**
 * A peer's file not here yet: fetch it through the network first (with a
 * progress bar from the attachment events), then hand it to the browser.
 */
const autoOpen = new Set(); // file ids to hand to the browser once downloaded
function downloadClick(ev, a) {
  const link = ev.currentTarget;
  const box = link.closest(".attachment");
  const state = box?.getAttribute("data-state");
  if (link.dataset.ready === "1" || (state !== "remote" && state !== "failed")) return;
  ev.preventDefault();
  if (autoOpen.has(a.id)) return;
  autoOpen.add(a.id);
  api("POST", `/api/attachments/${enc(a.id)}/download`)
    .then((f) => {
      if (f.state === "complete") {
        updateAttachment({ id: f.id, state: f.state, done: f.size, total: f.size });
      } else if (!box.querySelector("progress")) {
        box.append(progressEl(f.done, f.size, "downloading"));
      }
    })
    .catch((e) => {
      autoOpen.delete(a.id);
      toast(errorText(e));
    });
}

function updateAttachment(d) {
  for (const p of pending) {
    if (p.id === d.id) {
      p.state = d.state;
      p.done = d.done;
      p.total = d.total;
    }
  }
  renderTray();
  for (const box of view.scroller.querySelectorAll(`[data-attachment-id="${CSS.escape(d.id)}"]`)) {
    box.setAttribute("data-state", d.state);
    let bar = box.querySelector("progress");
    if (d.state === "uploading" || d.state === "downloading") {
      if (!bar) {
        bar = progressEl(d.done, d.total, d.state);
        box.append(bar);
      }
      bar.max = d.total || 1;
      bar.value = d.done || 0;
    } else {
      bar?.remove();
      if (d.state === "complete" && autoOpen.has(d.id)) {
        autoOpen.delete(d.id);
        const link = box.querySelector('[data-testid="attachment-download"]');
        if (link) {
          link.dataset.ready = "1";
          link.click();
        }
      }
      if (d.state === "complete" || d.state === "uploaded") {
        const img = box.querySelector("img.photo");
        if (img && !fullUrls.has(d.id)) {
          loadingFull.delete(d.id);
          const m = S.messages.find((x) => x.attachments?.some((a) => a.id === d.id));
          const a = m?.attachments.find((x) => x.id === d.id);
          if (a) loadFull(a, img);
        }
      }
      if (d.state === "failed" && !box.querySelector(".error")) {
        box.append(h("span", { class: "error small-text", text: "Transfer failed" }));
      }
    }
  }
}

function scheduleMarkRead() {
  clearTimeout(markReadTimer);
  markReadTimer = setTimeout(() => {
    if (document.hidden || !S.current) return;
    // reading the conversation marks it read (and sends read receipts)
    api("GET", `/api/conversations/${enc(S.current)}/messages?limit=1`)
      .then(() => hooks.refreshLists())
      .catch(() => {});
  }, 300);
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && S.current) scheduleMarkRead();
});

// ---------- composing ----------

function startReply(m) {
  editing = null;
  replyTo = m;
  renderBar();
  view.composer.focus();
}

function startEdit(m) {
  replyTo = null;
  editing = m;
  view.composer.value = m.text;
  autoGrow(view.composer);
  renderBar();
  view.composer.focus();
  view.composer.setSelectionRange(m.text.length, m.text.length);
}

function cancelReplyEdit() {
  if (editing) view.composer.value = "";
  replyTo = null;
  editing = null;
  autoGrow(view.composer);
  renderBar();
  view.composer.focus();
}

function renderBar() {
  if (!view) return;
  const m = replyTo ?? editing;
  view.bar.hidden = !m;
  if (!m) return view.bar.replaceChildren();
  replace(
    view.bar,
    h(
      "div",
      { class: "bar-text" },
      h("strong", { text: editing ? "Editing" : `Replying to ${nameOf(m.sender)}` }),
      h("span", {
        class: "quote-text",
        text: m.text || (m.attachments?.length ? "📎 Attachment" : ""),
      }),
    ),
    h("button", {
      class: "icon-btn small",
      type: "button",
      testid: "reply-cancel",
      "aria-label": "Cancel (Escape)",
      title: "Cancel (Escape)",
      icon: "close",
      onclick: cancelReplyEdit,
    }),
  );
}

function sendTyping() {
  if (!S.settings.typingIndicators || isSelf(S.current) || isGroupId(S.current)) return;
  // only to a contact (not a request, nor a new chat before its first message)
  if (S.contacts.get(S.current)?.state !== "contact") return;
  const id = S.current;
  const now = Date.now();
  if (now - typingSentAt > 5000) {
    typingSentAt = now;
    api("POST", `/api/conversations/${enc(id)}/typing`, { active: true }).catch(() => {});
  }
  clearTimeout(typingStopTimer);
  typingStopTimer = setTimeout(() => {
    typingSentAt = 0;
    api("POST", `/api/conversations/${enc(id)}/typing`, { active: false }).catch(() => {});
  }, 4000);
}

function stopTyping() {
  if (typingSentAt && S.settings.typingIndicators && !isSelf(S.current) && !isGroupId(S.current)) {
    clearTimeout(typingStopTimer);
    typingSentAt = 0;
    api("POST", `/api/conversations/${enc(S.current)}/typing`, { active: false }).catch(() => {});
  }
}

async function send() {
  if (!view || view.composer.disabled) return;
  const text = view.composer.value;
  const to = S.current;
  if (editing) {
    const m = editing;
    if (!text.trim()) return;
    try {
      const r = await api("PATCH", `/api/messages/${m.id}`, { text });
      chatEvent("update", r);
      editing = null;
      view.composer.value = "";
      autoGrow(view.composer);
      renderBar();
    } catch (e) {
      toast(errorText(e));
    }
    return;
  }
  const failed = pending.find((p) => p.state === "failed");
  if (failed) {
    toast(`${failed.name} could not be added: remove it first`);
    return;
  }
  const files = pending;
  if (!text.trim() && files.length === 0) return;
  const body = { to };
  if (text.trim()) body.text = text;
  if (replyTo) body.replyTo = replyTo.id;
  // clear at once; the message shows up from its event
  const saved = { text, replyTo, pending };
  view.composer.value = "";
  autoGrow(view.composer);
  replyTo = null;
  pending = [];
  renderBar();
  renderTray();
  stopTyping();
  // With files, the message waits in the chat as "queued" while they go up to the node
  // and into the network; it is sent when they are all there.
  const queued = files.length ? { key: ++queuedKey, to, text: body.text ?? "", files } : null;
  if (queued) {
    queuedSends.push(queued);
    if (S.current === to) renderMessages(true);
  }
  try {
    if (queued) {
      await Promise.all(files.map((p) => p.uploaded));
      const bad = files.find((p) => !p.id);
      if (bad) throw new Error(`${bad.name} could not be added`);
      if (queued.cancelled) return;
      queued.sending = true;
      if (S.current === to) renderMessages(false);
      body.attachments = files.map((p) => p.id);
    }
    const m = await api("POST", "/api/messages", body);
    dropQueued(queued);
    if (S.current === to) chatEvent("message", m);
    hooks.refreshLists();
  } catch (e) {
    dropQueued(queued);
    toast(`Not sent: ${errorText(e)}`);
    if (S.current === to && view && !view.composer.value) {
      view.composer.value = saved.text;
      replyTo = saved.replyTo;
      pending = saved.pending.filter((p) => p.id || p.state !== "failed");
      renderBar();
      renderTray();
    }
  }
}

/** Messages with files waiting for their uploads, oldest first: `{key, to, text, files}`. */
const queuedSends = [];
let queuedKey = 0;

function dropQueued(q) {
  const i = queuedSends.indexOf(q);
  if (i < 0) return;
  queuedSends.splice(i, 1);
  if (S.current === q.to) renderMessages(false);
}

/** A message still waiting for its files, as the owner's own bubble with a "queued" status. */
function queuedEl(q) {
  const files = q.files.map((p) => {
    const ev = p.id ? S.progress.get(p.id) : null;
    const state = ev?.state ?? (p.id ? p.state : "preparing");
    return h(
      "div",
      {
        class: "attachment",
        testid: "queued-attachment",
        "data-attachment-id": p.id ?? undefined,
        "data-state": state,
      },
      h(
        "div",
        { class: "file-row" },
        h("span", { class: "file-icon", "aria-hidden": "true" }, icon(p.voice ? "mic" : "file")),
        h(
          "span",
          { class: "file-info" },
          h("span", { class: "file-name", text: p.name }),
          h("span", { class: "file-size muted", text: formatBytes(p.file.size) }),
        ),
      ),
      state === "uploading"
        ? progressEl(ev?.done ?? p.done, ev?.total ?? p.total, "uploading")
        : state === "uploaded"
        ? null
        : h("progress", { class: "progress", "aria-label": "Preparing" }),
    );
  });
  return h(
    "div",
    { class: "msg-row out" },
    h(
      "div",
      {
        class: "message out queued",
        testid: "message-queued",
        "data-status": "queued",
        "aria-label": "Waiting for files to upload",
      },
      files,
      q.text ? h("div", { class: "message-text", text: q.text }) : null,
      h(
        "div",
        { class: "meta" },
        h("span", {
          text: q.sending ? "Uploading, then sending…" : "Sends when the files are ready",
        }),
        h("span", { class: "status queued", title: "Queued", "aria-label": "Queued", text: "◷" }),
      ),
    ),
    q.sending ? null : h(
      "div",
      { class: "actions", role: "group", "aria-label": "Message actions" },
      h("button", {
        type: "button",
        class: "act",
        testid: "queued-cancel",
        title: "Cancel",
        "aria-label": "Cancel this message",
        icon: "close",
        onclick: () => {
          q.cancelled = true;
          dropQueued(q);
        },
      }),
    ),
  );
}

// ---------- attachments ----------

let pendingKey = 0;
function addFiles(files) {
  if (!view) return;
  if (isSelf(S.current) === false && editing) cancelReplyEdit();
  for (const file of files) {
    if (pending.length >= 10) {
      toast("At most 10 files per message");
      break;
    }
    const p = {
      key: ++pendingKey,
      file,
      id: null,
      name: file.name,
      state: "preparing",
      done: 0,
      total: file.size,
    };
    pending.push(p);
    p.uploaded = upload(p);
  }
  renderTray();
  view.composer.focus();
}

async function upload(p) {
  try {
    const form = new FormData();
    form.append("file", p.file, p.file.name || "file");
    if (/^image\/(png|jpeg|webp|gif)$/.test(p.file.type)) {
      const thumb = await makeThumbnail(p.file).catch(() => null);
      if (thumb) form.append("thumbnail", thumb, "thumbnail");
    }
    if (p.voice) {
      form.append("voice", "true");
      form.append("durationMs", String(p.durationMs));
    }
    p.state = "sending";
    renderTray();
    const f = await apiForm("/api/attachments", form);
    p.id = f.id;
    const ev = S.progress.get(f.id);
    p.state = ev?.state ?? f.state;
    renderTray();
    if (queuedSends.some((q) => q.to === S.current && q.files.includes(p))) renderMessages(false);
    return f;
  } catch (e) {
    p.state = "failed";
    p.error = errorText(e);
    renderTray();
    toast(`${p.name}: ${p.error}`);
    return null;
  }
}

function renderTray() {
  if (!view) return;
  view.tray.hidden = pending.length === 0;
  replace(
    view.tray,
    pending.map((p) =>
      h(
        "div",
        { class: `pending${p.state === "failed" ? " failed" : ""}`, testid: "pending-attachment" },
        h("span", { class: "file-name", text: p.name }),
        h("span", {
          class: "muted",
          text: p.state === "failed" ? p.error ?? "failed" : formatBytes(p.file.size),
        }),
        p.state === "preparing" || p.state === "sending" || p.state === "uploading"
          ? progressEl(p.state === "uploading" ? p.done : 0, p.total, "uploading")
          : null,
        h("button", {
          class: "icon-btn small",
          type: "button",
          "aria-label": `Remove ${p.name}`,
          icon: "close",
          onclick: () => {
            pending = pending.filter((x) => x !== p);
            renderTray();
          },
        }),
      )
    ),
  );
}

/** A small JPEG/WebP thumbnail (≤ 8 KiB) drawn on a canvas. */
async function makeThumbnail(file) {
  const bmp = await createImageBitmap(file);
  for (const size of [240, 180, 128, 96, 64]) {
    const scale = Math.min(1, size / Math.max(bmp.width, bmp.height));
    const w = Math.max(1, Math.round(bmp.width * scale));
    const hgt = Math.max(1, Math.round(bmp.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = hgt;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bmp, 0, 0, w, hgt);
    for (const [type, q] of [["image/webp", 0.6], ["image/jpeg", 0.6], ["image/jpeg", 0.4]]) {
      const blob = await new Promise((res) => canvas.toBlob(res, type, q));
      if (blob && blob.size <= 8192 && blob.type === type) return blob;
    }
  }
  return null;
}
export { makeThumbnail };

// ---------- voice ----------

let recorder = null;
async function toggleRecording(btn) {
  if (recorder) {
    recorder.stop();
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
    toast("Recording is not available in this browser");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch {
    toast("Microphone access was refused");
    return;
  }
  const to = S.current;
  const chunks = [];
  const startedAt = Date.now();
  const rec = new MediaRecorder(stream);
  recorder = rec;
  btn.classList.add("recording");
  btn.setAttribute("aria-label", "Stop recording and send");
  btn.title = "Stop recording and send";
  const label = h("span", { class: "rec-time", testid: "voice-record-time", text: "0:00" });
  replace(btn, icon("stop"), label);
  const tick = setInterval(
    () => label.textContent = formatDuration(Date.now() - startedAt),
    500,
  );

  rec.addEventListener("dataavailable", (ev) => {
    if (ev.data.size) chunks.push(ev.data);
  });
  rec.addEventListener("stop", async () => {
    clearInterval(tick);
    recorder = null;
    for (const t of stream.getTracks()) t.stop();
    btn.classList.remove("recording");
    replace(btn, icon("mic"));
    btn.setAttribute("aria-label", "Record a voice message");
    btn.title = "Record a voice message";
    const durationMs = Date.now() - startedAt;
    const type = (rec.mimeType || "audio/webm").split(";")[0];
    const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    const blob = new Blob(chunks, { type });
    if (durationMs < 500 || blob.size === 0) return;
    const file = new File(
      [blob],
      `voice-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}.${ext}`,
      { type },
    );
    const p = {
      key: ++pendingKey,
      file,
      id: null,
      name: "Voice message",
      state: "preparing",
      done: 0,
      total: file.size,
      voice: true,
      durationMs,
    };
    const f = await upload(p);
    if (!f) return;
    try {
      const m = await api("POST", "/api/messages", { to, attachments: [f.id], voice: true });
      if (S.current === to) chatEvent("message", m);
      hooks.refreshLists();
    } catch (e) {
      toast(`Voice message not sent: ${errorText(e)}`);
    }
  });
  rec.start(250);
}

// ---------- reactions and deletes ----------

async function react(m, emoji) {
  try {
    const r = emoji === null
      ? await api("DELETE", `/api/messages/${m.id}/reaction`)
      : await api("PUT", `/api/messages/${m.id}/reaction`, { emoji });
    chatEvent("update", r);
  } catch (e) {
    toast(errorText(e));
  }
}

function smallDialog(label, ...children) {
  const d = h("dialog", { class: "small-dialog", "aria-label": label }, ...children);
  return showModal(d);
}

function openEmojiPicker(m, _anchor) {
  const mine = m.reactions?.find((r) => S.account && r.sender === S.account.accountId);
  const d = smallDialog(
    "React",
    h("h2", { class: "dialog-title", text: "React" }),
    h(
      "div",
      { class: "emoji-grid" },
      EMOJIS.map((e) =>
        h("button", {
          type: "button",
          class: `emoji${mine?.emoji === e ? " mine" : ""}`,
          testid: "emoji-option",
          "data-emoji": e,
          "aria-label": `React with ${e}`,
          text: e,
          onclick: () => {
            d.close();
            react(m, mine?.emoji === e ? null : e);
          },
        })
      ),
    ),
    mine
      ? h("button", {
        class: "link",
        type: "button",
        text: "Remove my reaction",
        onclick: () => {
          d.close();
          react(m, null);
        },
      })
      : null,
  );
  d.querySelector("button")?.focus();
}

function openDelete(m) {
  const canEveryone = m.direction === "out" && !m.deleted && !isGroupId(m.conversationId) &&
    !isSelf(m.conversationId);
  const del = (mode) => async () => {
    d.close();
    try {
      const r = await api("DELETE", `/api/messages/${m.id}?for=${mode}`);
      if (mode === "me") chatEvent("removed", { conversationId: m.conversationId, ids: [m.id] });
      else chatEvent("update", r);
      hooks.refreshLists();
    } catch (e) {
      toast(errorText(e));
    }
  };
  const d = smallDialog(
    "Delete message",
    h("h2", { class: "dialog-title", text: "Delete message?" }),
    h(
      "div",
      { class: "stack" },
      h("button", {
        class: "danger wide",
        type: "button",
        testid: "delete-for-me",
        text: "Delete for me",
        onclick: del("me"),
      }),
      canEveryone
        ? h("button", {
          class: "danger wide",
          type: "button",
          testid: "delete-for-everyone",
          text: "Delete for everyone",
          onclick: del("everyone"),
        })
        : null,
      h("button", {
        class: "secondary wide",
        type: "button",
        testid: "dialog-close",
        text: "Cancel",
        onclick: () => d.close(),
      }),
    ),
  );
  d.querySelector("button")?.focus();
}

// ---------- contact menu: mute, block / unblock, copy ID ----------

function openContactMenu(id) {
  const contact = S.contacts.get(id);
  const known = contact ?? S.requests.find((r) => r.accountId === id);
  const blocked = contact?.state === "blocked";
  const muted = !!conv?.muted;
  const d = smallDialog(
    "Contact",
    h("h2", { class: "dialog-title", text: titleOf(id) }),
    h("p", { class: "muted small-text account-id-full", text: id }),
    known ? nicknameForm(id, known, () => d.close()) : null,
    h(
      "div",
      { class: "stack" },
      h("button", {
        class: "secondary wide",
        type: "button",
        text: "Copy Account ID",
        onclick: () => {
          navigator.clipboard.writeText(id).then(() => toast("Account ID copied"), () => {});
          d.close();
        },
      }),
      conv
        ? h("button", {
          class: "secondary wide",
          type: "button",
          testid: "conversation-mute",
          text: muted ? "Unmute notifications" : "Mute notifications",
          onclick: async () => {
            d.close();
            try {
              conv = await api("PATCH", `/api/conversations/${enc(id)}`, { muted: !muted });
              hooks.refreshLists();
            } catch (e) {
              toast(errorText(e));
            }
          },
        })
        : null,
      contact
        ? h("button", {
          class: "danger wide",
          type: "button",
          testid: blocked ? "contact-unblock" : "contact-block",
          text: blocked ? "Unblock" : "Block",
          onclick: async () => {
            d.close();
            try {
              await api("POST", `/api/contacts/${enc(id)}/${blocked ? "unblock" : "block"}`);
              await hooks.refreshLists();
              if (blocked) renderChatHeader();
              else closeChat();
              toast(blocked ? "Unblocked" : "Blocked");
            } catch (e) {
              toast(errorText(e));
            }
          },
        })
        : null,
      h("button", {
        class: "secondary wide",
        type: "button",
        testid: "dialog-close",
        text: "Close",
        onclick: () => d.close(),
      }),
    ),
  );
}

/**
 * The contact menu's nickname field: the peer's own name stays visible
 * above it; saving an empty field clears the nickname.
 */
function nicknameForm(id, known, done) {
  const err = h("p", { class: "error small-text", role: "alert" });
  const input = h("input", {
    id: "contact-nickname",
    testid: "contact-nickname-input",
    maxlength: "64",
    autocomplete: "off",
    value: known.nickname ?? "",
    placeholder: known.displayName ?? "",
  });
  const save = h("button", {
    class: "primary small",
    type: "submit",
    testid: "contact-nickname-save",
    text: "Save",
  });
  return h(
    "form",
    {
      class: "stack nickname-form",
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        save.disabled = true;
        try {
          const nickname = input.value.trim();
          const v = await api("PATCH", `/api/contacts/${enc(id)}`, {
            nickname: nickname === "" ? null : nickname,
          });
          if (S.contacts.has(id)) S.contacts.set(id, v);
          const r = S.requests.findIndex((x) => x.accountId === id);
          if (r >= 0) S.requests[r] = v;
          hooks.renderList();
          renderChatHeader();
          refreshNames();
          hooks.refreshLists();
          toast(v.nickname ? "Nickname saved" : "Nickname removed");
          done();
        } catch (e) {
          err.textContent = errorText(e);
          save.disabled = false;
        }
      },
    },
    h("p", {
      class: "muted small-text",
      testid: "contact-own-name",
      text: known.displayName
        ? `Their name: ${known.displayName}`
        : "They have not sent a name yet",
    }),
    h("label", { for: "contact-nickname", text: "Nickname (only you see it)" }),
    h("div", { class: "row-buttons" }, input, save),
    err,
  );
}
