/**
 * Receiving a group (docs/PROTOCOL.md §14): the newest verified state
 * record (namespace 13) is applied at start, when a message names an
 * unknown generation or an unknown sender, on a `group-update`, and every
 * few minutes; messages (namespace 11) are long-polled from one swarm
 * member with `after`, de-duplicated by item hash, opened with the key of
 * their generation, and kept only when their signed sender is a member of
 * the current state (and not blocked). A state without the owner, or a
 * relay's `access_revoked`, means the owner was removed: polling stops.
 * One {@link GroupPoller} per joined group.
 * @module
 */
import type { Kysely } from "kysely";
import { HearthError } from "../../shared/errors.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { fromBase64, signingKeyPairFromSeed } from "../../shared/crypto/mod.ts";
import { GROUP_MESSAGES_NS, GROUP_STATE_NS } from "../../shared/storage/namespaces.ts";
import { swarmFor } from "../../shared/swarm_map.ts";
import { type AccountKeys, formatAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { inTx } from "../db/transaction.ts";
import type { GroupAccess, RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { cryptoRandom } from "../network/path_select.ts";
import { touchConversation } from "../messages/chat_store.ts";
import { type MessageContent, parseContent } from "../messages/content.ts";
import { contactState, isSeen, markSeen } from "../messages/incoming_store.ts";
import { LONG_POLL_MS } from "../messages/inbox_receiver.ts";
import { messageById, type MessageView } from "../messages/chat_views.ts";
import { pause } from "../messages/wake_timer.ts";
import type { AttachmentService } from "../attachments/attachment_service.ts";
import { groupSwarmKey } from "./group_access.ts";
import { parseGroupId } from "./group_id.ts";
import { groupMessageGeneration, openGroupMessage } from "./group_message.ts";
import {
  ensureGroupConversation,
  groupKey,
  groupRow,
  localFromInfo,
  localStateJson,
  parseLocalState,
  saveGroupKey,
} from "./group_rows.ts";
import { type OpenedState, openState } from "./group_state.ts";

type Db = Kysely<ClientDb>;

/** How often the state is fetched even without a reason, ms. */
export const STATE_REFRESH_MS = 5 * 60_000;
/** A state fetch for an unknown sender or generation waits this long after the last one, ms. */
const STATE_RETRY_MS = 5_000;
/** The longest pause after failures, ms. */
const MAX_PAUSE_MS = 30_000;
/**
 * How many times an item of a newer generation whose key no state gives
 * yet is tried again (about once a second, each after a state fetch)
 * before it is dropped: a lagging swarm member catches up within seconds,
 * and a member storing junk under a made-up generation must not stop the
 * group's messages for good.
 */
export const MAX_NEWER_RETRIES = 10;

/** What applying state records did. */
export type StateResult = "changed" | "same" | "removed";

/** What a poller (and the service's state handling) needs. */
export interface GroupReceiveContext {
  /** The unlocked client database. */
  db: Db;
  /** The owner's keys. */
  keys: AccountKeys;
  /** Current time, ms. */
  clock: () => number;
  /** The group swarms. */
  swarm: SwarmClient;
  /** The live directory. */
  nodes: () => NodeRecord[];
  /** A new incoming group message was stored (committed). */
  onMessage: (message: MessageView) => void;
  /** The group's state changed, or a member's name it shows (committed). */
  onState: (groupId: string) => void;
  /** The owner was removed (a state without it, or `access_revoked`). */
  onRemoved: (groupId: string) => Promise<void>;
  /**
   * A member sent a `group-leave` naming its access public key (the owner may be the admin
   * that removes it, if that is still the member's access key).
   */
  onLeave: (groupId: string, member: string, access: Uint8Array) => Promise<void>;
  /** Records a member's files with its message (the attachment service), if any. */
  attachments?: AttachmentService;
  /** An admin's chance to re-store an ageing state record. */
  onMaintain?: (groupId: string) => Promise<void>;
  /** Codes and counts only. */
  log?: Logger;
}

/** The owner's access to a group swarm, from its row. */
export async function accessOf(
  row: { id: string; access_seed: ArrayBuffer; access_token: ArrayBuffer },
): Promise<GroupAccess> {
  return {
    groupPublicKey: parseGroupId(row.id),
    member: await signingKeyPairFromSeed(new Uint8Array(row.access_seed)),
    token: new Uint8Array(row.access_token),
  };
}

/**
 * Apply the newest verified state among retrieved records: only a record
 * signed by the group key counts (a member's forgery, or a relay's, is
 * ignored), and only one newer than the state applied. A verified newer
 * record without the owner (no wrapped key for it, or not in its members),
 * once the owner had a state, means it was removed.
 * @returns `changed`, `same` or `removed`
 */
export async function applyStateItems(
  ctx: GroupReceiveContext,
  groupId: string,
  items: readonly RetrievedItem[],
): Promise<StateResult> {
  const row = await groupRow(ctx.db, groupId);
  if (!row) return "same";
  const groupPublicKey = parseGroupId(groupId);
  let best: OpenedState | undefined;
  let newestAbsent = 0;
  for (const item of items) {
    const out = await openState(item.data, groupPublicKey, ctx.keys.dh);
    if (out.kind === "invalid" || out.seq <= row.state_seq) continue;
    const member = out.kind === "opened" &&
      out.info.members.some((m) => m.accountId === ctx.keys.accountId);
    if (out.kind === "opened" && member) {
      if (!best || out.seq > best.seq) best = out;
    } else {
      newestAbsent = Math.max(newestAbsent, out.seq);
    }
  }
  if (newestAbsent > (best?.seq ?? 0)) {
    // Before the owner's first state it may simply not be added yet.
    return row.state_seq > 0 ? "removed" : "same";
  }
  if (!best) return "same";
  const chosen = best;
  const now = ctx.clock();
  return await inTx(ctx.db, async (tx) => {
    // Read again in the transaction: a newer state applied (or published by the owner)
    // since the read above must not be rolled back to this one.
    const current = await groupRow(tx, groupId);
    if (!current || chosen.seq <= current.state_seq) return "same";
    const local = localFromInfo(
      chosen.info,
      chosen.generation,
      parseLocalState(current.state_json),
    );
    await tx.updateTable("groups").set({
      name: chosen.info.name,
      picture: chosen.info.picture?.bytes ?? null,
      picture_type: chosen.info.picture?.type ?? null,
      state_seq: chosen.seq,
      state_json: localStateJson(local),
    }).where("id", "=", groupId).where("state_seq", "<", chosen.seq).execute();
    await saveGroupKey(tx, groupId, { generation: chosen.generation, key: chosen.key, now });
    return "changed" as const;
  });
}

/** Polls one joined group until stopped, removed or left. */
export class GroupPoller {
  readonly #ctx: GroupReceiveContext;
  readonly #groupId: string;
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #loop: Promise<void> | undefined;
  #lastState = -Infinity;
  #lastMaintain = -Infinity;
  /** Items put off for a newer generation: hash → how many times. */
  readonly #deferred = new Map<string, number>();

  /** Create the poller of a group; {@link start} runs it. */
  constructor(ctx: GroupReceiveContext, groupId: string) {
    this.#ctx = ctx;
    this.#groupId = groupId;
    this.#log = (ctx.log ?? silentLogger).child("group");
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

  /** Whether the loop ended or was told to. */
  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * Fetch the state records and apply the newest verified one.
   * @throws {HearthError} `access_revoked` once the owner's access was revoked
   */
  async refreshState(via?: NodeRecord): Promise<StateResult> {
    const row = await groupRow(this.#ctx.db, this.#groupId);
    if (!row) return "same";
    this.#lastState = this.#ctx.clock();
    const { items } = await this.#ctx.swarm.retrieveAsMember(await accessOf(row), GROUP_STATE_NS, {
      signal: this.#abort.signal,
      ...(via ? { via } : {}),
    });
    const result = await applyStateItems(this.#ctx, this.#groupId, items);
    if (result === "changed") this.#ctx.onState(this.#groupId);
    if (result === "removed") await this.#ctx.onRemoved(this.#groupId);
    return result;
  }

  /**
   * Handle retrieved message items in order, each committed on its own. An
   * item of a generation newer than the owner's whose key the state does
   * not give yet (a swarm member that has not the new state record yet)
   * stops the batch: it is tried again after the next state fetch.
   * @returns how many items were handled, and whether the owner was found removed
   */
  async handle(items: readonly RetrievedItem[]): Promise<{ handled: number; removed: boolean }> {
    let handled = 0;
    for (const item of items) {
      const r = await this.#handleOne(item);
      if (r === "removed") return { handled, removed: true };
      if (r === "retry") {
        this.#lastState = -Infinity;
        return { handled, removed: false };
      }
      this.#deferred.delete(item.hash);
      handled++;
    }
    return { handled, removed: false };
  }

  async #maybeRefresh(force = false): Promise<StateResult> {
    if (!force && this.#ctx.clock() - this.#lastState < STATE_RETRY_MS) return "same";
    return await this.refreshState();
  }

  /**
   * Fetch the state for a message of a generation the owner has no key
   * for: from one swarm member, then, when its state does not give that
   * key (a state store reaches W = 3 of the R = 5 members first), from a
   * second one, before the item waits for the next round. A failure of the
   * second ask leaves the first's result.
   */
  async #refreshForGeneration(generation: number): Promise<StateResult> {
    const key = groupSwarmKey(parseGroupId(this.#groupId));
    const members = [...swarmFor(key, this.#ctx.nodes())];
    const first = members.splice(Math.floor(cryptoRandom() * members.length), 1)[0];
    const result = await this.refreshState(first);
    if (result === "removed" || members.length === 0) return result;
    if (await groupKey(this.#ctx.db, this.#groupId, generation)) return result;
    const second = members[Math.floor(cryptoRandom() * members.length)]!;
    try {
      const again = await this.refreshState(second);
      return again === "same" ? result : again;
    } catch (err) {
      if (this.#abort.signal.aborted) throw err;
      if (err instanceof HearthError && err.code === "access_revoked") throw err;
      return result;
    }
  }

  async #handleOne(item: RetrievedItem): Promise<StateResult | "retry" | undefined> {
    const { db, keys, clock } = this.#ctx;
    const id = this.#groupId;
    const now = clock();
    if (await isSeen(db, item.hash)) return;
    const drop = async (): Promise<undefined> => {
      await markSeen(db, item.hash, now);
    };
    const generation = groupMessageGeneration(item.data);
    if (generation === undefined) return await drop();
    let key = await groupKey(db, id, generation);
    if (!key) {
      const newer = generation > await this.#generation();
      const r = newer ? await this.#refreshForGeneration(generation) : await this.#maybeRefresh();
      if (r === "removed") return r;
      key = await groupKey(db, id, generation);
      if (!key && newer) {
        const tries = (this.#deferred.get(item.hash) ?? 0) + 1;
        if (tries <= MAX_NEWER_RETRIES) {
          this.#deferred.set(item.hash, tries);
          return "retry";
        }
      }
      if (!key) return await drop();
    }
    const opened = await openGroupMessage(item.data, groupSwarmKey(parseGroupId(id)), key);
    if (!opened) return await drop();
    const sender = formatAccountId(opened.sender);
    if (sender === keys.accountId) return await drop();
    let isMember = await this.#isMember(sender);
    if (!isMember) {
      if (await this.#maybeRefresh() === "removed") return "removed";
      isMember = await this.#isMember(sender);
    }
    if (!isMember || (await contactState(db, sender)) === "blocked") return await drop();
    let content: MessageContent;
    try {
      content = parseContent(opened.content);
    } catch {
      return await drop();
    }
    switch (content.type) {
      case "text": {
        let renamed = false;
        const stored = await inTx(db, async (tx) => {
          await markSeen(tx, item.hash, now);
          const known = await tx.selectFrom("messages").select("id").where("id", "=", content.id)
            .executeTakeFirst();
          if (known) return false;
          let replyTo: string | null = null;
          if (content.replyTo !== undefined) replyTo = content.replyTo;
          await ensureGroupConversation(tx, id);
          await tx.insertInto("messages").values({
            id: content.id,
            conversation_id: id,
            direction: "in",
            sender,
            sent_at: opened.sentAt,
            received_at: now,
            body_json: JSON.stringify({ text: content.text }),
            status: "delivered",
            reply_to: replyTo,
            edited_at: null,
            expires_at: null,
          }).execute();
          await touchConversation(tx, id, opened.sentAt, 1);
          if (content.attachments && this.#ctx.attachments) {
            await this.#ctx.attachments.recordIncoming(tx, content.id, content.attachments, {
              voice: content.voice === true,
            });
          }
          if (content.profile) {
            renamed = await this.#rememberName(tx, sender, content.profile.displayName);
          }
          return true;
        });
        if (stored) {
          // A member's new name changes the group view: a `group` event tells the UI.
          if (renamed) this.#ctx.onState(id);
          const view = await messageById(db, content.id);
          if (view) this.#ctx.onMessage(view);
        }
        return;
      }
      case "group-leave":
        await drop();
        await this.#ctx.onLeave(id, sender, fromBase64(content.access));
        return;
      case "group-update":
        await drop();
        this.#lastState = -Infinity;
        return await this.#maybeRefresh();
      default:
        // Reactions, edits and deletes are not carried in groups yet.
        return await drop();
    }
  }

  async #generation(): Promise<number> {
    const row = await groupRow(this.#ctx.db, this.#groupId);
    return row ? parseLocalState(row.state_json).generation : 0;
  }

  async #isMember(accountId: string): Promise<boolean> {
    const row = await groupRow(this.#ctx.db, this.#groupId);
    if (!row) return false;
    return parseLocalState(row.state_json).members.some((m) => m.accountId === accountId);
  }

  /** Keep the name a member sent; true when it is new or changed. */
  async #rememberName(tx: Db, accountId: string, name: string): Promise<boolean> {
    const row = await groupRow(tx, this.#groupId);
    if (!row) return false;
    const local = parseLocalState(row.state_json);
    if (local.names[accountId] === name) return false;
    local.names[accountId] = name;
    await tx.updateTable("groups").set({ state_json: localStateJson(local) })
      .where("id", "=", this.#groupId).execute();
    return true;
  }

  async #run(): Promise<void> {
    const { db, swarm, nodes } = this.#ctx;
    const signal = this.#abort.signal;
    const key = groupSwarmKey(parseGroupId(this.#groupId));
    let via: NodeRecord | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const row = await groupRow(db, this.#groupId);
        if (!row || row.state !== "joined") break;
        if (this.#ctx.clock() - this.#lastState >= STATE_REFRESH_MS || row.state_seq === 0) {
          if (await this.refreshState() === "removed") break;
        }
        // On its own timer: fetches for messages (group-update, unknown senders) must not
        // put off an admin's re-storing of the state and revocations past their TTL.
        if (this.#ctx.clock() - this.#lastMaintain >= STATE_REFRESH_MS) {
          this.#lastMaintain = this.#ctx.clock();
          await this.#ctx.onMaintain?.(this.#groupId);
        }
        if (!via) {
          const members = swarmFor(key, nodes());
          if (members.length === 0) throw new HearthError("unavailable", "No nodes known");
          via = members[Math.floor(cryptoRandom() * members.length)]!;
        }
        const { items } = await swarm.retrieveAsMember(await accessOf(row), GROUP_MESSAGES_NS, {
          via,
          waitMs: row.state_seq === 0 ? 1_000 : LONG_POLL_MS,
          signal,
          ...(row.poll_after ? { after: row.poll_after } : {}),
        });
        const { handled, removed } = await this.handle(items);
        if (removed) break;
        if (handled > 0) {
          await db.updateTable("groups").set({ poll_after: items[handled - 1]!.hash })
            .where("id", "=", this.#groupId).execute();
        }
        failures = 0;
        if (handled < items.length) await pause(1_000, signal);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof HearthError && err.code === "access_revoked") {
          await this.#ctx.onRemoved(this.#groupId);
          break;
        }
        this.#log.info("group.poll_failed", {
          [err instanceof HearthError ? err.code : "internal"]: true,
        });
        via = undefined;
        failures++;
        await pause(Math.min(MAX_PAUSE_MS, 250 * 2 ** Math.min(failures, 10)), signal);
      }
    }
    this.#abort.abort();
  }
}
