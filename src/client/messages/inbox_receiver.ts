/**
 * The inbox receiver: long-polls the owner's own inbox (namespace 0)
 * through onion paths, keeping to one swarm member so that `after` follows
 * that member's order; opens each item, de-duplicates it by item hash and
 * message id, applies it (a text, a receipt, an edit, a delete, a reaction,
 * typing, a request accept's profile, a timer change or a profile; see
 * incoming_store.ts and incoming_apply.ts), and only after the local commit
 * deletes the items from the swarm. Items that do not open, and everything
 * from a blocked sender, are dropped unseen (and deleted too). Read
 * receipts and typing indicators are shown only when the owner's settings
 * turn them on (they are reciprocal, settings.ts).
 * @module
 */
import type { Kysely } from "kysely";
import type { NodeRecord } from "../../shared/node_record.ts";
import { swarmFor, swarmKeyOf } from "../../shared/swarm_map.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, formatAccountId } from "../account/mod.ts";
import type { ClientDb, ContactState } from "../db/schema.ts";
import type { RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { cryptoRandom } from "../network/path_select.ts";
import { type ContentProfile, type MessageContent, parseContent } from "./content.ts";
import { openEnvelope } from "./envelope.ts";
import {
  applyProfile,
  applyReceipt,
  contactState,
  type IncomingItem,
  isSeen,
  markSeen,
  storeIncoming,
} from "./incoming_store.ts";
import {
  applyAccept,
  applyDelete,
  applyEdit,
  applyReaction,
  applyTimer,
} from "./incoming_apply.ts";
import { INBOX_NS } from "./outbox_worker.ts";
import type { ChatEvent, StatusChange } from "./chat_events.ts";
import { contactById, conversationById, messageById, type MessageView } from "./chat_views.ts";
import { readSettings } from "./settings.ts";
import { pause } from "./wake_timer.ts";

/** How long one retrieve waits for something new, ms (the relay allows 25,000). */
export const LONG_POLL_MS = 20_000;

/** A typing indicator counts only when its sent-at time is this close to now, ms. */
export const TYPING_FRESH_MS = 20_000;

/** The longest pause after failures, ms. */
const MAX_PAUSE_MS = 30_000;

/** Options of {@link InboxReceiver}. */
export interface InboxReceiverOptions {
  /** The live directory. */
  nodes: () => NodeRecord[];
  /** Called with the ids of texts just stored from a contact, per sender (to send receipts). */
  onDelivered?: (sender: string, ids: string[]) => Promise<void>;
  /** Called after a new text was stored, with whether it made its sender a message request. */
  onMessage?: (message: MessageView, request: boolean) => void;
  /**
   * Called after an outgoing message became `delivered` or `read`
   * (committed). Without it, status changes go to `onEvent` as `status` events.
   */
  onStatus?: (change: StatusChange) => void;
  /**
   * Called after an item changed something other than a new text or a
   * status, committed: `update` (an edit, a delete for everyone, a
   * reaction), `contact` (a peer's name or avatar), `conversation`
   * (the peer changed the timer), `typing`; and `status` when there is no
   * `onStatus`.
   */
  onEvent?: (event: ChatEvent) => void;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Numbers in [0, 1) to pick a member (default crypto-random). */
  random?: () => number;
}

/** Receives the owner's inbox in a loop until stopped. */
export class InboxReceiver {
  readonly #db: Kysely<ClientDb>;
  readonly #swarm: SwarmClient;
  readonly #keys: AccountKeys;
  readonly #options: InboxReceiverOptions;
  readonly #clock: () => number;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  /** Create a receiver for the account of `keys`. */
  constructor(
    db: Kysely<ClientDb>,
    swarm: SwarmClient,
    options: InboxReceiverOptions & { keys: AccountKeys },
  ) {
    this.#db = db;
    this.#swarm = swarm;
    this.#keys = options.keys;
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Start the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Abort the long-poll in flight and wait for the loop to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /**
   * Handle one batch of retrieved items and commit them locally, item by
   * item. The delivery receipts of the texts stored are sent even when a
   * later item throws.
   * @returns the hashes to delete from the swarm (every item handled)
   * @throws the error of an item that could not be handled (the items before it are committed)
   */
  async handle(items: readonly RetrievedItem[]): Promise<string[]> {
    const receipts = new Map<string, string[]>();
    const done: string[] = [];
    try {
      for (const item of items) {
        await this.#handleOne(item, receipts);
        done.push(item.hash);
      }
    } finally {
      // Each item committed on its own: the texts stored before one that threw still get
      // their delivery receipts (the batch is fetched again, and they are seen by then).
      for (const [sender, ids] of receipts) await this.#options.onDelivered?.(sender, ids);
    }
    return done;
  }

  async #handleOne(item: RetrievedItem, receipts: Map<string, string[]>): Promise<void> {
    const db = this.#db;
    const now = this.#clock();
    if (await isSeen(db, item.hash)) return;
    let sender: string;
    let content: MessageContent;
    let sentAt: number;
    try {
      const opened = await openEnvelope(item.data, this.#keys);
      content = parseContent(opened.content);
      sender = formatAccountId(opened.sender);
      sentAt = opened.sentAt;
    } catch {
      await markSeen(db, item.hash, now);
      return;
    }
    const state = await contactState(db, sender);
    if (state === "blocked" || sender === this.#keys.accountId) {
      await markSeen(db, item.hash, now);
      return;
    }
    const base: IncomingItem = { hash: item.hash, sender, sentAt, now };
    switch (content.type) {
      case "text":
        return await this.#text({ base, content, state, receipts });
      case "receipt":
        return await this.#receipt(base, content);
      case "edit":
        if (await applyEdit(db, { ...base, target: content.target, text: content.text })) {
          await this.#update(content.target);
        }
        return;
      case "delete":
        if (await applyDelete(db, { ...base, target: content.target })) {
          await this.#update(content.target);
        }
        return;
      case "reaction": {
        const { target, emoji } = content;
        if (await applyReaction(db, { ...base, target, emoji, remove: content.remove === true })) {
          await this.#update(target);
        }
        return;
      }
      case "typing":
        return await this.#typing(base, content.active, state);
      case "request-accept":
        if (await applyAccept(db, { ...base, ...profileOf(content) })) await this.#contact(sender);
        return;
      case "disappearing": {
        const mode = content.expiresIn === undefined ? "off" : content.mode ?? "after_send";
        if (await applyTimer(db, { ...base, mode, seconds: content.expiresIn ?? 0 })) {
          const conversation = await conversationById(db, sender);
          if (conversation) this.#emit({ type: "conversation", conversation });
        }
        return;
      }
      case "profile":
        if (await applyProfile(db, { ...base, profile: content.profile })) {
          await this.#contact(sender);
        }
        return;
    }
  }

  async #text(t: {
    base: IncomingItem;
    content: Extract<MessageContent, { type: "text" }>;
    state: ContactState | undefined;
    receipts: Map<string, string[]>;
  }): Promise<void> {
    const { base, content, state } = t;
    const db = this.#db;
    const stored = await storeIncoming(db, {
      ...base,
      id: content.id,
      text: content.text,
      ...(content.replyTo !== undefined ? { replyTo: content.replyTo } : {}),
      ...(content.expiresIn !== undefined ? { expiresIn: content.expiresIn } : {}),
      ...(content.mode !== undefined ? { mode: content.mode } : {}),
      ...profileOf(content),
    });
    if (stored.outcome !== "stored") return;
    const request = state === undefined || state === "declined";
    if (stored.profileChanged && !request) await this.#contact(base.sender);
    const view = await messageById(db, content.id);
    if (view) this.#options.onMessage?.(view, request);
    if (state === "contact") {
      const list = t.receipts.get(base.sender) ?? [];
      list.push(content.id);
      t.receipts.set(base.sender, list);
    }
  }

  async #receipt(
    base: IncomingItem,
    content: Extract<MessageContent, { type: "receipt" }>,
  ): Promise<void> {
    if (content.kind === "read" && !(await readSettings(this.#db)).readReceipts) {
      await markSeen(this.#db, base.hash, base.now);
      return;
    }
    const changed = await applyReceipt(this.#db, { ...base, kind: content.kind, ids: content.ids });
    for (const id of changed) {
      this.#status({ id, conversationId: base.sender, status: content.kind });
    }
  }

  async #typing(
    base: IncomingItem,
    active: boolean,
    state: ContactState | undefined,
  ): Promise<void> {
    await markSeen(this.#db, base.hash, base.now);
    if (state !== "contact" || Math.abs(base.now - base.sentAt) >= TYPING_FRESH_MS) return;
    if (!(await readSettings(this.#db)).typingIndicators) return;
    this.#emit({ type: "typing", conversationId: base.sender, active });
  }

  async #update(id: string): Promise<void> {
    const message = await messageById(this.#db, id);
    if (message) this.#emit({ type: "update", message });
  }

  async #contact(accountId: string): Promise<void> {
    const contact = await contactById(this.#db, accountId);
    if (contact) this.#emit({ type: "contact", contact });
  }

  #status(change: StatusChange): void {
    if (this.#options.onStatus) this.#options.onStatus(change);
    else this.#emit({ type: "status", status: change });
  }

  #emit(event: ChatEvent): void {
    this.#options.onEvent?.(event);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const random = this.#options.random ?? cryptoRandom;
    const key = swarmKeyOf(this.#keys.signing.publicKey);
    let via: NodeRecord | undefined;
    let after: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!via) {
          const members = swarmFor(key, this.#options.nodes());
          if (members.length === 0) throw new HearthError("unavailable", "No nodes known");
          via = members[Math.floor(random() * members.length)]!;
          after = undefined;
        }
        const { items } = await this.#swarm.retrieve(this.#keys.signing, INBOX_NS, {
          via,
          waitMs: LONG_POLL_MS,
          signal,
          ...(after ? { after } : {}),
        });
        const done = await this.handle(items);
        if (done.length > 0) {
          after = done[done.length - 1];
          await this.#swarm.delete(this.#keys.signing, INBOX_NS, done, { via, signal })
            .catch(() => {});
        }
        failures = 0;
      } catch {
        if (signal.aborted) break;
        via = undefined;
        failures++;
        await pause(Math.min(MAX_PAUSE_MS, 250 * 2 ** Math.min(failures, 10)), signal);
      }
    }
  }
}

/** The profile riding along with content, as an optional field. */
function profileOf(content: MessageContent): { profile?: ContentProfile } {
  return content.profile ? { profile: content.profile } : {};
}
