/**
 * The app's shared state, and hooks one module sets for the others.
 * @module
 */

export const S = {
  /** GET /api/account */
  account: null,
  settings: { readReceipts: false, typingIndicators: false },
  /** GET /api/conversations, newest first */
  conversations: [],
  /** GET /api/requests */
  requests: [],
  /** Map accountId → contact */
  contacts: new Map(),
  /** Map groupId → group view */
  groups: new Map(),
  /** the open conversation id, or null */
  current: null,
  /** messages of the open conversation, oldest first */
  messages: [],
  /** Map conversationId → timeout id while the peer types */
  typing: new Map(),
  /** Map fileId → {state, done, total} from attachment events */
  progress: new Map(),
  search: "",
};

/** Set by app.js / chat.js / dialogs.js. */
export const hooks = {
  renderList: () => {},
  renderChat: () => {},
  refreshLists: () => {},
  openConversation: (_id) => {},
  toast: (_text) => {},
};

export function isGroupId(id) {
  return typeof id === "string" && id.toLowerCase().startsWith("hearthg1");
}

/**
 * The name to show for an account id: the owner's nickname for it, else the
 * name it sent (as a contact, a request or a group member), else a short id.
 */
export function nameOf(accountId) {
  if (!accountId) return "";
  if (S.account && accountId === S.account.accountId) return "You";
  const known = S.contacts.get(accountId) ?? S.requests.find((x) => x.accountId === accountId);
  if (known?.nickname) return known.nickname;
  let member = null;
  for (const g of S.groups.values()) {
    const m = g.members?.find((x) => x.accountId === accountId);
    if (m?.nickname) return m.nickname;
    if (m?.displayName) member ??= m;
  }
  if (known?.displayName) return known.displayName;
  if (member) return member.displayName;
  return accountId.length > 20 ? `${accountId.slice(0, 11)}…${accountId.slice(-6)}` : accountId;
}

/** The name to show for a contact, request or conversation view: its nickname first. */
export function labelOf(view, fallbackId) {
  return view?.nickname || view?.displayName || nameOf(fallbackId ?? view?.accountId ?? view?.id);
}
