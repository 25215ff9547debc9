/**
 * The client database's side of groups: the group rows (where the owner
 * stands, its access, the newest verified state), the keys by generation,
 * and the views the owner API shows.
 * @module
 */
import type { Kysely } from "kysely";
import { fromHex, toHex } from "../../shared/crypto/mod.ts";
import type { ClientDb, GroupState as GroupRowState } from "../db/schema.ts";
import type { GroupInfo, StateMember } from "./group_state.ts";

type Db = Kysely<ClientDb>;

/** The newest verified state as a group row keeps it (`groups.state_json`). */
export interface LocalGroupState {
  /** The current key generation (0: no state yet). */
  generation: number;
  /** The members. */
  members: StateMember[];
  /** Revoked access keys. */
  revoked: Uint8Array[];
  /** Display names members sent along with their messages, by Account ID. */
  names: Record<string, string>;
  /** When an admin (the owner) last queued the state record, ms (0: never). */
  storedAt: number;
}

/** A group as the owner API shows it. */
export interface GroupView {
  /** The Group ID, `hearthg1…`. */
  id: string;
  /** The group's name. */
  name: string;
  /** `invited`, `joined`, `declined`, `left` or `removed`. */
  state: GroupRowState;
  /** Whether the owner is an admin (holds the group seed). */
  admin: boolean;
  /**
   * The members, as the newest verified state names them (empty before the
   * owner joined): the name a member sent (`displayName`, when known) and
   * the owner's nickname for it (`nickname`, when set).
   */
  members: { accountId: string; admin: boolean; displayName?: string; nickname?: string }[];
  /** How many members. */
  memberCount: number;
  /** Whether the group has a picture (served at `GET /api/groups/{id}/picture`). */
  hasPicture: boolean;
  /** When the owner created it or was invited, ms. */
  createdAt: number;
  /** Who invited the owner (Account ID), or null for the creator. */
  invitedBy: string | null;
}

/** The row columns every group operation reads. */
export const GROUP_COLUMNS = [
  "id",
  "state",
  "name",
  "picture",
  "picture_type",
  "admin_seed",
  "access_seed",
  "access_token",
  "invited_by",
  "state_seq",
  "state_json",
  "poll_after",
  "created_at",
] as const;

/** A group row. */
export type GroupRow = {
  id: string;
  state: GroupRowState;
  name: string;
  picture: ArrayBuffer | null;
  picture_type: string | null;
  admin_seed: ArrayBuffer | null;
  access_seed: ArrayBuffer;
  access_token: ArrayBuffer;
  invited_by: string | null;
  state_seq: number;
  state_json: string;
  poll_after: string | null;
  created_at: number;
};

/** An empty local state (before the first verified state record). */
export function emptyLocalState(): LocalGroupState {
  return { generation: 0, members: [], revoked: [], names: {}, storedAt: 0 };
}

/** Encode the local state for `groups.state_json`. */
export function localStateJson(s: LocalGroupState): string {
  return JSON.stringify({
    generation: s.generation,
    members: s.members.map((m) => ({ id: m.accountId, access: toHex(m.access), admin: m.admin })),
    revoked: s.revoked.map((r) => toHex(r)),
    names: s.names,
    storedAt: s.storedAt,
  });
}

/** Decode `groups.state_json` (written by this node only; anything odd reads as empty). */
export function parseLocalState(json: string): LocalGroupState {
  try {
    const o = JSON.parse(json);
    if (!o || typeof o !== "object" || !Array.isArray(o.members)) return emptyLocalState();
    return {
      generation: Number(o.generation) || 0,
      members: o.members.map((m: { id: string; access: string; admin: boolean }) => ({
        accountId: m.id,
        access: fromHex(m.access, 32),
        admin: m.admin === true,
      })),
      revoked: Array.isArray(o.revoked) ? o.revoked.map((r: string) => fromHex(r, 32)) : [],
      names: o.names && typeof o.names === "object" ? o.names : {},
      storedAt: Number(o.storedAt) || 0,
    };
  } catch {
    return emptyLocalState();
  }
}

/** The local state of verified info (names and storedAt carried over). */
export function localFromInfo(
  info: GroupInfo,
  generation: number,
  before: LocalGroupState,
): LocalGroupState {
  const names: Record<string, string> = {};
  for (const m of info.members) {
    const name = before.names[m.accountId];
    if (name !== undefined) names[m.accountId] = name;
  }
  return {
    generation,
    members: info.members,
    revoked: info.revoked,
    names,
    storedAt: before.storedAt,
  };
}

/** One group row, or undefined. */
export async function groupRow(db: Db, id: string): Promise<GroupRow | undefined> {
  return await db.selectFrom("groups").select(GROUP_COLUMNS).where("id", "=", id)
    .executeTakeFirst();
}

/** Keep a group key (a newer key of the same generation replaces it). */
export async function saveGroupKey(
  db: Db,
  groupId: string,
  k: { generation: number; key: Uint8Array; now: number },
): Promise<void> {
  await db.insertInto("group_keys").values({
    group_id: groupId,
    generation: k.generation,
    key: k.key,
    created_at: k.now,
  }).onConflict((oc) => oc.columns(["group_id", "generation"]).doUpdateSet({ key: k.key }))
    .execute();
}

/** A group's key of a generation, or undefined. */
export async function groupKey(
  db: Db,
  groupId: string,
  generation: number,
): Promise<Uint8Array | undefined> {
  const row = await db.selectFrom("group_keys").select("key").where("group_id", "=", groupId)
    .where("generation", "=", generation).executeTakeFirst();
  return row ? new Uint8Array(row.key) : undefined;
}

/** A group row as the owner API shows it; member names come from contacts, then messages. */
export async function groupView(db: Db, row: GroupRow, ownId: string): Promise<GroupView> {
  const local = parseLocalState(row.state_json);
  const ids = local.members.map((m) => m.accountId);
  const contacts = ids.length === 0 ? [] : await db.selectFrom("contacts")
    .select(["account_id", "display_name", "nickname"]).where("account_id", "in", ids).execute();
  const own = await db.selectFrom("account").select("display_name").where("id", "=", 1)
    .executeTakeFirst();
  const known = new Map(contacts.map((c) => [c.account_id, c.display_name]));
  const nicknames = new Map(contacts.map((c) => [c.account_id, c.nickname]));
  if (own?.display_name) known.set(ownId, own.display_name);
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    admin: row.admin_seed !== null,
    members: local.members.map((m) => {
      const displayName = known.get(m.accountId) ?? local.names[m.accountId];
      const nickname = nicknames.get(m.accountId);
      return {
        accountId: m.accountId,
        admin: m.admin,
        ...(displayName ? { displayName } : {}),
        ...(nickname ? { nickname } : {}),
      };
    }),
    memberCount: local.members.length,
    hasPicture: row.picture !== null,
    createdAt: row.created_at,
    invitedBy: row.invited_by,
  };
}

/** Create the group's conversation row when missing (kind `group`). */
export async function ensureGroupConversation(db: Db, groupId: string): Promise<void> {
  await db.insertInto("conversations").values({
    id: groupId,
    kind: "group",
    last_message_at: null,
  }).onConflict((oc) => oc.column("id").doNothing()).execute();
}
