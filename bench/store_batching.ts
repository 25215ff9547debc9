/**
 * The effect of the message store's write queue: N puts issued at once
 * (committed together in a few fsync'd transactions) against N puts each
 * awaited before the next (one transaction and one fsync each), on a real
 * libsql file.
 * @module
 */
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
  /** sequential.totalMs / concurrent.totalMs. */
  speedup: number;
}

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

function timing(count: number, roundsMs: number[]): PutTiming {
  const totalMs = median(roundsMs);
  return {
    totalMs: round(totalMs),
    itemsPerSec: round(count / (totalMs / 1000)),
    roundsMs: roundsMs.map((ms) => round(ms)),
  };
}

/**
 * Put `items` items both ways, each way and round into a fresh database file.
 * @param options.items how many items (default 1,000)
 * @param options.itemBytes data size of each (default 1,024)
 * @param options.rounds how many times to run each way (default 3)
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
    for (let r = 0; r < (options.rounds ?? 3); r++) {
      await Deno.mkdir(`${dir}/concurrent-${r}`);
      await Deno.mkdir(`${dir}/sequential-${r}`);
      concurrentMs.push(
        await timePuts(
          `${dir}/concurrent-${r}`,
          makeItems(count, itemBytes),
          async (store, items) => {
            await Promise.all(items.map((item) => store.put([item])));
          },
        ),
      );
      sequentialMs.push(
        await timePuts(
          `${dir}/sequential-${r}`,
          makeItems(count, itemBytes),
          async (store, items) => {
            for (const item of items) await store.put([item]);
          },
        ),
      );
    }
    const concurrent = timing(count, concurrentMs);
    const sequential = timing(count, sequentialMs);
    return {
      items: count,
      itemBytes,
      concurrent,
      sequential,
      speedup: round(sequential.totalMs / concurrent.totalMs),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
