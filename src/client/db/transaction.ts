/**
 * One transaction for work that may already be inside one.
 * @module
 */
import type { Kysely } from "kysely";

/**
 * Run `fn` in a transaction: the caller's when `db` already is one (so a
 * caller can join a change to its own writes, e.g. a session's new ratchet
 * state), else a new one.
 * @param db a database, or a transaction of it
 * @param fn the work, given the transaction
 * @returns what `fn` returns, once committed (or at once inside the caller's transaction)
 * @throws what `fn` throws; a transaction of its own is rolled back then
 */
export async function inTx<DB, T>(db: Kysely<DB>, fn: (tx: Kysely<DB>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return await fn(db);
  return await db.transaction().execute(fn);
}
