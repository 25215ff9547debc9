/**
 * Files through a real in-process relay network (content-addressed chunks
 * on real relays, through onion paths), between two real client databases:
 * upload → manifest → download byte-identical; a retried upload sends only
 * the chunks not yet acknowledged; a missing chunk, a chunk altered before
 * it was stored (so its tag fails), or swapped chunks fail the download
 * with `download_failed` and leave nothing unverified, and a retry works
 * once the chunks are there.
 */
import type { Kysely } from "kysely";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { concatBytes, randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { ClientDb } from "../db/schema.ts";
import { withClientDb } from "../messages/test_chat_db.ts";
import { withTestRelayNet } from "../network/test_relay_net.ts";
import type { AttachmentRef } from "./attachment_ref.ts";
import {
  type AttachmentProgress,
  AttachmentService,
  type AttachmentServiceOptions,
  CHUNK_TTL_MS,
  REUPLOAD_MARGIN_MS,
} from "./attachment_service.ts";
import { CHUNK_BYTES, chunkCount, sealChunk, sealIndex } from "./chunk_crypto.ts";
import type { ChunkNetwork } from "./file_transfer.ts";

const TTL = 3600_000;

function streamOf(bytes: Uint8Array, piece = 10_000): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return concatBytes(...parts);
}

/** A network that counts calls, and can fail stores after a number of them. */
class CountingNetwork implements ChunkNetwork {
  stores = 0;
  failAfter = Infinity;
  constructor(readonly inner: ChunkNetwork) {}
  storeChunk(data: Uint8Array, options: { ttlMs: number; signal?: AbortSignal }) {
    if (this.stores >= this.failAfter) {
      return Promise.reject(new HearthError("unavailable", "Test failure"));
    }
    this.stores++;
    return this.inner.storeChunk(data, options);
  }
  retrieveChunk(key: Uint8Array, options?: { signal?: AbortSignal }) {
    return this.inner.retrieveChunk(key, options);
  }
}

async function withTwoDbs(fn: (a: Kysely<ClientDb>, b: Kysely<ClientDb>) => Promise<void>) {
  await withClientDb((a) => withClientDb((b) => fn(a, b)));
}

/** A sender (through a counting network) and a recipient over real relays, each with its own database. */
interface Pair {
  a: AttachmentService;
  b: AttachmentService;
  network: CountingNetwork;
  dbA: Kysely<ClientDb>;
  dbB: Kysely<ClientDb>;
}

async function withSenderAndRecipient(
  optionsA: Partial<AttachmentServiceOptions>,
  fn: (pair: Pair) => Promise<void>,
): Promise<void> {
  await withTestRelayNet(async (net) => {
    await withTwoDbs(async (dbA, dbB) => {
      const network = new CountingNetwork(net.client());
      const a = new AttachmentService({ db: dbA, network, ...optionsA });
      const b = new AttachmentService({ db: dbB, network: net.client() });
      await a.start();
      await b.start();
      try {
        await fn({ a, b, network, dbA, dbB });
      } finally {
        await a.stop();
        await b.stop();
      }
    });
  });
}

Deno.test({
  name: "a file goes up and comes down byte-identical; a retried upload sends only the rest",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const progress: AttachmentProgress[] = [];
    await withSenderAndRecipient({ onProgress: (p) => progress.push(p) }, async (pair) => {
      const { a, b, network, dbA, dbB } = pair;
      const file = randomBytes(3 * CHUNK_BYTES + 1234);
      // The first upload fails after two chunks were stored.
      network.failAfter = 2;
      const view = await a.add({ name: "photo.jpg", type: "image/jpeg", stream: streamOf(file) });
      assertEquals([view.name, view.size, view.type], ["photo.jpg", file.length, "image/jpeg"]);
      await assertRejects(() => a.upload(view.id), HearthError);
      assertEquals((await a.view(view.id)).state, "failed");
      const acked = network.stores;
      assertEquals(acked, 2);
      network.failAfter = Infinity;
      const refs = await a.refsFor([view.id]);
      // Only the two chunks left and the index went the second time.
      assertEquals(network.stores - acked, chunkCount(file.length) - 2 + 1);
      assertEquals((await a.view(view.id)).state, "uploaded");
      assert(progress.some((p) => p.state === "uploaded" && p.done === file.length));

      const messageId = toHex(randomBytes(16));
      const [incoming] = await b.recordIncoming(dbB, messageId, refs);
      const remote = (await b.viewsFor(messageId))[0]!;
      assertEquals([remote.id, remote.state, remote.size], [incoming, "remote", file.length]);
      const opened = await b.open(incoming!);
      assertEquals(await bytesOf(opened.stream), file);
      assertEquals((await b.view(incoming!)).state, "complete");
      // A file sent once cannot be attached again; foreign and unknown ids are conflicts.
      await a.attachTo(dbA, toHex(randomBytes(16)), [view.id]);
      for (const id of [view.id, incoming!, "0".repeat(32)]) {
        const err = await assertRejects(() => a.refsFor([id]), HearthError);
        assertEquals(err.code, "conflict");
      }
    });
  },
});

Deno.test({
  name: "a missing, altered or swapped chunk fails the download; a retry works once it is there",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTestRelayNet(async (net) => {
      await withClientDb(async (db) => {
        const swarm = net.client();
        const files = new AttachmentService({ db, network: net.client() });
        await files.start();
        const size = 2 * CHUNK_BYTES + 7;
        const file = randomBytes(size);
        const key = randomBytes(32);
        const sealed = [
          await sealChunk(key, file.subarray(0, CHUNK_BYTES), { index: 0, count: 3, size }),
          await sealChunk(key, file.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES), {
            index: 1,
            count: 3,
            size,
          }),
          await sealChunk(key, file.subarray(2 * CHUNK_BYTES), { index: 2, count: 3, size }),
        ];
        const keyOf = async (data: Uint8Array, store = true) => {
          if (store) return (await swarm.storeChunk(data, { ttlMs: TTL })).key;
          const { chunkKey } = await import("../../shared/storage/namespaces.ts");
          return toHex(chunkKey(data));
        };
        const refWith = async (chunks: string[]): Promise<AttachmentRef> => {
          const index = await sealIndex(
            key,
            chunks.map((h) =>
              Uint8Array.from(
                h.match(/../g)!.map((x) => parseInt(x, 16)),
              )
            ),
            size,
          );
          const keys = [];
          for (const part of index) keys.push(await keyOf(part));
          return { key, index: keys, name: "f.bin", size, type: "application/octet-stream" };
        };
        const k0 = await keyOf(sealed[0]!);
        const k1 = await keyOf(sealed[1]!);
        // Chunk 2 is not stored yet: the download fails, and writes only verified chunks.
        const k2 = await keyOf(sealed[2]!, false);
        const [missing] = await files.recordIncoming(db, toHex(randomBytes(16)), [
          await refWith([k0, k1, k2]),
        ]);
        const err = await assertRejects(() => files.open(missing!), HearthError);
        assertEquals(err.code, "download_failed");
        const failed = await db.selectFrom("attachments").select(["state", "last_error"])
          .where("id", "=", missing!).executeTakeFirstOrThrow();
        assertEquals(failed, { state: "failed", last_error: "download_failed" });
        // Now it is there: the retry fetches the rest and the file is whole.
        await keyOf(sealed[2]!);
        assertEquals(await bytesOf((await files.open(missing!)).stream), file);

        // A chunk altered before it was stored: stored fine (its key is its hash), but its
        // tag fails. And chunks 0 and 1 swapped in the index.
        const altered = sealed[1]!.slice();
        altered[100]! ^= 1;
        const kAltered = await keyOf(altered);
        for (const chunks of [[k0, kAltered, k2], [k1, k0, k2]]) {
          const [id] = await files.recordIncoming(db, toHex(randomBytes(16)), [
            await refWith(chunks),
          ]);
          const e = await assertRejects(() => files.download(id!), HearthError);
          assertEquals(e.code, "download_failed");
          const rows = await db.selectFrom("attachment_chunks").select("idx")
            .where("attachment_id", "=", id!).orderBy("idx").execute();
          // Nothing but verified chunks was written: never the bad one.
          assert(
            rows.every((r) => chunks[r.idx] !== kAltered && (r.idx !== 0 || chunks[0] === k0)),
          );
          assertEquals((await files.view(id!)).state, "failed");
        }
        await files.stop();
      });
    });
  },
});

Deno.test({
  name: "a file attached when its chunks are about to expire goes up again under a new key",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let now = Date.now();
    await withSenderAndRecipient({ clock: () => now }, async ({ a, b, network, dbB }) => {
      const file = randomBytes(CHUNK_BYTES + 10);
      const view = await a.add({
        name: "a.bin",
        type: "application/octet-stream",
        stream: streamOf(file),
      });
      const first = await a.refsFor([view.id]);
      const stores = network.stores;
      // Still fresh: attaching again uploads nothing.
      assertEquals((await a.refsFor([view.id]))[0]!.index, first[0]!.index);
      assertEquals(network.stores, stores);
      // Close to the chunks' expiry: every chunk and the index go again, with new bytes.
      now += CHUNK_TTL_MS - REUPLOAD_MARGIN_MS + 1;
      const renewed = await a.refsFor([view.id]);
      assertEquals(network.stores - stores, chunkCount(file.length) + 1);
      assert(toHex(renewed[0]!.key) !== toHex(first[0]!.key), "a fresh file key");
      assert(renewed[0]!.index[0] !== first[0]!.index[0], "new index chunk keys");
      const messageId = toHex(randomBytes(16));
      const [incoming] = await b.recordIncoming(dbB, messageId, renewed);
      assertEquals(await bytesOf((await b.open(incoming!)).stream), file);
    });
  },
});
