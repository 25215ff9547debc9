/**
 * Dialogs: new chat, new group, group info, settings (account, QR code,
 * profile, privacy, lock, passphrase, recovery phrase, notifications) and
 * node status with the onion path.
 * @module
 */
import { api, apiBlob, ApiError, enc } from "./api.js";
import { formatBytes, h, replace, shortId, showModal } from "./dom.js";
import { hooks, labelOf, nameOf, S } from "./state.js";
import {
  avatarEl,
  errorText,
  forgetAvatar,
  lockNow,
  toast,
  whileMessagingRestarts,
} from "./app.js";
import { makeThumbnail, openConversation } from "./chat.js";
import { accountIdFromQr, compactAccountId, qrControls } from "./qr_scan.js";

/** A modal <dialog>; Escape and the close button close it. */
function dialog(title, ...children) {
  const close = h("button", {
    class: "icon-btn small",
    type: "button",
    testid: "dialog-close",
    "aria-label": "Close",
    title: "Close (Escape)",
    icon: "close",
  });
  const d = h(
    "dialog",
    { class: "dialog", "aria-label": title },
    h("header", { class: "dialog-header" }, h("h2", { class: "dialog-title", text: title }), close),
    h("div", { class: "dialog-body" }, ...children),
  );
  close.addEventListener("click", () => d.close());
  return showModal(d);
}

/** The error line of a form (role alert). */
function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

/** A form's primary submit button. */
function submitButton(testid, text) {
  return h("button", { class: "primary", type: "submit", testid, text });
}

/**
 * A <form> of class `cls` that handles its own submit: the default is
 * prevented, the error line `err` cleared, then `onsubmit()` runs.
 */
function form(cls, err, onsubmit, ...children) {
  return h("form", {
    class: cls,
    onsubmit: (ev) => {
      ev.preventDefault();
      err.textContent = "";
      return onsubmit();
    },
  }, ...children);
}

/**
 * A <label> for the file input `input` that acts as a button: a click opens
 * the file picker, and so do Enter and Space.
 */
function pickerButton(input, text) {
  return h("label", {
    class: "secondary small",
    for: input.id,
    tabindex: "0",
    role: "button",
    text,
    onkeydown: (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        input.click();
      }
    },
  });
}

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",")[1] ?? "");
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

/** An image file made small enough (≤ 8 KiB) for an avatar or a group picture. */
async function smallImage(file) {
  const blob = await makeThumbnail(file);
  if (!blob) throw new Error("This image could not be made small enough");
  return await blobToBase64(blob);
}

// ---------- new chat ----------

export function openNewChat() {
  const err = errorLine();
  const input = h("input", {
    id: "new-chat-id",
    testid: "new-chat-id",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "hearth1…",
  });
  // A pasted ID loses the spaces and line breaks copied along with it.
  input.addEventListener("paste", (ev) => {
    const text = ev.clipboardData?.getData("text") ?? "";
    const id = compactAccountId(text);
    if (id === text) return;
    ev.preventDefault();
    input.value = id;
  });
  const submit = submitButton("new-chat-submit", "Start chat");
  const qr = qrControls({
    onText: (text) => {
      const id = accountIdFromQr(text);
      if (id === null) {
        err.textContent = "This QR code does not hold a hearth Account ID.";
        return;
      }
      err.textContent = "";
      input.value = id;
      submit.focus();
    },
  });
  const d = dialog(
    "New chat",
    form(
      "stack",
      err,
      async () => {
        const id = compactAccountId(input.value);
        if (id.toLowerCase() === S.account.accountId || id.toLowerCase() === "self") {
          d.close();
          return openConversation("self");
        }
        submit.disabled = true;
        try {
          // checks the Account ID's checksum (an unknown peer is fine)
          await api("GET", `/api/conversations/${enc(id)}`);
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 404)) {
            err.textContent = e.code === "bad_account_id"
              ? "This is not a valid Account ID (check for typos)."
              : errorText(e);
            submit.disabled = false;
            return;
          }
        }
        d.close();
        openConversation(id);
      },
      h("label", { for: "new-chat-id", text: "Account ID" }),
      input,
      h("p", {
        class: "muted small-text",
        text:
          "Paste the Account ID of the person you want to write to, or scan the QR code of it (in their Settings). Your first message is a request they accept.",
      }),
      qr.el,
      err,
      h("div", { class: "row-buttons end" }, submit),
    ),
  );
  d.addEventListener("close", () => qr.stop());
  input.focus();
}

// ---------- new group ----------

export function openNewGroup() {
  const err = errorLine();
  const name = h("input", {
    id: "group-name",
    testid: "group-name",
    required: true,
    maxlength: "64",
  });
  const members = h("textarea", {
    id: "group-members",
    testid: "group-members",
    rows: "4",
    spellcheck: "false",
    placeholder: "One Account ID per line",
  });
  const contacts = [...S.contacts.values()].filter((c) => c.state === "contact");
  const picks = contacts.map((c) =>
    h(
      "label",
      { class: "check" },
      h("input", { type: "checkbox", value: c.accountId, class: "member-pick" }),
      ` ${labelOf(c)}`,
    )
  );
  const submit = submitButton("group-create", "Create group");
  const d = dialog(
    "New group",
    form(
      "stack",
      err,
      async () => {
        const ids = new Set(members.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean));
        for (const p of d.querySelectorAll("input.member-pick:checked")) ids.add(p.value);
        submit.disabled = true;
        try {
          const g = await api("POST", "/api/groups", {
            name: name.value.trim(),
            members: [...ids],
          });
          S.groups.set(g.id, g);
          d.close();
          await hooks.refreshLists();
          openConversation(g.id);
        } catch (e) {
          err.textContent = errorText(e);
          submit.disabled = false;
        }
      },
      h("label", { for: "group-name", text: "Group name" }),
      name,
      picks.length
        ? h("fieldset", { class: "picks" }, h("legend", { text: "Contacts" }), picks)
        : null,
      h("label", { for: "group-members", text: "Members (Account IDs, one per line)" }),
      members,
      err,
      h("div", { class: "row-buttons end" }, submit),
    ),
  );
  name.focus();
}

// ---------- group info ----------

export async function openGroupInfo(id) {
  let g = S.groups.get(id);
  try {
    g = await api("GET", `/api/groups/${enc(id)}`);
    S.groups.set(id, g);
  } catch (e) {
    if (!g) return toast(errorText(e));
  }
  const body = h("div", { class: "stack" });
  const d = dialog("Group", body);
  const run = async (fn) => {
    try {
      const v = await fn();
      if (v?.id) S.groups.set(v.id, v);
      g = v ?? g;
      render();
      hooks.refreshLists();
    } catch (e) {
      toast(errorText(e));
    }
  };
  const render = () => {
    const rename = h("input", {
      id: "group-rename",
      testid: "group-rename",
      value: g.name,
      maxlength: "64",
      disabled: !g.admin,
      "aria-label": "Group name",
    });
    const saveName = () => {
      const n = rename.value.trim();
      if (n && n !== g.name) run(() => api("PATCH", `/api/groups/${enc(id)}`, { name: n }));
    };
    rename.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        saveName();
      }
    });
    const pic = h("input", {
      type: "file",
      accept: "image/*",
      id: "group-picture",
      testid: "group-picture",
      class: "visually-hidden",
      disabled: !g.admin,
    });
    pic.addEventListener("change", async () => {
      const f = pic.files?.[0];
      if (!f) return;
      try {
        const b64 = await smallImage(f);
        forgetAvatar("group", id);
        run(() => api("PATCH", `/api/groups/${enc(id)}`, { picture: b64 }));
      } catch (e) {
        toast(errorText(e));
      }
    });
    const addId = h("input", {
      id: "group-add-id",
      testid: "group-add-id",
      placeholder: "hearth1…",
      spellcheck: "false",
      "aria-label": "Account ID to add",
    });
    const me = S.account.accountId;
    replace(
      body,
      h(
        "div",
        { class: "group-top" },
        avatarEl("group", g.id, g.name, g.hasPicture, "large"),
        g.admin ? pickerButton(pic, "Change picture") : null,
        pic,
      ),
      h("label", { for: "group-rename", text: "Name" }),
      h(
        "div",
        { class: "row" },
        rename,
        g.admin
          ? h("button", {
            class: "secondary small",
            type: "button",
            testid: "group-rename-save",
            text: "Rename",
            onclick: saveName,
          })
          : null,
      ),
      h("p", {
        class: "muted small-text",
        text: `${g.id} · ${g.state}${g.admin ? " · you are an admin" : ""}`,
      }),
      h("h3", { text: `Members (${g.members?.length ?? 0})` }),
      h(
        "ul",
        { class: "member-list", testid: "group-members-list" },
        (g.members ?? []).map((m) =>
          h(
            "li",
            { class: "group-member", testid: "group-member", "data-account-id": m.accountId },
            avatarEl(
              "1:1",
              m.accountId,
              m.nickname || m.displayName || "",
              S.contacts.get(m.accountId)?.hasAvatar,
            ),
            h(
              "span",
              { class: "member-name" },
              h("span", {
                testid: "group-member-name",
                text: m.accountId === me
                  ? "You"
                  : (m.nickname || m.displayName || nameOf(m.accountId)),
              }),
              h("small", { class: "muted", title: m.accountId, text: shortId(m.accountId) }),
            ),
            m.admin ? h("span", { class: "tag", text: "admin" }) : null,
            g.admin && !m.admin && m.accountId !== me && g.state === "joined"
              ? h("button", {
                class: "secondary small",
                type: "button",
                testid: "group-promote",
                text: "Make admin",
                onclick: () => {
                  const admins = (g.members ?? []).filter((x) => x.admin).map((x) => x.accountId);
                  run(() =>
                    api("PATCH", `/api/groups/${enc(id)}`, { admins: [...admins, m.accountId] })
                  );
                },
              })
              : null,
            g.admin && !m.admin && m.accountId !== me && g.state === "joined"
              ? h("button", {
                class: "danger small",
                type: "button",
                testid: "group-remove-member",
                text: "Remove",
                "aria-label": `Remove ${m.nickname || m.displayName || m.accountId}`,
                onclick: () =>
                  run(() => api("DELETE", `/api/groups/${enc(id)}/members/${enc(m.accountId)}`)),
              })
              : null,
          )
        ),
      ),
      g.admin && g.state === "joined"
        ? h(
          "form",
          {
            class: "row",
            onsubmit: (ev) => {
              ev.preventDefault();
              const a = addId.value.trim();
              if (a) run(() => api("POST", `/api/groups/${enc(id)}/members`, { accountId: a }));
            },
          },
          addId,
          h("button", { class: "primary small", type: "submit", testid: "group-add", text: "Add" }),
        )
        : null,
      g.state === "joined"
        ? h("button", {
          class: "danger",
          type: "button",
          testid: "group-leave",
          text: "Leave group",
          onclick: () => {
            run(() => api("POST", `/api/groups/${enc(id)}/leave`)).then(() => {
              d.close();
              toast(`You left ${g.name}`);
            });
          },
        })
        : null,
    );
  };
  render();
}

// ---------- settings ----------

export async function openSettings() {
  const body = h("div", { class: "stack settings" });
  dialog("Settings", body);
  let qrUrl = null;
  try {
    S.account = await api("GET", "/api/account");
    S.settings = await api("GET", "/api/settings");
  } catch (e) {
    toast(errorText(e));
  }
  const a = S.account;
  const qr = h("img", {
    class: "qr",
    testid: "account-qr",
    alt: "QR code of your Account ID",
    width: "180",
    height: "180",
  });
  if (a.qrSvg) {
    qrUrl = URL.createObjectURL(new Blob([a.qrSvg], { type: "image/svg+xml" }));
    qr.src = qrUrl;
  }
  body.closest("dialog")?.addEventListener("close", () => qrUrl && URL.revokeObjectURL(qrUrl));
  const name = h("input", {
    id: "settings-name",
    testid: "settings-name",
    value: a.displayName ?? "",
    maxlength: "64",
  });
  const saveName = async () => {
    if (!name.value.trim() || name.value.trim() === (S.account.displayName ?? "")) return;
    try {
      S.account = await api("PATCH", "/api/account", { displayName: name.value.trim() });
      hooks.renderHeader?.();
      toast("Name saved");
    } catch (e) {
      toast(errorText(e));
    }
  };
  name.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      saveName();
    }
  });
  name.addEventListener("change", () => saveName());
  const avatar = h("input", {
    type: "file",
    accept: "image/png,image/jpeg,image/webp,image/gif",
    id: "settings-avatar",
    testid: "settings-avatar",
    class: "visually-hidden",
  });
  const avatarBox = h(
    "span",
    {},
    avatarEl("me", a.accountId, a.displayName ?? "", a.hasAvatar, "large"),
  );
  avatar.addEventListener("change", async () => {
    const f = avatar.files?.[0];
    if (!f) return;
    try {
      S.account = await api("PATCH", "/api/account", { avatar: await smallImage(f) });
      forgetAvatar("me", a.accountId);
      replace(avatarBox, avatarEl("me", a.accountId, S.account.displayName ?? "", true, "large"));
      hooks.renderHeader?.();
      toast("Avatar saved");
    } catch (e) {
      toast(errorText(e));
    }
  });
  const toggle = (key, testid, label, hint) => {
    const cb = h("input", { type: "checkbox", testid, checked: !!S.settings[key] });
    cb.addEventListener("change", async () => {
      try {
        S.settings = await api("PATCH", "/api/settings", { [key]: cb.checked });
      } catch (e) {
        cb.checked = !cb.checked;
        toast(errorText(e));
      }
    });
    return h(
      "label",
      { class: "check" },
      cb,
      h(
        "span",
        {},
        h("span", { text: ` ${label}` }),
        h("small", { class: "muted block", text: hint }),
      ),
    );
  };
  const notif = h("input", {
    type: "checkbox",
    testid: "settings-notifications",
    checked: localStorage.getItem("hearth.notifications") === "on" &&
      globalThis.Notification?.permission === "granted",
  });
  notif.addEventListener("change", async () => {
    if (notif.checked) {
      if (!("Notification" in window)) {
        notif.checked = false;
        return toast("This browser has no notifications");
      }
      const p = await Notification.requestPermission();
      if (p !== "granted") {
        notif.checked = false;
        return toast("Notifications were not allowed");
      }
      localStorage.setItem("hearth.notifications", "on");
    } else localStorage.removeItem("hearth.notifications");
  });
  const extra = h("div", { class: "stack" });
  replace(
    body,
    h("h3", { text: "Account" }),
    h(
      "div",
      { class: "account-box" },
      qr,
      h(
        "div",
        { class: "stack" },
        h("span", {
          class: "muted small-text",
          text: "Your Account ID — share it so people can write to you",
        }),
        h("code", { class: "account-id-full", text: a.accountId }),
        h("button", {
          class: "secondary small",
          type: "button",
          text: "Copy Account ID",
          onclick: () =>
            navigator.clipboard.writeText(a.accountId).then(
              () => toast("Account ID copied"),
              () => toast("Copy failed"),
            ),
        }),
      ),
    ),
    h("h3", { text: "Profile" }),
    h(
      "div",
      { class: "row" },
      avatarBox,
      pickerButton(avatar, "Change avatar"),
      avatar,
      a.hasAvatar
        ? h("button", {
          class: "link",
          type: "button",
          text: "Remove",
          onclick: async () => {
            try {
              S.account = await api("PATCH", "/api/account", { avatar: null });
              forgetAvatar("me", a.accountId);
              replace(
                avatarBox,
                avatarEl("me", a.accountId, S.account.displayName ?? "", false, "large"),
              );
              hooks.renderHeader?.();
            } catch (e) {
              toast(errorText(e));
            }
          },
        })
        : null,
    ),
    h("label", { for: "settings-name", text: "Display name" }),
    h(
      "div",
      { class: "row" },
      name,
      h("button", {
        class: "primary small",
        type: "button",
        testid: "settings-name-save",
        text: "Save",
        onclick: saveName,
      }),
    ),
    h("h3", { text: "Privacy" }),
    toggle(
      "readReceipts",
      "settings-read-receipts",
      "Read receipts",
      "Let contacts see when you read their messages, and see when they read yours.",
    ),
    toggle(
      "typingIndicators",
      "settings-typing",
      "Typing indicators",
      "Let contacts see when you are typing, and see when they are.",
    ),
    h(
      "label",
      { class: "check" },
      notif,
      h(
        "span",
        {},
        h("span", { text: " Notifications" }),
        h("small", {
          class: "muted block",
          text: "Show a browser notification for new messages when this tab is hidden.",
        }),
      ),
    ),
    h("h3", { text: "Security" }),
    h(
      "div",
      { class: "row-buttons" },
      h("button", {
        class: "secondary",
        type: "button",
        testid: "settings-lock",
        text: "Lock now",
        onclick: () => {
          body.closest("dialog")?.close();
          lockNow().catch((e) => toast(errorText(e)));
        },
      }),
      h("button", {
        class: "secondary",
        type: "button",
        testid: "settings-change-passphrase",
        text: "Change passphrase",
        onclick: () => changePassphrase(extra),
      }),
      h("button", {
        class: "secondary",
        type: "button",
        testid: "settings-show-phrase",
        text: "Show recovery phrase",
        onclick: () => showPhrase(extra),
      }),
      h("button", {
        class: "secondary",
        type: "button",
        testid: "logout",
        text: "Sign out",
        onclick: async () => {
          try {
            await api("POST", "/logout");
          } catch {
            // already signed out
          }
          location.assign("/login");
        },
      }),
    ),
    extra,
    blockedList(),
  );
}

function blockedList() {
  const blocked = [...S.contacts.values()].filter((c) => c.state === "blocked");
  if (!blocked.length) return null;
  const box = h(
    "div",
    { class: "stack" },
    h("h3", { text: "Blocked" }),
    h(
      "ul",
      { class: "member-list" },
      blocked.map((c) =>
        h(
          "li",
          { class: "group-member", testid: "blocked-contact", "data-account-id": c.accountId },
          avatarEl("1:1", c.accountId, c.nickname || c.displayName || "", c.hasAvatar),
          h("span", { class: "member-name", text: labelOf(c) }),
          h("button", {
            class: "secondary small",
            type: "button",
            testid: "contact-unblock",
            text: "Unblock",
            onclick: async (ev) => {
              try {
                await api("POST", `/api/contacts/${enc(c.accountId)}/unblock`);
                ev.target.closest("li")?.remove();
                hooks.refreshLists();
              } catch (e) {
                toast(errorText(e));
              }
            },
          }),
        )
      ),
    ),
  );
  return box;
}

function changePassphrase(box) {
  const err = errorLine();
  const cur = h("input", {
    id: "pp-cur",
    type: "password",
    testid: "passphrase-current",
    required: true,
    autocomplete: "current-password",
  });
  const nw = h("input", {
    id: "pp-new",
    type: "password",
    testid: "passphrase-new",
    required: true,
    autocomplete: "new-password",
  });
  replace(
    box,
    form(
      "stack inset",
      err,
      async () => {
        try {
          await whileMessagingRestarts(() =>
            api("POST", "/api/account/passphrase", { current: cur.value, new: nw.value })
          );
          replace(box, h("p", { class: "ok", role: "status", text: "Passphrase changed." }));
        } catch (e) {
          err.textContent = e.code === "wrong_passphrase"
            ? "The current passphrase is wrong."
            : errorText(e);
        }
      },
      h("label", { for: "pp-cur", text: "Current passphrase" }),
      cur,
      h("label", { for: "pp-new", text: "New passphrase" }),
      nw,
      err,
      submitButton("passphrase-submit", "Change passphrase"),
    ),
  );
  cur.focus();
}

function showPhrase(box) {
  const err = errorLine();
  const pass = h("input", {
    id: "ph-pass",
    type: "password",
    testid: "phrase-passphrase",
    required: true,
    autocomplete: "current-password",
  });
  replace(
    box,
    form(
      "stack inset",
      err,
      async () => {
        try {
          const r = await api("POST", "/api/account/phrase", { passphrase: pass.value });
          replace(
            box,
            h("p", {
              class: "muted",
              text: "Keep these words secret: anyone who has them can take over your account.",
            }),
            h(
              "ol",
              { class: "phrase", testid: "phrase-text" },
              r.recoveryPhrase.split(/\s+/).map((w) => h("li", { text: w })),
            ),
            h("button", {
              class: "secondary small",
              type: "button",
              text: "Hide",
              onclick: () => box.replaceChildren(),
            }),
          );
        } catch (e) {
          err.textContent = e.code === "wrong_passphrase" ? "Wrong passphrase." : errorText(e);
        }
      },
      h("label", { for: "ph-pass", text: "Enter your passphrase to see the recovery phrase" }),
      pass,
      err,
      submitButton("phrase-submit", "Show phrase"),
    ),
  );
  pass.focus();
}

// ---------- node status ----------

export function openStatus() {
  const body = h("div", { class: "stack" });
  const d = dialog("Node status", body);
  let timer = null;
  const load = async () => {
    try {
      const [st, p] = await Promise.all([
        api("GET", "/api/status"),
        api("GET", "/api/paths").catch(() => null),
      ]);
      render(st, p?.paths);
    } catch (e) {
      replace(body, h("p", { class: "error", text: errorText(e) }));
    }
  };
  const stat = (label, testid, value) =>
    h(
      "div",
      { class: "stat" },
      h("dt", { text: label }),
      h("dd", { testid, text: String(value ?? "—") }),
    );
  const render = (st, paths) => {
    const n = st.node ?? {};
    const path = paths?.paths?.find((x) => x.healthy) ?? paths?.paths?.[0];
    const hops = path?.hops ?? [];
    replace(
      body,
      h(
        "dl",
        { class: "stats" },
        h(
          "div",
          { class: "stat" },
          h("dt", { text: "Relay" }),
          h("dd", {
            testid: "status-reachable",
            class: n.reachable ? "ok" : "warn",
            "data-reachable": String(!!n.reachable),
            text: n.reachable ? "● Reachable" : "○ Client only (not reachable)",
          }),
        ),
        stat("Peers known", "status-peers", n.peers ?? n.directorySize),
        stat("Swarms served", "status-swarms", n.swarmsServed),
        stat("Items stored", "status-items", n.itemsStored),
        stat(
          "Traffic relayed",
          "status-bytes",
          n.bytesRelayed === undefined ? undefined : formatBytes(n.bytesRelayed),
        ),
        stat("Node ID", "status-node-id", n.id),
      ),
      h("h3", { text: "Onion path" }),
      h(
        "ol",
        { class: "path-view", testid: "path-view", "aria-label": "Your current onion path" },
        h(
          "li",
          { class: "path-end" },
          h("span", { class: "dot", "aria-hidden": "true" }),
          h("span", { text: "You (this node)" }),
        ),
        hops.length
          ? hops.map((hop, i) =>
            h(
              "li",
              { class: "path-hop", testid: "path-hop", "data-hop": String(i + 1) },
              h("span", { class: "dot", "aria-hidden": "true" }),
              h(
                "span",
                {},
                h("strong", { text: i === 0 ? "Guard" : i === hops.length - 1 ? "Exit" : "Relay" }),
                h("small", {
                  class: "muted block",
                  title: hop.id ?? "",
                  text: `${String(hop.id ?? "").slice(0, 16)}… ${hop.addr ?? ""}`,
                }),
              ),
            )
          )
          : h("li", {
            class: "muted",
            text: "No path ready yet (the node is still finding peers).",
          }),
        h(
          "li",
          { class: "path-end" },
          h("span", { class: "dot", "aria-hidden": "true" }),
          h("span", { text: "Destination swarm" }),
        ),
      ),
      path
        ? h("p", {
          class: "muted small-text",
          text: path.healthy ? "Path healthy" : `Path failures: ${path.failures}`,
        })
        : null,
    );
  };
  load();
  timer = setInterval(load, 5000);
  d.addEventListener("close", () => clearInterval(timer));
}

export { apiBlob };
