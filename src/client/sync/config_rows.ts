/**
 * The account config's side of the client database: gathering it from the
 * rows it mirrors (account, contacts, conversations, settings) and applying
 * a restored one to them.
 * @module
 */
import type { Kysely } from "kysely";
import { labeledHash, toHex } from "../../shared/crypto/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { type AccountConfig, serializeConfig } from "./config_codec.ts";

/** The settings key under which the publisher keeps its own state (never in the config). */
export const SYNC_STATE_KEY = "config_sync";

/** What the publisher remembers between runs. */
export interface SyncState {
  /** The version last published or restored. */
  version: number;
  /** Digest of the config rows then (see {@link configDigest}). */
  digest: string;
  /** When it was last stored in the swarm, ms (0: never). */
  publishedAt: number;
  /**
   * Set while a restore from the phrase has not fetched the config yet
   * (kept across lock and restart): nothing is published before it has.
   */
  restore?: { keepDisplayName: boolean };
}

/** Gather the config from the database (version and time are left 0). */
export async function readConfig(db: Kysely<ClientDb>): Promise<AccountConfig> {
  const account = await db.selectFrom("account")
    .select(["display_name", "avatar", "avatar_type"]).where("id", "=", 1).executeTakeFirst();
  const contacts = await db.selectFrom("contacts")
    .select(["account_id", "display_name", "nickname", "avatar", "avatar_type", "state"])
    .where("state", "in", ["contact", "blocked", "declined"]).orderBy("account_id").execute();
  const conversations = await db.selectFrom("conversations")
    .select(["id", "disappearing_mode", "disappearing_seconds", "muted"])
    .where("kind", "!=", "group").orderBy("id").execute();
  const groups = await db.selectFrom("groups")
    .select(["id", "state", "name", "access_seed", "access_token", "admin_seed"]).orderBy("id")
    .execute();
  const settings = await db.selectFrom("settings").select(["key", "value_json"])
    .where("key", "!=", SYNC_STATE_KEY).orderBy("key").execute();
  const profile: AccountConfig["profile"] = { displayName: account?.display_name ?? "" };
  if (account?.avatar && account.avatar_type) {
    profile.avatar = { type: account.avatar_type, bytes: new Uint8Array(account.avatar) };
  }
  return {
    version: 0,
    updatedAt: 0,
    profile,
    contacts: contacts.map((c) => ({
      accountId: c.account_id,
      displayName: c.display_name,
      state: c.state,
      ...(c.nickname ? { nickname: c.nickname } : {}),
      ...(c.avatar && c.avatar_type
        ? { avatar: { type: c.avatar_type, bytes: new Uint8Array(c.avatar) } }
        : {}),
    })),
    conversations: conversations.map((c) => ({
      id: c.id,
      disappearingMode: c.disappearing_mode,
      disappearingSeconds: c.disappearing_seconds,
      muted: c.muted === 1,
    })),
    settings: Object.fromEntries(settings.map((s) => [s.key, s.value_json])),
    ...(groups.length > 0
      ? {
        groups: groups.map((g) => ({
          id: g.id,
          state: g.state,
          name: g.name,
          access: new Uint8Array(g.access_seed),
          token: new Uint8Array(g.access_token),
          ...(g.admin_seed ? { admin: new Uint8Array(g.admin_seed) } : {}),
        })),
      }
      : {}),
  };
}

/** A digest of a config's content, ignoring its version and time. */
export function configDigest(config: AccountConfig): string {
  return toHex(labeledHash(
    "hearth/config-digest/v1",
    serializeConfig({ ...config, version: 0, updatedAt: 0 }),
  ));
}

/** The publisher's state, or a fresh one. */
export async function readSyncState(db: Kysely<ClientDb>): Promise<SyncState> {
  const row = await db.selectFrom("settings").select("value_json")
    .where("key", "=", SYNC_STATE_KEY).executeTakeFirst();
  try {
    const s = row ? JSON.parse(row.value_json) : null;
    if (s && Number.isSafeInteger(s.version) && typeof s.digest === "string") {
      const state: SyncState = {
        version: s.version,
        digest: s.digest,
        publishedAt: Number(s.publishedAt) || 0,
      };
      if (s.restore) state.restore = { keepDisplayName: s.restore.keepDisplayName === true };
      return state;
    }
  } catch {
    // A damaged state starts over: the next publication simply counts from 0.
  }
  return { version: 0, digest: "", publishedAt: 0 };
}

/** Save the publisher's state. */
export async function writeSyncState(db: Kysely<ClientDb>, state: SyncState): Promise<void> {
  await db.insertInto("settings").values({ key: SYNC_STATE_KEY, value_json: JSON.stringify(state) })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value_json: JSON.stringify(state) }))
    .execute();
}

/**
 * Apply a restored config: the profile (unless `keepDisplayName`), contacts
 * with their states and nicknames (overriding what arrived meanwhile), conversation
 * settings and owner settings, in one transaction.
 */
export async function applyConfig(
  db: Kysely<ClientDb>,
  config: AccountConfig,
  options: { now: number; keepDisplayName?: boolean },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const own = config.profile;
    await tx.updateTable("account").set({
      ...(options.keepDisplayName ? {} : { display_name: own.displayName }),
      avatar: own.avatar?.bytes ?? null,
      avatar_type: own.avatar?.type ?? null,
    }).where("id", "=", 1).execute();
    for (const c of config.contacts) {
      const row = {
        display_name: c.displayName,
        nickname: c.nickname ?? null,
        avatar: c.avatar?.bytes ?? null,
        avatar_type: c.avatar?.type ?? null,
        state: c.state,
      };
      await tx.insertInto("contacts").values({
        account_id: c.accountId,
        added_at: options.now,
        ...row,
      })
        .onConflict((oc) => oc.column("account_id").doUpdateSet(row)).execute();
    }
    for (const c of config.conversations) {
      const row = {
        disappearing_mode: c.disappearingMode,
        disappearing_seconds: c.disappearingSeconds,
        muted: c.muted ? 1 : 0,
      };
      await tx.insertInto("conversations").values({
        id: c.id,
        kind: c.id === "self" ? "self" : "1:1",
        last_message_at: null,
        ...row,
      }).onConflict((oc) => oc.column("id").doUpdateSet(row)).execute();
    }
    for (const g of config.groups ?? []) {
      // A group this node already has keeps its row (it may know a newer state); a
      // restored one starts with no state: joined groups fetch theirs from the swarm.
      await tx.insertInto("groups").values({
        id: g.id,
        state: g.state,
        name: g.name,
        access_seed: g.access,
        access_token: g.token,
        admin_seed: g.admin ?? null,
        invited_by: null,
        created_at: options.now,
      }).onConflict((oc) => oc.column("id").doNothing()).execute();
      if (g.state === "joined" || g.state === "left" || g.state === "removed") {
        await tx.insertInto("conversations").values({
          id: g.id,
          kind: "group",
          last_message_at: null,
        }).onConflict((oc) => oc.column("id").doNothing()).execute();
      }
    }
    for (const [key, value] of Object.entries(config.settings)) {
      if (key === SYNC_STATE_KEY) continue;
      await tx.insertInto("settings").values({ key, value_json: value })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value_json: value })).execute();
    }
  });
}

/**
 * Mark a restore from the phrase as pending: the next {@link SyncState}
 * reader (the publisher) fetches the config before publishing anything.
 */
export async function markRestorePending(
  db: Kysely<ClientDb>,
  keepDisplayName: boolean,
): Promise<void> {
  await writeSyncState(db, {
    version: 0,
    digest: "",
    publishedAt: 0,
    restore: { keepDisplayName },
  });
}
