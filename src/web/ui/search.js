/**
 * Message search in the left column: what the search box finds in message
 * texts (`GET /api/messages/search`), under a "Messages" heading below the
 * conversations it matches by name. A result opens its conversation at the
 * message, highlighted.
 * @module
 */
import { api, ApiError, enc } from "./api.js";
import { formatListTime, h, replace } from "./dom.js";
import { isGroupId, labelOf, nameOf, S } from "./state.js";
import { openConversation } from "./chat.js";

/** How long the box must rest before a search is sent, ms. */
const DEBOUNCE_MS = 250;
/** Results asked for. */
const LIMIT = 50;

let box = null;
let timer = null;
let asked = 0; // the newest search sent; older answers are dropped

/** The section that shows the results (a new one for each main screen). */
export function searchResultsEl() {
  clearTimeout(timer);
  asked++;
  box = h("section", {
    class: "search-results",
    testid: "search-results",
    "aria-label": "Messages found",
    hidden: true,
  });
  return box;
}

/** Search message texts for what the box holds (debounced); an empty box hides the results. */
export function searchMessages(raw) {
  clearTimeout(timer);
  const q = raw.trim();
  const mine = ++asked;
  if (!box) return;
  if (q === "") {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  timer = setTimeout(async () => {
    let answer;
    try {
      answer = await api("GET", `/api/messages/search?q=${enc(q.slice(0, 100))}&limit=${LIMIT}`);
    } catch (e) {
      // locked: the unlock screen follows from the event stream
      if (mine === asked && !(e instanceof ApiError && e.status === 423)) {
        render(q, [], `Search failed: ${e.message ?? e}`);
      }
      return;
    }
    if (mine === asked) {
      render(q, answer.results, answer.complete ? "" : "Only the newest messages were searched.");
    }
  }, DEBOUNCE_MS);
}

function titleOf(conversationId) {
  if (conversationId === "self") return "Note to Self";
  if (isGroupId(conversationId)) return S.groups.get(conversationId)?.name ?? "Group";
  return labelOf(S.conversations.find((c) => c.id === conversationId), conversationId);
}

function render(q, results, note) {
  box.hidden = false;
  replace(
    box,
    h("h2", { class: "section-title", text: "Messages" }),
    results.length === 0
      ? h("p", { class: "empty muted", text: note || `No messages contain “${q}”` })
      : h(
        "ul",
        { class: "conv-list" },
        results.map((r) => {
          const cut = r.match?.start ?? 0;
          const len = r.match?.length ?? 0;
          const who = r.direction === "out"
            ? "You: "
            : isGroupId(r.conversationId)
            ? `${nameOf(r.sender)}: `
            : "";
          return h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "conversation-item search-result",
                testid: "search-result",
                "data-conversation-id": r.conversationId,
                "data-message-id": r.messageId,
                onclick: () => openConversation(r.conversationId, { messageId: r.messageId }),
              },
              h(
                "span",
                { class: "conv-main" },
                h(
                  "span",
                  { class: "conv-top" },
                  h("span", { class: "name", text: titleOf(r.conversationId) }),
                  h("span", { class: "time", text: formatListTime(r.sentAt) }),
                ),
                h(
                  "span",
                  { class: "snippet" },
                  who,
                  r.snippet.slice(0, cut),
                  h("mark", { text: r.snippet.slice(cut, cut + len) }),
                  r.snippet.slice(cut + len),
                ),
              ),
            ),
          );
        }),
      ),
    results.length > 0 && note
      ? h("p", { class: "muted small-text search-note", text: note })
      : null,
  );
}
