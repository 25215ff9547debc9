/**
 * The relay database (`relay.db`): its table types and migrations. It holds
 * only what DESIGN §5 allows: the swarm key, the ciphertext, the hash and
 * the expiry. No sender, no client address, no time of arrival (the local
 * arrival order is an autoincrement counter, not a time).
 *
 * `deleted` remembers the hashes of items deleted by their owner, or whose
 * expiry the owner shortened, until their old expiry, so that replication
 * and anti-entropy do not bring them back (PROTOCOL §5, §6).
 * @module
 */
import { type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "../../shared/db/open.ts";

/** A stored item. Blob columns are read back as ArrayBuffer by libsql. */
export interface ItemsTable {
  /** Local arrival order. */
  seq: Generated<number>;
  /** Item hash, 32 bytes, unique. */
  hash: Uint8Array;
  /** Swarm key, 32 bytes. */
  key: Uint8Array;
  /** Namespace. */
  ns: number;
  /** Expiry, ms since the epoch. */
  expiry: number;
  /** The item's data. */
  data: Uint8Array;
}

/** A tombstone: the hash of a deleted or shortened item, kept until its old expiry. */
export interface DeletedTable {
  /** Item hash, 32 bytes. */
  hash: Uint8Array;
  /** The deleted item's expiry, ms since the epoch. */
  expiry: number;
}

/** The relay database's tables. */
export interface RelayDb {
  /** Stored items. */
  items: ItemsTable;
  /** Tombstones of deleted items. */
  deleted: DeletedTable;
}

/** The relay database's schema steps, for `openDatabase(path, relayMigrations)`. */
export const relayMigrations: readonly Migration[] = [
  {
    version: 1,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hash BLOB NOT NULL UNIQUE,
        key BLOB NOT NULL,
        ns INTEGER NOT NULL,
        expiry INTEGER NOT NULL,
        data BLOB NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX items_key_ns_seq ON items (key, ns, seq)`.execute(db);
      await sql`CREATE INDEX items_expiry ON items (expiry)`.execute(db);
      await sql`CREATE TABLE deleted (
        hash BLOB PRIMARY KEY,
        expiry INTEGER NOT NULL
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX deleted_expiry ON deleted (expiry)`.execute(db);
    },
  },
];
