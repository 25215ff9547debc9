/**
 * The node-to-node routes of replication and anti-entropy (PROTOCOL §6).
 * Every route takes only signed requests from known nodes: the body is
 * read with its size limit first, then the signature is checked, then the
 * body is parsed. A replicated delete or expiry change also carries the
 * owner's signature, checked as the storage RPC checks it; a replicated
 * content-addressed item is checked against its key.
 * @module
 */
import { Hono } from "hono";
import { buf, fromHex, toHex } from "../../shared/crypto/bytes.ts";
import { arr, asObject, hexField, int } from "../../shared/codec/fields.ts";
import {
  MAX_JSON_BODY_BYTES,
  MAX_REPLICATION_BODY_BYTES,
  SIGNATURE_WINDOW_MS,
} from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { verifyPeerRequest } from "../peer_client.ts";
import { readBody } from "../rpc/body.ts";
import { checkOwnerAuth } from "../rpc/owner_auth.ts";
import { parseOwnerAuth } from "../rpc/storage_request.ts";
import {
  isAcceptableExpiry,
  isAddressedRight,
  isNamespace,
  MAX_HASHES_PER_REQUEST,
} from "../store/item.ts";
import type { ReplicaStore } from "../store/message_store.ts";
import type { SwarmView } from "../swarm/swarm_view.ts";
import { encodeItemBatch, parseItemBatch } from "./item_batch.ts";
import { sharedSwarmFilter } from "./swarm_filter.ts";

/**
 * Accepted age of the owner's signature on a replicated delete or expiry
 * change, ms: the node that ran the request accepted it within ±60 s, and
 * clocks differ; twice the window leaves room for both.
 */
export const REPLICATED_SIGNATURE_WINDOW_MS = 2 * SIGNATURE_WINDOW_MS;

/** Most hashes one `/v1/sync/hashes` answer lists. */
export const MAX_SYNC_HASHES = 10_000;
/** Most hashes one `/v1/sync/fetch` asks for. */
export const MAX_FETCH_HASHES = 256;
/** Most data bytes one `/v1/sync/fetch` answer carries. */
export const MAX_FETCH_BYTES = 1_048_576;

/** What the replication routes need. */
export interface ReplicateRoutesDeps {
  /** This node's items. */
  store: ReplicaStore;
  /** This node's view of the network: who is known, and the swarms. */
  view: SwarmView;
  /** The clock, ms (default Date.now). */
  clock?: () => number;
  /** Logger (events and counts only). */
  log: Logger;
}

/**
 * The replication and anti-entropy routes, to mount with `app.route("/", …)`.
 * Errors are thrown as HearthError for the app's onError.
 */
export function replicateRoutes(deps: ReplicateRoutesDeps): Hono {
  const { store, view, log } = deps;
  const clock = deps.clock ?? Date.now;
  const app = new Hono();

  async function signedBody(request: Request, maxBytes: number) {
    const body = await readBody(request, maxBytes);
    const peer = await verifyPeerRequest(request, body, {
      selfId: view.selfId,
      isKnownNode: (id) => view.isKnown(id),
      now: clock(),
    });
    return { body, peer };
  }

  async function signedJson(request: Request) {
    const { body, peer } = await signedBody(request, MAX_JSON_BODY_BYTES);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      throw new HearthError("bad_request", "Body is not JSON");
    }
    return { json: asObject(parsed), peer };
  }

  app.post("/v1/replicate/store", async (c) => {
    const { body } = await signedBody(c.req.raw, MAX_REPLICATION_BODY_BYTES);
    const items = parseItemBatch(body);
    const now = clock();
    for (const item of items) {
      if (!isAcceptableExpiry(item.ns, item.expiry, now)) {
        throw new HearthError("bad_ttl", "Item expiry is out of range");
      }
      // A content-addressed item is held only under the hash of its data, here too.
      if (!isAddressedRight(item.key, item.ns, item.data)) {
        throw new HearthError("bad_request", "Key is not the hash of the data");
      }
    }
    await store.put(items);
    log.debug("replicate.stored", { items: items.length });
    return c.json({ ok: true, stored: items.length });
  });

  app.post("/v1/replicate/delete", async (c) => {
    const { json } = await signedJson(c.req.raw);
    const { key, ns, hashes, auth } = ownerChange(json);
    await checkOwnerAuth(key, auth, {
      ns,
      operands: { method: "delete", hashes },
      now: clock(),
      windowMs: REPLICATED_SIGNATURE_WINDOW_MS,
    });
    const deleted = await store.delete(key, ns, hashes);
    return c.json({ ok: true, deleted });
  });

  app.post("/v1/replicate/expire", async (c) => {
    const { json } = await signedJson(c.req.raw);
    const { key, ns, hashes, auth } = ownerChange(json);
    const expiry = int(json, "expiry", 0, Number.MAX_SAFE_INTEGER);
    if (!isAcceptableExpiry(ns, expiry, clock())) {
      throw new HearthError("bad_ttl", "Expiry is out of range");
    }
    await checkOwnerAuth(key, auth, {
      ns,
      operands: { method: "expire", expiry, hashes },
      now: clock(),
      windowMs: REPLICATED_SIGNATURE_WINDOW_MS,
    });
    const updated = await store.expire(key, ns, hashes, expiry);
    return c.json({ ok: true, updated });
  });

  app.post("/v1/sync/digest", async (c) => {
    const { peer } = await signedJson(c.req.raw);
    const buckets = await store.digest(sharedSwarmFilter(view, peer));
    return c.json({
      buckets: buckets.map((b) => ({
        prefix: toHex(new Uint8Array([b.prefix])),
        count: b.count,
        digest: toHex(b.digest),
      })),
    });
  });

  app.post("/v1/sync/hashes", async (c) => {
    const { json, peer } = await signedJson(c.req.raw);
    const prefixes = arr(json, "prefixes", 256).map(parsePrefix);
    const after = json.after === undefined ? undefined : hexField(json, "after", 32);
    const found = await store.hashesIn(prefixes, sharedSwarmFilter(view, peer), {
      limit: MAX_SYNC_HASHES,
      after,
    });
    const deleted = after ? [] : await store.deletedIn(prefixes, MAX_SYNC_HASHES);
    return c.json({
      hashes: found.hashes.map(toHex),
      deleted: deleted.map(toHex),
      more: found.more,
    });
  });

  app.post("/v1/sync/fetch", async (c) => {
    const { json, peer } = await signedJson(c.req.raw);
    const hashes = hashList(json, MAX_FETCH_HASHES);
    const items = await store.getByHashes(hashes, {
      maxBytes: MAX_FETCH_BYTES,
      filter: sharedSwarmFilter(view, peer),
    });
    return c.body(buf(encodeItemBatch(items)), 200, {
      "content-type": "application/octet-stream",
    });
  });

  return app;
}

function ownerChange(json: Record<string, unknown>) {
  const key = hexField(json, "key", 32);
  const ns = int(json, "ns", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (!isNamespace(ns)) throw new HearthError("bad_namespace", "Namespace is out of range");
  const hashes = hashList(json, MAX_HASHES_PER_REQUEST);
  return { key, ns, hashes, auth: parseOwnerAuth(json) };
}

/** Read a non-empty array of 32-byte hex hashes. */
function hashList(json: Record<string, unknown>, max: number): Uint8Array[] {
  const list = arr(json, "hashes", max);
  if (list.length === 0) throw new HearthError("bad_request", "Field hashes is empty");
  return list.map((h) => hexField({ hashes: h }, "hashes", 32));
}

function parsePrefix(value: unknown): number {
  if (typeof value !== "string" || !/^[0-9a-f]{2}$/.test(value)) {
    throw new HearthError("bad_encoding", "Prefix must be one byte of hex");
  }
  return fromHex(value)[0]!;
}
