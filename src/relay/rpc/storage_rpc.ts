/**
 * The storage RPC (PROTOCOL §5), the final handler of onion requests: one
 * request frame in, one response frame out. Bad input becomes an error
 * frame with a stable code; `handle` never throws. Every write is signed by
 * the owner except a store to a public inbox, a group member's store to a
 * member-write namespace and a content-addressed store; every read is
 * signed (by the owner, or by a member in the group classes) except a
 * retrieve of a public-read or content-addressed namespace. A member's
 * request is refused with `access_revoked` once a live item of the group's
 * revocation namespace (GROUP_REVOKED_NS) lists its access key.
 * @module
 */
import { concatBytes, toHex } from "../../shared/crypto/bytes.ts";
import { encodeFrame } from "../../shared/codec/frame.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { Replicator } from "../replicate/replicator.ts";
import { itemHash, maxTtl, namespaceClass, type StoredItem } from "../store/item.ts";
import type { MessageStore } from "../store/message_store.ts";
import { writeQuorum } from "../swarm/swarm_map.ts";
import type { SwarmView } from "../swarm/swarm_view.ts";
import { GROUP_REVOKED_NS } from "../../shared/storage/namespaces.ts";
import { checkMemberAuth, checkOwnerAuth } from "./owner_auth.ts";
import {
  isMemberAuth,
  type MemberAuth,
  type OwnerAuth,
  parseStorageRequest,
  type StorageRequest,
} from "./storage_request.ts";

/** A per-key quota, per namespace class. */
export interface StorageQuota {
  /** Most live items. */
  maxItems: number;
  /** Most bytes of live data. */
  maxBytes: number;
}

/**
 * The default quota: 10,000 items and 100 MB per key and namespace class
 * (inbox, member, content, owner: see `NamespaceClass` in store/item.ts).
 */
export const DEFAULT_QUOTA: StorageQuota = { maxItems: 10_000, maxBytes: 100_000_000 };

/** What the storage RPC needs. */
export interface StorageRpcDeps {
  /** This node's items. */
  store: MessageStore;
  /** This node's view of the network: the swarms. */
  view: SwarmView;
  /** Sends writes to the rest of the swarm. */
  replicator: Replicator;
  /** The clock, ms (default Date.now). */
  clock?: () => number;
  /** Logger (events and counts only). */
  log: Logger;
  /** Per-key quota (default {@link DEFAULT_QUOTA}). */
  quota?: StorageQuota;
}

/** A running storage RPC. */
export interface StorageRpc {
  /** Run one request frame and return the response frame. Never throws. */
  handle(requestFrame: Uint8Array): Promise<Uint8Array>;
  /** End every long-poll now (they answer with what they have) and refuse new requests. */
  close(): void;
}

type Req<M extends StorageRequest["method"]> = Extract<StorageRequest, { method: M }>;

/**
 * Create the storage RPC.
 * @param deps store, swarm view, replicator, clock, logger, quota
 */
export function createStorageRpc(deps: StorageRpcDeps): StorageRpc {
  const { store, view, replicator, log } = deps;
  const clock = deps.clock ?? Date.now;
  const quota = deps.quota ?? DEFAULT_QUOTA;
  const closing = new AbortController();

  function membersOrRedirect(key: Uint8Array) {
    const members = view.members(key);
    if (!members.some((m) => m.id === view.selfId)) {
      throw new HearthError("wrong_swarm", "This node is not in the key's swarm", {
        swarm: members,
      });
    }
    return members;
  }

  function checkOwner(req: Exclude<StorageRequest, { method: "swarm" }>, auth: OwnerAuth) {
    return checkOwnerAuth(req.key, auth, { ns: req.ns, operands: req, now: clock() });
  }

  /** The owner's or a member's signature; a member's also must not be revoked. */
  async function checkSigner(
    req: Req<"store"> | Req<"retrieve">,
    auth: OwnerAuth | MemberAuth,
  ): Promise<void> {
    if (!isMemberAuth(auth)) return await checkOwner(req, auth);
    await checkMemberAuth(req.key, auth, { ns: req.ns, operands: req, now: clock() });
    // Read at every request: the list is a few small items, found through the (key, ns) index.
    if (await store.listsEntry(req.key, GROUP_REVOKED_NS, auth.member)) {
      throw new HearthError("access_revoked", "This access key was revoked");
    }
  }

  async function runStore(req: Req<"store">): Promise<Uint8Array> {
    const members = membersOrRedirect(req.key);
    if (req.auth) await checkSigner(req, req.auth);
    const hash = itemHash(req.key, req.ns, req.data);
    if (!(await store.has(hash))) {
      const used = await store.usage(req.key, namespaceClass(req.ns));
      if (used.items + 1 > quota.maxItems || used.bytes + req.data.length > quota.maxBytes) {
        throw new HearthError("quota_exceeded", "The key's quota is full");
      }
    }
    const item: StoredItem = {
      key: req.key,
      ns: req.ns,
      data: req.data,
      expiry: clock() + req.ttl,
      hash,
    };
    const [result] = await store.put([item]);
    const expiry = result!.expiry;
    const acks = await replicator.replicateStore([{ ...item, expiry }], members);
    if (acks < writeQuorum(members.length)) {
      throw new HearthError("not_durable", "Too few swarm members stored the item; retry");
    }
    return encodeFrame({ ok: true, hash: toHex(hash), expiry, already: result!.already });
  }

  async function runRetrieve(req: Req<"retrieve">): Promise<Uint8Array> {
    membersOrRedirect(req.key);
    // Unsigned only in a public-read or content namespace (the parser made sure, and wait is 0).
    if (req.auth) await checkSigner(req, req.auth);
    const options = { after: req.after, maxBytes: req.maxBytes };
    // Subscribe before reading, so an item arriving in between still wakes us.
    const sub = req.wait > 0 ? store.notifier.subscribe(req.key, req.ns) : undefined;
    try {
      let found = await store.retrieve(req.key, req.ns, options);
      if (found.items.length === 0 && !found.more && sub) {
        if (await sub.wait(req.wait, closing.signal)) {
          found = await store.retrieve(req.key, req.ns, options);
        }
      }
      return encodeFrame(
        {
          ok: true,
          items: found.items.map((i) => ({
            hash: toHex(i.hash),
            expiry: i.expiry,
            size: i.data.length,
          })),
          more: found.more,
        },
        concatBytes(...found.items.map((i) => i.data)),
      );
    } finally {
      sub?.cancel();
    }
  }

  async function runDelete(req: Req<"delete">): Promise<Uint8Array> {
    const members = membersOrRedirect(req.key);
    await checkOwner(req, req.auth);
    const deleted = await store.delete(req.key, req.ns, req.hashes);
    // The owner's signature goes along: members act only on what the owner signed.
    await replicator.replicateDelete(members, {
      key: req.key,
      ns: req.ns,
      hashes: req.hashes,
      auth: req.auth,
    });
    return encodeFrame({ ok: true, deleted });
  }

  async function runExpire(req: Req<"expire">): Promise<Uint8Array> {
    // A field range (PROTOCOL §5): checked before swarm membership and the signature.
    const now = clock();
    if (req.expiry <= now || req.expiry > now + maxTtl(req.ns)) {
      throw new HearthError("bad_ttl", "Expiry is out of range");
    }
    const members = membersOrRedirect(req.key);
    await checkOwner(req, req.auth);
    const updated = await store.expire(req.key, req.ns, req.hashes, req.expiry);
    await replicator.replicateExpire(members, {
      key: req.key,
      ns: req.ns,
      hashes: req.hashes,
      expiry: req.expiry,
      auth: req.auth,
    });
    return encodeFrame({ ok: true, updated });
  }

  function execute(req: StorageRequest): Promise<Uint8Array> {
    switch (req.method) {
      case "store":
        return runStore(req);
      case "retrieve":
        return runRetrieve(req);
      case "delete":
        return runDelete(req);
      case "expire":
        return runExpire(req);
      case "swarm":
        return Promise.resolve(encodeFrame({ ok: true, swarm: view.members(req.key) }));
    }
  }

  return {
    async handle(requestFrame) {
      try {
        if (closing.signal.aborted) {
          throw new HearthError("unavailable", "Node is shutting down");
        }
        return await execute(parseStorageRequest(requestFrame));
      } catch (err) {
        if (err instanceof HearthError) {
          log.debug("storage.refused", { status: err.status });
          return encodeFrame(err.toJSON());
        }
        log.error("storage.internal");
        return encodeFrame(new HearthError("internal", "Internal error").toJSON());
      }
    },
    close() {
      closing.abort();
    },
  };
}
