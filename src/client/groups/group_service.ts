/**
 * The owner's groups (docs/PROTOCOL.md §14), running with the chat: create,
 * invite (1:1 `group-invite` through the chat's sealer), join, decline,
 * leave, add and remove members (a removal rekeys and revokes), rename,
 * picture and promotion (admins only: they hold the group seed), sending
 * (through the durable group outbox, group_outbox.ts) and receiving (one
 * {@link GroupPoller} per joined group). Invitations come in through the
 * inbox receiver ({@link GroupService.acceptInvite}).
 * @module
 */
import type { Kysely } from "kysely";
import {
  bytesEqual,
  fromBase64,
  generateSigningKeyPair,
  randomBytes,
  type SigningKeyPair,
  signingKeyPairFromSeed,
  toBase64,
} from "../../shared/crypto/mod.ts";
import { MAX_INBOX_TTL_MS, MAX_OWNER_TTL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { concatBytes } from "../../shared/crypto/bytes.ts";
import { type AccountKeys, normalizeAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { inTx } from "../db/transaction.ts";
import type { SwarmClient } from "../network/swarm_client.ts";
import type { ChatEvent } from "../messages/chat_events.ts";
import { checkText } from "../messages/chat_rules.ts";
import { touchConversation } from "../messages/chat_store.ts";
import { messageById, type MessageView } from "../messages/chat_views.ts";
import {
  encodeContent,
  isMessageId,
  type MessageContent,
  newMessageId,
} from "../messages/content.ts";
import { contactState } from "../messages/incoming_store.ts";
import type { IncomingGroupInvite } from "../messages/incoming_apply.ts";
import { grantAccess, groupSwarmKey, verifyAccess } from "./group_access.ts";
import { formatGroupId, normalizeGroupId, parseGroupId } from "./group_id.ts";
import { sealGroupMessage } from "./group_message.ts";
import { GroupOutbox, queueGroupItem } from "./group_outbox.ts";
import { applyStateItems, GroupPoller, type GroupReceiveContext } from "./group_poller.ts";
import {
  emptyLocalState,
  ensureGroupConversation,
  GROUP_COLUMNS,
  groupKey,
  type GroupRow,
  groupRow,
  type GroupView,
  groupView,
  type LocalGroupState,
  localStateJson,
  parseLocalState,
  saveGroupKey,
} from "./group_rows.ts";
import {
  checkGroupName,
  checkGroupPicture,
  type GroupInfo,
  type GroupPicture,
  MAX_GROUP_MEMBERS,
  MAX_REVOKED,
  sealState,
  type StateMember,
} from "./group_state.ts";
import type { RetrievedItem } from "../network/swarm_client.ts";
import type { AttachmentService } from "../attachments/attachment_service.ts";
import { fitThumbnails } from "../attachments/content_fit.ts";

export type { GroupView } from "./group_rows.ts";

/** An admin re-stores the state record (and revocations) when it is this old, ms (TTL 30 d). */
export const STATE_RESTORE_MS = 7 * 86_400_000;

/** What a group message carries; see {@link GroupService.send}. */
export interface GroupSendInput {
  /** The text (optional with attachments). */
  text?: string;
  /** Attachment ids from the attachment service (integration point: see {@link GroupServiceOptions.attachments}). */
  attachments?: string[];
  /** Whether the single audio attachment is a voice clip. */
  voice?: boolean;
  /** The id of a message of the group to reply to. */
  replyTo?: string;
}

/** What {@link GroupService.update} changes; absent fields stay. */
export interface GroupUpdate {
  /** A new name, 1 … 64 characters. */
  name?: string;
  /** A PNG, JPEG or WebP picture of at most 8 KiB, or null to remove it. */
  picture?: Uint8Array | null;
  /** Members to promote to admin (they get the group seed; this cannot be undone). */
  admins?: string[];
}

/** Options of {@link GroupService}. */
export interface GroupServiceOptions {
  /** The unlocked client database. */
  db: Kysely<ClientDb>;
  /** The account's keys. */
  keys: AccountKeys;
  /** Current time, ms. */
  clock: () => number;
  /** The swarms (through onion paths). */
  swarm: SwarmClient;
  /** The live directory; without one nothing is sent or received. */
  nodes?: () => NodeRecord[];
  /** Deliver an event to the chat's subscribers. */
  emit: (event: ChatEvent) => void;
  /** Queue a 1:1 control item (the chat's sealer): invitations and promotions. */
  sendDirect: (to: string, content: MessageContent) => Promise<void>;
  /** A sent-at time that never repeats (the chat's sealer). */
  nextSentAt: () => number;
  /**
   * The attachment service (PROTOCOL §13): manifests of the owner's files
   * for a message, and a member's files recorded with theirs. Without it,
   * files are refused when sending and ignored when receiving.
   */
  attachments?: AttachmentService;
  /** Codes and counts only. */
  log?: Logger;
}

/** The owner's groups, while unlocked. */
export class GroupService {
  readonly #o: GroupServiceOptions;
  readonly #db: Kysely<ClientDb>;
  readonly #keys: AccountKeys;
  readonly #outbox: GroupOutbox;
  readonly #pollers = new Map<string, GroupPoller>();
  readonly #ctx: GroupReceiveContext;
  #running = false;
  #queue: Promise<unknown> = Promise.resolve();

  /** Create the service; {@link start} runs its loops (with a directory). */
  constructor(options: GroupServiceOptions) {
    this.#o = options;
    this.#db = options.db;
    this.#keys = options.keys;
    const log = options.log ?? silentLogger;
    this.#outbox = new GroupOutbox(options.db, options.swarm, {
      clock: options.clock,
      onStatus: (status) => options.emit({ type: "status", status }),
      onRevoked: (id) => void this.#markRemoved(id),
      log,
    });
    this.#ctx = {
      db: options.db,
      keys: options.keys,
      clock: options.clock,
      swarm: options.swarm,
      nodes: options.nodes ?? (() => []),
      log,
      onMessage: (message) => options.emit({ type: "message", message }),
      onState: (id) => void this.#emitGroup(id),
      onRemoved: (id) => this.#markRemoved(id),
      onLeave: (id, member, access) => this.#onLeave(id, member, access),
      onMaintain: (id) => this.#maintain(id),
      ...(options.attachments ? { attachments: options.attachments } : {}),
    };
  }

  /** Start the outbox and a poller per joined group (only with a directory). */
  async start(): Promise<void> {
    if (!this.#o.nodes) return;
    this.#running = true;
    this.#outbox.start();
    await this.resume();
  }

  /** Start polling every joined group not polled yet (after a restore, too). */
  async resume(): Promise<void> {
    if (!this.#running) return;
    const rows = await this.#db.selectFrom("groups").select("id").where("state", "=", "joined")
      .execute();
    for (const r of rows) this.#poll(r.id);
    this.#outbox.kick();
  }

  /** Stop every loop and wait for them. */
  async stop(): Promise<void> {
    this.#running = false;
    const pollers = [...this.#pollers.values()];
    this.#pollers.clear();
    await Promise.all([this.#outbox.stop(), ...pollers.map((p) => p.stop())]);
  }

  /**
   * Create a group with the owner as its admin and invite the members.
   * @param name 1 … 64 characters
   * @param members Account IDs (the owner excluded), at most 99
   * @throws {HearthError} `group_full` over 100 members with the owner; `bad_account_id`;
   *   `bad_request` for a bad name, the owner's own ID; `conflict` for a blocked member
   */
  create(name: string, members: string[]): Promise<GroupView> {
    return this.#serial(async () => {
      const checkedName = checkGroupName(name);
      if (!Array.isArray(members)) throw new HearthError("bad_request", "members must be a list");
      if (members.length + 1 > MAX_GROUP_MEMBERS) throw full();
      const ids = [...new Set(members.map((m) => this.#memberId(m)))];
      for (const id of ids) await this.#checkInvitable(id);
      const group = await generateSigningKeyPair();
      const id = formatGroupId(group.publicKey);
      const now = this.#o.clock();
      const own = await grantAccess(group);
      const grants = new Map<string, Awaited<ReturnType<typeof grantAccess>>>();
      for (const m of ids) grants.set(m, await grantAccess(group));
      const info: GroupInfo = {
        name: checkedName,
        members: [
          { accountId: this.#keys.accountId, access: own.publicKey, admin: true },
          ...ids.map((m) => ({ accountId: m, access: grants.get(m)!.publicKey, admin: false })),
        ],
        revoked: [],
      };
      const key = randomBytes(32);
      await inTx(this.#db, async (tx) => {
        await tx.insertInto("groups").values({
          id,
          state: "joined",
          name: checkedName,
          admin_seed: group.seed,
          access_seed: own.seed,
          access_token: own.token,
          invited_by: null,
          created_at: now,
        }).execute();
        await saveGroupKey(tx, id, { generation: 1, key, now });
        await ensureGroupConversation(tx, id);
        await this.#publish(tx, id, group, { info, generation: 1, key, now });
      });
      for (const m of ids) await this.#invite(m, id, checkedName, grants.get(m)!);
      this.#outbox.kick();
      this.#poll(id);
      return await this.#emitGroup(id);
    });
  }

  /** Every group the owner was invited to or is in, newest first. */
  async list(): Promise<GroupView[]> {
    const rows = await this.#db.selectFrom("groups").select(GROUP_COLUMNS)
      .orderBy("created_at", "desc").orderBy("id").execute();
    const out: GroupView[] = [];
    for (const r of rows) out.push(await groupView(this.#db, r, this.#keys.accountId));
    return out;
  }

  /**
   * One group.
   * @throws {HearthError} `bad_request` for a malformed Group ID; `not_found`
   */
  async get(groupId: string): Promise<GroupView> {
    return await groupView(this.#db, await this.#row(groupId), this.#keys.accountId);
  }

  /**
   * The group's picture, or null.
   * @throws {HearthError} `bad_request`; `not_found`
   */
  async picture(groupId: string): Promise<GroupPicture | null> {
    const row = await this.#row(groupId);
    return row.picture && row.picture_type
      ? { type: row.picture_type, bytes: new Uint8Array(row.picture) }
      : null;
  }

  /**
   * Join a group the owner was invited to: it fetches the group's state and keys and polls.
   * @throws {HearthError} `not_found`; `conflict` unless invited (joining twice is a no-op)
   */
  join(groupId: string): Promise<GroupView> {
    return this.#serial(async () => {
      const row = await this.#row(groupId);
      if (row.state === "joined") return await groupView(this.#db, row, this.#keys.accountId);
      if (row.state !== "invited") throw new HearthError("conflict", "Not invited to this group");
      await inTx(this.#db, async (tx) => {
        await tx.updateTable("groups").set({ state: "joined", poll_after: null })
          .where("id", "=", row.id).execute();
        await ensureGroupConversation(tx, row.id);
      });
      this.#poll(row.id);
      return await this.#emitGroup(row.id);
    });
  }

  /**
   * Decline an invitation (nothing is sent).
   * @throws {HearthError} `not_found`; `conflict` unless invited
   */
  decline(groupId: string): Promise<GroupView> {
    return this.#serial(async () => {
      const row = await this.#row(groupId);
      if (row.state !== "invited") throw new HearthError("conflict", "Not invited to this group");
      await this.#db.updateTable("groups").set({ state: "declined" }).where("id", "=", row.id)
        .execute();
      return await this.#emitGroup(row.id);
    });
  }

  /**
   * Leave a joined group: a `group-leave` goes to the group (an admin then
   * removes the owner and rekeys), polling stops. History stays.
   * @throws {HearthError} `not_found`; `conflict` unless joined
   */
  async leave(groupId: string): Promise<GroupView> {
    const view = await this.#serial(async () => {
      const row = await this.#row(groupId);
      if (row.state !== "joined") throw new HearthError("conflict", "Not in this group");
      const local = parseLocalState(row.state_json);
      const access = await signingKeyPairFromSeed(new Uint8Array(row.access_seed));
      await inTx(this.#db, async (tx) => {
        if (local.generation > 0) {
          await this.#queueMessage(tx, row, {
            type: "group-leave",
            id: newMessageId(),
            access: toBase64(access.publicKey),
          });
        }
        await tx.updateTable("groups").set({ state: "left" }).where("id", "=", row.id).execute();
      });
      this.#outbox.kick();
      return await this.#emitGroup(row.id);
    });
    // Outside the serial queue: the poller may be waiting in it (a member's leave, the
    // admin's upkeep), and waiting for the poller from inside it would never end.
    await this.#stopPoll(view.id);
    return view;
  }

  /**
   * Add a member (admins only): it gets an invitation; the key stays (it can
   * read the current generation's messages still in the swarm).
   * @throws {HearthError} `not_found`; `conflict` when not an admin, or blocked, or already
   *   in; `group_full` at 100 members; `bad_account_id`; `bad_request` for the owner's own ID
   */
  addMember(groupId: string, accountId: string): Promise<GroupView> {
    return this.#serial(async () => {
      const { row, group, local } = await this.#adminOf(groupId);
      const member = this.#memberId(accountId);
      if (local.members.some((m) => m.accountId === member)) {
        throw new HearthError("conflict", "Already a member");
      }
      if (local.members.length >= MAX_GROUP_MEMBERS) throw full();
      await this.#checkInvitable(member);
      const grant = await grantAccess(group);
      const info = this.#info(row, local, {
        members: [...local.members, { accountId: member, access: grant.publicKey, admin: false }],
      });
      await this.#republish(row, group, local, info, { rekey: false });
      await this.#invite(member, row.id, row.name, grant);
      return await this.#emitGroup(row.id);
    });
  }

  /**
   * Remove a member (admins only): a new group key that the removed member
   * does not get, its access revoked at the relays, a `group-update`. An
   * admin cannot be removed: it holds the group seed, so it could sign
   * itself back in (it can leave).
   * @throws {HearthError} `not_found` (also when not a member); `conflict` when not an
   *   admin, or for an admin; `bad_account_id`; `bad_request` for the owner's own ID
   *   (leave instead)
   */
  removeMember(groupId: string, accountId: string): Promise<GroupView> {
    return this.#serial(() => this.#remove(groupId, accountId, { refuseAdmin: true }));
  }

  /**
   * Change the group's name, picture or admins (admins only). A promotion
   * sends the member the group seed (a `group-invite` with `admin`).
   * @throws {HearthError} `not_found`; `conflict` when not an admin; `bad_request` for a
   *   bad name, picture or admin list (not members); `too_large` for a picture over 8 KiB
   */
  update(groupId: string, patch: GroupUpdate): Promise<GroupView> {
    return this.#serial(async () => {
      const { row, group, local } = await this.#adminOf(groupId);
      const name = patch.name === undefined ? undefined : checkGroupName(patch.name);
      const picture = patch.picture === undefined
        ? undefined
        : patch.picture === null
        ? null
        : checkGroupPicture(patch.picture);
      const promote: string[] = [];
      const grants = new Map<string, Awaited<ReturnType<typeof grantAccess>>>();
      if (patch.admins !== undefined) {
        if (!Array.isArray(patch.admins) || patch.admins.length > MAX_GROUP_MEMBERS) {
          throw new HearthError("bad_request", "admins must be a list of members");
        }
        for (const raw of patch.admins) {
          const id = normalizeAccountId(raw);
          const m = local.members.find((x) => x.accountId === id);
          if (!m) throw new HearthError("bad_request", "Only members can be admins");
          if (!m.admin && !promote.includes(id)) {
            promote.push(id);
            grants.set(id, await grantAccess(group));
          }
        }
      }
      // A promotion carries a fresh access grant with the seed (the admin does not know the
      // member's old access seed); the state names the new access key.
      const members = local.members.map((m) =>
        grants.has(m.accountId)
          ? { ...m, admin: true, access: grants.get(m.accountId)!.publicKey }
          : m
      );
      const info = this.#info(row, local, {
        members,
        ...(name !== undefined ? { name } : {}),
        ...(picture !== undefined ? { picture } : {}),
      });
      await this.#republish(row, group, local, info, { rekey: false });
      for (const id of promote) {
        await this.#invite(id, row.id, info.name, grants.get(id)!, group.seed);
      }
      return await this.#emitGroup(row.id);
    });
  }

  /**
   * Send a message to a joined group: sealed under the current group key,
   * stored through the group outbox (`queued`, then `sent`).
   * @throws {HearthError} `not_found`; `conflict` when not joined or the group has no key
   *   yet (its state was not fetched); `bad_request` for an empty text or a bad `replyTo`;
   *   `too_large`
   */
  async send(groupId: string, input: GroupSendInput): Promise<MessageView> {
    const first = await this.#row(groupId);
    if (first.state !== "joined") throw new HearthError("conflict", "Not in this group");
    const files = input.attachments ?? [];
    if (!Array.isArray(files)) throw new HearthError("bad_request", "attachments must be a list");
    if (files.length > 10) throw new HearthError("too_large", "At most 10 files per message");
    const text = files.length > 0 && (input.text === undefined || input.text === "")
      ? ""
      : checkText(input.text as string);
    const svc = this.#o.attachments;
    let refs: Awaited<ReturnType<AttachmentService["refsFor"]>> | undefined;
    if (files.length > 0) {
      if (!svc) throw new HearthError("conflict", "Files are not available");
      if (
        input.voice &&
        (files.length !== 1 || !(await svc.view(files[0]!)).type.startsWith("audio/"))
      ) {
        throw new HearthError("bad_request", "A voice message is one audio file");
      }
      await svc.checkLocal(files);
      // Uploads may take a while: not in the serial queue of state changes.
      refs = await svc.refsFor(files);
    }
    return await this.#serial(async () => {
      const row = await this.#row(groupId);
      if (row.state !== "joined") throw new HearthError("conflict", "Not in this group");
      if (input.replyTo !== undefined) {
        if (!isMessageId(input.replyTo)) {
          throw new HearthError("bad_request", "Field replyTo must be a message id");
        }
        const target = await this.#db.selectFrom("messages").select("deleted")
          .where("id", "=", input.replyTo).where("conversation_id", "=", row.id)
          .executeTakeFirst();
        if (!target) throw new HearthError("not_found", "No such message to reply to");
        if (target.deleted) throw new HearthError("conflict", "Message was deleted");
      }
      const account = await this.#db.selectFrom("account").select("display_name")
        .where("id", "=", 1).executeTakeFirst();
      const id = newMessageId();
      const content: MessageContent = fitThumbnails({
        type: "text",
        id,
        text,
        ...(input.replyTo !== undefined ? { replyTo: input.replyTo } : {}),
        ...(refs ? { attachments: refs } : {}),
        ...(refs && input.voice ? { voice: true as const } : {}),
        ...(account?.display_name ? { profile: { displayName: account.display_name } } : {}),
      });
      const sentAt = await inTx(this.#db, async (tx) => {
        const at = await this.#queueMessage(tx, row, content);
        await tx.insertInto("messages").values({
          id,
          conversation_id: row.id,
          direction: "out",
          sender: this.#keys.accountId,
          sent_at: at,
          received_at: null,
          body_json: JSON.stringify({ text }),
          status: "queued",
          reply_to: input.replyTo ?? null,
          edited_at: null,
          expires_at: null,
        }).execute();
        if (svc && files.length > 0) {
          await svc.attachTo(tx, id, files);
          if (input.voice) {
            await tx.updateTable("attachments").set({ voice: 1 }).where("id", "=", files[0]!)
              .execute();
          }
        }
        await ensureGroupConversation(tx, row.id);
        await touchConversation(tx, row.id, at, 0);
        return at;
      });
      void sentAt;
      this.#outbox.kick();
      const view = (await messageById(this.#db, id))!;
      this.#o.emit({ type: "message", message: view });
      return view;
    });
  }

  /**
   * Take an invitation or a promotion (the inbox receiver's sink, in the
   * item's transaction). One whose token the group key did not sign, or
   * whose admin seed is not the group's, is ignored. A new group is
   * `invited`; a group the owner declined or left is invited again; a
   * promotion stores the admin seed.
   * @returns what to do once committed (a `group` event)
   */
  async acceptInvite(
    tx: Kysely<ClientDb>,
    incoming: IncomingGroupInvite,
  ): Promise<(() => void) | undefined> {
    const inv = incoming.invite;
    let groupPublicKey: Uint8Array;
    let id: string;
    try {
      id = normalizeGroupId(inv.group);
      groupPublicKey = parseGroupId(id);
    } catch {
      return undefined;
    }
    let adminSeed: Uint8Array | undefined;
    if (inv.admin !== undefined) {
      const pair = await signingKeyPairFromSeed(fromBase64(inv.admin));
      if (bytesEqual(pair.publicKey, groupPublicKey)) adminSeed = pair.seed;
    }
    const accessSeed = fromBase64(inv.access);
    const token = fromBase64(inv.token);
    const access = await signingKeyPairFromSeed(accessSeed);
    if (!(await verifyAccess(groupPublicKey, access.publicKey, token))) return undefined;
    const row = await groupRow(tx, id);
    if (adminSeed && row && row.state === "joined") {
      await tx.updateTable("groups").set({
        admin_seed: adminSeed,
        access_seed: accessSeed,
        access_token: token,
      }).where("id", "=", id).execute();
      return () => void this.#emitGroup(id);
    }
    let name: string;
    try {
      name = checkGroupName(inv.name);
    } catch {
      name = "Group";
    }
    if (!row) {
      await tx.insertInto("groups").values({
        id,
        state: "invited",
        name,
        admin_seed: adminSeed ?? null,
        access_seed: accessSeed,
        access_token: token,
        invited_by: incoming.sender,
        created_at: incoming.now,
      }).execute();
    } else if (row.state === "joined" || row.state === "invited") {
      if (row.state === "invited") {
        // A promotion before the owner joined keeps the seed too (the state names it admin).
        await tx.updateTable("groups").set({
          access_seed: accessSeed,
          access_token: token,
          ...(adminSeed ? { admin_seed: adminSeed } : {}),
        }).where("id", "=", id).execute();
        if (adminSeed) return () => void this.#emitGroup(id);
      }
      return undefined;
    } else {
      await tx.updateTable("groups").set({
        state: "invited",
        access_seed: accessSeed,
        access_token: token,
        ...(adminSeed ? { admin_seed: adminSeed } : {}),
        invited_by: incoming.sender,
        poll_after: null,
        state_seq: 0,
        state_json: localStateJson(emptyLocalState()),
      }).where("id", "=", id).execute();
    }
    return () => void this.#emitGroup(id);
  }

  /**
   * Apply retrieved state records to a group, as the poller does (for
   * tests and tools that fetch items themselves).
   * @returns `changed`, `same` or `removed` (the owner is then marked removed)
   */
  async receiveState(groupId: string, items: readonly RetrievedItem[]): Promise<string> {
    const id = normalizeGroupId(groupId);
    const result = await applyStateItems(this.#ctx, id, items);
    if (result === "removed") await this.#markRemoved(id);
    return result;
  }

  /**
   * Handle retrieved group message items, as the poller does (for tests).
   * @throws {HearthError} `not_found` for an unknown group
   */
  async receiveMessages(
    groupId: string,
    items: readonly RetrievedItem[],
  ): Promise<{ handled: number; removed: boolean }> {
    const row = await this.#row(groupId);
    return await new GroupPoller(this.#ctx, row.id).handle(items);
  }

  // --- internals ---

  #memberId(raw: string): string {
    const id = normalizeAccountId(raw);
    if (id === this.#keys.accountId) {
      throw new HearthError("bad_request", "The owner is in the group already");
    }
    return id;
  }

  async #checkInvitable(id: string): Promise<void> {
    if ((await contactState(this.#db, id)) === "blocked") {
      throw new HearthError("conflict", "Unblock this contact first");
    }
  }

  async #row(groupId: string): Promise<GroupRow> {
    const row = await groupRow(this.#db, normalizeGroupId(groupId));
    if (!row) throw new HearthError("not_found", "No such group");
    return row;
  }

  async #adminOf(groupId: string) {
    const row = await this.#row(groupId);
    if (row.state !== "joined") throw new HearthError("conflict", "Not in this group");
    if (!row.admin_seed) throw new HearthError("conflict", "Only an admin can change the group");
    const group = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed));
    const local = parseLocalState(row.state_json);
    if (local.generation === 0) {
      throw new HearthError("conflict", "The group's state has not arrived yet; try again shortly");
    }
    return { row, group, local };
  }

  #info(
    row: GroupRow,
    local: LocalGroupState,
    change: Omit<Partial<GroupInfo>, "picture"> & { picture?: GroupPicture | null },
  ): GroupInfo {
    const picture = change.picture === undefined
      ? row.picture && row.picture_type
        ? { type: row.picture_type, bytes: new Uint8Array(row.picture) }
        : undefined
      : change.picture ?? undefined;
    return {
      name: change.name ?? row.name,
      members: change.members ?? local.members,
      revoked: change.revoked ?? local.revoked,
      ...(picture ? { picture } : {}),
    };
  }

  /**
   * Seal and queue a state record (and, with revocations, the ns 14 item),
   * apply it locally: in the caller's transaction.
   */
  async #publish(
    tx: Kysely<ClientDb>,
    id: string,
    group: SigningKeyPair,
    s: { info: GroupInfo; generation: number; key: Uint8Array; now: number; before?: GroupRow },
  ): Promise<void> {
    const seq = Math.max((s.before?.state_seq ?? 0) + 1, s.now);
    const record = await sealState(group, {
      seq,
      generation: s.generation,
      info: s.info,
      key: s.key,
    });
    const before = s.before ? parseLocalState(s.before.state_json) : emptyLocalState();
    const local: LocalGroupState = {
      generation: s.generation,
      members: s.info.members,
      revoked: s.info.revoked,
      names: before.names,
      storedAt: s.now,
    };
    await tx.updateTable("groups").set({
      name: s.info.name,
      picture: s.info.picture?.bytes ?? null,
      picture_type: s.info.picture?.type ?? null,
      state_seq: seq,
      state_json: localStateJson(local),
    }).where("id", "=", id).execute();
    await queueGroupItem(tx, {
      id: newMessageId(),
      groupId: id,
      kind: "state",
      data: record,
      ttlMs: MAX_OWNER_TTL_MS,
      now: s.now,
    });
    if (s.info.revoked.length > 0) {
      await queueGroupItem(tx, {
        id: newMessageId(),
        groupId: id,
        kind: "revoke",
        data: concatBytes(...s.info.revoked),
        ttlMs: MAX_OWNER_TTL_MS,
        now: s.now,
      });
    }
  }

  /** Publish a changed state (optionally under a new key) and tell the members. */
  async #republish(
    row: GroupRow,
    group: SigningKeyPair,
    local: LocalGroupState,
    info: GroupInfo,
    options: { rekey: boolean },
  ): Promise<void> {
    const now = this.#o.clock();
    await inTx(this.#db, async (tx) => {
      let generation = local.generation;
      let key = await groupKey(tx, row.id, generation);
      if (options.rekey || !key) {
        generation += 1;
        key = randomBytes(32);
        await saveGroupKey(tx, row.id, { generation, key, now });
      }
      await this.#publish(tx, row.id, group, { info, generation, key, now, before: row });
      const fresh = (await groupRow(tx, row.id))!;
      await this.#queueMessage(tx, fresh, { type: "group-update", id: newMessageId() });
    });
    this.#outbox.kick();
  }

  /** Seal a group message under the current key and queue it; returns its sent-at time. */
  async #queueMessage(
    tx: Kysely<ClientDb>,
    row: GroupRow,
    content: MessageContent,
  ): Promise<number> {
    const local = parseLocalState(row.state_json);
    const key = local.generation > 0 ? await groupKey(tx, row.id, local.generation) : undefined;
    if (!key) {
      throw new HearthError("conflict", "The group's keys have not arrived yet; try again shortly");
    }
    const sentAt = this.#o.nextSentAt();
    const data = await sealGroupMessage(this.#keys.signing, {
      swarmKey: groupSwarmKey(parseGroupId(row.id)),
      generation: local.generation,
      key,
      sentAt,
      content: encodeContent(content),
    });
    await queueGroupItem(tx, {
      id: content.id,
      groupId: row.id,
      kind: "message",
      data,
      ttlMs: MAX_INBOX_TTL_MS,
      ...(content.type === "text" ? { messageId: content.id } : {}),
      now: this.#o.clock(),
    });
    return sentAt;
  }

  async #remove(
    groupId: string,
    accountId: string,
    options: { refuseAdmin: boolean },
  ): Promise<GroupView> {
    const { row, group, local } = await this.#adminOf(groupId);
    const member = this.#memberId(accountId);
    const gone = local.members.find((m) => m.accountId === member);
    if (!gone) throw new HearthError("not_found", "Not a member of this group");
    if (gone.admin && options.refuseAdmin) {
      throw new HearthError("conflict", "Admins cannot be removed: they hold the group key");
    }
    const members = local.members.filter((m) => m.accountId !== member);
    const revoked = [...local.revoked, gone.access].slice(-MAX_REVOKED);
    const info = this.#info(row, local, { members, revoked });
    await this.#republish(row, group, local, info, { rekey: true });
    return await this.#emitGroup(row.id);
  }

  async #invite(
    to: string,
    groupId: string,
    name: string,
    grant: { seed: Uint8Array; token: Uint8Array },
    adminSeed?: Uint8Array,
  ): Promise<void> {
    await this.#o.sendDirect(to, {
      type: "group-invite",
      id: newMessageId(),
      group: groupId,
      name,
      access: toBase64(grant.seed),
      token: toBase64(grant.token),
      ...(adminSeed ? { admin: toBase64(adminSeed) } : {}),
    });
  }

  /**
   * A member left: the admin listed first among the remaining admins removes it (so that
   * two admins do not rekey at once). Only a leave naming the member's current access key
   * counts: an old one replayed (by a relay, or read again after a restore) after the
   * member was added back names an access key the state no longer has.
   */
  async #onLeave(groupId: string, member: string, access: Uint8Array): Promise<void> {
    await this.#serial(async () => {
      const row = await groupRow(this.#db, groupId);
      if (!row?.admin_seed || row.state !== "joined") return;
      const local = parseLocalState(row.state_json);
      const first = local.members.find((m) => m.admin && m.accountId !== member);
      if (first?.accountId !== this.#keys.accountId) return;
      const leaver = local.members.find((m) => m.accountId === member);
      if (!leaver || !bytesEqual(leaver.access, access)) return;
      // An admin that leaves is taken off the list too (it chose to go).
      await this.#remove(groupId, member, { refuseAdmin: false });
    }).catch(() => {});
  }

  /** An admin re-stores an ageing state record (and its revocations) before its TTL ends. */
  async #maintain(groupId: string): Promise<void> {
    await this.#serial(async () => {
      const row = await groupRow(this.#db, groupId);
      if (!row?.admin_seed || row.state !== "joined") return;
      const local = parseLocalState(row.state_json);
      if (local.generation === 0 || this.#o.clock() - local.storedAt < STATE_RESTORE_MS) return;
      const group = await signingKeyPairFromSeed(new Uint8Array(row.admin_seed));
      const key = await groupKey(this.#db, groupId, local.generation);
      if (!key) return;
      const now = this.#o.clock();
      await inTx(this.#db, (tx) =>
        this.#publish(tx, groupId, group, {
          info: this.#info(row, local, {}),
          generation: local.generation,
          key,
          now,
          before: row,
        }));
      this.#outbox.kick();
    }).catch(() => {});
  }

  async #markRemoved(groupId: string): Promise<void> {
    const res = await this.#db.updateTable("groups").set({ state: "removed" })
      .where("id", "=", groupId).where("state", "=", "joined").executeTakeFirst();
    const poller = this.#pollers.get(groupId);
    this.#pollers.delete(groupId);
    void poller?.stop();
    if (Number(res.numUpdatedRows) > 0) await this.#emitGroup(groupId);
  }

  #poll(groupId: string): void {
    if (!this.#running) return;
    const existing = this.#pollers.get(groupId);
    if (existing && !existing.stopped) return;
    const poller = new GroupPoller(this.#ctx, groupId);
    this.#pollers.set(groupId, poller);
    poller.start();
  }

  async #stopPoll(groupId: string): Promise<void> {
    const poller = this.#pollers.get(groupId);
    this.#pollers.delete(groupId);
    await poller?.stop();
  }

  async #emitGroup(groupId: string): Promise<GroupView> {
    const row = await groupRow(this.#db, groupId);
    const view = await groupView(this.#db, row!, this.#keys.accountId);
    this.#o.emit({ type: "group", group: view });
    return view;
  }

  /** Run owner changes one at a time (state records must not race each other). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function full(): HearthError {
  return new HearthError(
    "group_full",
    `A group has at most ${MAX_GROUP_MEMBERS} members, the creator included`,
  );
}

export type { StateMember };
