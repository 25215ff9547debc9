/**
 * Store and fetch items in swarms through onion paths (PROTOCOL §5, §7).
 * Every request goes through 3 relays to a swarm member; the client never
 * talks to a swarm directly. Redirects (`wrong_swarm`) and failed paths
 * are retried on another member and another path. With a
 * {@link PathManager} the relays are its pinned-guard paths and every
 * outcome is reported to it; without one each request takes fresh random
 * relays.
 *
 * Besides an owner's requests, a group member stores and retrieves in the
 * group's swarm with its access key and token ({@link GroupAccess}), and
 * anyone stores and fetches content-addressed file chunks, unsigned.
 * @module
 */
import { bytesEqual, fromHex, toHex } from "../../shared/crypto/bytes.ts";
import { sign, type SigningKeyPair } from "../../shared/crypto/sign.ts";
import type { Frame } from "../../shared/codec/frame.ts";
import { asObject } from "../../shared/codec/fields.ts";
import { HearthError } from "../../shared/errors.ts";
import type { NodeRecord } from "../../shared/node_record.ts";
import { CHUNK_NS, chunkKey } from "../../shared/storage/namespaces.ts";
import { type SignedOperands, storageSigningBytes } from "../../shared/storage/signing.ts";
import { swarmFor, swarmKeyOf } from "../../shared/swarm_map.ts";
import { rpcViaOnion } from "./onion_client.ts";
import type { PathManager } from "./path_manager.ts";
import { chooseRelays, cryptoRandom } from "./path_select.ts";
import { judgePath, watchFirstHop } from "./path_verdict.ts";

/** An item as retrieved: its hash (hex), expiry and data. */
export interface RetrievedItem {
  /** Item hash, hex. */
  hash: string;
  /** Expiry, ms since the epoch. */
  expiry: number;
  /** The stored bytes. */
  data: Uint8Array;
}

/**
 * A group member's access to the group's swarm (PROTOCOL §5, member-signed
 * requests): what the member signs with, and the group's grant.
 */
export interface GroupAccess {
  /** The group's Ed25519 public key (the swarm's owner). */
  groupPublicKey: Uint8Array;
  /** The member's access key pair. */
  member: SigningKeyPair;
  /** Ed25519(group key, groupAccessBytes(K, member.publicKey)), 64 bytes. */
  token: Uint8Array;
}

/** Options of {@link SwarmClient}. */
export interface SwarmClientOptions {
  /** The live directory, e.g. from the owner's node. */
  nodes: () => NodeRecord[];
  /** Time source of signatures and onion layers (default Date.now). */
  clock?: () => number;
  /** Numbers in [0, 1) for members and relays (default: crypto-random). */
  random?: () => number;
  /** Relays before the destination (default 3; a path manager's paths have 3). */
  relays?: number;
  /** Take paths from this manager and report to it (default: fresh random relays per request). */
  paths?: PathManager;
  /** Attempts per request across members and paths (default 4). */
  attempts?: number;
  /** Timeout of one onion request, ms. */
  timeoutMs?: number;
}

/** Where to send one request: a specific node, or any member of the key's swarm. */
export interface Target {
  /** Send to this node rather than a swarm member chosen at random. */
  via?: NodeRecord;
  /** Abort the request; an aborted request is not retried. */
  signal?: AbortSignal;
}

/** Codes worth another member or path. Never `access_revoked`: a revoked key stays revoked. */
const RETRYABLE = new Set([
  "wrong_swarm",
  "hop_failed",
  "timeout",
  "unknown_hop",
  "not_durable",
  "unavailable",
  "replay",
  "rate_limited",
  "decrypt_failed",
]);

/** A client of the swarms, speaking only through onion paths. */
export class SwarmClient {
  #nodes: () => NodeRecord[];
  #clock: () => number;
  #random: () => number;
  #relays: number;
  #attempts: number;
  #timeoutMs: number | undefined;
  #paths: PathManager | undefined;

  /** Create a client; see {@link SwarmClientOptions}. */
  constructor(options: SwarmClientOptions) {
    this.#nodes = options.nodes;
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? cryptoRandom;
    this.#relays = options.relays ?? 3;
    this.#attempts = options.attempts ?? 4;
    this.#timeoutMs = options.timeoutMs;
    this.#paths = options.paths;
  }

  /**
   * Store data under a swarm key. Public-inbox namespaces need no owner;
   * owner-only namespaces are signed with `owner`.
   * @returns the item hash (hex) and its expiry
   */
  async store(
    key: Uint8Array,
    ns: number,
    data: Uint8Array,
    options: Target & { ttlMs: number; owner?: SigningKeyPair },
  ): Promise<{ hash: string; expiry: number }> {
    const header: Record<string, unknown> = {
      method: "store",
      key: toHex(key),
      ns,
      ttl: options.ttlMs,
    };
    if (options.owner) {
      Object.assign(header, await this.#signed(options.owner, key, ns, { method: "store", data }));
    }
    const res = await this.#call(key, header, data, options);
    const h = asObject(res.header);
    return { hash: String(h.hash), expiry: Number(h.expiry) };
  }

  /**
   * Fetch the owner's items of a namespace, after the last hash seen.
   * `after` follows the answering node's arrival order, which differs from
   * member to member: to poll with `after`, keep to one node with `via`
   * (a node that does not know the hash answers from the start).
   * @param options.waitMs long-poll up to this long when there is nothing new
   */
  async retrieve(
    owner: SigningKeyPair,
    ns: number,
    options: Target & { after?: string; waitMs?: number; maxBytes?: number } = {},
  ): Promise<{ items: RetrievedItem[]; more: boolean }> {
    const key = swarmKeyOf(owner.publicKey);
    const header = retrieveHeader(key, ns, options);
    if (options.waitMs !== undefined) header.wait = options.waitMs;
    Object.assign(header, await this.#signed(owner, key, ns, { method: "retrieve" }));
    const res = await this.#call(key, header, undefined, options);
    return parseItems(res);
  }

  /**
   * Fetch anyone's items of a public-read namespace (ns % 10 == 5), with no
   * signature and no long-poll: e.g. a peer's prekey bundle.
   * @param key the 32-byte swarm key of the items' owner
   * @param ns a public-read namespace
   * @returns the items, in the answering node's arrival order, and whether there are more
   * @throws {RangeError} when `ns` is not a public-read namespace
   * @throws {HearthError} when no swarm member answers, or one refuses
   */
  async retrievePublic(
    key: Uint8Array,
    ns: number,
    options: Target & { after?: string; maxBytes?: number } = {},
  ): Promise<{ items: RetrievedItem[]; more: boolean }> {
    if (!Number.isSafeInteger(ns) || Math.abs(ns % 10) !== 5) {
      throw new RangeError("Namespace is not public-read");
    }
    const res = await this.#call(key, retrieveHeader(key, ns, options), undefined, options);
    return parseItems(res);
  }

  /** Delete the owner's items by hash (hex); replicated to the swarm. */
  async delete(
    owner: SigningKeyPair,
    ns: number,
    hashes: string[],
    options: Target = {},
  ): Promise<number> {
    const key = swarmKeyOf(owner.publicKey);
    const raw = hashes.map((h) => fromHex(h, 32));
    const header: Record<string, unknown> = { method: "delete", key: toHex(key), ns, hashes };
    Object.assign(header, await this.#signed(owner, key, ns, { method: "delete", hashes: raw }));
    const res = await this.#call(key, header, undefined, options);
    return Number(asObject(res.header).deleted);
  }

  /** Set the expiry (ms since the epoch) of the owner's items by hash (hex). */
  async expire(
    owner: SigningKeyPair,
    ns: number,
    hashes: string[],
    expiry: number,
    options: Target = {},
  ): Promise<number> {
    const key = swarmKeyOf(owner.publicKey);
    const raw = hashes.map((h) => fromHex(h, 32));
    const header: Record<string, unknown> = {
      method: "expire",
      key: toHex(key),
      ns,
      hashes,
      expiry,
    };
    Object.assign(
      header,
      await this.#signed(owner, key, ns, { method: "expire", expiry, hashes: raw }),
    );
    const res = await this.#call(key, header, undefined, options);
    return Number(asObject(res.header).updated);
  }

  /**
   * Store data in a group's swarm as a member (member-write namespaces,
   * ns % 10 == 1), signed with the member's access key and carrying the
   * group's token.
   * @returns the item hash (hex) and its expiry
   * @throws {HearthError} `access_revoked` (never retried) once an admin
   *   revoked the access key; `bad_signature` for a bad token
   */
  async storeAsMember(
    access: GroupAccess,
    ns: number,
    data: Uint8Array,
    options: Target & { ttlMs: number },
  ): Promise<{ hash: string; expiry: number }> {
    const key = swarmKeyOf(access.groupPublicKey);
    const header: Record<string, unknown> = {
      method: "store",
      key: toHex(key),
      ns,
      ttl: options.ttlMs,
      ...(await this.#memberSigned(access, key, ns, { method: "store", data })),
    };
    const res = await this.#call(key, header, data, options);
    const h = asObject(res.header);
    return { hash: String(h.hash), expiry: Number(h.expiry) };
  }

  /**
   * Fetch a group's items as a member (member-write ns % 10 == 1 and
   * member-read ns % 10 == 3), as {@link retrieve} does for the owner.
   * @throws {HearthError} `access_revoked` (never retried) once revoked
   */
  async retrieveAsMember(
    access: GroupAccess,
    ns: number,
    options: Target & { after?: string; waitMs?: number; maxBytes?: number } = {},
  ): Promise<{ items: RetrievedItem[]; more: boolean }> {
    const key = swarmKeyOf(access.groupPublicKey);
    const header = retrieveHeader(key, ns, options);
    if (options.waitMs !== undefined) header.wait = options.waitMs;
    Object.assign(header, await this.#memberSigned(access, key, ns, { method: "retrieve" }));
    const res = await this.#call(key, header, undefined, options);
    return parseItems(res);
  }

  /** Store a content-addressed chunk; returns its key (= chunkKey(data)) as hex. */
  async storeChunk(
    data: Uint8Array,
    options: Target & { ttlMs: number },
  ): Promise<{ hash: string; key: string; expiry: number }> {
    const key = chunkKey(data);
    const header = { method: "store", key: toHex(key), ns: CHUNK_NS, ttl: options.ttlMs };
    const res = await this.#call(key, header, data, options);
    const h = asObject(res.header);
    return { hash: String(h.hash), key: toHex(key), expiry: Number(h.expiry) };
  }

  /**
   * Fetch a chunk by its key (hex); null when no member has it. A chunk may
   * have reached only W of the R members, so an empty answer (or data that
   * does not hash to the key) is asked again of a second member; with `via`
   * only that node is asked.
   * @param key the chunk's 32-byte key
   * @throws {HearthError} when a member cannot be reached at all
   */
  async retrieveChunk(key: Uint8Array, options: Target = {}): Promise<Uint8Array | null> {
    const header = { method: "retrieve", key: toHex(key), ns: CHUNK_NS };
    const asked = new Set<string>();
    for (let round = 0; round < (options.via ? 1 : 2); round++) {
      const { answer, dest } = await this.#callFrom(key, header, undefined, options, asked);
      asked.add(dest.id);
      const found = parseItems(answer).items.find((i) => bytesEqual(chunkKey(i.data), key));
      if (found) return found.data;
      if (swarmFor(key, this.#nodes()).every((m) => asked.has(m.id))) break;
    }
    return null;
  }

  async #memberSigned(
    access: GroupAccess,
    key: Uint8Array,
    ns: number,
    operands: SignedOperands,
  ) {
    const ts = this.#clock();
    const sig = await sign(access.member, storageSigningBytes(key, ns, ts, operands));
    return {
      pubkey: toHex(access.groupPublicKey),
      member: toHex(access.member.publicKey),
      token: toHex(access.token),
      ts,
      sig: toHex(sig),
    };
  }

  async #signed(owner: SigningKeyPair, key: Uint8Array, ns: number, operands: SignedOperands) {
    const ts = this.#clock();
    const sig = await sign(owner, storageSigningBytes(key, ns, ts, operands));
    return { pubkey: toHex(owner.publicKey), ts, sig: toHex(sig) };
  }

  async #call(
    key: Uint8Array,
    header: Record<string, unknown>,
    blob: Uint8Array | undefined,
    target: Target,
  ): Promise<Frame> {
    return (await this.#callFrom(key, header, blob, target)).answer;
  }

  /**
   * Send a request to a swarm member, retrying as {@link SwarmClient}
   * describes; `avoid` are members to pass over while others remain.
   * @returns the answer and the member that gave it
   */
  async #callFrom(
    key: Uint8Array,
    header: Record<string, unknown>,
    blob: Uint8Array | undefined,
    target: Target,
    avoid: ReadonlySet<string> = new Set(),
  ): Promise<{ answer: Frame; dest: NodeRecord }> {
    let members = target.via ? [target.via] : swarmFor(key, this.#nodes());
    if (members.length === 0) throw new HearthError("unavailable", "No nodes known");
    const failedMembers = new Set<string>(avoid);
    let lastError: unknown;
    for (let attempt = 0; attempt < this.#attempts; attempt++) {
      const dest = this.#destination(members, failedMembers);
      const relays = this.#paths ? this.#paths.pathFor(dest) : chooseRelays(this.#nodes(), {
        exclude: [dest.id],
        count: this.#relays,
        random: this.#random,
      });
      const firstHop = { sealed: false };
      try {
        const answer = await rpcViaOnion([...relays, dest], header, {
          blob,
          clock: this.#clock,
          timeoutMs: this.#timeoutMs,
          fetch: watchFirstHop(firstHop),
          signal: target.signal,
        });
        this.#paths?.reportSuccess(relays);
        return { answer, dest };
      } catch (err) {
        lastError = err;
        if (target.signal?.aborted) throw err;
        const verdict = judgePath(err, { relays: relays.length, sealed: firstHop.sealed });
        if (verdict.kind === "carried" && verdict.destinationFailed) failedMembers.add(dest.id);
        if (this.#paths) {
          if (verdict.kind === "failed") this.#paths.reportFailure(relays, verdict.hop);
          if (verdict.kind === "carried") this.#paths.reportSuccess(relays);
        }
        if (!(err instanceof HearthError) || !RETRYABLE.has(err.code)) throw err;
        if (err.code === "wrong_swarm" && !target.via) {
          const swarm = err.details?.swarm;
          if (Array.isArray(swarm) && swarm.length > 0) members = swarm as NodeRecord[];
        }
        if (target.via && err.code === "wrong_swarm") throw err;
      }
    }
    throw lastError;
  }

  /**
   * A member at random, preferring members that did not fail this request
   * and, with a path manager, neither the guard nor a node that failed lately.
   */
  #destination(members: NodeRecord[], failed: ReadonlySet<string>): NodeRecord {
    const paths = this.#paths;
    const tiers = [
      members.filter((m) => !failed.has(m.id) && !paths?.isAvoided(m.id)),
      members.filter((m) => !failed.has(m.id)),
      members,
    ];
    const from = tiers.find((t) => t.length > 0)!;
    return from[Math.floor(this.#random() * from.length)]!;
  }
}

/** The unsigned fields of a retrieve request. */
function retrieveHeader(
  key: Uint8Array,
  ns: number,
  options: { after?: string; maxBytes?: number },
): Record<string, unknown> {
  const header: Record<string, unknown> = { method: "retrieve", key: toHex(key), ns };
  if (options.after) header.after = options.after;
  if (options.maxBytes !== undefined) header.maxBytes = options.maxBytes;
  return header;
}

function parseItems(res: Frame): { items: RetrievedItem[]; more: boolean } {
  const h = asObject(res.header);
  const list = Array.isArray(h.items) ? h.items : [];
  const items: RetrievedItem[] = [];
  let offset = 0;
  for (const raw of list) {
    const it = asObject(raw, "item");
    const size = Number(it.size);
    if (!Number.isSafeInteger(size) || size < 0 || offset + size > res.blob.length) {
      throw new HearthError("bad_request", "Retrieve answer is malformed");
    }
    items.push({
      hash: String(it.hash),
      expiry: Number(it.expiry),
      data: res.blob.slice(offset, offset + size),
    });
    offset += size;
  }
  return { items, more: h.more === true };
}
