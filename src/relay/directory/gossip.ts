/**
 * Bootstrap and gossip (PROTOCOL.md §3): announce this node's record, pull
 * what changed from a few gossip partners, probe peers for liveness,
 * re-sign the record every 30 minutes. A node whose announcement no peer
 * accepts is client-only: it still learns the directory, but is in no
 * swarm.
 *
 * Each pull asks only for the records that arrived at the partner since
 * the last pull from it (a cursor), so a round costs what changed, not the
 * whole directory. Partners ({@link GossipPartners}) are kept between
 * rounds for their cursors, and one is swapped for a random peer at about
 * every fourth re-signing (every 2 hours) and each time the directory has
 * doubled, so that the pull graph keeps mixing; a new partner's first pull
 * is the whole directory, so swapping more often would cost more than the
 * changes themselves on a large network.
 *
 * An announcement only helps if the peers that took it are pulled from, so
 * a reachable node checks where its record went, a bounded number of times
 * per record: when no seed accepted it (seeds are pulled from by the
 * oldest nodes), it announces to the seeds again with a doubling backoff;
 * and when no pull has brought its own current record back after a few
 * rounds, it announces to 3 other random peers.
 * @module
 */
import {
  MAX_DIRECTORY_RECORDS,
  MAX_KNOWN_NODES,
  MAX_RECORD_BYTES,
} from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { PeerClient } from "../peer_client.ts";
import { type Directory, MAX_CURSOR_LENGTH } from "./directory.ts";
import { DIAL_BACK_TIMEOUT_MS, infoMatches, MAX_INFO_BYTES } from "./directory_routes.ts";
import { GossipPartners, pickRandom } from "./gossip_partners.ts";
import { isValidAddr, RECORD_RESIGN_MS, signRecord } from "./record.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

/** Timeout of a directory pull, ms. */
const PULL_TIMEOUT_MS = 5_000;
/**
 * Timeout of an announcement, ms: the receiver dials back within 3 s
 * before answering.
 */
const ANNOUNCE_TIMEOUT_MS = DIAL_BACK_TIMEOUT_MS + 2_000;
/** Random peers announced to, besides the seeds. */
const ANNOUNCE_PEERS = 3;
/** Chance, at each re-signing, that one partner is swapped for a random peer. */
const PARTNER_SWAP_CHANCE = 0.25;
/**
 * Announcements to the seeds again after none accepted the record: in the
 * next round, then 2, 4, 8, 16 and 32 rounds after the previous one (63
 * rounds, about 10 minutes at the default interval).
 */
export const SEED_ANNOUNCE_RETRIES = 6;
/**
 * Rounds after which a reachable node whose current record has not come
 * back in any pull announces it to 3 other random peers…
 */
export const UNSEEN_ROUNDS = 12;
/** …at most this many times per record. */
export const UNSEEN_RETRIES = 2;
/** Most pages read in one pull (enough for a full directory). */
const MAX_PAGES = Math.ceil(MAX_KNOWN_NODES / MAX_DIRECTORY_RECORDS);

/** What {@link Gossip} needs. */
export interface GossipDeps {
  /** The directory records are merged into. */
  directory: Directory;
  /** This node's keys, to sign its record. */
  identity: NodeIdentity;
  /** All HTTP to other nodes goes through it. */
  peers: PeerClient;
  /** Seed addresses, `host:port`. */
  seeds: string[];
  /** This node's public address, `host:port`, put in its record. */
  publicAddr: string;
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /** Where events go (counts only). */
  log: Logger;
  /** Time between gossip rounds, ms (default 10,000). */
  intervalMs?: number;
  /** Peers probed with `GET /v1/info` each round (default 3). */
  probeCount?: number;
  /** Time between re-signings of this node's record, ms (default 30 minutes). */
  resignIntervalMs?: number;
  /** Uniform random numbers in [0, 1) for picking peers (default Math.random). */
  random?: () => number;
}

/** What an announcement to one node came to. */
type AnnounceAnswer = "accepted" | "refused" | "failed";

/** What a node knows of its own place in the network. */
export interface GossipStatus {
  /** Whether a peer accepted this node's announcement (else client-only). */
  reachable: boolean;
  /** Live nodes known, this one included when reachable. */
  directorySize: number;
  /** Whether the last directory pull succeeded. */
  lastGossipOk: boolean;
}

/** Keeps the directory fresh and this node's record announced. */
export class Gossip {
  #deps: GossipDeps;
  #clock: () => number;
  #random: () => number;
  #record: NodeRecord | undefined;
  #signedAt = 0;
  #reachable = false;
  #lastGossipOk = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #extraSeeds: string[] = [];
  #partners: GossipPartners;
  /** Cursor of the last page read, by address (partners and seeds only). */
  #cursors = new Map<string, string>();
  /** While client-only: when to announce again, and the current backoff. */
  #nextAnnounceAt = 0;
  #announceBackoffMs = 0;
  /** Announcements to the seeds left for the current record (0: none due). */
  #seedRetriesLeft = 0;
  /** Rounds until the next one, and the current gap between them. */
  #seedRetryIn = 0;
  #seedRetryGap = 0;
  /** Whether a pull has returned the current record (it is spreading). */
  #recordSeen = false;
  /** Rounds without that since the last announcement, and tries left. */
  #unseenRounds = 0;
  #unseenRetriesLeft = 0;

  /**
   * Create the gossip of a node; nothing happens until bootstrap or start.
   * @param deps directory, identity, peer client, seeds, public address and timing
   * @throws {RangeError} when the public address or a seed is not `host:port`
   */
  constructor(deps: GossipDeps) {
    if (!isValidAddr(deps.publicAddr)) throw new RangeError("Public address must be host:port");
    for (const seed of deps.seeds) {
      if (!isValidAddr(seed)) throw new RangeError("Seed address must be host:port");
    }
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#random = deps.random ?? Math.random;
    this.#partners = new GossipPartners(deps.directory, {
      random: this.#random,
      seeds: () => this.#seeds(),
    });
  }

  /** This node's reachability, directory size and gossip health. */
  status(): GossipStatus {
    return {
      reachable: this.#reachable,
      directorySize: this.#deps.directory.size(),
      lastGossipOk: this.#lastGossipOk,
    };
  }

  /**
   * Sign this node's record, pull the directory from each seed, and
   * announce the record to the seeds and a few known peers. The node is
   * reachable when at least one of them accepted it. Can be called again
   * to join through more seeds.
   * @param seeds more seeds to join through (kept with those given at construction)
   * @returns the status afterwards
   * @throws {RangeError} when a seed is not `host:port`
   */
  async bootstrap(seeds: string[] = []): Promise<GossipStatus> {
    for (const seed of seeds) {
      if (!isValidAddr(seed)) throw new RangeError("Seed address must be host:port");
    }
    this.#extraSeeds = [...new Set([...this.#extraSeeds, ...seeds])];
    await this.#sign();
    const targets = this.#seeds();
    const pulls = await Promise.all(targets.map((seed) => this.#pull(seed)));
    if (targets.length > 0) this.#lastGossipOk = pulls.some((ok) => ok);
    await this.#announce(true);
    this.#deps.log.info("gossip.bootstrapped", {
      reachable: this.#reachable,
      directorySize: this.#deps.directory.size(),
    });
    return this.status();
  }

  /** Start periodic gossip rounds (bootstrapping first if not done yet). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stop gossiping; waits for a round in progress to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Run one gossip round now (also what the timer runs). */
  async round(): Promise<void> {
    if (!this.#record) {
      await this.bootstrap();
      return;
    }
    const partner = this.#partners.next();
    this.#pruneCursors();
    const source = partner?.addr ?? pickRandom(this.#seeds(), 1, this.#random)[0];
    if (source !== undefined) {
      this.#lastGossipOk = await this.#pull(source);
      if (partner) this.#partners.countPull(partner.id, this.#lastGossipOk);
    }
    await Promise.all(
      this.#deps.directory.samplePeers(this.#deps.probeCount ?? 3, this.#random)
        .map((peer) => this.#probe(peer)),
    );
    const now = this.#clock();
    const resignMs = this.#deps.resignIntervalMs ?? RECORD_RESIGN_MS;
    if (now - this.#signedAt >= resignMs) {
      // Now and then swap a partner for a random peer, so the pull graph keeps mixing.
      if (this.#random() < PARTNER_SWAP_CHANCE) this.#partners.dropRandom();
      await this.#sign();
      await this.#announce(!this.#reachable);
    } else if (!this.#reachable && now >= this.#nextAnnounceAt) {
      await this.#announce(true);
    } else if (this.#seedRetriesLeft > 0 && --this.#seedRetryIn <= 0) {
      await this.#announceToSeeds();
    } else if (
      this.#reachable && !this.#recordSeen && this.#unseenRetriesLeft > 0 &&
      ++this.#unseenRounds >= UNSEEN_ROUNDS
    ) {
      // The peers that took it may be ones nobody pulls from: try others.
      this.#unseenRounds = 0;
      this.#unseenRetriesLeft--;
      await this.#announce(false);
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    const interval = this.#deps.intervalMs ?? 10_000;
    // ±20% jitter so that nodes started together do not gossip in lockstep.
    const delay = interval * (0.8 + 0.4 * this.#random());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.round()
        .catch(() => this.#deps.log.warn("gossip.round_failed"))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, delay);
  }

  async #sign(): Promise<void> {
    const now = this.#clock();
    this.#record = await signRecord(this.#deps.identity, { addr: this.#deps.publicAddr, ts: now });
    this.#signedAt = now;
    this.#seedRetriesLeft = 0;
    this.#recordSeen = false;
    this.#unseenRounds = 0;
    this.#unseenRetriesLeft = UNSEEN_RETRIES;
    this.#deps.directory.setSelf(this.#record, { reachable: this.#reachable });
  }

  /**
   * Announce to a few random peers, and to the seeds when `toSeeds`;
   * update reachability, and schedule announcing to the seeds again when
   * none of them accepted.
   */
  async #announce(toSeeds: boolean): Promise<void> {
    const record = this.#record!;
    const seeds = toSeeds ? this.#seeds() : [];
    const targets = new Set(seeds);
    for (const peer of this.#deps.directory.samplePeers(ANNOUNCE_PEERS, this.#random)) {
      targets.add(peer.addr);
    }
    targets.delete(this.#deps.publicAddr);
    if (targets.size === 0) return;
    const addrs = [...targets];
    const answers = await Promise.all(addrs.map((addr) => this.#post(addr, record)));
    // Only an explicit refusal makes a reachable node client-only; a peer
    // that is down says nothing about this node's address.
    const reachable = answers.includes("accepted") ||
      (this.#reachable && !answers.includes("refused"));
    if (reachable !== this.#reachable) {
      this.#deps.log.info("gossip.reachability", { reachable });
    }
    this.#reachable = reachable;
    if (this.#record === record) this.#deps.directory.setSelf(record, { reachable });
    // A client-only node retries with a doubling backoff, so that nodes
    // behind NAT do not make their peers dial back every round.
    const interval = this.#deps.intervalMs ?? 10_000;
    const cap = this.#deps.resignIntervalMs ?? RECORD_RESIGN_MS;
    this.#announceBackoffMs = reachable
      ? 0
      : Math.min(cap, Math.max(interval, this.#announceBackoffMs * 2));
    this.#nextAnnounceAt = this.#clock() + this.#announceBackoffMs;
    if (seeds.length === 0 || this.#record !== record) return;
    // A reachable node whose record no seed took (lost requests or answers,
    // or a lost dial-back) announces to the seeds again in later rounds.
    const seedAccepted = addrs.some((addr, i) => answers[i] === "accepted" && seeds.includes(addr));
    this.#seedRetriesLeft = reachable && !seedAccepted ? SEED_ANNOUNCE_RETRIES : 0;
    this.#seedRetryGap = 1;
    this.#seedRetryIn = 1;
  }

  /**
   * Announce the current record to the seeds again; stop when one accepts,
   * else wait twice as many rounds before the next try. Reachability is
   * left as it is: the announcement to random peers decided it.
   */
  async #announceToSeeds(): Promise<void> {
    const record = this.#record!;
    const answers = await Promise.all(this.#seeds().map((seed) => this.#post(seed, record)));
    if (this.#record !== record) return;
    this.#seedRetriesLeft = answers.includes("accepted") ? 0 : this.#seedRetriesLeft - 1;
    this.#seedRetryGap *= 2;
    this.#seedRetryIn = this.#seedRetryGap;
  }

  /** Post this node's record to `addr`'s `/v1/announce`. */
  async #post(addr: string, record: NodeRecord): Promise<AnnounceAnswer> {
    try {
      const res = await this.#deps.peers.json(addr, "/v1/announce", record, {
        timeoutMs: ANNOUNCE_TIMEOUT_MS,
        maxResponseBytes: MAX_RECORD_BYTES,
      });
      return (res as { accepted?: unknown } | null)?.accepted === true ? "accepted" : "failed";
    } catch (err) {
      return err instanceof HearthError && err.code === "unreachable" ? "refused" : "failed";
    }
  }

  /** Keep cursors only for the partners and seeds. */
  #pruneCursors(): void {
    if (this.#cursors.size === 0) return;
    const keep = new Set([...this.#seeds(), ...this.#partners.addrs()]);
    for (const addr of [...this.#cursors.keys()]) if (!keep.has(addr)) this.#cursors.delete(addr);
  }

  /**
   * Pull what arrived at a peer since the last pull from it (everything,
   * the first time), page by page, and merge it.
   * @returns whether the first page could be read
   */
  async #pull(addr: string): Promise<boolean> {
    let received = 0;
    let accepted = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const cursor = this.#cursors.get(addr);
      let res: unknown;
      try {
        res = await this.#deps.peers.json(
          addr,
          cursor === undefined ? "/v1/directory" : `/v1/directory?after=${cursor}`,
          undefined,
          {
            timeoutMs: PULL_TIMEOUT_MS,
            maxResponseBytes: MAX_DIRECTORY_RECORDS * MAX_RECORD_BYTES + 1_024,
          },
        );
      } catch (err) {
        // A cursor the peer cannot read (it never should): start over next time.
        if (err instanceof HearthError && err.code === "bad_request") this.#cursors.delete(addr);
        return page > 0;
      }
      const answer = (res ?? {}) as { records?: unknown; cursor?: unknown; more?: unknown };
      if (!Array.isArray(answer.records)) return page > 0;
      received += answer.records.length;
      accepted += await this.#deps.directory.merge(answer.records);
      if (!this.#recordSeen) this.#recordSeen = answer.records.some((r) => this.#isCurrent(r));
      const next = answer.cursor;
      if (typeof next !== "string" || next.length > MAX_CURSOR_LENGTH) break;
      this.#cursors.set(addr, next);
      if (answer.more !== true) break;
    }
    this.#deps.log.debug("gossip.pulled", { received, accepted });
    return true;
  }

  /** Whether a record from a pull is this node's current one. */
  #isCurrent(value: unknown): boolean {
    const mine = this.#record;
    const record = value as { id?: unknown; ts?: unknown } | null;
    return mine !== undefined && record?.id === mine.id && record?.ts === mine.ts;
  }

  async #probe(peer: NodeRecord): Promise<void> {
    let ok = false;
    try {
      const info = await this.#deps.peers.json(peer.addr, "/v1/info", undefined, {
        timeoutMs: DIAL_BACK_TIMEOUT_MS,
        maxResponseBytes: MAX_INFO_BYTES,
      });
      ok = infoMatches(info, peer);
    } catch {
      ok = false;
    }
    if (ok) this.#deps.directory.markSuccess(peer.id);
    else this.#deps.directory.markFailure(peer.id);
  }

  #seeds(): string[] {
    const all = new Set([...this.#deps.seeds, ...this.#extraSeeds]);
    all.delete(this.#deps.publicAddr);
    return [...all];
  }
}
