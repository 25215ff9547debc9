/**
 * The rows of the `sessions` table (docs/PROTOCOL.md §12): a peer's
 * sessions as loaded (newest first), and a session's state written in the
 * caller's transaction, at most {@link MAX_SESSIONS_PER_PEER} per peer.
 * @module
 */
import type { Kysely } from "kysely";
import { randomBytes, toHex } from "../../shared/crypto/mod.ts";
import type { Logger } from "../../shared/log.ts";
import type { ClientDb } from "../db/schema.ts";
import { decodeSessionRecord, encodeSessionRecord, type SessionRecord } from "./session_record.ts";

type Db = Kysely<ClientDb>;

/** The most sessions kept per peer; the oldest goes when a new one is made. */
export const MAX_SESSIONS_PER_PEER = 3;

/** A session as loaded from its row. */
export interface LoadedSession extends SessionRecord {
  /** The row's id. */
  id: string;
  /** When it was made. */
  createdAt: number;
}

/**
 * A peer's sessions, newest first; a row that does not decode is skipped
 * (with a warning).
 * @param db the client database, or a transaction of it
 * @param peer the peer's Account ID
 * @param options.log where the warning goes
 * @returns the sessions
 */
export async function loadSessions(
  db: Db,
  peer: string,
  options: { log: Logger },
): Promise<LoadedSession[]> {
  const rows = await db.selectFrom("sessions").select(["id", "state", "created_at"])
    .where("peer", "=", peer).orderBy("created_at", "desc").orderBy("id", "desc").execute();
  const out: LoadedSession[] = [];
  for (const r of rows) {
    try {
      out.push({
        id: r.id,
        createdAt: r.created_at,
        ...decodeSessionRecord(new Uint8Array(r.state)),
      });
    } catch {
      options.log.warn("session_unreadable");
    }
  }
  return out;
}

/**
 * Write a session's state (in the caller's transaction); a new one is
 * inserted and the peer's oldest beyond {@link MAX_SESSIONS_PER_PEER} go.
 * @param tx the transaction that also stores the item sealed or opened
 * @param peer the peer's Account ID
 * @param options.session the session; `created` when it is new; `now`, ms
 */
export async function writeSession(
  tx: Db,
  peer: string,
  options: { session: LoadedSession; created: boolean; now: number },
): Promise<void> {
  const { session } = options;
  const state = encodeSessionRecord(session);
  if (!options.created) {
    await tx.updateTable("sessions").set({ state, last_used_at: options.now })
      .where("peer", "=", peer).where("id", "=", session.id).execute();
    return;
  }
  await tx.insertInto("sessions").values({
    peer,
    id: session.id,
    state,
    created_at: session.createdAt,
    last_used_at: options.now,
  }).execute();
  const keep = await tx.selectFrom("sessions").select("id").where("peer", "=", peer)
    .orderBy("created_at", "desc").orderBy("id", "desc").limit(MAX_SESSIONS_PER_PEER)
    .execute();
  await tx.deleteFrom("sessions").where("peer", "=", peer)
    .where("id", "not in", keep.map((r) => r.id)).execute();
}

/**
 * A new session id.
 * @returns 32 hex characters, random
 */
export function newSessionId(): string {
  return toHex(randomBytes(16));
}
