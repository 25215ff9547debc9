/**
 * DOM helpers. Everything is built with createElement / textContent /
 * setAttribute: no HTML string is ever parsed, so text from peers can never
 * become markup.
 * @module
 */

const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "multiple"]);

/**
 * Create an element. `props`: `class`, `testid` (data-testid), `text`
 * (textContent), `on<event>` listeners, DOM properties (value, checked,
 * disabled, hidden), anything else as an attribute. Children: nodes or
 * strings (as text nodes); null/false are skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else if (k === "testid") el.setAttribute("data-testid", v);
    else if (k === "text") el.textContent = String(v);
    else if (k === "icon") el.append(icon(v));
    else if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (PROPS.has(k)) el[k] = v;
    else if (v === false) continue;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, arrays; null and false skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(
      typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c,
    );
  }
  return el;
}

/** Remove all children, then append. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Show a <dialog> as a modal: it leaves the page once closed, and a click on
 * its backdrop closes it.
 */
export function showModal(d) {
  d.addEventListener("close", () => d.remove());
  d.addEventListener("click", (ev) => {
    if (ev.target === d) d.close();
  });
  document.body.append(d);
  d.showModal();
  return d;
}

/** Shorten an Account ID for display: "hearth1abcd…wxyz". */
export function shortId(id) {
  if (typeof id !== "string") return "";
  return id.length > 20 ? `${id.slice(0, 11)}…${id.slice(-6)}` : id;
}

/** Initials of a name for an avatar placeholder. */
export function initials(name) {
  const s = String(name ?? "").trim();
  if (!s) return "?";
  const parts = s.split(/\s+/).map((p) => p.match(/[\p{L}\p{N}]/u)?.[0] ?? "").filter(Boolean);
  if (parts.length === 0) return [...s][0] ?? "?";
  const a = parts[0] ?? "";
  const b = parts.length > 1 ? parts[parts.length - 1] ?? "" : "";
  return (a + b).toUpperCase();
}

/** A small stable hue from a string, for avatar placeholders. */
export function hue(s) {
  let x = 0;
  for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function formatDay(ms) {
  const d = new Date(ms);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString(undefined, {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

/** Time for the conversation list: the time today, else the date. */
export function formatListTime(ms) {
  const d = new Date(ms);
  if (d.toDateString() === new Date().toDateString()) return formatTime(ms);
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function formatDuration(ms) {
  const s = Math.max(0, Math.round((ms ?? 0) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** An icon (an SVG file from /ui/icons/ used as a CSS mask, drawn in currentColor). */
export function icon(name) {
  return h("span", { class: `i i-${name}`, "aria-hidden": "true" });
}
