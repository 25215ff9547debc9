/**
 * The owner's own actions on messages and conversations, for
 * {@link ChatService}: reactions, edits, deletes, typing indicators and
 * conversation settings, and the sealing every outgoing item shares (one
 * sent-at clock that never repeats, so a peer orders edits and reactions).
 * Each change and the item telling the peer are one transaction; Note to
 * Self stays local.
 * @module
 */
import type { Kysely } from "kysely";
import { MIN_TTL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, normalizeAccountId } from "../account/mod.ts";
import type { ClientDb, DisappearingMode } from "../db/schema.ts";
import type { ChatEvent } from "./chat_events.ts";
import {
  type ControlItem,
  conversationAccess,
  deleteOwnForEveryone,
  editOwnMessage,
  ownReaction,
  queueControl,
  setConversationSettings,
  setOwnReaction,
} from "./chat_store.ts";
import { removeMessages } from "./message_removal.ts";
import {
  conversationById,
  type ConversationView,
  messageById,
  type MessageView,
} from "./chat_views.ts";
import {
  contentFromJson,
  encodeContent,
  MAX_EXPIRES_IN_S,
  MAX_RECEIPT_IDS,
  MAX_TEXT_CHARS,
  type MessageContent,
  newMessageId,
} from "./content.ts";
import { INBOX_TTL_MS } from "./outbox_worker.ts";
import type { Encryption, SessionManager } from "../sessions/session_manager.ts";
import { readSettings } from "./settings.ts";

/** The shortest disappearing timer the owner may set, seconds (the swarm's shortest TTL). */
export const MIN_DISAPPEARING_S = 10;

/** How long a typing indicator lives in the swarm, ms. */
export const TYPING_TTL_MS = 10_000;

/** A change to a conversation's settings; absent fields stay. */
export interface ConversationPatch {
  /** The disappearing timer: mode `off` (seconds ignored), or a mode and 10 s … 1 year. */
  disappearing?: { mode: DisappearingMode; seconds: number };
  /** Mute notifications. */
  muted?: boolean;
}

/** Who a delete is for: the owner only (any message), or everyone (the owner's own messages). */
export type DeleteScope = "me" | "everyone";

/** What a conversation's timer does to a message sent now. */
export interface OutgoingTimer {
  /** The timer, seconds, as the content carries it (absent when off). */
  expiresIn?: number;
  /** When it starts, as the content carries it (absent when off). */
  mode?: "after_send" | "after_read";
  /** When the owner's copy disappears (the sender has read what it wrote), or null. */
  expiresAt: number | null;
  /** The outbox item's swarm TTL, ms: the timer for `after_send`, else null (14 days). */
  ttlMs: number | null;
}

/**
 * What a conversation's timer does to a message sent at `sentAt`.
 * @param timer the conversation's mode and seconds
 * @param sentAt the message's sent-at time, ms
 * @returns the content fields, the owner's expiry and the outbox TTL
 */
export function outgoingTimer(
  timer: { mode: DisappearingMode; seconds: number },
  sentAt: number,
): OutgoingTimer {
  if (timer.mode === "off" || timer.seconds <= 0) return { expiresAt: null, ttlMs: null };
  const ms = timer.seconds * 1000;
  return {
    expiresIn: timer.seconds,
    mode: timer.mode,
    expiresAt: sentAt + ms,
    ttlMs: timer.mode === "after_send" ? Math.max(MIN_TTL_MS, Math.min(INBOX_TTL_MS, ms)) : null,
  };
}

/**
 * The swarm TTL of an edit, delete or reaction of a message: while the
 * message has a timer, the item lives no longer than the message (at
 * least the swarm's shortest TTL), so an edited text does not outlive it.
 * @param expiresAt the message's `expires_at` on this node, or null
 * @param now current time, ms
 * @returns the TTL, ms, or undefined for the inbox default
 */
export function actionTtlMs(expiresAt: number | null, now: number): number | undefined {
  if (expiresAt === null) return undefined;
  return Math.max(MIN_TTL_MS, Math.min(INBOX_TTL_MS, expiresAt - now));
}

const MESSAGE_ID = /^[0-9a-f]{32}$/;

/** What the owner's actions need from the running chat. */
export interface ChatContext {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The account's keys. */
  keys: AccountKeys;
  /** Current time, ms. */
  clock: () => number;
  /** Deliver an event to the chat's subscribers. */
  emit: (event: ChatEvent) => void;
  /** Wake the outbox worker: something was queued. */
  kick: () => void;
  /** The owner's sessions: every item to a peer is sealed through them. */
  sessions: SessionManager;
}

/** How an item is sealed for a peer; see {@link ChatActions.sealInto}. */
export interface SealIntoOptions {
  /** The signed sent-at time (default: the next one). */
  sentAt?: number;
  /** The item's swarm TTL, ms. */
  ttlMs?: number;
  /** The profile version whose avatar the content carries. */
  profileSent?: number;
  /** Whether a missing session may be started (texts; default false). */
  handshake?: boolean;
  /** Seal alone, never with a session (a `session-reset`). */
  sealedOnly?: boolean;
}

/** The owner's actions; one per running chat. */
export class ChatActions {
  readonly #db: Kysely<ClientDb>;
  readonly #keys: AccountKeys;
  readonly #clock: () => number;
  readonly #emit: (event: ChatEvent) => void;
  readonly #kick: () => void;
  readonly #sessions: SessionManager;
  #lastSentAt = 0;

  /** Create the actions of a chat. */
  constructor(context: ChatContext) {
    this.#db = context.db;
    this.#keys = context.keys;
    this.#clock = context.clock;
    this.#emit = context.emit;
    this.#kick = context.kick;
    this.#sessions = context.sessions;
  }

  /**
   * The conversation an id names: "self" for "self" or the owner's own
   * Account ID, else the peer's Account ID in its canonical form.
   * @throws {HearthError} `bad_account_id` for anything else
   */
  conversationId(id: string): string {
    if (id === "self") return id;
    const canonical = normalizeAccountId(id);
    return canonical === this.#keys.accountId ? "self" : canonical;
  }

  /**
   * React to a message of a conversation with a contact (or Note to Self);
   * `null` removes the owner's reaction. One reaction per sender: a new
   * emoji replaces the old. The peer gets a `reaction` item (a removal
   * names the old emoji with `remove: true`); Note to Self stays local.
   * @returns the message with its reactions
   * @throws {HearthError} `bad_request` for a malformed id or emoji; `not_found` for an
   *   unknown message; `conflict` when it was deleted, or its sender is a pending request
   */
  async react(messageId: string, emoji: string | null): Promise<MessageView> {
    const target = await this.#target(messageId);
    let checked: string | null = null;
    if (emoji !== null) {
      const parsed = contentFromJson({ type: "reaction", id: messageId, target: messageId, emoji });
      checked = parsed.type === "reaction" ? parsed.emoji : null;
    }
    if (target.deleted) throw new HearthError("conflict", "Message was deleted");
    if (target.state === "request") throw new HearthError("conflict", "Accept the request first");
    const old = await ownReaction(this.#db, messageId, this.#keys.accountId);
    if (old === checked) return target.view;
    const at = this.nextSentAt();
    const change = { messageId, sender: this.#keys.accountId, emoji: checked, at };
    if (target.self) {
      await setOwnReaction(this.#db, change, { now: this.#clock() });
    } else {
      await this.sealInto(
        target.conversationId,
        {
          type: "reaction",
          id: newMessageId(),
          target: messageId,
          ...(checked === null ? { emoji: old!, remove: true } : { emoji: checked }),
        },
        { sentAt: at, ...this.#ttlOf(target.view) },
        (tx, queue) => setOwnReaction(tx, change, { now: this.#clock(), queue }),
      );
      this.#kick();
    }
    return await this.emitUpdate(messageId);
  }

  /**
   * Edit one of the owner's own texts (`editedAt` = now); the peer gets an
   * `edit` item, Note to Self stays local.
   * @returns the edited message
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` when it is
   *   not the owner's own, or for an empty text; `too_large`; `conflict` when deleted
   */
  async edit(messageId: string, text: string): Promise<MessageView> {
    const target = await this.#target(messageId);
    if (target.view.direction !== "out") {
      throw new HearthError("bad_request", "Only the owner's own messages can be edited");
    }
    const checked = checkText(text);
    if (target.deleted) throw new HearthError("conflict", "Message was deleted");
    const at = this.nextSentAt();
    const edit = { messageId, text: checked, at };
    const edited = (done: boolean) => {
      // Thrown inside the transaction: nothing is queued, the session does not advance.
      if (!done) throw new HearthError("conflict", "Message was deleted");
    };
    if (target.self) {
      edited(await editOwnMessage(this.#db, edit, { now: this.#clock() }));
    } else {
      await this.sealInto(
        target.conversationId,
        {
          type: "edit",
          id: newMessageId(),
          target: messageId,
          text: checked,
        },
        { sentAt: at, ...this.#ttlOf(target.view) },
        async (tx, queue) =>
          await edited(await editOwnMessage(tx, edit, { now: this.#clock(), queue })),
      );
      this.#kick();
    }
    return await this.emitUpdate(messageId);
  }

  /**
   * Delete a message for the owner only (any message: the row, its
   * reactions, its outbox row and the edits, deletes and reactions still
   * queued for it go, a `removed` event follows), or for everyone (the
   * owner's own: the text is wiped, a tombstone stays, its outbox row goes
   * when it was not sent yet, and the peer gets a `delete` item).
   * @returns the tombstone for `everyone`, null for `me`
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` for an unknown
   *   scope, or `everyone` on a message that is not the owner's own
   */
  async deleteMessage(messageId: string, scope: DeleteScope): Promise<MessageView | null> {
    if (scope !== "me" && scope !== "everyone") {
      throw new HearthError("bad_request", "Delete is for me or everyone");
    }
    const target = await this.#target(messageId);
    if (scope === "me") {
      for (const removed of await removeMessages(this.#db, [messageId])) {
        this.#emit({ type: "removed", ...removed });
      }
      return null;
    }
    if (target.view.direction !== "out") {
      throw new HearthError(
        "bad_request",
        "Only the owner's own messages can be deleted for everyone",
      );
    }
    if (target.deleted) return target.view;
    if (target.self) {
      await deleteOwnForEveryone(this.#db, messageId, { now: this.#clock() });
    } else {
      await this.sealInto(
        target.conversationId,
        {
          type: "delete",
          id: newMessageId(),
          target: messageId,
        },
        this.#ttlOf(target.view),
        (tx, queue) => deleteOwnForEveryone(tx, messageId, { now: this.#clock(), queue }),
      );
      this.#kick();
    }
    return await this.emitUpdate(messageId);
  }

  /**
   * Tell a contact the owner is typing (or stopped). Sent only when typing
   * indicators are on and the peer is a contact; the item lives 10 s.
   * @returns whether an indicator was sent
   * @throws {HearthError} `not_found` for an unknown conversation; `bad_request` when
   *   `active` is not a boolean
   */
  async typing(conversationId: string, active: boolean): Promise<boolean> {
    if (typeof active !== "boolean") throw new HearthError("bad_request", "Active is a boolean");
    const id = this.conversationId(conversationId);
    const access = await conversationAccess(this.#db, id);
    if (!access || (id === "self" && !access.exists)) {
      throw new HearthError("not_found", "No such conversation");
    }
    if (access.state !== "contact" || !(await readSettings(this.#db)).typingIndicators) {
      return false;
    }
    await this.queueControl(id, { type: "typing", id: newMessageId(), active }, {
      ttlMs: TYPING_TTL_MS,
    });
    return true;
  }

  /**
   * One conversation (with a contact, a pending request, or "self"). Note
   * to Self and a contact's conversation exist before their first message
   * or setting (a contact restored from the config has no row yet): they
   * answer the default view (no messages, timer off, not muted).
   * @throws {HearthError} `not_found` for an unknown, declined or blocked peer
   */
  async conversation(id: string): Promise<ConversationView> {
    const conversationId = this.conversationId(id);
    const view = await conversationById(this.#db, conversationId);
    if (view) return view;
    let displayName: string | null = null;
    if (conversationId !== "self") {
      const contact = await this.#db.selectFrom("contacts").select(["state", "display_name"])
        .where("account_id", "=", conversationId).executeTakeFirst();
      if (contact?.state !== "contact") throw new HearthError("not_found", "No such conversation");
      displayName = contact.display_name;
    }
    return {
      id: conversationId,
      kind: conversationId === "self" ? "self" : "1:1",
      displayName,
      lastMessage: null,
      unreadCount: 0,
      disappearing: { mode: "off", seconds: 0 },
      muted: false,
    };
  }

  /**
   * Change a conversation's settings (Note to Self, a contact's or a
   * request's; its row is made when missing). A new disappearing timer
   * applies to messages sent from now on, and a contact gets a
   * `disappearing` item so both sides share it. A `conversation` event follows.
   * @throws {HearthError} `not_found`; `bad_request` for a mode or timer out of range, or a
   *   `muted` that is not a boolean
   */
  async updateConversation(id: string, patch: ConversationPatch): Promise<ConversationView> {
    const conversationId = this.conversationId(id);
    const checked = checkPatch(patch);
    const access = await conversationAccess(this.#db, conversationId);
    if (!access) throw new HearthError("not_found", "No such conversation");
    const timer = checked.disappearing;
    const timerChanged = timer !== undefined &&
      (timer.mode !== access.mode || (timer.mode !== "off" && timer.seconds !== access.seconds));
    // When the timer was set: the sent-at time the peer gets, so that the newer change wins.
    const setAt = timerChanged ? this.nextSentAt() : undefined;
    const settings = {
      now: this.#clock(),
      ...checked,
      ...(setAt !== undefined ? { disappearingAt: setAt } : {}),
    };
    if (timerChanged && access.state === "contact") {
      await this.sealInto(
        conversationId,
        {
          type: "disappearing",
          id: newMessageId(),
          ...(timer.mode === "off" ? {} : { expiresIn: timer.seconds, mode: timer.mode }),
        },
        { sentAt: setAt! },
        (tx, queue) => setConversationSettings(tx, conversationId, { ...settings, queue }),
      );
      this.#kick();
    } else {
      await setConversationSettings(this.#db, conversationId, settings);
    }
    const view = await this.conversation(conversationId);
    this.#emit({ type: "conversation", conversation: view });
    return view;
  }

  /** The TTL option of an item acting on a message (none when it has no expiry). */
  #ttlOf(view: MessageView): { ttlMs?: number } {
    const ttlMs = actionTtlMs(view.expiresAt, this.#clock());
    return ttlMs === undefined ? {} : { ttlMs };
  }

  /**
   * A message the owner can see, with what the actions need to know.
   * @throws {HearthError} `bad_request` for a malformed id; `not_found`
   */
  async #target(messageId: string): Promise<{
    view: MessageView;
    conversationId: string;
    self: boolean;
    deleted: boolean;
    state: string | null;
  }> {
    if (typeof messageId !== "string" || !MESSAGE_ID.test(messageId)) {
      throw new HearthError("bad_request", "Bad message id");
    }
    const view = await messageById(this.#db, messageId);
    const access = view && await conversationAccess(this.#db, view.conversationId);
    if (!view || !access) throw new HearthError("not_found", "No such message");
    return {
      view,
      conversationId: view.conversationId,
      self: view.conversationId === "self",
      deleted: view.deleted,
      state: access.state,
    };
  }

  /**
   * Check that a reply names a message of the same conversation.
   * @throws {HearthError} `bad_request` for a malformed id; `not_found` for an unknown
   *   message; `conflict` when it was deleted
   */
  async checkReplyTo(conversationId: string, replyTo: string): Promise<void> {
    if (typeof replyTo !== "string" || !MESSAGE_ID.test(replyTo)) {
      throw new HearthError("bad_request", "Field replyTo must be a message id");
    }
    const row = await this.#db.selectFrom("messages").select("deleted")
      .where("id", "=", replyTo).where("conversation_id", "=", conversationId)
      .executeTakeFirst();
    if (!row) throw new HearthError("not_found", "No such message to reply to");
    if (row.deleted) throw new HearthError("conflict", "Message was deleted");
  }

  /** A sent-at time that never repeats or goes back, so the peer orders edits and reactions. */
  nextSentAt(): number {
    this.#lastSentAt = Math.max(this.#clock(), this.#lastSentAt + 1);
    return this.#lastSentAt;
  }

  /**
   * Seal an item for a peer through its session (or alone, when there is
   * none) and store it with `store`, in one transaction with the session's
   * new state.
   * @param to the peer's Account ID
   * @param content the item
   * @param options sent-at time, TTL, profile version, whether a handshake may start
   * @param store writes the item (given as an outbox item) in the transaction given
   * @returns what `store` returns
   * @throws {HearthError} `bad_account_id`; as encodeContent for invalid content; what
   *   `store` throws (nothing is committed then)
   */
  async sealInto<T>(
    to: string,
    content: MessageContent,
    options: SealIntoOptions,
    store: (tx: Kysely<ClientDb>, item: ControlItem, encryption: Encryption) => Promise<T>,
  ): Promise<T> {
    return await this.#sessions.seal(to, encodeContent(content), {
      sentAt: options.sentAt ?? this.nextSentAt(),
      ...(options.handshake ? { handshake: true } : {}),
      ...(options.sealedOnly ? { sealedOnly: true } : {}),
    }, (tx, sealed) =>
      store(tx, {
        id: content.id,
        recipient: to,
        envelope: sealed.envelope,
        ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
        ...(options.profileSent !== undefined ? { profileSent: options.profileSent } : {}),
      }, sealed.encryption));
  }

  /**
   * Seal a control item for a peer (through its session when there is one;
   * never starting one), queue it alone, and wake the outbox worker.
   * @param options TTL, profile version; `sealedOnly` for a `session-reset`
   */
  async queueControl(
    to: string,
    content: MessageContent,
    options: { ttlMs?: number; profileSent?: number; sealedOnly?: boolean } = {},
  ): Promise<void> {
    await this.sealInto(to, content, options, (tx, item) => queueControl(tx, item, this.#clock()));
    this.#kick();
  }

  /** Queue receipts of a kind for message ids from a peer, 100 ids per receipt. */
  async sendReceipts(to: string, ids: string[], kind: "delivered" | "read"): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
      await this.queueControl(to, {
        type: "receipt",
        kind,
        id: newMessageId(),
        ids: ids.slice(i, i + MAX_RECEIPT_IDS),
      });
    }
  }

  /**
   * Emit an `update` event for a message.
   * @returns the message as it is now
   * @throws {HearthError} `not_found` when it is gone
   */
  async emitUpdate(messageId: string): Promise<MessageView> {
    const view = await messageById(this.#db, messageId);
    if (!view) throw new HearthError("not_found", "No such message");
    this.#emit({ type: "update", message: view });
    return view;
  }
}

/**
 * A text checked as a text content will be, normalized to NFC.
 * @throws {HearthError} `too_large` over {@link MAX_TEXT_CHARS}; `bad_request` when empty
 *   or not well-formed
 */
export function checkText(text: string): string {
  if (typeof text !== "string") throw new HearthError("bad_request", "Text must be a string");
  if (!text.isWellFormed()) throw new HearthError("bad_request", "Text is not well-formed Unicode");
  const normalized = text.normalize("NFC");
  const chars = [...normalized].length;
  if (chars > MAX_TEXT_CHARS) throw new HearthError("too_large", "Text is too long");
  if (chars === 0) throw new HearthError("bad_request", "Text is empty");
  return normalized;
}

/**
 * A conversation patch checked field by field.
 * @throws {HearthError} `bad_request`
 */
function checkPatch(patch: ConversationPatch): ConversationPatch {
  if (patch === null || typeof patch !== "object") {
    throw new HearthError("bad_request", "Patch must be an object");
  }
  const out: ConversationPatch = {};
  if (patch.disappearing !== undefined) {
    const d = patch.disappearing;
    if (d === null || typeof d !== "object") {
      throw new HearthError("bad_request", "Field disappearing must be an object");
    }
    if (d.mode === "off") {
      out.disappearing = { mode: "off", seconds: 0 };
    } else if (d.mode === "after_send" || d.mode === "after_read") {
      if (
        !Number.isSafeInteger(d.seconds) || d.seconds < MIN_DISAPPEARING_S ||
        d.seconds > MAX_EXPIRES_IN_S
      ) {
        throw new HearthError(
          "bad_request",
          `Field seconds must be ${MIN_DISAPPEARING_S} to ${MAX_EXPIRES_IN_S}`,
        );
      }
      out.disappearing = { mode: d.mode, seconds: d.seconds };
    } else {
      throw new HearthError("bad_request", "Field mode must be off, after_send or after_read");
    }
  }
  if (patch.muted !== undefined) {
    if (typeof patch.muted !== "boolean") {
      throw new HearthError("bad_request", "Field muted must be a boolean");
    }
    out.muted = patch.muted;
  }
  return out;
}
