/**
 * Open a libsql database file through kysely: WAL journal, fsync'd commits
 * (synchronous=FULL, so an acknowledged write survives kill -9 and power
 * loss), a busy timeout, and numbered migrations run at start.
 * @module
 */
import { createClient } from "@libsql/client";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import { Kysely, sql } from "kysely";

/** How long a connection waits for another's write lock, ms. */
const BUSY_TIMEOUT_MS = 5_000;

/** One schema step. Steps run once each, in order, inside a transaction. */
export interface Migration {
  version: number;
  up(db: Kysely<unknown>): Promise<void>;
}

/** An open database and how to close it. */
export interface OpenDatabase<T> {
  db: Kysely<T>;
  close(): Promise<void>;
}

/**
 * Open (or create) the database at `path` and bring it to the newest schema.
 * @param path a file path, or ":memory:" for tests
 * @param migrations the schema steps, ascending by version
 * @param options.encryptionKey encrypt the file at rest with this key (libsql); opening an
 *   existing file with another key fails with an error whose message contains "SQLITE_NOTADB"
 * @throws the driver's error when the file cannot be opened; the connection is closed then
 */
export async function openDatabase<T>(
  path: string,
  migrations: readonly Migration[],
  options: { encryptionKey?: string } = {},
): Promise<OpenDatabase<T>> {
  const url = path === ":memory:" ? ":memory:" : `file:${path}`;
  // The client keeps a pool of connections and a PRAGMA reaches only the one
  // that runs it. kysely's driver sends one query at a time, so one connection
  // is used in practice; the busy timeout is set for all of them anyway.
  const client = createClient(
    options.encryptionKey === undefined
      ? { url, timeout: BUSY_TIMEOUT_MS }
      : { url, timeout: BUSY_TIMEOUT_MS, encryptionKey: options.encryptionKey },
  );
  // @libsql/kysely-libsql types an older @libsql/client; the runtime API it uses is the same.
  type DialectClient = Extract<ConstructorParameters<typeof LibsqlDialect>[0], { client: unknown }>[
    "client"
  ];
  const db = new Kysely<T>({
    dialect: new LibsqlDialect({ client: client as unknown as DialectClient }),
  });
  try {
    await prepare(db as unknown as Kysely<unknown>, migrations);
  } catch (err) {
    await db.destroy().catch(() => {});
    client.close();
    throw err;
  }
  let closed = false;
  return {
    db,
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
      client.close();
    },
  };
}

/** Set the pragmas and run the migrations that have not run yet. */
async function prepare(raw: Kysely<unknown>, migrations: readonly Migration[]): Promise<void> {
  await sql`PRAGMA journal_mode = WAL`.execute(raw);
  await sql`PRAGMA synchronous = FULL`.execute(raw);
  await sql`PRAGMA busy_timeout = 5000`.execute(raw);
  await sql`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`.execute(raw);
  const row = await sql<{ v: number | null }>`SELECT MAX(version) AS v FROM schema_version`.execute(
    raw,
  );
  const current = Number(row.rows[0]?.v ?? 0);
  for (const m of migrations) {
    if (m.version <= current) continue;
    await raw.transaction().execute(async (tx) => {
      await m.up(tx);
      await sql`INSERT INTO schema_version (version) VALUES (${m.version})`.execute(tx);
    });
  }
}
