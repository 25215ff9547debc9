/**
 * A migrated client database in a temporary folder, for the messages
 * tests that need no vault (no passphrase, no encryption). Not used outside
 * tests.
 * @module
 */
import type { Kysely } from "kysely";
import { openDatabase } from "../../shared/db/open.ts";
import { type ClientDb, clientMigrations } from "../db/schema.ts";

/**
 * Run `fn` over a fresh client database; close it and remove its folder
 * after, whether `fn` threw or not.
 * @param fn the test body
 * @returns when the database is closed and removed
 */
export async function withClientDb(fn: (db: Kysely<ClientDb>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hearth-client-db-" });
  const opened = await openDatabase<ClientDb>(`${dir}/client.db`, clientMigrations);
  try {
    await fn(opened.db);
  } finally {
    await opened.close();
    await Deno.remove(dir, { recursive: true });
  }
}
