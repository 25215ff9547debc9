/**
 * The inbox receiver: long-polls the owner's own inbox (namespace 0)
 * through onion paths, keeping to one swarm member so that `after` follows
 * that member's order; opens each item, de-duplicates it by item hash and
 * message id, stores it, and only after the local commit deletes the items
 * from the swarm. Items that do not open, and everything from a blocked
 * sender, are dropped unseen (and deleted too).
 * @module
 */
import type { Kysely } from "kysely";
import type { NodeRecord } from "../../shared/node_record.ts";
import { swarmFor, swarmKeyOf } from "../../shared/swarm_map.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, formatAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import type { RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { cryptoRandom } from "../network/path_select.ts";
import { parseContent } from "./content.ts";
import { openEnvelope } from "./envelope.ts";
import { contactState, isSeen, markDelivered, markSeen, storeIncoming } from "./incoming_store.ts";
import { INBOX_NS } from "./outbox_worker.ts";
import type { StatusChange } from "./chat_events.ts";
import { messageById, type MessageView } from "./chat_views.ts";

/** How long one retrieve waits for something new, ms (the relay allows 25,000). */
export const LONG_POLL_MS = 20_000;

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
  /** Called after an outgoing message became `delivered` (committed). */
  onStatus?: (change: StatusChange) => void;
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
   * Handle one batch of retrieved items and commit them locally.
   * @returns the hashes to delete from the swarm (every item handled)
   */
  async handle(items: readonly RetrievedItem[]): Promise<string[]> {
    const receipts = new Map<string, string[]>();
    const done: string[] = [];
    for (const item of items) {
      await this.#handleOne(item, receipts);
      done.push(item.hash);
    }
    for (const [sender, ids] of receipts) await this.#options.onDelivered?.(sender, ids);
    return done;
  }

  async #handleOne(item: RetrievedItem, receipts: Map<string, string[]>): Promise<void> {
    const db = this.#db;
    const now = this.#clock();
    if (await isSeen(db, item.hash)) return;
    let sender: string;
    let content;
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
    if (content.type === "text") {
      const stored = await storeIncoming(
        db,
        {
          id: content.id,
          sender,
          text: content.text,
          sentAt,
          ...(content.profile ? { displayName: content.profile.displayName } : {}),
        },
        item.hash,
        now,
      );
      if (stored) {
        const view = await messageById(db, content.id);
        if (view) this.#options.onMessage?.(view, state === undefined || state === "declined");
      }
      if (stored && state === "contact") {
        const list = receipts.get(sender) ?? [];
        list.push(content.id);
        receipts.set(sender, list);
      }
      return;
    }
    if (content.type === "receipt" && content.kind === "delivered") {
      const changed = await markDelivered(db, sender, content.ids);
      for (const id of changed) {
        this.#options.onStatus?.({ id, conversationId: sender, status: "delivered" });
      }
    }
    await markSeen(db, item.hash, now);
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

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
