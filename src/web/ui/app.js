/**
 * hearth web UI: start-up (session, status), first run, unlock, the main
 * screen's left column and the live event stream.
 * @module
 */
import { api, apiBlob, ApiError, enc, initSession } from "./api.js";
import { formatListTime, h, hue, icon, initials, replace } from "./dom.js";
import { hooks, isGroupId, labelOf, nameOf, S } from "./state.js";
import { chatEvent, closeChat, mountChat, openConversation } from "./chat.js";
import { searchMessages, searchResultsEl } from "./search.js";
import { openNewChat, openNewGroup, openSettings, openStatus } from "./dialogs.js";

const root = document.getElementById("app");
let events = null;

// ---------- toasts ----------

const toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
document.body.append(toastBox);
function toast(text) {
  const t = h("div", { class: "toast", testid: "toast", text });
  toastBox.append(t);
  setTimeout(() => t.remove(), 5000);
}
hooks.toast = toast;

export function errorText(e) {
  if (e instanceof ApiError) return e.message;
  return String(e?.message ?? e);
}

// ---------- start ----------

async function start() {
  try {
    await initSession();
    const st = await api("GET", "/api/status");
    if (st.account === "absent") return showOnboarding();
    if (st.account === "locked") return showUnlock();
    await showMain();
  } catch (e) {
    replace(
      root,
      h(
        "div",
        { class: "center-screen" },
        h(
          "div",
          { class: "card" },
          h("h1", { text: "hearth" }),
          h("p", { class: "error", text: `Could not reach the node: ${errorText(e)}` }),
          h("button", { class: "primary", type: "button", onclick: () => start(), text: "Retry" }),
        ),
      ),
    );
  }
}

// ---------- first run ----------

function showOnboarding() {
  stopEvents();
  const card = h("div", { class: "card onboard" });
  replace(root, h("main", { class: "center-screen" }, card));
  const choose = () => {
    replace(
      card,
      h("img", { class: "logo", src: "/ui/icon.svg", alt: "" }),
      h("h1", { text: "Welcome to hearth" }),
      h("p", {
        class: "muted",
        text: "Private messages, end-to-end encrypted, carried by your own node.",
      }),
      h("button", {
        class: "primary wide",
        type: "button",
        testid: "onboard-create",
        text: "Create account",
        onclick: () => form(false),
      }),
      h("button", {
        class: "secondary wide",
        type: "button",
        testid: "onboard-restore",
        text: "Restore from recovery phrase",
        onclick: () => form(true),
      }),
    );
    card.querySelector("button")?.focus();
  };
  const form = (restore) => {
    const err = h("p", { class: "error", role: "alert" });
    const phrase = restore
      ? h("textarea", {
        id: "ob-phrase",
        testid: "onboard-phrase-input",
        rows: "4",
        required: true,
        autocomplete: "off",
        spellcheck: "false",
        placeholder: "24 words",
      })
      : null;
    const name = h("input", {
      id: "ob-name",
      testid: "onboard-name",
      maxlength: "64",
      autocomplete: "nickname",
      required: !restore,
    });
    const pass = h("input", {
      id: "ob-pass",
      type: "password",
      testid: "onboard-passphrase",
      required: true,
      autocomplete: "new-password",
    });
    const submit = h("button", {
      class: "primary wide",
      type: "submit",
      testid: "onboard-submit",
      text: restore ? "Restore" : "Create",
    });
    const f = h(
      "form",
      {
        class: "stack",
        onsubmit: async (ev) => {
          ev.preventDefault();
          err.textContent = "";
          submit.disabled = true;
          submit.textContent = restore ? "Restoring…" : "Creating…";
          try {
            const body = { passphrase: pass.value };
            if (name.value.trim()) body.displayName = name.value.trim();
            if (restore) body.recoveryPhrase = phrase.value.trim();
            const r = await api("POST", "/api/account", body);
            if (r.recoveryPhrase) showPhrase(r.recoveryPhrase);
            else showRestored(r.historyNotice);
          } catch (e) {
            err.textContent = errorText(e);
            submit.disabled = false;
            submit.textContent = restore ? "Restore" : "Create";
          }
        },
      },
      h("h1", { text: restore ? "Restore your account" : "Create your account" }),
      restore ? h("label", { for: "ob-phrase", text: "Recovery phrase" }) : null,
      phrase,
      h("label", { for: "ob-name", text: restore ? "Display name (optional)" : "Display name" }),
      name,
      h("label", { for: "ob-pass", text: "Passphrase (encrypts this node's copy)" }),
      pass,
      err,
      submit,
      h("button", { class: "link", type: "button", text: "Back", onclick: choose }),
    );
    replace(card, f);
    (phrase ?? name).focus();
  };
  const showPhrase = (words) => {
    const confirm = h("input", {
      type: "checkbox",
      id: "ob-confirm",
      testid: "onboard-phrase-confirm",
    });
    const cont = h("button", {
      class: "primary wide",
      type: "button",
      testid: "onboard-continue",
      text: "Continue",
      disabled: true,
      onclick: () => showMain(),
    });
    confirm.addEventListener("change", () => cont.disabled = !confirm.checked);
    replace(
      card,
      h("h1", { text: "Your recovery phrase" }),
      h("p", {
        class: "muted",
        text:
          "Write these 24 words down and keep them safe. They are the only way to restore your account on another node. This is the only time they are shown without your passphrase.",
      }),
      h(
        "ol",
        { class: "phrase", testid: "onboard-phrase", "aria-label": "Recovery phrase" },
        words.split(/\s+/).map((w) => h("li", { text: w })),
      ),
      h("label", { class: "check" }, confirm, " I have written down my recovery phrase"),
      cont,
    );
    confirm.focus();
  };
  const showRestored = (notice) => {
    replace(
      card,
      h("h1", { text: "Account restored" }),
      notice ? h("p", { class: "muted", text: notice }) : null,
      h("button", {
        class: "primary wide",
        type: "button",
        testid: "onboard-continue",
        text: "Continue",
        onclick: () => showMain(),
      }),
    );
    card.querySelector("button")?.focus();
  };
  choose();
}

// ---------- unlock ----------

function showUnlock() {
  stopEvents();
  const err = h("p", { class: "error", role: "alert", testid: "unlock-error" });
  const pass = h("input", {
    id: "unlock-pass",
    type: "password",
    testid: "unlock-passphrase",
    required: true,
    autocomplete: "current-password",
  });
  const submit = h("button", {
    class: "primary wide",
    type: "submit",
    testid: "unlock-submit",
    text: "Unlock",
  });
  replace(
    root,
    h(
      "main",
      { class: "center-screen" },
      h(
        "form",
        {
          class: "card stack",
          onsubmit: async (ev) => {
            ev.preventDefault();
            err.textContent = "";
            submit.disabled = true;
            submit.textContent = "Unlocking…";
            try {
              await api("POST", "/api/unlock", { passphrase: pass.value });
              await showMain();
            } catch (e) {
              let msg = errorText(e);
              if (e instanceof ApiError && e.body?.retryAfterMs) {
                msg = `Too many attempts: try again in ${Math.ceil(e.body.retryAfterMs / 1000)} s.`;
              }
              err.textContent = msg;
              submit.disabled = false;
              submit.textContent = "Unlock";
              pass.select();
            }
          },
        },
        h("div", { class: "logo", "aria-hidden": "true" }, h("span", { class: "i i-lock" })),
        h("h1", { text: "hearth is locked" }),
        h("label", { for: "unlock-pass", text: "Passphrase" }),
        pass,
        err,
        submit,
      ),
    ),
  );
  pass.focus();
}
export { showUnlock };

// ---------- main screen ----------

let listEl, requestsEl, invitesEl, headerEl, mainEl;

/** Avatar images as blob URLs (the node answers them no-store), by "kind:id". */
const avatarCache = new Map();

/** Forget a cached avatar (its owner changed it). */
export function forgetAvatar(kind, id) {
  const key = `${kind}:${id}`;
  const entry = avatarCache.get(key);
  if (entry?.url) URL.revokeObjectURL(entry.url);
  avatarCache.delete(key);
}

export function avatarEl(kind, id, name, hasImage, size = "") {
  const box = h("span", { class: `avatar ${size}`, "aria-hidden": "true" });
  box.dataset.hue = String(hue(id ?? name) % 12);
  if (kind === "self") {
    box.append(icon("note"));
    return box;
  }
  const fallback = () => {
    if (kind === "group") box.replaceChildren(icon("group"));
    else box.replaceChildren(document.createTextNode(initials(name)));
  };
  fallback();
  if (!hasImage) return box;
  const key = `${kind}:${id}`;
  let entry = avatarCache.get(key);
  if (!entry) {
    const path = kind === "group"
      ? `/api/groups/${enc(id)}/picture`
      : kind === "me"
      ? "/api/account/avatar"
      : `/api/contacts/${enc(id)}/avatar`;
    entry = { url: null, promise: null };
    entry.promise = apiBlob(path).then((b) => entry.url = URL.createObjectURL(b)).catch(() => null);
    avatarCache.set(key, entry);
  }
  const show = (url) => url && box.replaceChildren(h("img", { src: url, alt: "" }));
  if (entry.url) show(entry.url);
  else entry.promise.then(show);
  return box;
}

async function showMain() {
  [S.account, S.settings] = await Promise.all([
    api("GET", "/api/account"),
    api("GET", "/api/settings"),
  ]);
  headerEl = h("header", { class: "side-header" });
  const search = h("input", {
    type: "search",
    class: "search",
    testid: "conversation-search",
    placeholder: "Search",
    "aria-label": "Search conversations and messages",
    oninput: () => {
      S.search = search.value.trim().toLowerCase();
      renderList();
      searchMessages(search.value);
    },
  });
  requestsEl = h("section", {
    class: "requests",
    testid: "requests-list",
    "aria-label": "Message requests",
  });
  invitesEl = h("section", { class: "invites", "aria-label": "Group invitations" });
  listEl = h("ul", {
    class: "conv-list",
    testid: "conversation-list",
    "aria-label": "Conversations",
  });
  const side = h(
    "aside",
    { class: "sidebar", "aria-label": "Conversations" },
    headerEl,
    h(
      "div",
      { class: "side-actions" },
      search,
      h("button", {
        class: "icon-btn",
        type: "button",
        testid: "new-chat",
        icon: "compose",
        title: "New chat",
        "aria-label": "New chat",
        onclick: openNewChat,
      }),
      h("button", {
        class: "icon-btn",
        type: "button",
        testid: "new-group",
        icon: "group",
        title: "New group",
        "aria-label": "New group",
        onclick: openNewGroup,
      }),
    ),
    h("div", { class: "side-scroll" }, requestsEl, invitesEl, listEl, searchResultsEl()),
  );
  const chat = h("section", { class: "chat-pane" });
  mainEl = h("div", { class: "main", "data-view": "list" }, side, chat);
  replace(root, mainEl);
  renderHeader();
  mountChat(chat, mainEl);
  await refreshLists();
  startEvents();
  search.focus();
}

function renderHeader() {
  const a = S.account;
  const copy = h("button", {
    class: "icon-btn small",
    type: "button",
    testid: "account-copy",
    icon: "copy",
    title: "Copy Account ID",
    "aria-label": "Copy Account ID",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(a.accountId);
        toast("Account ID copied");
      } catch {
        // clipboard refused (not a secure context): select the text instead
        const sel = getSelection();
        const r = document.createRange();
        r.selectNodeContents(idEl);
        sel?.removeAllRanges();
        sel?.addRange(r);
        toast("Press Ctrl+C to copy");
      }
    },
  });
  const idEl = h("span", {
    class: "account-id",
    testid: "account-id",
    title: a.accountId,
    text: a.accountId,
  });
  replace(
    headerEl,
    avatarEl("me", a.accountId, a.displayName ?? "", a.hasAvatar),
    h(
      "div",
      { class: "who" },
      h("div", { class: "name", text: a.displayName || "Me" }),
      h("div", { class: "id-row" }, idEl, copy),
    ),
    h("button", {
      class: "icon-btn",
      type: "button",
      testid: "status-open",
      icon: "status",
      title: "Node status",
      "aria-label": "Node status",
      onclick: openStatus,
    }),
    h("button", {
      class: "icon-btn",
      type: "button",
      testid: "settings-open",
      icon: "settings",
      title: "Settings",
      "aria-label": "Settings",
      onclick: openSettings,
    }),
  );
}
hooks.renderHeader = renderHeader;

let refreshTimer = null;
/** Re-read the lists (debounced). */
export function refreshLists() {
  clearTimeout(refreshTimer);
  return new Promise((resolve) => {
    refreshTimer = setTimeout(async () => {
      try {
        const [convs, reqs, contacts, groups] = await Promise.all([
          api("GET", "/api/conversations"),
          api("GET", "/api/requests"),
          api("GET", "/api/contacts"),
          api("GET", "/api/groups").catch(() => ({ groups: [] })),
        ]);
        S.conversations = convs.conversations; // Note to Self is always among them
        S.requests = reqs.requests;
        S.contacts = new Map(contacts.contacts.map((c) => [c.accountId, c]));
        S.groups = new Map(groups.groups.map((g) => [g.id, g]));
        renderList();
        hooks.renderChatHeader?.();
        hooks.refreshNames?.(); // names (and nicknames) that arrived since the chat was drawn
      } catch (e) {
        if (e instanceof ApiError && e.status === 423) showUnlock();
      }
      resolve();
    }, 60);
  });
}
hooks.refreshLists = refreshLists;

function lastText(m) {
  if (!m) return "";
  if (m.deleted) return "This message was deleted";
  const prefix = m.direction === "out"
    ? "You: "
    : isGroupId(m.conversationId)
    ? `${nameOf(m.sender)}: `
    : "";
  if (m.text) return prefix + m.text;
  const a = m.attachments?.[0];
  if (a) {
    return prefix +
      (a.voice ? "🎤 Voice message" : a.type?.startsWith("image/") ? "📷 Photo" : `📎 ${a.name}`);
  }
  return "";
}

/** An async action that shows its error, if any, as a toast. */
function toastErrors(fn) {
  return async () => {
    try {
      await fn();
    } catch (e) {
      toast(errorText(e));
    }
  };
}

/** A small button of class `cls` (primary, secondary, danger). */
function smallButton(cls, testid, text, onclick) {
  return h("button", { class: `${cls} small`, type: "button", testid, text, onclick });
}

function renderList() {
  if (!listEl) return;
  // The list is drawn anew: a conversation that had the keyboard focus keeps it.
  const focused = document.activeElement?.closest?.(".conv-list [data-conversation-id]")
    ?.getAttribute("data-conversation-id");
  // requests
  replace(
    requestsEl,
    S.requests.length
      ? h("h2", { class: "section-title", text: `Message requests (${S.requests.length})` })
      : null,
    S.requests.map((r) => {
      const act = (what) =>
        toastErrors(async () => {
          await api("POST", `/api/requests/${enc(r.accountId)}/${what}`);
          if (what === "accept") openConversation(r.accountId);
          else if (S.current === r.accountId) closeChat();
          await refreshLists();
        });
      return h(
        "div",
        { class: "request-item", testid: "request-item", "data-account-id": r.accountId },
        h(
          "button",
          {
            class: "request-open",
            type: "button",
            onclick: () => openConversation(r.accountId),
            title: r.accountId,
          },
          avatarEl("1:1", r.accountId, r.nickname || r.displayName || "", r.hasAvatar),
          h("span", { class: "name", text: labelOf(r) }),
        ),
        h(
          "div",
          { class: "row-buttons" },
          smallButton("primary", "request-accept", "Accept", act("accept")),
          smallButton("secondary", "request-decline", "Decline", act("decline")),
          smallButton("danger", "request-block", "Block", act("block")),
        ),
      );
    }),
  );
  // group invitations
  const invites = [...S.groups.values()].filter((g) => g.state === "invited");
  replace(
    invitesEl,
    invites.length ? h("h2", { class: "section-title", text: "Group invitations" }) : null,
    invites.map((g) => {
      const act = (what) =>
        toastErrors(async () => {
          const v = await api("POST", `/api/groups/${enc(g.id)}/${what}`);
          S.groups.set(v.id, v);
          await refreshLists();
          if (what === "join") openConversation(g.id);
        });
      return h(
        "div",
        { class: "request-item", testid: "group-invite", "data-group-id": g.id },
        h(
          "div",
          { class: "request-open" },
          avatarEl("group", g.id, g.name, false),
          h(
            "span",
            { class: "name" },
            h("span", { text: g.name }),
            h("small", {
              class: "muted",
              text: g.invitedBy ? ` invited by ${nameOf(g.invitedBy)}` : "",
            }),
          ),
        ),
        h(
          "div",
          { class: "row-buttons" },
          smallButton("primary", "group-join", "Join", act("join")),
          smallButton("secondary", "group-decline", "Decline", act("decline")),
        ),
      );
    }),
  );
  // conversations
  const q = S.search;
  const convs = S.conversations.filter((c) => {
    if (!q) return true;
    const name = c.kind === "self" ? "note to self" : `${c.nickname ?? ""} ${c.displayName ?? ""}`;
    return name.toLowerCase().includes(q) || c.id.toLowerCase().includes(q) ||
      (c.lastMessage?.text ?? "").toLowerCase().includes(q);
  });
  replace(
    listEl,
    convs.length === 0
      ? h("li", {
        class: "empty muted",
        text: q ? "No conversations match" : "No conversations yet",
      })
      : null,
    convs.map((c) => {
      const name = c.kind === "self" ? "Note to Self" : labelOf(c);
      const contact = S.contacts.get(c.id);
      const group = S.groups.get(c.id);
      const kind = c.kind === "self" ? "self" : c.kind === "group" ? "group" : "1:1";
      const hasImg = kind === "group" ? group?.hasPicture : contact?.hasAvatar;
      const typing = S.typing.has(c.id);
      return h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: `conversation-item${S.current === c.id ? " active" : ""}`,
            testid: "conversation-item",
            "data-conversation-id": c.id,
            "aria-current": S.current === c.id ? "true" : undefined,
            onclick: () => openConversation(c.id),
          },
          avatarEl(kind, c.id, name, hasImg),
          h(
            "span",
            { class: "conv-main" },
            h(
              "span",
              { class: "conv-top" },
              h("span", { class: "name", testid: "conversation-name", text: name }),
              h("span", {
                class: "time",
                text: c.lastMessage ? formatListTime(c.lastMessage.sentAt) : "",
              }),
            ),
            h(
              "span",
              { class: "conv-bottom" },
              h("span", {
                class: `last${typing ? " typing" : ""}`,
                text: typing ? "typing…" : lastText(c.lastMessage),
              }),
              c.muted ? h("span", { class: "muted-icon", title: "Muted", text: "🔕" }) : null,
              c.unreadCount > 0 && S.current !== c.id
                ? h("span", {
                  class: "badge",
                  testid: "unread-badge",
                  "aria-label": `${c.unreadCount} unread`,
                  text: c.unreadCount > 99 ? "99+" : String(c.unreadCount),
                })
                : null,
            ),
          ),
        ),
      );
    }),
  );
  if (focused) {
    listEl.querySelector(`[data-conversation-id="${CSS.escape(focused)}"]`)
      ?.focus({ preventScroll: true });
  }
}
hooks.renderList = renderList;

// ---------- live events ----------

let reconnectTimer = null;
function stopEvents() {
  clearTimeout(reconnectTimer);
  if (events) events.close();
  events = null;
}

function startEvents() {
  stopEvents();
  const es = new EventSource("/api/events");
  events = es;
  let opened = false;
  es.addEventListener("open", () => {
    if (opened) {
      // a reconnect: events are not replayed, so re-read everything
      refreshLists();
      hooks.reloadChat?.();
    }
    opened = true;
  });
  es.addEventListener("error", () => {
    if (es.readyState === EventSource.CLOSED) {
      events = null;
      reconnectTimer = setTimeout(async () => {
        if (restarting) return; // reconnected once the passphrase change is over
        try {
          const st = await api("GET", "/api/status");
          if (st.account === "locked") return showUnlock();
          if (st.account === "absent") return showOnboarding();
          startEvents();
          refreshLists();
          hooks.reloadChat?.();
        } catch {
          reconnectTimer = setTimeout(startEvents, 5000);
        }
      }, 2000);
    }
  });
  const on = (name, fn) =>
    es.addEventListener(name, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      fn(data);
    });
  on("message", (m) => {
    chatEvent("message", m);
    refreshLists();
    if (m.direction === "in") notify(m);
  });
  on("update", (m) => {
    chatEvent("update", m);
    refreshLists();
  });
  on("removed", (d) => {
    chatEvent("removed", d);
    refreshLists();
  });
  on("status", (d) => chatEvent("status", d));
  on("request", () => refreshLists());
  on("contact", (c) => {
    forgetAvatar("1:1", c.accountId);
    refreshLists();
  });
  on("conversation", (c) => {
    chatEvent("conversation", c);
    refreshLists();
  });
  on("typing", (d) => {
    clearTimeout(S.typing.get(d.conversationId));
    if (d.active) {
      S.typing.set(
        d.conversationId,
        setTimeout(() => {
          S.typing.delete(d.conversationId);
          renderList();
          hooks.renderTyping?.();
        }, 15_000),
      );
    } else S.typing.delete(d.conversationId);
    renderList();
    hooks.renderTyping?.();
  });
  on("attachment", (d) => {
    S.progress.set(d.id, d);
    chatEvent("attachment", d);
  });
  on("group", (g) => {
    if (S.groups.get(g.id)?.hasPicture || g.hasPicture) forgetAvatar("group", g.id);
    S.groups.set(g.id, g);
    chatEvent("group", g);
    refreshLists();
  });
  on("locked", () => {
    stopEvents();
    if (!restarting) showUnlock(); // a passphrase change restarts messaging: not a lock
  });
}

// ---------- notifications ----------

function notify(m) {
  if (!document.hidden) return;
  if (localStorage.getItem("hearth.notifications") !== "on") return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const conv = S.conversations.find((c) => c.id === m.conversationId);
  if (conv?.muted) return;
  const title = isGroupId(m.conversationId)
    ? (S.groups.get(m.conversationId)?.name ?? "Group")
    : nameOf(m.sender);
  const body = m.text
    ? m.text.slice(0, 120)
    : m.attachments?.length
    ? "📎 Attachment"
    : "New message";
  try {
    const n = new Notification(title, { body, tag: m.conversationId });
    n.addEventListener("click", () => {
      focus();
      openConversation(m.conversationId);
    });
  } catch {
    // notifications unavailable
  }
}

export function lockNow() {
  stopEvents();
  return api("POST", "/api/lock").then(() => showUnlock());
}

/** Whether this tab is changing the passphrase (the node restarts messaging meanwhile). */
let restarting = false;

/**
 * Run `change` (the passphrase change): the node stops messaging for it and
 * ends the event stream with `locked`, though the account stays unlocked;
 * the UI keeps its screen and reconnects afterwards.
 */
export async function whileMessagingRestarts(change) {
  restarting = true;
  try {
    return await change();
  } finally {
    restarting = false;
    startEvents();
    refreshLists();
    hooks.reloadChat?.();
  }
}

export { toast };

start();
