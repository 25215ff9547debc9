/**
 * Write fan-out to a key's swarm (PROTOCOL §6). A store goes to every
 * other member at once and is acknowledged as soon as W members, this node
 * included, hold it durably; the other requests finish in the background
 * and are tracked, so `close` can wait for them.
 * @module
 */
import { toHex, utf8 } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { NodeRecord } from "../directory/record_types.ts";
import type { PeerClient } from "../peer_client.ts";
import type { OwnerAuth } from "../rpc/storage_request.ts";
import type { StoredItem } from "../store/item.ts";
import { writeQuorum } from "../swarm/swarm_map.ts";
import { encodeItemBatch } from "./item_batch.ts";

/** What a {@link Replicator} needs. */
export interface ReplicatorDeps {
  /** Makes the signed node-to-node requests. */
  peers: PeerClient;
  /** This node's ID: it is never sent to, and counts as one ack when a member. */
  selfId: string;
  /** Logger (events and counts only). */
  log: Logger;
  /** Time limit of one replication request (default 5 s). */
  timeoutMs?: number;
}

/** Sends writes to the other members of a swarm. */
export class Replicator {
  #peers: PeerClient;
  #selfId: string;
  #log: Logger;
  #timeoutMs: number;
  #inFlight = new Set<Promise<void>>();
  #closed = false;

  /**
   * Create a replicator.
   * @param deps peer client, own node ID, logger
   */
  constructor(deps: ReplicatorDeps) {
    this.#peers = deps.peers;
    this.#selfId = deps.selfId;
    this.#log = deps.log;
    this.#timeoutMs = deps.timeoutMs ?? 5_000;
  }

  /**
   * Send items (already stored here) to the other members.
   * @param items the items, all of one swarm
   * @param members the swarm, this node included when it is a member
   * @returns the number of members holding the items, this node included
   *   when it is a member; resolves once that reaches W, or when every
   *   member answered
   * @throws {HearthError} `unavailable` after close
   */
  replicateStore(items: readonly StoredItem[], members: readonly NodeRecord[]): Promise<number> {
    if (this.#closed) return Promise.reject(closedError());
    const others = members.filter((m) => m.id !== this.#selfId);
    const need = writeQuorum(members.length);
    let acks = members.length - others.length;
    if (others.length === 0) return Promise.resolve(acks);
    const body = encodeItemBatch(items);
    return new Promise((resolve) => {
      let pending = others.length;
      let answered = false;
      for (const peer of others) {
        this.#track(
          this.#send(peer, "/v1/replicate/store", body, "application/octet-stream").then((ok) => {
            if (ok) acks++;
            pending--;
            if (!answered && (acks >= need || pending === 0)) {
              answered = true;
              resolve(acks);
            }
          }),
        );
      }
    });
  }

  /**
   * Send an owner's delete to the other members, best effort.
   * @param members the key's swarm
   * @param change the key, namespace and hashes deleted, and the owner's
   *   signature of the delete, which each member checks
   * @returns how many other members acknowledged, once all answered
   */
  replicateDelete(
    members: readonly NodeRecord[],
    change: { key: Uint8Array; ns: number; hashes: readonly Uint8Array[]; auth: OwnerAuth },
  ): Promise<number> {
    const payload = {
      key: toHex(change.key),
      ns: change.ns,
      hashes: change.hashes.map(toHex),
      ...authFields(change.auth),
    };
    return this.#fanOut("/v1/replicate/delete", payload, members);
  }

  /**
   * Send an owner's expiry change to the other members, best effort.
   * @param members the key's swarm
   * @param change the key, namespace, hashes and new expiry, and the
   *   owner's signature of the change, which each member checks
   * @returns how many other members acknowledged, once all answered
   */
  replicateExpire(
    members: readonly NodeRecord[],
    change: {
      key: Uint8Array;
      ns: number;
      hashes: readonly Uint8Array[];
      expiry: number;
      auth: OwnerAuth;
    },
  ): Promise<number> {
    const payload = {
      key: toHex(change.key),
      ns: change.ns,
      hashes: change.hashes.map(toHex),
      expiry: change.expiry,
      ...authFields(change.auth),
    };
    return this.#fanOut("/v1/replicate/expire", payload, members);
  }

  /** Refuse new work and wait for every request in flight (each is time-limited). */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #fanOut(path: string, payload: unknown, members: readonly NodeRecord[]): Promise<number> {
    if (this.#closed) throw closedError();
    const body = utf8(JSON.stringify(payload));
    const others = members.filter((m) => m.id !== this.#selfId);
    let acks = 0;
    await Promise.all(others.map((peer) => {
      const p = this.#send(peer, path, body, "application/json").then((ok) => {
        if (ok) acks++;
      });
      this.#track(p);
      return p;
    }));
    return acks;
  }

  async #send(
    peer: NodeRecord,
    path: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<boolean> {
    try {
      const res = await this.#peers.request(peer.addr, path, {
        body,
        signedFor: peer.id,
        timeoutMs: this.#timeoutMs,
        contentType,
        maxResponseBytes: 64 * 1024,
      });
      if (res.status === 200) return true;
      this.#log.debug("replicate.refused", { status: res.status });
      return false;
    } catch (err) {
      this.#log.debug("replicate.failed", {
        timeout: err instanceof HearthError && err.code === "timeout",
      });
      return false;
    }
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p));
  }
}

function authFields(auth: OwnerAuth): { pubkey: string; ts: number; sig: string } {
  return { pubkey: toHex(auth.pubkey), ts: auth.ts, sig: toHex(auth.sig) };
}

function closedError(): HearthError {
  return new HearthError("unavailable", "Node is shutting down");
}
