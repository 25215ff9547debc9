/**
 * The inbox receiver: long-polls the owner's own inbox (namespace 0)
 * through onion paths, keeping to one swarm member so that `after` follows
 * that member's order; opens each item, de-duplicates it by item hash and
 * message id, applies it (a text, a receipt, an edit, a delete, a reaction,
 * typing, a request accept's profile, a timer change, a profile or a
 * session reset; see incoming_store.ts and incoming_apply.ts), and only
 * after the local commit deletes the items from the swarm. Items that do
 * not open, and everything from a blocked sender, are dropped unseen (and
 * deleted too). Read receipts and typing indicators are shown only when
 * the owner's settings turn them on (they are reciprocal, settings.ts).
 *
 * Sessions (docs/PROTOCOL.md §12): the sealed layer is opened first (it
 * names the sender); a blocked sender's item is dropped before its session
 * is touched. An inner version 2 item is decrypted by the sender's session
 * and its effect, its seen mark and the session's new state are one
 * transaction. One that does not decrypt is dropped (marked seen) and a
 * contact or a message request is sent a `session-reset` (sealed alone),
 * at most once per peer per hour, or once a minute for a prekey message of
 * a new handshake (reset_pacer.ts). A `session-reset` from a contact or a
 * request, in a sealed envelope, drops the sessions made before it and
 * has the owner's undelivered texts re-sent.
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
import { type OpenedEnvelope, openEnvelope } from "./envelope.ts";
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
  applyGroupInvite,
  applyReaction,
  applyTimer,
  type GroupInviteSink,
} from "./incoming_apply.ts";
import { INBOX_NS } from "./outbox_worker.ts";
import type { ChatEvent, StatusChange } from "./chat_events.ts";
import { contactById, conversationById, messageById, type MessageView } from "./chat_views.ts";
import { readSettings } from "./settings.ts";
import { pause } from "./wake_timer.ts";
import type { SessionManager } from "../sessions/session_manager.ts";
import { forgetQueuedForPeer } from "../sessions/session_reset.ts";
import { ResetPacer } from "../sessions/reset_pacer.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";

type Db = Kysely<ClientDb>;

/** What is left to do after an item's effect committed (events, delivery receipts). */
type AfterCommit = (receipts: Map<string, string[]>) => unknown;

const done: AfterCommit = () => {};

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
  /**
   * The owner's sessions: they open inner version 2 envelopes. Without
   * them, such items cannot be decrypted and are dropped.
   */
  sessions?: SessionManager;
  /**
   * Called when a session message from a contact or a message request did
   * not decrypt (paced by {@link ResetPacer}: hourly, or a minute apart for
   * new handshakes): send it a `session-reset`.
   */
  onUndecryptable?: (sender: string) => Promise<void>;
  /**
   * Called after a contact's or a request's `session-reset` dropped its
   * sessions (committed): re-send the owner's undelivered messages to it.
   */
  onSessionReset?: (sender: string) => Promise<void>;
  /** Where group invitations go (the group service); without it they are only marked seen. */
  onGroupInvite?: GroupInviteSink;
  /** Events and counts only (default silent). */
  log?: Logger;
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
  readonly #log: Logger;
  /** When a peer is due a `session-reset`. */
  readonly #resets = new ResetPacer();
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
    this.#log = (options.log ?? silentLogger).child("inbox");
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
    let opened: OpenedEnvelope;
    try {
      opened = await openEnvelope(item.data, this.#keys);
    } catch {
      await markSeen(db, item.hash, now);
      return;
    }
    const sender = formatAccountId(opened.sender);
    const state = await contactState(db, sender);
    // A blocked sender's item is dropped before its session is touched.
    if (state === "blocked" || sender === this.#keys.accountId) {
      await markSeen(db, item.hash, now);
      return;
    }
    const base: IncomingItem = { hash: item.hash, sender, sentAt: opened.sentAt, now };
    if (opened.version === 1) {
      const after = await this.#apply(db, { base, bytes: opened.content, state, sealed: true });
      await after(receipts);
      return;
    }
    const sessions = this.#options.sessions;
    const result = sessions
      ? await sessions.open(
        opened,
        (tx, bytes) => this.#apply(tx, { base, bytes, state, sealed: false }),
      )
      : { opened: false as const };
    if (result.opened) {
      await result.value(receipts);
      return;
    }
    await markSeen(db, item.hash, now);
    await this.#undecryptable(sender, {
      state,
      now,
      ...(result.handshake ? { handshake: result.handshake } : {}),
    });
  }

  /**
   * Apply one item's content in `db` (the session's transaction for a
   * session message, else the database: each effect is then a transaction
   * of its own), marking it seen.
   * @returns what to do once committed: events and delivery receipts
   */
  async #apply(db: Db, item: {
    base: IncomingItem;
    bytes: Uint8Array;
    state: ContactState | undefined;
    sealed: boolean;
  }): Promise<AfterCommit> {
    const { base, state } = item;
    const sender = base.sender;
    let content: MessageContent;
    try {
      content = parseContent(item.bytes);
    } catch {
      await markSeen(db, base.hash, base.now);
      return done;
    }
    switch (content.type) {
      case "text":
        return await this.#text(db, { base, content, state, sealed: item.sealed });
      case "receipt":
        return await this.#receipt(db, base, content);
      case "edit": {
        const changed = await applyEdit(db, {
          ...base,
          target: content.target,
          text: content.text,
        });
        return async () => changed && await this.#update(content.target);
      }
      case "delete": {
        const changed = await applyDelete(db, { ...base, target: content.target });
        return async () => changed && await this.#update(content.target);
      }
      case "reaction": {
        const { target, emoji } = content;
        const changed = await applyReaction(db, {
          ...base,
          target,
          emoji,
          remove: content.remove === true,
        });
        return async () => changed && await this.#update(target);
      }
      case "typing":
        return await this.#typing(db, base, { active: content.active, state });
      case "request-accept": {
        const changed = await applyAccept(db, { ...base, ...profileOf(content) });
        return async () => changed && await this.#contact(sender);
      }
      case "disappearing": {
        const mode = content.expiresIn === undefined ? "off" : content.mode ?? "after_send";
        const changed = await applyTimer(db, { ...base, mode, seconds: content.expiresIn ?? 0 });
        return async () => {
          const conversation = changed ? await conversationById(this.#db, sender) : undefined;
          if (conversation) this.#emit({ type: "conversation", conversation });
        };
      }
      case "profile": {
        const changed = await applyProfile(db, { ...base, profile: content.profile });
        return async () => changed && await this.#contact(sender);
      }
      case "session-reset":
        return await this.#sessionReset(db, base, { state, sealed: item.sealed });
      case "group-invite": {
        const after = await applyGroupInvite(
          db,
          { ...base, invite: content },
          this.#options.onGroupInvite,
        );
        return () => after?.();
      }
      case "group-leave":
      case "group-update":
        // Group control content travels in the group swarm, never 1:1.
        await markSeen(db, base.hash, base.now);
        return done;
    }
  }

  async #text(db: Db, t: {
    base: IncomingItem;
    content: Extract<MessageContent, { type: "text" }>;
    state: ContactState | undefined;
    sealed: boolean;
  }): Promise<AfterCommit> {
    const { base, content, state } = t;
    const stored = await storeIncoming(db, {
      ...base,
      id: content.id,
      text: content.text,
      ...(content.replyTo !== undefined ? { replyTo: content.replyTo } : {}),
      ...(content.expiresIn !== undefined ? { expiresIn: content.expiresIn } : {}),
      ...(content.mode !== undefined ? { mode: content.mode } : {}),
      ...profileOf(content),
      encryption: t.sealed ? "sealed" : "session",
      ...(content.attachments ? { attachments: content.attachments } : {}),
      ...(content.voice ? { voice: true } : {}),
    });
    const receipt = (receipts: Map<string, string[]>) => {
      const list = receipts.get(base.sender) ?? [];
      list.push(content.id);
      receipts.set(base.sender, list);
    };
    if (stored.outcome === "duplicate") {
      // A message re-sent (after a session reset) that is already here: its
      // delivery receipt may be what was lost, so a contact gets one again.
      const mine = state === "contact" && await db.selectFrom("messages").select("id")
        .where("id", "=", content.id).where("conversation_id", "=", base.sender)
        .where("direction", "=", "in").where("deleted", "=", 0).executeTakeFirst();
      return (receipts) => {
        if (mine) receipt(receipts);
      };
    }
    if (stored.outcome !== "stored") return done;
    return async (receipts) => {
      const request = state === undefined || state === "declined";
      if (stored.profileChanged && !request) await this.#contact(base.sender);
      const view = await messageById(this.#db, content.id);
      if (view) this.#options.onMessage?.(view, request);
      if (state === "contact") receipt(receipts);
    };
  }

  async #receipt(
    db: Db,
    base: IncomingItem,
    content: Extract<MessageContent, { type: "receipt" }>,
  ): Promise<AfterCommit> {
    if (content.kind === "read" && !(await readSettings(db)).readReceipts) {
      await markSeen(db, base.hash, base.now);
      return done;
    }
    const changed = await applyReceipt(db, { ...base, kind: content.kind, ids: content.ids });
    return () => {
      for (const id of changed) {
        this.#status({ id, conversationId: base.sender, status: content.kind });
      }
    };
  }

  async #typing(
    db: Db,
    base: IncomingItem,
    t: { active: boolean; state: ContactState | undefined },
  ): Promise<AfterCommit> {
    await markSeen(db, base.hash, base.now);
    if (t.state !== "contact" || Math.abs(base.now - base.sentAt) >= TYPING_FRESH_MS) return done;
    if (!(await readSettings(db)).typingIndicators) return done;
    return () => this.#emit({ type: "typing", conversationId: base.sender, active: t.active });
  }

  /**
   * A `session-reset` from a contact or a message request, in a sealed
   * envelope: its sessions made before the reset go (with the seen mark, in
   * one transaction), then the owner's undelivered messages are re-sent.
   * Anything else (a stranger, or a reset inside a session message) is only
   * marked seen.
   */
  async #sessionReset(
    db: Db,
    base: IncomingItem,
    r: { state: ContactState | undefined; sealed: boolean },
  ): Promise<AfterCommit> {
    const sessions = this.#options.sessions;
    const known = r.state === "contact" || r.state === "request";
    if (!known || !r.sealed || !sessions || db.isTransaction) {
      await markSeen(db, base.hash, base.now);
      return done;
    }
    await sessions.reset(base.sender, { before: base.sentAt }, async (tx) => {
      await markSeen(tx, base.hash, base.now);
      await forgetQueuedForPeer(tx, base.sender);
    });
    return async () => await this.#options.onSessionReset?.(base.sender);
  }

  /**
   * A session message that did not decrypt: tell a contact or a message
   * request with a `session-reset`, when the pacer says one is due (hourly,
   * or a minute apart for a new handshake).
   */
  async #undecryptable(
    sender: string,
    u: { state: ContactState | undefined; now: number; handshake?: Uint8Array },
  ): Promise<void> {
    const { state, handshake } = u;
    const prekey = handshake !== undefined;
    this.#log.info("session_undecryptable", { known: state !== undefined, prekey });
    if (state !== "contact" && state !== "request") return;
    if (!this.#resets.due(sender, { now: u.now, ...(prekey ? { handshake } : {}) })) return;
    this.#log.info("session_reset_due", { prekey });
    await this.#options.onUndecryptable?.(sender);
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
