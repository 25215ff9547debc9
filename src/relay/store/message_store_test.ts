import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { sha256 } from "../../shared/crypto/hash.ts";
import { openDatabase } from "../../shared/db/open.ts";
import { HearthError } from "../../shared/errors.ts";
import { itemHash, type StoredItem } from "./item.ts";
import { MessageStore } from "./message_store.ts";
import { type RelayDb, relayMigrations } from "./schema.ts";

const T0 = 1_764_000_000_000;

async function withStore(
  fn: (store: MessageStore, clock: { now: number }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = { now: T0 };
  const db = await openDatabase<RelayDb>(`${dir}/relay.db`, relayMigrations);
  const store = new MessageStore(db.db, { clock: () => clock.now });
  try {
    await fn(store, clock);
  } finally {
    await store.close();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function item(key: Uint8Array, ns: number, data: Uint8Array, expiry = T0 + 60_000): StoredItem {
  return { key, ns, data, expiry, hash: itemHash(key, ns, data) };
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

Deno.test("put is idempotent, also within one batch", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    const a = item(key, 0, text("a"));
    const [first] = await store.put([a]);
    assertEquals(first!.already, false);
    assertEquals(first!.expiry, a.expiry);
    const [again] = await store.put([{ ...a, expiry: a.expiry + 5 }]);
    assertEquals(again!.already, true);
    assertEquals(again!.expiry, a.expiry);
    const b = item(key, 0, text("b"));
    const both = await Promise.all([store.put([b]), store.put([b])]);
    assertEquals(both.map((r) => r[0]!.already).sort(), [false, true]);
    const got = await store.retrieve(key, 0);
    assertEquals(got.items.map((i) => i.data), [text("a"), text("b")]);
  });
});

Deno.test("retrieve pages by after, maxBytes and maxItems", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    const items = Array.from({ length: 10 }, (_, i) => item(key, 10, new Uint8Array(100).fill(i)));
    for (const it of items) await store.put([it]);
    await store.put([item(key, 11, text("other namespace")), item(randomBytes(32), 10, text("x"))]);
    const all = await store.retrieve(key, 10);
    assertEquals(all.items.map((i) => toHex(i.hash)), items.map((i) => toHex(i.hash)));
    assertEquals(all.more, false);
    const page = await store.retrieve(key, 10, { maxBytes: 350 });
    assertEquals(page.items.length, 3);
    assertEquals(page.more, true);
    const next = await store.retrieve(key, 10, { after: page.items[2]!.hash, maxItems: 4 });
    assertEquals(next.items.map((i) => i.data[0]), [3, 4, 5, 6]);
    assertEquals(next.more, true);
    const tail = await store.retrieve(key, 10, { after: items[9]!.hash });
    assertEquals(tail, { items: [], more: false });
    const unknown = await store.retrieve(key, 10, { after: randomBytes(32) });
    assertEquals(unknown.items.length, 10);
    const tooSmall = await store.retrieve(key, 10, { maxBytes: 50 });
    assertEquals(tooSmall, { items: [], more: true });
  });
});

Deno.test("expired items are never returned and are purged", async () => {
  await withStore(async (store, clock) => {
    const key = randomBytes(32);
    const short = item(key, 0, text("short"), T0 + 1_000);
    const long = item(key, 0, text("long"), T0 + 100_000);
    await store.put([short, long]);
    clock.now = T0 + 1_000;
    assertEquals((await store.retrieve(key, 0)).items.map((i) => i.data), [text("long")]);
    assertEquals(await store.has(short.hash), false);
    assertEquals((await store.usage(key, "inbox")).items, 1);
    // Stored again before the purge: it counts as new.
    const [again] = await store.put([{ ...short, expiry: T0 + 50_000 }]);
    assertEquals(again!.already, false);
    clock.now = T0 + 60_000;
    assertEquals(await store.purgeExpired(clock.now), 1);
    assertEquals((await store.retrieve(key, 0)).items.map((i) => i.data), [text("long")]);
    assertEquals(await store.purgeExpired(clock.now), 0);
  });
});

Deno.test("delete removes only the named items of (key, ns) and keeps them deleted", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    const a = item(key, 1, text("a"));
    const b = item(key, 1, text("b"));
    const otherNs = item(key, 2, text("a"));
    await store.put([a, b, otherNs]);
    assertEquals(await store.delete(key, 1, [a.hash, otherNs.hash, randomBytes(32)]), 1);
    assertEquals((await store.retrieve(key, 1)).items.map((i) => i.data), [text("b")]);
    assertEquals((await store.retrieve(key, 2)).items.length, 1);
    assertEquals(await store.delete(randomBytes(32), 1, [b.hash]), 0);
    // A peer that missed the delete cannot bring it back.
    const [back] = await store.put([a]);
    assertEquals(back!.already, true);
    assertEquals((await store.retrieve(key, 1)).items.length, 1);
    assertEquals((await store.missing([a.hash, b.hash, otherNs.hash])).length, 0);
    assertEquals((await store.deletedIn([a.hash[0]!], 10)).map(toHex), [toHex(a.hash)]);
    assertEquals(await store.deleteHashes([b.hash]), 1);
    assertEquals((await store.retrieve(key, 1)).items.length, 0);
  });
});

Deno.test("expire sets the expiry of live items", async () => {
  await withStore(async (store, clock) => {
    const key = randomBytes(32);
    const a = item(key, 1, text("a"));
    const b = item(key, 1, text("b"));
    await store.put([a, b]);
    assertEquals(await store.expire(key, 1, [a.hash], T0 + 5_000), 1);
    assertEquals(await store.expire(key, 3, [b.hash], T0 + 5_000), 0);
    // Shortened but still live: not listed as deleted.
    assertEquals(await store.deletedIn([a.hash[0]!], 10), []);
    clock.now = T0 + 5_000;
    assertEquals((await store.retrieve(key, 1)).items.map((i) => i.data), [text("b")]);
    await store.purgeExpired(clock.now);
    // Until its old expiry, a peer that missed the change cannot bring it back.
    assertEquals((await store.deletedIn([a.hash[0]!], 10)).map(toHex), [toHex(a.hash)]);
    assertEquals((await store.put([a]))[0]!.already, true);
    assertEquals((await store.retrieve(key, 1)).items.length, 1);
    assertEquals(await store.missing([a.hash]), []);
    // Extending leaves no tombstone.
    assertEquals(await store.expire(key, 1, [b.hash], T0 + 100_000), 1);
    const listed = (await store.deletedIn([b.hash[0]!], 10)).map(toHex);
    assertEquals(listed.includes(toHex(b.hash)), false);
  });
});

Deno.test("usage counts live items and bytes per namespace class", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    await store.put([
      item(key, 0, new Uint8Array(10)),
      item(key, -10, new Uint8Array(20)),
      item(key, 2, new Uint8Array(40)),
      item(key, -3, new Uint8Array(80)),
      item(key, 15, new Uint8Array(5)),
      item(key, 11, new Uint8Array(1)),
      item(key, -1, new Uint8Array(2)),
      item(key, 7, new Uint8Array(3)),
      item(key, -17, new Uint8Array(4)),
      item(randomBytes(32), 0, new Uint8Array(160)),
    ]);
    assertEquals(await store.usage(key, "inbox"), { items: 2, bytes: 30 });
    // Owner-only, member-read and public-read: only the owner stores there.
    assertEquals(await store.usage(key, "owner"), { items: 3, bytes: 125 });
    assertEquals(await store.usage(key, "member"), { items: 2, bytes: 3 });
    assertEquals(await store.usage(key, "content"), { items: 2, bytes: 7 });
  });
});

Deno.test("listsEntry finds a 32-byte entry only at an aligned offset of a live item", async () => {
  await withStore(async (store, clock) => {
    const key = randomBytes(32);
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    // c sits at offset 16: not an entry of the list.
    const unaligned = concatBytes(new Uint8Array(16), c, new Uint8Array(16));
    await store.put([item(key, 14, concatBytes(a, b)), item(key, 14, unaligned)]);
    assertEquals(await store.listsEntry(key, 14, a), true);
    assertEquals(await store.listsEntry(key, 14, b), true);
    assertEquals(await store.listsEntry(key, 14, c), false);
    assertEquals(await store.listsEntry(key, 4, a), false);
    assertEquals(await store.listsEntry(randomBytes(32), 14, a), false);
    clock.now = T0 + 60_000;
    assertEquals(await store.listsEntry(key, 14, a), false);
  });
});

Deno.test("200 concurrent puts are batched and each caller gets its own answer", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    const items = Array.from({ length: 200 }, (_, i) => item(key, 0, text(`item ${i}`)));
    const results = await Promise.all(items.map((it) => store.put([it, it])));
    results.forEach((r, i) => {
      assertEquals(toHex(r[0]!.hash), toHex(items[i]!.hash));
      assertEquals(r.map((x) => x.already), [false, true]);
    });
    const seen = new Set<string>();
    let after: Uint8Array | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await store.retrieve(key, 0, after ? { after } : {});
      for (const it of got.items) seen.add(toHex(it.hash));
      after = got.items.at(-1)?.hash;
      if (!got.more) break;
    }
    assertEquals(seen.size, 200);
    assertEquals((await store.usage(key, "inbox")).items, 200);
  });
});

Deno.test("digest, hashesIn and getByHashes see only live items that pass the filter", async () => {
  await withStore(async (store) => {
    const keep = randomBytes(32);
    const skip = randomBytes(32);
    const kept = Array.from({ length: 300 }, (_, i) => item(keep, 0, text(`k${i}`)));
    await store.put(kept);
    await store.put(Array.from({ length: 50 }, (_, i) => item(skip, 0, text(`s${i}`))));
    const filter = (key: Uint8Array) => toHex(key) === toHex(keep);
    const buckets = await store.digest(filter);
    const sorted = kept.map((i) => i.hash).sort((a, b) => (toHex(a) < toHex(b) ? -1 : 1));
    assertEquals(buckets.reduce((n, b) => n + b.count, 0), 300);
    const first = buckets[0]!;
    const inFirst = sorted.filter((h) => h[0] === first.prefix);
    assertEquals(first.count, inFirst.length);
    assertEquals(toHex(first.digest), toHex(sha256(concatBytes(...inFirst))));
    const prefixes = buckets.map((b) => b.prefix);
    const all = await store.hashesIn(prefixes, filter, { limit: 10_000 });
    assertEquals(all.hashes.map(toHex), sorted.map(toHex));
    assertEquals(all.more, false);
    const part = await store.hashesIn(prefixes, filter, { limit: 100 });
    assertEquals(part.more, true);
    const rest = await store.hashesIn(prefixes, filter, { limit: 1_000, after: part.hashes[99] });
    assertEquals([...part.hashes, ...rest.hashes].map(toHex), sorted.map(toHex));
    const got = await store.getByHashes([kept[5]!.hash, randomBytes(32), kept[6]!.hash], {
      maxBytes: 3,
    });
    assertEquals(got.map((i) => i.data), [text("k5")]);
    const filtered = await store.getByHashes([itemHash(skip, 0, text("s1"))], {
      maxBytes: 1_000,
      filter,
    });
    assertEquals(filtered.length, 0);
  });
});

Deno.test("a subscriber wakes when an item for its key and namespace arrives", async () => {
  await withStore(async (store) => {
    const key = randomBytes(32);
    const sub = store.notifier.subscribe(key, 0);
    const other = store.notifier.subscribe(key, 1);
    const waiting = sub.wait(20_000);
    await store.put([item(key, 0, text("hello"))]);
    assertEquals(await waiting, true);
    assertEquals(await other.wait(1), false);
    assertEquals(store.notifier.size, 0);
    const aborted = new AbortController();
    const pending = store.notifier.subscribe(key, 0).wait(20_000, aborted.signal);
    aborted.abort();
    assertEquals(await pending, false);
  });
});

Deno.test("put after close is refused", async () => {
  await withStore(async (store) => {
    await store.close();
    const err = await assertRejects(() => store.put([item(randomBytes(32), 0, text("x"))]));
    assert(err instanceof HearthError && err.code === "unavailable");
  });
});
