/**
 * The sealing every outgoing item of a chat shares: one sent-at clock that
 * never repeats or goes back (so a peer orders edits and reactions), and
 * sealing through the owner's sessions (session_manager.ts) in one
 * transaction with what stores the item.
 * @module
 */
import type { Kysely } from "kysely";
import type { ClientDb } from "../db/schema.ts";
import type { Encryption, SessionManager } from "../sessions/session_manager.ts";
import { type ControlItem, queueControl } from "./chat_store.ts";
import { encodeContent, MAX_RECEIPT_IDS, type MessageContent, newMessageId } from "./content.ts";

/** How an item is sealed for a peer; see {@link ChatSealer.sealInto}. */
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

/** Seals a chat's outgoing items; one per running chat. */
export class ChatSealer {
  readonly #sessions: SessionManager;
  readonly #clock: () => number;
  readonly #kick: () => void;
  #lastSentAt = 0;

  /**
   * Create the sealer of a chat.
   * @param sessions the owner's sessions: every item to a peer is sealed through them
   * @param options.clock current time, ms
   * @param options.kick wakes the outbox worker: something was queued
   */
  constructor(sessions: SessionManager, options: { clock: () => number; kick: () => void }) {
    this.#sessions = sessions;
    this.#clock = options.clock;
    this.#kick = options.kick;
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
}
