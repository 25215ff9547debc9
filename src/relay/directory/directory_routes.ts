/**
 * Directory routes of the relay port (PROTOCOL.md §3): `GET /v1/info`,
 * `GET /v1/directory` and `POST /v1/announce`, which dials the announced
 * address back before adding the record.
 * @module
 */
import { Hono } from "hono";
import { toHex } from "../../shared/crypto/bytes.ts";
import { MAX_RECORD_BYTES, PROTOCOL_VERSION } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { readJson } from "../rpc/body.ts";
import type { PeerClient } from "../peer_client.ts";
import type { Directory } from "./directory.ts";
import { parseRecord, verifyRecord } from "./record.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

/** How long the dial-back of an announced address may take, ms. */
export const DIAL_BACK_TIMEOUT_MS = 3_000;
/** Largest `/v1/info` answer read, bytes. */
export const MAX_INFO_BYTES = 4_096;

/** What {@link directoryRoutes} needs. */
export interface DirectoryRoutesDeps {
  /** The directory served and merged into. */
  directory: Directory;
  /** This node's keys, for `/v1/info`. */
  identity: NodeIdentity;
  /** Used to dial announced addresses back. */
  peers: PeerClient;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Where events go (counts only). */
  log: Logger;
  /** Most dial-backs in flight at once; more announcements get `unavailable` (default 8). */
  maxDialBacks?: number;
  /** Checks an announced record (default {@link verifyRecord}; see DirectoryDeps.verify). */
  verify?: typeof verifyRecord;
}

/**
 * Whether a `/v1/info` answer names the node of `record`.
 * @param info the decoded JSON answer
 * @param record the record it should match
 */
export function infoMatches(info: unknown, record: NodeRecord): boolean {
  if (info === null || typeof info !== "object") return false;
  const o = info as Record<string, unknown>;
  return o.id === record.id && o.x25519 === record.x25519;
}

/**
 * The directory routes as a Hono sub-app, to mount with `app.route("/", …)`.
 * Handlers throw HearthError; the app's onError turns it into the answer.
 * @param deps the directory, this node's identity, a peer client, clock and logger
 */
export function directoryRoutes(deps: DirectoryRoutesDeps): Hono {
  const clock = deps.clock ?? Date.now;
  const maxDialBacks = deps.maxDialBacks ?? 8;
  const verify = deps.verify ?? verifyRecord;
  const x25519 = toHex(deps.identity.dh.publicKey);
  let dialing = 0;
  const app = new Hono();

  app.get("/v1/info", (c) =>
    c.json({
      version: PROTOCOL_VERSION,
      id: deps.identity.id,
      x25519,
      directorySize: deps.directory.size(),
    }));

  app.get("/v1/directory", (c) => {
    let page;
    try {
      page = deps.directory.changesAfter(c.req.query("after"));
    } catch (err) {
      if (err instanceof RangeError) throw new HearthError("bad_request", err.message);
      throw err;
    }
    return c.json(page);
  });

  app.post("/v1/announce", async (c) => {
    const record = parseRecord(await readJson(c.req.raw, MAX_RECORD_BYTES));
    if (record.id === deps.identity.id) {
      throw new HearthError("bad_request", "Record is this node's own");
    }
    await verify(record, { now: clock(), powBits: deps.directory.powBits });
    if (dialing >= maxDialBacks) throw new HearthError("unavailable", "Too many announcements");
    dialing++;
    let reachable = false;
    try {
      const info = await deps.peers.json(record.addr, "/v1/info", undefined, {
        timeoutMs: DIAL_BACK_TIMEOUT_MS,
        maxResponseBytes: MAX_INFO_BYTES,
      });
      reachable = infoMatches(info, record);
    } catch {
      reachable = false;
    } finally {
      dialing--;
    }
    deps.log.debug("announce", { reachable });
    if (!reachable) {
      throw new HearthError("unreachable", "Announced address could not be dialled back");
    }
    await deps.directory.merge([record]);
    return c.json({ accepted: true });
  });

  return app;
}
