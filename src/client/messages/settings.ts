/**
 * The owner's messaging settings, kept in the client database's `settings`
 * table (key → JSON) and so carried by the account config (PROTOCOL §11).
 * Both are off until the owner turns them on, and both are reciprocal: with
 * read receipts off the owner neither sends them nor sees the peers'; with
 * typing indicators off the owner neither sends nor sees them.
 * @module
 */
import type { Kysely } from "kysely";
import type { ClientDb } from "../db/schema.ts";

/** The owner's messaging settings. */
export interface ChatSettings {
  /** Send read receipts, and show the peers' (default off). */
  readReceipts: boolean;
  /** Send typing indicators, and show the peers' (default off). */
  typingIndicators: boolean;
}

/** The `settings` table key of each setting. */
export const SETTING_KEYS: Readonly<Record<keyof ChatSettings, string>> = {
  readReceipts: "read_receipts",
  typingIndicators: "typing_indicators",
};

/** The settings of a new account. */
export const DEFAULT_SETTINGS: Readonly<ChatSettings> = {
  readReceipts: false,
  typingIndicators: false,
};

/** Read the settings; a missing or unreadable value is its default. */
export async function readSettings(db: Kysely<ClientDb>): Promise<ChatSettings> {
  const rows = await db.selectFrom("settings").select(["key", "value_json"])
    .where("key", "in", Object.values(SETTING_KEYS)).execute();
  const out: ChatSettings = { ...DEFAULT_SETTINGS };
  for (const name of Object.keys(SETTING_KEYS) as (keyof ChatSettings)[]) {
    const row = rows.find((r) => r.key === SETTING_KEYS[name]);
    if (!row) continue;
    try {
      const value = JSON.parse(row.value_json);
      if (typeof value === "boolean") out[name] = value;
    } catch { /* a value a restore brought that this version cannot read: default */ }
  }
  return out;
}

/**
 * Change some settings.
 * @returns every setting after the change
 */
export async function writeSettings(
  db: Kysely<ClientDb>,
  patch: Partial<ChatSettings>,
): Promise<ChatSettings> {
  await db.transaction().execute(async (tx) => {
    for (const name of Object.keys(SETTING_KEYS) as (keyof ChatSettings)[]) {
      const value = patch[name];
      if (value === undefined) continue;
      const value_json = JSON.stringify(value);
      await tx.insertInto("settings").values({ key: SETTING_KEYS[name], value_json })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value_json })).execute();
    }
  });
  return await readSettings(db);
}
