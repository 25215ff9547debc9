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
import { isMessageId, newMessageId } from "./content.ts";
import { contactState } from "./incoming_store.ts";
import type { AttachmentService } from "../attachments/attachment_service.ts";
import { fitThumbnails } from "../attachments/content_fit.ts";
import { inTx } from "../db/transaction.ts";

/** What {@link TextSender.send} takes besides the text. */
export interface SendOptions {
  /** The id of a message of the same conversation. */
  replyTo?: string;
  /** The owner's files to carry (1 … 10 ids from `POST /api/attachments`). */
  attachments?: string[];
  /** The one file is a voice clip (it must be audio). */
  voice?: boolean;
}

/** Sends the owner's texts; one per running chat. */
export class TextSender {
  readonly #chat: ChatContext;
  readonly #actions: ChatActions;
  readonly #files: AttachmentService;

  /** Create the sender of a chat; `actions` resolves conversation ids, `files` gives manifests. */
  constructor(chat: ChatContext, actions: ChatActions, files: AttachmentService) {
    this.#chat = chat;
    this.#actions = actions;
    this.#files = files;
  }

  /**
   * Send a text (see {@link ChatService.send}): Note to Self is kept
   * locally, anything else is sealed (starting a session when there is
   * none) and queued for the outbox worker.
   * With files, the text may be empty; they must be uploaded first, so this
   * waits for their uploads (Note to Self keeps them locally).
   * @param options.replyTo the id of a message of the same conversation
   * @returns the message as stored
   * @throws {HearthError} `bad_account_id`; `bad_request` for an empty text or a malformed
   *   `replyTo`, or `voice` without one audio file; `too_large` over 10,000 characters;
   *   `not_found` for an unknown `replyTo`; `conflict` when it was deleted, the peer is
   *   blocked, or a file is unknown or sent already; `unavailable` when a file's upload failed
   */
  async send(to: string, text: string, options: SendOptions = {}): Promise<MessageView> {
    const { db, keys, clock, sealer } = this.#chat;
    const conversationId = this.#actions.conversationId(to);
    const self = conversationId === "self";
    const files = options.attachments ?? [];
    if (files.length > 10) throw new HearthError("too_large", "At most 10 files per message");
    const checked = files.length > 0 && text === "" ? "" : checkText(text);
    if (options.voice) await this.#checkVoice(files);
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
    const attach = async (tx: typeof db) => {
      if (files.length === 0) return;
      await this.#files.attachTo(tx, id, files);
      if (options.voice) {
        await tx.updateTable("attachments").set({ voice: 1 }).where("id", "=", files[0]!)
          .execute();
      }
    };
    let stored: MessageView;
    if (self) {
      await this.#files.checkLocal(files);
      stored = await inTx(db, async (tx) => {
        await attach(tx);
        return await queueOutgoing(tx, message, clock());
      });
    } else {
      const refs = files.length > 0 ? await this.#files.refsFor(files) : undefined;
      const content = fitThumbnails({
        type: "text",
        id,
        text: checked,
        ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}),
        ...(refs ? { attachments: refs } : {}),
        ...(options.voice ? { voice: true as const } : {}),
        ...(timer.expiresIn !== undefined ? { expiresIn: timer.expiresIn, mode: timer.mode } : {}),
        ...(profile ? { profile } : {}),
      });
      stored = await sealer.sealInto(
        conversationId,
        content,
        {
          sentAt,
          handshake: true,
        },
        async (tx, item, encryption) => {
          await attach(tx);
          return await queueOutgoing(
            tx,
            { ...message, envelope: item.envelope, encryption },
            clock(),
          );
        },
      );
    }
    this.#chat.emit({ type: "message", message: stored });
    this.#chat.kick();
    return stored;
  }

  /**
   * Check that a voice clip is one audio file.
   * @throws {HearthError} `bad_request` otherwise; `not_found` for an unknown file
   */
  async #checkVoice(files: readonly string[]): Promise<void> {
    if (files.length !== 1 || !(await this.#files.view(files[0]!)).type.startsWith("audio/")) {
      throw new HearthError("bad_request", "A voice message is one audio file");
    }
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
