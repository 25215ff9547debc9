/**
 * 1:1 messaging while the client is unlocked: sending (sealed at queue
 * time, so retries resend the same bytes), the outbox worker and the inbox
 * receiver (when the messenger has a directory), message requests,
 * delivery receipts, and the views of the owner API.
 * @module
 */
import type { Kysely } from "kysely";
import type { NodeRecord } from "../../shared/node_record.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, type Avatar, parseAccountId } from "../account/mod.ts";
import type { ClientDb, DisappearingMode } from "../db/schema.ts";
import { FileGuardStore } from "../network/guard_store.ts";
import { PathManager, type PathStatus } from "../network/path_manager.ts";
import { type RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { type ChatEvent, ChatEvents, type ChatSubscription } from "./chat_events.ts";
import { queueControl, queueOutgoing, setContactState } from "./chat_store.ts";
import {
  type ContactView,
  type ConversationView,
  incomingIds,
  listContacts,
  listConversations,
  listMessages,
  type MessageView,
} from "./chat_views.ts";
import {
  encodeContent,
  MAX_RECEIPT_IDS,
  MAX_TEXT_CHARS,
  type MessageContent,
  newMessageId,
} from "./content.ts";
import { sealEnvelope } from "./envelope.ts";
import { InboxReceiver } from "./inbox_receiver.ts";
import { type ChatSettings, readSettings, writeSettings } from "./settings.ts";
import { OutboxWorker } from "./outbox_worker.ts";

/** Options of {@link ChatService.start}. */
export interface ChatServiceOptions {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The account's keys. */
  keys: AccountKeys;
  /** The display name sent with messages ("" sends none). */
  displayName: string;
  /** The live directory; without it nothing is sent or received (local only). */
  nodes?: () => NodeRecord[];
  /** Where the pinned guard is kept (default: in memory). */
  guardFile?: string;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
}

/** What a request decision does. */
export type RequestAction = "accept" | "decline" | "block";

/** The shortest disappearing timer the owner may set, seconds (the swarm's shortest TTL). */
export const MIN_DISAPPEARING_S = 10;

/** A change to a conversation's settings; absent fields stay. */
export interface ConversationPatch {
  /** The disappearing timer: mode `off` (seconds ignored), or a mode and 10 s … 1 year. */
  disappearing?: { mode: DisappearingMode; seconds: number };
  /** Mute notifications. */
  muted?: boolean;
}

/** Who a delete is for: the owner only (any message), or everyone (the owner's own messages). */
export type DeleteScope = "me" | "everyone";

/** The owner's 1:1 messaging, running while unlocked. */
export class ChatService {
  readonly #db: Kysely<ClientDb>;
  readonly #keys: AccountKeys;
  readonly #displayName: string;
  readonly #clock: () => number;
  readonly #paths: PathManager | undefined;
  readonly #worker: OutboxWorker;
  readonly #receiver: InboxReceiver;
  readonly #events = new ChatEvents();
  #lastSentAt = 0;

  private constructor(options: ChatServiceOptions, paths?: PathManager) {
    this.#db = options.db;
    this.#keys = options.keys;
    this.#displayName = options.displayName;
    this.#clock = options.clock ?? Date.now;
    this.#paths = paths;
    const swarm = new SwarmClient({
      nodes: options.nodes ?? (() => []),
      paths,
      clock: this.#clock,
    });
    const emit = (event: ChatEvent) => this.#events.emit(event);
    this.#worker = new OutboxWorker(this.#db, swarm, {
      clock: this.#clock,
      onStatus: (status) => emit({ type: "status", status }),
    });
    this.#receiver = new InboxReceiver(this.#db, swarm, {
      keys: this.#keys,
      nodes: options.nodes ?? (() => []),
      clock: this.#clock,
      onDelivered: (sender, ids) => this.#sendReceipt(sender, ids),
      onStatus: (status) => emit({ type: "status", status }),
      onMessage: (message, request) => {
        emit({ type: "message", message });
        if (request) this.#emitRequest(message.sender);
      },
    });
  }

  /** Start messaging: with a directory, the outbox worker and the inbox receiver run. */
  static async start(options: ChatServiceOptions): Promise<ChatService> {
    const paths = options.nodes
      ? await PathManager.open({
        nodes: options.nodes,
        clock: options.clock,
        ...(options.guardFile ? { store: new FileGuardStore(options.guardFile) } : {}),
      })
      : undefined;
    const chat = new ChatService(options, paths);
    if (paths) {
      chat.#worker.start();
      chat.#receiver.start();
    }
    return chat;
  }

  /**
   * Subscribe to new messages, status changes and message requests. The
   * subscription ends with a `locked` event when the service stops.
   * @param options.maxQueue how far the subscriber may fall behind before it is dropped
   */
  events(options: { maxQueue?: number } = {}): ChatSubscription {
    return this.#events.subscribe(options);
  }

  /** Stop the loops (aborting the long-poll) and wait for them; ends every event subscription. */
  async stop(): Promise<void> {
    this.#events.close();
    await Promise.all([this.#worker.stop(), this.#receiver.stop()]);
    await this.#paths?.flush().catch(() => {});
  }

  /**
   * Send a text: to the owner's own Account ID (or "self") it is Note to
   * Self, kept locally. Otherwise the message and its sealed envelope are
   * queued in one transaction and the outbox worker stores it.
   * @throws {HearthError} `bad_account_id`; `bad_request` for an empty text; `too_large`
   *   over {@link MAX_TEXT_CHARS} characters
   */
  async send(to: string, text: string, options: { replyTo?: string } = {}): Promise<MessageView> {
    void options;
    const self = to === "self" || to === this.#keys.accountId;
    const recipient = self ? this.#keys.signing.publicKey : parseAccountId(to);
    if ([...text.normalize("NFC")].length > MAX_TEXT_CHARS) {
      throw new HearthError("too_large", "Text is too long");
    }
    const id = newMessageId();
    const content = this.#withProfile({ type: "text", id, text });
    const bytes = encodeContent(content);
    const now = this.#clock();
    const sentAt = Math.max(now, this.#lastSentAt + 1);
    this.#lastSentAt = sentAt;
    const envelope = self ? undefined : await sealEnvelope(bytes, this.#keys, recipient, {
      now: sentAt,
    });
    const stored = await queueOutgoing(this.#db, {
      id,
      conversationId: self ? "self" : to,
      sender: this.#keys.accountId,
      text: content.type === "text" ? content.text : text,
      sentAt,
      ...(envelope ? { envelope } : {}),
    }, now);
    this.#events.emit({ type: "message", message: stored });
    this.#worker.kick();
    return stored;
  }

  /**
   * Accept, decline or block a peer. Accepting sends a `request-accept` and
   * delivery receipts for the request's messages.
   * @throws {HearthError} `bad_account_id`; `not_found` when there is no such request
   */
  async decide(accountId: string, action: RequestAction): Promise<void> {
    parseAccountId(accountId);
    const state = action === "accept" ? "contact" : action === "decline" ? "declined" : "blocked";
    await setContactState(this.#db, accountId, state);
    if (action !== "accept") return;
    await this.#queueControl(accountId, { type: "request-accept", id: newMessageId() });
    await this.#sendReceipt(accountId, await incomingIds(this.#db, accountId));
  }

  /**
   * Handle items retrieved from the own inbox, as the receiver loop does
   * (for tests and tools that fetch items themselves).
   * @returns the hashes handled, to delete from the swarm
   */
  receive(items: readonly RetrievedItem[]): Promise<string[]> {
    return this.#receiver.handle(items);
  }

  /** Conversations with contacts and Note to Self, newest first. */
  conversations(): Promise<ConversationView[]> {
    return listConversations(this.#db);
  }

  /**
   * A conversation's messages, oldest first; marks it read.
   * @param id the peer's Account ID, or "self" (the owner's own ID means "self")
   * @throws {HearthError} `not_found` for an unknown conversation
   */
  async messages(
    id: string,
    options: { before?: number; limit?: number } = {},
  ): Promise<MessageView[]> {
    const conversationId = id === this.#keys.accountId ? "self" : id;
    const list = await listMessages(this.#db, conversationId, options);
    await this.#db.updateTable("conversations").set({ unread_count: 0 })
      .where("id", "=", conversationId).execute();
    return list;
  }

  /** Pending message requests. */
  requests(): Promise<ContactView[]> {
    return listContacts(this.#db, ["request"]);
  }

  /** Every known peer but pending requests: contacts, blocked and declined. */
  contacts(): Promise<ContactView[]> {
    return listContacts(this.#db, ["contact", "blocked", "declined"]);
  }

  /** The onion paths, or null when the messenger has no directory. */
  paths(): PathStatus | null {
    return this.#paths?.status() ?? null;
  }

  /**
   * React to a message of a conversation with a contact (or Note to Self);
   * `null` removes the owner's reaction. One reaction per sender: a new
   * emoji replaces the old. The peer gets a `reaction` item.
   * @returns the message with its reactions
   * @throws {HearthError} `bad_request` for a malformed id or emoji; `not_found` for an
   *   unknown message; `conflict` when it was deleted
   */
  react(messageId: string, emoji: string | null): Promise<MessageView> {
    return notBuilt(messageId, emoji);
  }

  /**
   * Edit one of the owner's own texts; the peer gets an `edit` item.
   * @returns the edited message
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` when it is
   *   not the owner's own, or for an empty text; `too_large`; `conflict` when deleted
   */
  edit(messageId: string, text: string): Promise<MessageView> {
    return notBuilt(messageId, text);
  }

  /**
   * Delete a message for the owner only (any message: the row goes, a
   * `removed` event follows), or for everyone (the owner's own: the text is
   * wiped, a tombstone stays, and the peer gets a `delete` item).
   * @returns the tombstone for `everyone`, null for `me`
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` for
   *   `everyone` on a message that is not the owner's own
   */
  deleteMessage(messageId: string, scope: DeleteScope): Promise<MessageView | null> {
    return notBuilt(messageId, scope);
  }

  /**
   * Tell a contact the owner is typing (or stopped). Sent only when typing
   * indicators are on and the peer is a contact; the item lives 10 s.
   * @returns whether an indicator was sent
   * @throws {HearthError} `not_found` for an unknown conversation
   */
  typing(conversationId: string, active: boolean): Promise<boolean> {
    return notBuilt(conversationId, active);
  }

  /**
   * One conversation (with a contact, a pending request, or "self").
   * @throws {HearthError} `not_found`
   */
  conversation(id: string): Promise<ConversationView> {
    return notBuilt(id);
  }

  /**
   * Change a conversation's settings. A new disappearing timer applies to
   * messages sent from now on, and the peer gets a `disappearing` item so
   * both sides share it.
   * @throws {HearthError} `not_found`; `bad_request` for a mode or timer out of range
   */
  updateConversation(id: string, patch: ConversationPatch): Promise<ConversationView> {
    return notBuilt(id, patch);
  }

  /** The owner's messaging settings. */
  settings(): Promise<ChatSettings> {
    return readSettings(this.#db);
  }

  /** Change messaging settings; the account config carries them. */
  updateSettings(patch: Partial<ChatSettings>): Promise<ChatSettings> {
    return writeSettings(this.#db, patch);
  }

  /**
   * Block or unblock a known peer. Blocking drops its messages unseen;
   * unblocking makes it a contact again.
   * @throws {HearthError} `bad_account_id`; `not_found` when unknown (or not blocked, to unblock)
   */
  setBlocked(accountId: string, blocked: boolean): Promise<ContactView> {
    return notBuilt(accountId, blocked);
  }

  /**
   * A peer's avatar as it last sent it, or null.
   * @throws {HearthError} `bad_account_id`; `not_found` for an unknown peer
   */
  avatar(accountId: string): Promise<Avatar | null> {
    return notBuilt(accountId);
  }

  #emitRequest(accountId: string): void {
    this.requests().then((list) => {
      const request = list.find((r) => r.accountId === accountId);
      if (request) this.#events.emit({ type: "request", request });
    }, () => {});
  }

  #withProfile(content: MessageContent): MessageContent {
    return this.#displayName === ""
      ? content
      : { ...content, profile: { displayName: this.#displayName } };
  }

  async #sendReceipt(to: string, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
      await this.#queueControl(to, {
        type: "receipt",
        kind: "delivered",
        id: newMessageId(),
        ids: ids.slice(i, i + MAX_RECEIPT_IDS),
      });
    }
  }

  async #queueControl(to: string, content: MessageContent): Promise<void> {
    const envelope = await sealEnvelope(encodeContent(content), this.#keys, parseAccountId(to), {
      now: this.#clock(),
    });
    await queueControl(this.#db, { id: content.id, recipient: to, envelope }, this.#clock());
    this.#worker.kick();
  }
}

function notBuilt(..._args: unknown[]): never {
  throw new HearthError("internal", "Not built yet");
}
