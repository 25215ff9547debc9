/**
 * The owner's texts, for {@link ChatService}: checked, stamped with the
 * conversation's disappearing timer and the owner's profile, then kept
 * locally (Note to Self) or sealed by the chat's {@link ChatSealer}
 * (chat_sealer.ts) and queued with the session's new state in one
 * transaction.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import type { ChatActions, ChatContext } from "./chat_actions.ts";
import { checkText, outgoingTimer } from "./chat_rules.ts";
import { conversationTimer, profileFor, queueOutgoing } from "./chat_store.ts";
import type { MessageView } from "./chat_views.ts";
import { isMessageId, type MessageContent, newMessageId } from "./content.ts";
import { contactState } from "./incoming_store.ts";

/** Sends the owner's texts; one per running chat. */
export class TextSender {
  readonly #chat: ChatContext;
  readonly #actions: ChatActions;

  /** Create the sender of a chat; `actions` resolves conversation ids. */
  constructor(chat: ChatContext, actions: ChatActions) {
    this.#chat = chat;
    this.#actions = actions;
  }

  /**
   * Send a text (see {@link ChatService.send}): Note to Self is kept
   * locally, anything else is sealed (starting a session when there is
   * none) and queued for the outbox worker.
   * @param options.replyTo the id of a message of the same conversation
   * @returns the message as stored
   * @throws {HearthError} `bad_account_id`; `bad_request` for an empty text or a malformed
   *   `replyTo`; `too_large` over 10,000 characters; `not_found` for an
   *   unknown `replyTo`; `conflict` when it was deleted, or the peer is blocked
   */
  async send(to: string, text: string, options: { replyTo?: string } = {}): Promise<MessageView> {
    const { db, keys, clock, sealer } = this.#chat;
    const conversationId = this.#actions.conversationId(to);
    const self = conversationId === "self";
    const checked = checkText(text);
    if (options.replyTo !== undefined) {
      await this.#checkReplyTo(conversationId, options.replyTo);
    }
    if (!self && (await contactState(db, conversationId)) === "blocked") {
      throw new HearthError("conflict", "Unblock this contact first");
    }
    const sentAt = sealer.nextSentAt();
    const timer = outgoingTimer(await conversationTimer(db, conversationId), sentAt);
    const { profile, version } = self ? {} : await profileFor(db, conversationId);
    const id = newMessageId();
    const message = {
      id,
      conversationId,
      sender: keys.accountId,
      text: checked,
      sentAt,
      replyTo: options.replyTo ?? null,
      expiresAt: timer.expiresAt,
      ttlMs: timer.ttlMs,
      ...(timer.expiresIn !== undefined && timer.mode !== undefined
        ? { timer: { mode: timer.mode, seconds: timer.expiresIn } }
        : {}),
      ...(version !== undefined ? { profileSent: version } : {}),
    };
    let stored: MessageView;
    if (self) {
      stored = await queueOutgoing(db, message, clock());
    } else {
      const content: MessageContent = {
        type: "text",
        id,
        text: checked,
        ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}),
        ...(timer.expiresIn !== undefined ? { expiresIn: timer.expiresIn, mode: timer.mode } : {}),
        ...(profile ? { profile } : {}),
      };
      stored = await sealer.sealInto(
        conversationId,
        content,
        {
          sentAt,
          handshake: true,
        },
        (tx, item, encryption) =>
          queueOutgoing(tx, { ...message, envelope: item.envelope, encryption }, clock()),
      );
    }
    this.#chat.emit({ type: "message", message: stored });
    this.#chat.kick();
    return stored;
  }

  /**
   * Check that a reply names a message of the same conversation.
   * @throws {HearthError} `bad_request` for a malformed id; `not_found` for an unknown
   *   message; `conflict` when it was deleted
   */
  async #checkReplyTo(conversationId: string, replyTo: string): Promise<void> {
    const { db } = this.#chat;
    if (!isMessageId(replyTo)) {
      throw new HearthError("bad_request", "Field replyTo must be a message id");
    }
    const row = await db.selectFrom("messages").select("deleted")
      .where("id", "=", replyTo).where("conversation_id", "=", conversationId)
      .executeTakeFirst();
    if (!row) throw new HearthError("not_found", "No such message to reply to");
    if (row.deleted) throw new HearthError("conflict", "Message was deleted");
  }
}
