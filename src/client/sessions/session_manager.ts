/**
 * The owner's double-ratchet sessions with its peers (docs/PROTOCOL.md
 * §12), kept in the `sessions` table of the client database
 * (session_rows.ts; the handshake as initiator is in session_start.ts): at most
 * {@link MAX_SESSIONS_PER_PEER} per peer; the newest is used to send, the
 * older ones are kept to decrypt late messages and pruned once unused for
 * {@link SESSION_IDLE_MS}.
 *
 * - Sealing: the content is encrypted with the peer's newest session and
 *   carried in an inner version 2 envelope. Without a session, a caller
 *   that may start one (texts) has the peer's prekey bundle fetched (at
 *   most {@link BUNDLE_FETCH_TIMEOUT_MS}) and runs the PQXDH handshake; the
 *   initiator's messages are prekey messages until it has received one.
 *   When no session can be had, the item is sealed alone (inner version 1).
 * - Opening: a session payload is tried with the peer's sessions (the one
 *   whose ratchet key the header names first, then newest first); a prekey
 *   message that none of them opens makes a new session with the named
 *   prekeys, and its one-time prekey is consumed.
 * - Every read-modify-write of a peer's ratchet state holds that peer's
 *   lock (peer_locks.ts), and the new state is committed in the same transaction as the
 *   caller's effect (the outbox row of an item sealed, the effect and the
 *   seen mark of an item opened), so a crash never leaves a state ahead of
 *   or behind what was stored.
 * @module
 */
import type { Kysely } from "kysely";
import { bytesEqual } from "../../shared/crypto/mod.ts";
import { type Logger, silentLogger } from "../../shared/log.ts";
import { type AccountKeys, formatAccountId, parseAccountId } from "../account/mod.ts";
import type { ClientDb } from "../db/schema.ts";
import { MAX_CONTENT_BYTES, type OpenedEnvelope, sealEnvelope } from "../messages/envelope.ts";
import { type BundleSource, fetchBundleWithin } from "./bundle_fetch.ts";
import { consumeOpk, responderPrekeys } from "./prekey_store.ts";
import { respondHandshake } from "./pqxdh.ts";
import { initResponder, ratchetDecrypt, ratchetEncrypt, ratchetHasReceived } from "./ratchet.ts";
import type { RatchetState } from "./ratchet_state.ts";
import { PeerLocks } from "./peer_locks.ts";
import { type LoadedSession, loadSessions, newSessionId, writeSession } from "./session_rows.ts";
import { initiateSession, tryDecrypt } from "./session_start.ts";
import {
  encodeSessionPayload,
  parseSessionPayload,
  PREKEY_MESSAGE_OVERHEAD,
  type SessionPayload,
} from "./session_wire.ts";

export type { BundleSource } from "./bundle_fetch.ts";
export { MAX_SESSIONS_PER_PEER } from "./session_rows.ts";

type Db = Kysely<ClientDb>;

/** A session that is not the peer's newest is deleted after this long unused, ms (30 days). */
export const SESSION_IDLE_MS = 30 * 86_400_000;
/** How long sending waits for a peer's prekey bundle before it seals alone, ms. */
export const BUNDLE_FETCH_TIMEOUT_MS = 5_000;
/**
 * The largest content a session message carries, bytes (75,429): what is
 * left of an envelope after a prekey message's init part, header and tag.
 * Larger content is sealed alone (no valid content is that large).
 */
export const MAX_SESSION_CONTENT_BYTES: number = MAX_CONTENT_BYTES - PREKEY_MESSAGE_OVERHEAD;

/** How an item went on the wire: in a session message, or sealed alone (inner version 1). */
export type Encryption = "session" | "sealed";

/** An item sealed for a peer, ready to queue. */
export interface SealedItem {
  /** The envelope, exactly one of the envelope sizes. */
  envelope: Uint8Array;
  /** How it was encrypted. */
  encryption: Encryption;
}

/** Options of {@link SessionManager.seal}. */
export interface SealOptions {
  /** The signed sent-at time, ms. */
  sentAt: number;
  /** Whether a missing session may be started (fetching the bundle): texts only. */
  handshake?: boolean;
  /** Seal alone even when there is a session (a `session-reset`). */
  sealedOnly?: boolean;
}

/**
 * What {@link SessionManager.open} did: the caller's result, or nothing when
 * it did not decrypt. `handshake` is set when the payload was a prekey
 * message tried as a new handshake (no session of the peer was made from
 * its ephemeral key) that failed: that key, 32 bytes.
 */
export type OpenResult<T> = { opened: true; value: T } | {
  opened: false;
  handshake?: Uint8Array;
};

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  /** The unlocked client database. */
  db: Db;
  /** The account's keys. */
  keys: AccountKeys;
  /** Where peers' bundles come from; without one no session is started (local only). */
  bundles?: BundleSource;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Events and counts only (default silent). */
  log?: Logger;
  /** Called after a handshake used one of the owner's one-time prekeys (to republish). */
  onPrekeyUsed?: () => void;
  /** The bundle fetch timeout, ms (default {@link BUNDLE_FETCH_TIMEOUT_MS}). */
  fetchTimeoutMs?: number;
}

/** The key of the lock every responder handshake takes (no Account ID looks like it). */
const PREKEYS_LOCK = "#prekeys";

/** The owner's sessions with peers; one per running chat. */
export class SessionManager {
  readonly #db: Db;
  readonly #keys: AccountKeys;
  readonly #bundles: BundleSource | undefined;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #onPrekeyUsed: (() => void) | undefined;
  readonly #fetchTimeoutMs: number;
  readonly #locks = new PeerLocks();
  readonly #abort = new AbortController();

  /** See {@link SessionManagerOptions}. */
  constructor(options: SessionManagerOptions) {
    this.#db = options.db;
    this.#keys = options.keys;
    this.#bundles = options.bundles;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log ?? silentLogger;
    this.#onPrekeyUsed = options.onPrekeyUsed;
    this.#fetchTimeoutMs = options.fetchTimeoutMs ?? BUNDLE_FETCH_TIMEOUT_MS;
  }

  /** Abort the bundle fetches in flight (their items are sealed alone). */
  stop(): void {
    this.#abort.abort();
  }

  /**
   * Whether the owner has a session with a peer.
   * @param peer the peer's Account ID
   * @returns true when at least one session row exists
   */
  async hasSession(peer: string): Promise<boolean> {
    const row = await this.#db.selectFrom("sessions").select("id").where("peer", "=", peer)
      .limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Seal an item for a peer and store it with `store`, in one transaction
   * with the session's new state. Uses the peer's newest session; without
   * one, and with `handshake`, fetches the peer's bundle and starts a
   * session; otherwise (or when that fails) seals the content alone.
   * @param peer the peer's Account ID
   * @param content the encoded content (content.ts)
   * @param options the sent-at time; whether a handshake may start; sealed only
   * @param store writes the item (outbox row, message row…) in the transaction given
   * @returns what `store` returns, once committed
   * @throws {HearthError} `bad_account_id` for a malformed peer; what `store` throws (nothing
   *   is committed then, the session's state included)
   */
  async seal<T>(
    peer: string,
    content: Uint8Array,
    options: SealOptions,
    store: (tx: Db, sealed: SealedItem) => Promise<T>,
  ): Promise<T> {
    const peerKey = parseAccountId(peer);
    const usable = !options.sealedOnly && content.length <= MAX_SESSION_CONTENT_BYTES;
    const bundle = usable && options.handshake && this.#bundles && !(await this.hasSession(peer))
      ? await fetchBundleWithin(this.#bundles, peer, {
        timeoutMs: this.#fetchTimeoutMs,
        stop: this.#abort.signal,
        clock: this.#clock,
        log: this.#log,
      })
      : undefined;
    return await this.#locks.run(peer, async () => {
      const now = this.#clock();
      let session: LoadedSession | undefined = usable
        ? (await loadSessions(this.#db, peer, { log: this.#log }))[0]
        : undefined;
      let created = false;
      if (!session && bundle) {
        session = await initiateSession(this.#keys, { peerKey, bundle, now });
        created = session !== undefined;
        if (session) {
          const oneTimePrekey = session.pendingInit!.opkId !== 0;
          this.#log.info("session_made", { initiator: true, oneTimePrekey });
        } else {
          this.#log.warn("session_handshake_failed");
        }
      }
      if (!session) {
        const envelope = await sealEnvelope(content, this.#keys, peerKey, { now: options.sentAt });
        return await this.#db.transaction().execute((tx) =>
          store(tx, { envelope, encryption: "sealed" })
        );
      }
      const sent = await ratchetEncrypt(session.ratchet, content);
      const payload: SessionPayload = session.pendingInit
        ? {
          kind: "prekey",
          init: session.pendingInit,
          header: sent.header,
          ciphertext: sent.ciphertext,
        }
        : { kind: "ratchet", header: sent.header, ciphertext: sent.ciphertext };
      const envelope = await sealEnvelope(encodeSessionPayload(payload), this.#keys, peerKey, {
        now: options.sentAt,
        version: 2,
      });
      const next: LoadedSession = { ...session, ratchet: sent.state };
      return await this.#db.transaction().execute(async (tx) => {
        await writeSession(tx, peer, { session: next, created, now });
        return await store(tx, { envelope, encryption: "session" });
      });
    });
  }

  /**
   * Decrypt the session payload of an opened inner version 2 envelope and
   * apply it with `apply`, in one transaction with the session's new state
   * (and the one-time prekey's deletion, for a new session).
   * @param opened the envelope as opened (its sender verified)
   * @param apply handles the content in the transaction given
   * @returns the result of `apply`, or `opened: false` when the payload is malformed or does
   *   not decrypt (nothing is written then), with the ephemeral key of a new handshake that
   *   failed
   * @throws {RangeError} when the envelope is not inner version 2; what `apply` throws
   *   (nothing is committed then)
   */
  async open<T>(
    opened: OpenedEnvelope,
    apply: (tx: Db, content: Uint8Array) => Promise<T>,
  ): Promise<OpenResult<T>> {
    if (opened.version !== 2) throw new RangeError("Not a session envelope");
    let payload: SessionPayload;
    try {
      payload = parseSessionPayload(opened.content);
    } catch {
      return { opened: false };
    }
    const peer = formatAccountId(opened.sender);
    return await this.#locks.run(peer, async () => {
      const now = this.#clock();
      const sessions = await loadSessions(this.#db, peer, { log: this.#log });
      const found = await tryDecrypt(sessions, payload);
      if (found) {
        const { session, state, plaintext } = found;
        const next: LoadedSession = {
          ...session,
          ratchet: state,
          pendingInit: ratchetHasReceived(state) ? null : session.pendingInit,
        };
        const value = await this.#db.transaction().execute(async (tx) => {
          await writeSession(tx, peer, { session: next, created: false, now });
          return await apply(tx, plaintext);
        });
        return { opened: true, value };
      }
      if (payload.kind !== "prekey") return { opened: false };
      // A handshake already answered (its session has moved on, or the message is a replay):
      // never make a second session from the same init part.
      if (sessions.some((s) => bytesEqual(s.ek, payload.init.ek))) return { opened: false };
      const result = await this.#locks.run(
        PREKEYS_LOCK,
        () => this.#respond(opened, payload, apply),
      );
      return result.opened ? result : { opened: false, handshake: payload.init.ek };
    });
  }

  /**
   * Drop a peer's sessions made at or before `before` (the peer says it
   * cannot decrypt: it lost its state), and run `apply` in the same
   * transaction. Sessions made after it (e.g. from the peer's own new
   * handshake) stay.
   * @param peer the peer's Account ID
   * @param options.before the reset's signed sent-at time, ms
   * @param apply more work in the same transaction (e.g. marking the item seen)
   * @returns how many sessions went, and what `apply` returned
   */
  async reset<T>(
    peer: string,
    options: { before: number },
    apply: (tx: Db) => Promise<T>,
  ): Promise<{ dropped: number; value: T }> {
    return await this.#locks.run(peer, () =>
      this.#db.transaction().execute(async (tx) => {
        const res = await tx.deleteFrom("sessions").where("peer", "=", peer)
          .where("created_at", "<=", options.before).executeTakeFirst();
        const dropped = Number(res.numDeletedRows);
        if (dropped > 0) this.#log.info("sessions_reset", { dropped });
        return { dropped, value: await apply(tx) };
      }));
  }

  /**
   * Delete sessions unused for {@link SESSION_IDLE_MS} that are not their
   * peer's newest.
   * @returns how many went
   */
  async prune(): Promise<number> {
    const rows = await this.#db.selectFrom("sessions")
      .select(["peer", "id", "created_at", "last_used_at"])
      .orderBy("peer").orderBy("created_at", "desc").orderBy("id", "desc").execute();
    const cutoff = this.#clock() - SESSION_IDLE_MS;
    const stale: { peer: string; id: string }[] = [];
    let peer: string | undefined;
    for (const r of rows) {
      const newest = r.peer !== peer;
      peer = r.peer;
      if (!newest && r.last_used_at < cutoff) stale.push(r);
    }
    for (const s of stale) {
      await this.#locks.run(
        s.peer,
        () =>
          this.#db.deleteFrom("sessions").where("peer", "=", s.peer).where("id", "=", s.id)
            .where("last_used_at", "<", cutoff).execute(),
      );
    }
    return stale.length;
  }

  /** Make a session from a prekey message that no existing session opened (prekeys lock held). */
  async #respond<T>(
    opened: OpenedEnvelope,
    payload: Extract<SessionPayload, { kind: "prekey" }>,
    apply: (tx: Db, content: Uint8Array) => Promise<T>,
  ): Promise<OpenResult<T>> {
    const { init } = payload;
    const prekeys = await responderPrekeys(this.#db, init);
    if (!prekeys) {
      this.#log.info("session_prekey_missing");
      return { opened: false };
    }
    let ratchet: RatchetState;
    let plaintext: Uint8Array;
    try {
      const hs = await respondHandshake(this.#keys, opened.sender, init, prekeys);
      const first = await ratchetDecrypt(
        initResponder(hs.sk, hs.ad, prekeys.spk),
        payload.header,
        payload.ciphertext,
      );
      ratchet = first.state;
      plaintext = first.plaintext;
    } catch {
      return { opened: false };
    }
    const now = this.#clock();
    const peer = formatAccountId(opened.sender);
    const session: LoadedSession = {
      id: newSessionId(),
      createdAt: now,
      ek: init.ek,
      pendingInit: null,
      ratchet,
    };
    const value = await this.#db.transaction().execute(async (tx) => {
      await writeSession(tx, peer, { session, created: true, now });
      if (init.opkId !== 0) await consumeOpk(tx, init.opkId);
      return await apply(tx, plaintext);
    });
    this.#log.info("session_made", { initiator: false, oneTimePrekey: init.opkId !== 0 });
    if (init.opkId !== 0) this.#onPrekeyUsed?.();
    return { opened: true, value };
  }
}
