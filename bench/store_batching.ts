/**
 * The effect of the message store's write queue: N puts issued at once
 * (committed together in a few fsync'd transactions) against N puts each
 * awaited before the next (one transaction and one fsync each), on a real
 * libsql file. Next to them, in each round, the floor: the same rows
 * inserted by `@libsql/client` directly, in one fsync'd transaction of
 * multi-row INSERTs (80 rows each, as the store chunks them), with none of
 * the store's checks (expired copies, tombstones, RETURNING) and no kysely.
 * @module
 */
import { createClient } from "@libsql/client";
import { openDatabase } from "../src/shared/db/open.ts";
import { randomBytes } from "../src/shared/crypto/bytes.ts";
import { itemHash, type StoredItem } from "../src/relay/store/item.ts";
import { MessageStore } from "../src/relay/store/message_store.ts";
import { type RelayDb, relayMigrations } from "../src/relay/store/schema.ts";
import { median, round } from "./stats.ts";

/** One way of writing the items: the median of the rounds. */
export interface PutTiming {
  /** Total wall time, ms (median of the rounds). */
  totalMs: number;
  /** Items per second (from the median). */
  itemsPerSec: number;
  /** The total of every round, ms. */
  roundsMs: number[];
}

/** Result of {@link measureStoreBatching}. */
export interface StoreBatchingResult {
  /** Items put each way. */
  items: number;
  /** Data bytes of each item. */
  itemBytes: number;
  /** All puts issued at once. */
  concurrent: PutTiming;
  /** Each put awaited before the next. */
  sequential: PutTiming;
  /** The same rows inserted raw, in one transaction (the floor). */
  raw: PutTiming;
  /** sequential.totalMs / concurrent.totalMs. */
  speedup: number;
}

/** Rows per INSERT statement of the raw insert (the store's chunk of new items). */
const RAW_ROWS_PER_INSERT = 80;

function makeItems(count: number, itemBytes: number): StoredItem[] {
  const expiry = Date.now() + 3_600_000;
  return Array.from({ length: count }, () => {
    const key = randomBytes(32);
    const data = randomBytes(itemBytes);
    return { key, ns: 0, data, expiry, hash: itemHash(key, 0, data) };
  });
}

async function timePuts(
  dir: string,
  items: StoredItem[],
  write: (store: MessageStore, items: StoredItem[]) => Promise<void>,
): Promise<number> {
  const db = await openDatabase<RelayDb>(`${dir}/relay.db`, relayMigrations);
  try {
    const store = new MessageStore(db.db);
    const start = performance.now();
    await write(store, items);
    const totalMs = performance.now() - start;
    // Every item must be there, or the timing means nothing.
    for (const item of [items[0]!, items[items.length - 1]!]) {
      if (!(await store.has(item.hash))) throw new Error("An item put was not stored");
    }
    await store.close();
    return totalMs;
  } finally {
    await db.close();
  }
}

/** Insert `items` into a fresh relay database with `@libsql/client` alone, one transaction. */
async function timeRawInsert(dir: string, items: StoredItem[]): Promise<number> {
  const path = `${dir}/relay.db`;
  // The same schema and journal as the store's database.
  await (await openDatabase<RelayDb>(path, relayMigrations)).close();
  const client = createClient({ url: `file:${path}` });
  try {
    await client.execute("PRAGMA synchronous = FULL");
    const statements = [];
    for (let i = 0; i < items.length; i += RAW_ROWS_PER_INSERT) {
      const part = items.slice(i, i + RAW_ROWS_PER_INSERT);
      statements.push({
        sql: "INSERT INTO items (hash, key, ns, expiry, data) VALUES " +
          part.map(() => "(?, ?, ?, ?, ?)").join(", "),
        args: part.flatMap((item) => [item.hash, item.key, item.ns, item.expiry, item.data]),
      });
    }
    const start = performance.now();
    await client.batch(statements, "write");
    const totalMs = performance.now() - start;
    const count = await client.execute("SELECT COUNT(*) AS n FROM items");
    if (Number(count.rows[0]?.n) !== items.length) throw new Error("A raw insert was not stored");
    return totalMs;
  } finally {
    client.close();
  }
}

function timing(count: number, roundsMs: number[]): PutTiming {
  const totalMs = median(roundsMs);
  return {
    totalMs: round(totalMs),
    itemsPerSec: round(count / (totalMs / 1000)),
    roundsMs: roundsMs.map((ms) => round(ms)),
  };
}

/**
 * Put `items` items both ways and insert them raw, each way and round into
 * a fresh database file.
 * @param options.items how many items (default 1,000)
 * @param options.itemBytes data size of each (default 1,024)
 * @param options.rounds how many times to run each way (default 5)
 * @param options.tmpDir where to make the temporary folders
 */
export async function measureStoreBatching(
  options: { items?: number; itemBytes?: number; rounds?: number; tmpDir?: string } = {},
): Promise<StoreBatchingResult> {
  const count = options.items ?? 1_000;
  const itemBytes = options.itemBytes ?? 1_024;
  const dir = await Deno.makeTempDir({ prefix: "hearth-bench-store-", dir: options.tmpDir });
  try {
    const concurrentMs: number[] = [];
    const sequentialMs: number[] = [];
    const rawMs: number[] = [];
    // Round 0 warms up (the first libsql file opened, JIT): measured, not kept.
    for (let r = 0; r <= (options.rounds ?? 5); r++) {
      await Deno.mkdir(`${dir}/concurrent-${r}`);
      await Deno.mkdir(`${dir}/sequential-${r}`);
      await Deno.mkdir(`${dir}/raw-${r}`);
      const items = makeItems(count, itemBytes);
      const raw = await timeRawInsert(`${dir}/raw-${r}`, items);
      const concurrent = await timePuts(
        `${dir}/concurrent-${r}`,
        items,
        async (store, items) => {
          await Promise.all(items.map((item) => store.put([item])));
        },
      );
      const sequential = await timePuts(
        `${dir}/sequential-${r}`,
        makeItems(count, itemBytes),
        async (store, items) => {
          for (const item of items) await store.put([item]);
        },
      );
      if (r === 0) continue;
      rawMs.push(raw);
      concurrentMs.push(concurrent);
      sequentialMs.push(sequential);
    }
    const concurrent = timing(count, concurrentMs);
    const sequential = timing(count, sequentialMs);
    return {
      items: count,
      itemBytes,
      concurrent,
      sequential,
      raw: timing(count, rawMs),
      speedup: round(sequential.totalMs / concurrent.totalMs),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
