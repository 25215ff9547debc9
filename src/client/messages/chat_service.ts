/**
 * 1:1 messaging while the client is unlocked: sending (sealed at queue
 * time, so retries resend the same bytes), the owner's replies, reactions,
 * edits, deletes, typing indicators, read marking and receipts, timers and
 * blocks; the outbox worker, the inbox receiver and the prekey publisher
 * (when the messenger has a directory), the expiry sweeper (always),
 * message requests, and the views of the owner API. The owner's display
 * name and avatar are read from the account row at send time. Texts are in
 * chat_send.ts, requests, contacts and blocks in chat_contacts.ts, the other
 * actions in chat_actions.ts and session resets in session_healing.ts.
 *
 * Every item to a peer goes through the owner's forward-secret sessions
 * (sessions/session_manager.ts): a text without a session fetches the
 * peer's prekey bundle and starts one, other items use one when there is
 * one; without a session an item is sealed alone (`encryption: "sealed"`).
 * The owner's prekeys are brought up to their schedule at start, with or
 * without a directory.
 * @module
 */
import type { Kysely } from "kysely";
import type { NodeRecord } from "../../shared/node_record.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import type { AccountKeys, Avatar } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { FileGuardStore } from "../network/guard_store.ts";
import { PathManager, type PathStatus } from "../network/path_manager.ts";
import { type RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { ChatActions, type ChatContext } from "./chat_actions.ts";
import { ChatContacts, type RequestAction } from "./chat_contacts.ts";
import type { ConversationPatch, DeleteScope } from "./chat_rules.ts";
import { ChatSealer } from "./chat_sealer.ts";
import { type SendOptions, TextSender } from "./chat_send.ts";
import { AttachmentService } from "../attachments/attachment_service.ts";
import { type ChatEvent, ChatEvents, type ChatSubscription } from "./chat_events.ts";
import { GroupService } from "../groups/group_service.ts";
import {
  type ContactView,
  type ConversationView,
  listConversations,
  type MessageView,
} from "./chat_views.ts";
import { ExpirySweeper } from "./expiry_sweeper.ts";
import { type SearchAnswer, searchMessages } from "./message_search.ts";
import { fetchBundle } from "../sessions/bundle_fetch.ts";
import { PrekeyPublisher } from "../sessions/prekey_publisher.ts";
import { ensurePrekeys } from "../sessions/prekey_store.ts";
import { type BundleSource, SessionManager } from "../sessions/session_manager.ts";
import { InboxReceiver } from "./inbox_receiver.ts";
import { type ChatSettings, readSettings, writeSettings } from "./settings.ts";
import { OutboxWorker } from "./outbox_worker.ts";
import { askSessionReset, resendAfterReset } from "./session_healing.ts";

export { type RequestAction } from "./chat_contacts.ts";
export {
  type ConversationPatch,
  type DeleteScope,
  MIN_DISAPPEARING_S,
  type OutgoingTimer,
  outgoingTimer,
  TYPING_TTL_MS,
} from "./chat_rules.ts";

/** Options of {@link ChatService.start}. */
export interface ChatServiceOptions {
  /** The unlocked client database (its account row gives the profile sent along). */
  db: Kysely<ClientDb>;
  /** The account's keys. */
  keys: AccountKeys;
  /** The live directory; without it nothing is sent or received (local only). */
  nodes?: () => NodeRecord[];
  /** Where the pinned guard is kept (default: in memory). */
  guardFile?: string;
  /**
   * Where peers' prekey bundles come from (default: their swarms, with a
   * directory; none without one, so every item is sealed alone).
   */
  bundles?: BundleSource;
  /** Events and counts only (default silent). */
  log?: Logger;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** The largest file the owner may send, bytes (default 100 MB). */
  maxFileBytes?: number;
}

/** The owner's 1:1 messaging, running while unlocked. */
export class ChatService {
  readonly #db: Kysely<ClientDb>;
  readonly #keys: AccountKeys;
  readonly #clock: () => number;
  readonly #paths: PathManager | undefined;
  readonly #worker: OutboxWorker;
  readonly #receiver: InboxReceiver;
  readonly #sweeper: ExpirySweeper;
  readonly #sessions: SessionManager;
  readonly #publisher: PrekeyPublisher | undefined;
  readonly #events = new ChatEvents();
  readonly #actions: ChatActions;
  readonly #sender: TextSender;
  readonly #contacts: ChatContacts;
  readonly #sealer: ChatSealer;
  readonly #files: AttachmentService;
  readonly #groups: GroupService;

  private constructor(options: ChatServiceOptions, paths?: PathManager) {
    this.#db = options.db;
    this.#keys = options.keys;
    this.#clock = options.clock ?? Date.now;
    this.#paths = paths;
    const log = options.log ?? silentLogger;
    const swarm = new SwarmClient({
      nodes: options.nodes ?? (() => []),
      paths,
      clock: this.#clock,
    });
    const bundles: BundleSource | undefined = options.bundles ??
      (paths
        ? (peer, { signal }) => fetchBundle(swarm, peer, { signal, now: this.#clock() })
        : undefined);
    this.#publisher = paths
      ? new PrekeyPublisher({
        db: this.#db,
        keys: this.#keys,
        swarm,
        clock: this.#clock,
        log: log.child("prekeys"),
      })
      : undefined;
    this.#sessions = new SessionManager({
      db: this.#db,
      keys: this.#keys,
      clock: this.#clock,
      log: log.child("sessions"),
      onPrekeyUsed: () => this.#publisher?.kick(),
      ...(bundles ? { bundles } : {}),
    });
    const emit = (event: ChatEvent) => this.#emit(event);
    this.#sealer = new ChatSealer(this.#sessions, {
      clock: this.#clock,
      kick: () => this.#worker.kick(),
    });
    const chat: ChatContext = {
      db: this.#db,
      keys: this.#keys,
      clock: this.#clock,
      emit,
      kick: () => this.#worker.kick(),
      sealer: this.#sealer,
    };
    this.#actions = new ChatActions(chat);
    this.#files = new AttachmentService({
      db: this.#db,
      ...(paths ? { network: swarm } : {}),
      clock: this.#clock,
      log: log.child("files"),
      onProgress: (attachment) => emit({ type: "attachment", attachment }),
      ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}),
    });
    this.#sender = new TextSender(chat, this.#actions, this.#files);
    this.#groups = new GroupService({
      db: this.#db,
      keys: this.#keys,
      clock: this.#clock,
      swarm,
      ...(paths && options.nodes ? { nodes: options.nodes } : {}),
      emit,
      sendDirect: (to, content) => this.#sealer.queueControl(to, content),
      nextSentAt: () => this.#sealer.nextSentAt(),
      attachments: this.#files,
      log: log.child("groups"),
    });
    this.#contacts = new ChatContacts(chat);
    this.#worker = new OutboxWorker(this.#db, swarm, {
      clock: this.#clock,
      onStatus: (status) => emit({ type: "status", status }),
    });
    this.#receiver = new InboxReceiver(this.#db, swarm, {
      keys: this.#keys,
      nodes: options.nodes ?? (() => []),
      clock: this.#clock,
      log,
      sessions: this.#sessions,
      onUndecryptable: (sender) => askSessionReset(chat, sender, { log }),
      onSessionReset: (sender) => resendAfterReset(chat, sender, { log }),
      onDelivered: (sender, ids) => this.#sealer.sendReceipts(sender, ids, "delivered"),
      onStatus: (status) => emit({ type: "status", status }),
      onMessage: (message, request) => {
        emit({ type: "message", message });
        if (request) this.#contacts.emitRequest(message.sender);
      },
      onEvent: (event) => emit(event),
      onGroupInvite: (tx, invite) => this.#groups.acceptInvite(tx, invite),
    });
    this.#sweeper = new ExpirySweeper(this.#db, {
      clock: this.#clock,
      onRemoved: (removed) => emit({ type: "removed", ...removed }),
    });
  }

  /**
   * Start messaging: the owner's prekeys are brought up to their schedule
   * and idle sessions pruned; the expiry sweeper always runs; with a
   * directory, the outbox worker, the inbox receiver and the prekey
   * publisher run too.
   */
  static async start(options: ChatServiceOptions): Promise<ChatService> {
    await ensurePrekeys(options.db, { now: (options.clock ?? Date.now)() });
    const paths = options.nodes
      ? await PathManager.open({
        nodes: options.nodes,
        clock: options.clock,
        ...(options.guardFile ? { store: new FileGuardStore(options.guardFile) } : {}),
      })
      : undefined;
    const chat = new ChatService(options, paths);
    await chat.#sessions.prune();
    await chat.#files.start();
    chat.#sweeper.start();
    if (paths) {
      chat.#worker.start();
      chat.#receiver.start();
      chat.#publisher?.start();
      await chat.#groups.start();
    }
    return chat;
  }

  /**
   * Subscribe to the chat's events (chat_events.ts): new and changed
   * messages, removals, statuses, requests, contacts, conversation settings
   * and typing. The subscription ends with a `locked` event when the service stops.
   * @param options.maxQueue how far the subscriber may fall behind before it is dropped
   */
  events(options: { maxQueue?: number } = {}): ChatSubscription {
    return this.#events.subscribe(options);
  }

  /** Stop the loops (aborting the long-poll) and wait for them; ends every event subscription. */
  async stop(): Promise<void> {
    this.#events.close();
    this.#sessions.stop();
    await Promise.all([
      this.#files.stop(),
      this.#worker.stop(),
      this.#receiver.stop(),
      this.#sweeper.stop(),
      this.#publisher?.stop(),
      this.#groups.stop(),
    ]);
    await this.#paths?.flush().catch(() => {});
  }

  /**
   * Send a text: to the owner's own Account ID (or "self") it is Note to
   * Self, kept locally. Otherwise the message and its envelope are queued
   * in one transaction (with the session's new state) and the outbox worker
   * stores it; without a session with the peer, its prekey bundle is
   * fetched first (at most 5 s) to start one, and when none can be had the
   * text is sealed alone (`encryption: "sealed"`). The owner's profile
   * rides along (the avatar once per profile version and peer), and the
   * conversation's disappearing timer applies.
   * With `attachments` (ids of the owner's files, see {@link attachments})
   * the text may be "", and the send waits until the files are uploaded;
   * `voice` marks the one audio file a voice clip.
   * @param options.replyTo the id of a message of the same conversation
   * @throws {HearthError} `bad_account_id`; `bad_request` for an empty text or a malformed
   *   `replyTo`; `too_large` over 10,000 characters; `not_found` for an
   *   unknown `replyTo`; `conflict` when it was deleted, the peer is blocked, or a
   *   file is unknown or sent already; `unavailable` when a file's upload failed
   */
  send(to: string, text: string, options: SendOptions = {}): Promise<MessageView> {
    return this.#sender.send(to, text, options);
  }

  /** The owner's files: adding, uploading, downloading and reading them (docs/PROTOCOL.md §13). */
  attachments(): AttachmentService {
    return this.#files;
  }

  /**
   * Accept, decline or block a peer. Accepting sends a `request-accept`
   * (with the owner's profile) and delivery receipts for the request's
   * messages; blocking drops everything still queued to the peer (as
   * {@link setBlocked}).
   * @throws {HearthError} `bad_account_id`; `not_found` when there is no such request
   */
  decide(peer: string, action: RequestAction): Promise<void> {
    return this.#contacts.decide(peer, action);
  }

  /**
   * Handle items retrieved from the own inbox, as the receiver loop does
   * (for tests and tools that fetch items themselves).
   * @returns the hashes handled, to delete from the swarm
   */
  receive(items: readonly RetrievedItem[]): Promise<string[]> {
    return this.#receiver.handle(items);
  }

  /** Conversations with contacts, groups and Note to Self (always there), newest first. */
  conversations(): Promise<ConversationView[]> {
    return listConversations(this.#db);
  }

  /**
   * A conversation's messages, oldest first. Reading marks the conversation
   * read first: incoming messages become `read`, their after-read timers
   * start (with `update` events), and with read receipts on, a contact gets
   * a `read` receipt.
   * @param id the peer's Account ID, or "self" (the owner's own ID means "self")
   * @throws {HearthError} `not_found` for an unknown conversation
   */
  messages(
    id: string,
    options: { before?: number; limit?: number } = {},
  ): Promise<MessageView[]> {
    return this.#actions.readMessages(id, options);
  }

  /** Pending message requests. */
  requests(): Promise<ContactView[]> {
    return this.#contacts.requests();
  }

  /** Every known peer but pending requests: contacts, blocked and declined. */
  contacts(): Promise<ContactView[]> {
    return this.#contacts.contacts();
  }

  /** The owner's groups (docs/PROTOCOL.md §14). */
  groups(): GroupService {
    return this.#groups;
  }

  /** The onion paths, or null when the messenger has no directory. */
  paths(): PathStatus | null {
    return this.#paths?.status() ?? null;
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
  react(messageId: string, emoji: string | null): Promise<MessageView> {
    return this.#actions.react(messageId, emoji);
  }

  /**
   * Edit one of the owner's own texts (`editedAt` = now); the peer gets an
   * `edit` item, Note to Self stays local.
   * @returns the edited message
   * @throws {HearthError} `not_found` for an unknown message; `bad_request` when it is
   *   not the owner's own, or for an empty text; `too_large`; `conflict` when deleted
   */
  edit(messageId: string, text: string): Promise<MessageView> {
    return this.#actions.edit(messageId, text);
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
  deleteMessage(messageId: string, scope: DeleteScope): Promise<MessageView | null> {
    return this.#actions.deleteMessage(messageId, scope);
  }

  /**
   * Tell a contact the owner is typing (or stopped). Sent only when typing
   * indicators are on and the peer is an accepted contact (the item lives
   * 10 s); for any other conversation nothing is sent and the answer is false.
   * @returns whether an indicator was sent
   * @throws {HearthError} `bad_account_id` or `bad_request` for a malformed id;
   *   `bad_request` when `active` is not a boolean
   */
  typing(conversationId: string, active: boolean): Promise<boolean> {
    return this.#actions.typing(conversationId, active);
  }

  /**
   * One conversation (with a contact, a pending request, or "self"); a
   * contact's or Note to Self's without a row yet is the default view (no
   * messages, timer off, not muted).
   * @throws {HearthError} `not_found` for an unknown, declined or blocked peer
   */
  conversation(id: string): Promise<ConversationView> {
    return this.#actions.conversation(id);
  }

  /**
   * Change a conversation's settings (Note to Self, a contact's or a
   * request's; its row is made when missing). A new disappearing timer
   * applies to messages sent from now on, and a contact gets a
   * `disappearing` item so both sides share it. A `conversation` event follows.
   * @throws {HearthError} `not_found`; `bad_request` for a mode or timer out of range, or a
   *   `muted` that is not a boolean
   */
  updateConversation(id: string, patch: ConversationPatch): Promise<ConversationView> {
    return this.#actions.updateConversation(id, patch);
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
   * Block or unblock a known peer. Blocking drops its messages unseen and
   * deletes everything still queued to it (the owner's messages among them
   * become `failed`, with `status` events); nothing can be sent to it until
   * unblocked. Unblocking makes it a contact again. A `contact` event follows.
   * @throws {HearthError} `bad_account_id`; `not_found` when unknown (or not blocked, to unblock)
   */
  setBlocked(peer: string, blocked: boolean): Promise<ContactView> {
    return this.#contacts.setBlocked(peer, blocked);
  }

  /**
   * A peer's avatar as it last sent it, or null.
   * @throws {HearthError} `bad_account_id`; `not_found` for an unknown peer
   */
  avatar(peer: string): Promise<Avatar | null> {
    return this.#contacts.avatar(peer);
  }

  /**
   * Give a known peer (a contact, a request, a blocked or declined peer) a
   * private nickname, or clear it with null or blank text. It is shown
   * instead of the peer's own name, kept in the account config, and never
   * sent to anyone. A `contact` event follows.
   * @param nickname text (trimmed, NFC, 1 to 64 characters, no control or
   *   text-direction character), or null
   * @returns the peer as it is now
   * @throws {HearthError} `bad_account_id`; `bad_request` for a bad nickname; `not_found`
   *   for a peer the owner has no row for (or the owner's own ID)
   */
  setNickname(peer: string, nickname: string | null): Promise<ContactView> {
    return this.#contacts.setNickname(peer, nickname);
  }

  /**
   * Find messages whose text contains `query` (case-insensitive), newest
   * first, in the conversations the owner sees (see message_search.ts for
   * the bound on how many messages are read).
   * @throws {HearthError} `bad_request` for an empty, overlong or malformed query or limit
   */
  search(query: string, options: { limit?: number } = {}): Promise<SearchAnswer> {
    return searchMessages(this.#db, query, { ...options, now: this.#clock() });
  }

  /**
   * Emit an event; a message with an expiry wakes the sweeper, and so does
   * an outgoing message leaving the outbox (the sweeper leaves one that is
   * still queued, even past its expiry, until it was sent or failed).
   */
  #emit(event: ChatEvent): void {
    this.#events.emit(event);
    if (
      ((event.type === "message" || event.type === "update") && event.message.expiresAt !== null) ||
      (event.type === "status" &&
        (event.status.status === "sent" || event.status.status === "failed"))
    ) {
      this.#sweeper.kick();
    }
  }
}
