/**
 * The owner's own actions on messages and conversations, for
 * {@link ChatService}: reading a conversation (read marks and receipts),
 * reactions, edits, deletes, typing indicators and conversation settings, each sealed by the chat's {@link ChatSealer}
 * (chat_sealer.ts; the checks are in chat_rules.ts). Each change and the item telling the peer are one transaction; Note to
 * Self stays local.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, normalizeAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { ChatEvent } from "./chat_events.ts";
import {
  actionTtlMs,
  checkPatch,
  checkText,
  type ConversationPatch,
  type DeleteScope,
  TYPING_TTL_MS,
} from "./chat_rules.ts";
import type { ChatSealer } from "./chat_sealer.ts";
import {
  conversationAccess,
  deleteOwnForEveryone,
  editOwnMessage,
  ownReaction,
  setConversationSettings,
  setOwnReaction,
} from "./chat_store.ts";
import { removeMessages } from "./message_removal.ts";
import {
  conversationById,
  type ConversationView,
  emptySelfConversation,
  listMessages,
  messageById,
  type MessageView,
} from "./chat_views.ts";
import { contentFromJson, isMessageId, newMessageId } from "./content.ts";
import { markConversationRead } from "./read_marks.ts";
import { readSettings } from "./settings.ts";
import { looksLikeGroupId, normalizeGroupId } from "../groups/group_id.ts";

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
  /** Seals every item to a peer (through the owner's sessions). */
  sealer: ChatSealer;
}

/** The owner's actions; one per running chat. */
export class ChatActions {
  readonly #db: Kysely<ClientDb>;
  readonly #keys: AccountKeys;
  readonly #clock: () => number;
  readonly #emit: (event: ChatEvent) => void;
  readonly #kick: () => void;
  readonly #sealer: ChatSealer;

  /** Create the actions of a chat. */
  constructor(context: ChatContext) {
    this.#db = context.db;
    this.#keys = context.keys;
    this.#clock = context.clock;
    this.#emit = context.emit;
    this.#kick = context.kick;
    this.#sealer = context.sealer;
  }

  /**
   * The conversation an id names: "self" for "self" or the owner's own
   * Account ID, a Group ID (`hearthg1…`) in its canonical form, else the
   * peer's Account ID in its canonical form.
   * @throws {HearthError} `bad_account_id` for anything else
   */
  conversationId(id: string): string {
    if (id === "self") return id;
    if (looksLikeGroupId(id)) return normalizeGroupId(id);
    const canonical = normalizeAccountId(id);
    return canonical === this.#keys.accountId ? "self" : canonical;
  }

  /**
   * A conversation's messages, oldest first, after marking it read (see
   * {@link ChatService.messages}): after-read timers start with `update`
   * events, and a contact gets a `read` receipt when read receipts are on.
   * @param id the peer's Account ID, or "self" (the owner's own ID means "self")
   * @throws {HearthError} `bad_account_id`; `not_found` for an unknown conversation
   */
  async readMessages(
    id: string,
    options: { before?: number; limit?: number } = {},
  ): Promise<MessageView[]> {
    const conversationId = this.conversationId(id);
    const access = await conversationAccess(this.#db, conversationId);
    if (looksLikeGroupId(conversationId)) {
      // A group's messages are marked read; no receipts go to groups.
      const { timerStarted } = await markConversationRead(this.#db, conversationId, this.#clock());
      for (const changed of timerStarted) await this.emitUpdate(changed);
    } else if (access?.exists) {
      const { read, timerStarted } = await markConversationRead(
        this.#db,
        conversationId,
        this.#clock(),
      );
      for (const changed of timerStarted) await this.emitUpdate(changed);
      if (
        read.length > 0 && access.state === "contact" && (await readSettings(this.#db)).readReceipts
      ) {
        await this.#sealer.sendReceipts(conversationId, read, "read");
      }
    }
    return await listMessages(this.#db, conversationId, options);
  }

  /**
   * React to a message of a conversation with a contact (or Note to Self);
   * `null` removes the owner's reaction. One reaction per sender: a new
   * emoji replaces the old. The peer gets a `reaction` item (a removal
   * names the old emoji with `remove: true`); Note to Self stays local.
   * @returns the message with its reactions
   * @throws {HearthError} `bad_request` for a malformed id or emoji; `not_found` for an
   *   unknown message; `conflict` when it was deleted, or its sender is a pending request,
   *   or for a group's message (not supported in groups yet)
   */
  async react(messageId: string, emoji: string | null): Promise<MessageView> {
    const target = await this.#target(messageId);
    if (target.group) throw notInGroups("Reactions are");
    let checked: string | null = null;
    if (emoji !== null) {
      const parsed = contentFromJson({ type: "reaction", id: messageId, target: messageId, emoji });
      checked = parsed.type === "reaction" ? parsed.emoji : null;
    }
    if (target.deleted) throw new HearthError("conflict", "Message was deleted");
    if (target.state === "request") throw new HearthError("conflict", "Accept the request first");
    const old = await ownReaction(this.#db, messageId, this.#keys.accountId);
    if (old === checked) return target.view;
    const at = this.#sealer.nextSentAt();
    const change = { messageId, sender: this.#keys.accountId, emoji: checked, at };
    if (target.self) {
      await setOwnReaction(this.#db, change, { now: this.#clock() });
    } else {
      await this.#sealer.sealInto(
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
   *   not the owner's own, or for an empty text; `too_large`; `conflict` when deleted, or
   *   for a group's message (not supported in groups yet)
   */
  async edit(messageId: string, text: string): Promise<MessageView> {
    const target = await this.#target(messageId);
    if (target.group) throw notInGroups("Edits are");
    if (target.view.direction !== "out") {
      throw new HearthError("bad_request", "Only the owner's own messages can be edited");
    }
    const checked = checkText(text);
    if (target.deleted) throw new HearthError("conflict", "Message was deleted");
    const at = this.#sealer.nextSentAt();
    const edit = { messageId, text: checked, at };
    const edited = (done: boolean) => {
      // Thrown inside the transaction: nothing is queued, the session does not advance.
      if (!done) throw new HearthError("conflict", "Message was deleted");
    };
    if (target.self) {
      edited(await editOwnMessage(this.#db, edit, { now: this.#clock() }));
    } else {
      await this.#sealer.sealInto(
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
   * when it was not sent yet, and the peer gets a `delete` item). In a
   * group only `me` works (local).
   * @returns the tombstone for `everyone`, null for `me`
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` for an unknown
   *   scope, or `everyone` on a message that is not the owner's own; `conflict` for
   *   `everyone` on a group's message (not supported in groups yet)
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
    if (target.group) throw notInGroups("Deleting for everyone is");
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
      await this.#sealer.sealInto(
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
   * indicators are on and the peer is an accepted contact; the item lives
   * 10 s. For anyone else (a request, a declined, blocked or unknown peer,
   * Note to Self, a group) nothing leaves the node and the answer is false,
   * never an error: an indicator is best effort, and a UI cannot always
   * know the peer's state.
   * @returns whether an indicator was sent
   * @throws {HearthError} `bad_account_id` or `bad_request` for a malformed id;
   *   `bad_request` when `active` is not a boolean
   */
  async typing(conversationId: string, active: boolean): Promise<boolean> {
    if (typeof active !== "boolean") throw new HearthError("bad_request", "Active is a boolean");
    const id = this.conversationId(conversationId);
    if (id === "self" || looksLikeGroupId(id)) return false;
    const contact = await this.#db.selectFrom("contacts").select("state")
      .where("account_id", "=", id).executeTakeFirst();
    if (contact?.state !== "contact" || !(await readSettings(this.#db)).typingIndicators) {
      return false;
    }
    await this.#sealer.queueControl(id, { type: "typing", id: newMessageId(), active }, {
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
    if (conversationId === "self") return emptySelfConversation();
    const contact = await this.#db.selectFrom("contacts")
      .select(["state", "display_name", "nickname"])
      .where("account_id", "=", conversationId).executeTakeFirst();
    if (contact?.state !== "contact") throw new HearthError("not_found", "No such conversation");
    return {
      ...emptySelfConversation(),
      id: conversationId,
      kind: "1:1",
      displayName: contact.display_name,
      nickname: contact.nickname,
    };
  }

  /**
   * Change a conversation's settings (Note to Self, a contact's or a
   * request's; its row is made when missing; a group's mute, locally). A
   * new disappearing timer applies to messages sent from now on, and a
   * contact gets a `disappearing` item so both sides share it. A
   * `conversation` event follows.
   * @throws {HearthError} `not_found`; `bad_request` for a mode or timer out of range, or a
   *   `muted` that is not a boolean; `conflict` for a group's disappearing timer (not
   *   supported in groups yet)
   */
  async updateConversation(id: string, patch: ConversationPatch): Promise<ConversationView> {
    const conversationId = this.conversationId(id);
    const checked = checkPatch(patch);
    const access = await conversationAccess(this.#db, conversationId);
    if (!access) throw new HearthError("not_found", "No such conversation");
    if (access.kind === "group" && checked.disappearing !== undefined) {
      throw notInGroups("Disappearing messages are");
    }
    const timer = checked.disappearing;
    const timerChanged = timer !== undefined &&
      (timer.mode !== access.mode || (timer.mode !== "off" && timer.seconds !== access.seconds));
    // When the timer was set: the sent-at time the peer gets, so that the newer change wins.
    const setAt = timerChanged ? this.#sealer.nextSentAt() : undefined;
    const settings = {
      now: this.#clock(),
      ...checked,
      ...(setAt !== undefined ? { disappearingAt: setAt } : {}),
    };
    if (timerChanged && access.state === "contact") {
      await this.#sealer.sealInto(
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
    group: boolean;
    deleted: boolean;
    state: string | null;
  }> {
    if (!isMessageId(messageId)) {
      throw new HearthError("bad_request", "Bad message id");
    }
    const view = await messageById(this.#db, messageId);
    const access = view && await conversationAccess(this.#db, view.conversationId);
    if (!view || !access) throw new HearthError("not_found", "No such message");
    return {
      view,
      conversationId: view.conversationId,
      self: view.conversationId === "self",
      group: access.kind === "group",
      deleted: view.deleted,
      state: access.state,
    };
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

/** A `conflict` for an action groups do not carry yet (docs/PROTOCOL.md §14). */
function notInGroups(subject: string): HearthError {
  return new HearthError("conflict", `${subject} not supported in groups yet`);
}
