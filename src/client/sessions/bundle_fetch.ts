/**
 * Fetch a peer's prekey bundle: read the public-read namespace 5 of the
 * peer's swarm (no signature: the reader does not reveal who it is beyond
 * what the onion path shows), from two members at once, and keep the
 * newest bundle that verifies under the peer's Account ID. Items that do
 * not verify are skipped. {@link fetchBundleWithin} bounds a fetch by a
 * timeout, for sending.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";
import { parseAccountId } from "../account/account_id.ts";
import type { RetrievedItem, SwarmClient } from "../network/swarm_client.ts";
import { BUNDLE_NAMESPACE, openBundle, type PrekeyBundle } from "./prekey_bundle.ts";

/** How many swarm members are asked at once: one may lag behind or withhold. */
const MEMBERS_ASKED = 2;

/**
 * The newest valid prekey bundle of a peer.
 * @param swarm the client of the swarms
 * @param peerAccountId the peer's Account ID
 * @param options.signal aborts the requests; options.now the clock for the bundle's time check
 * @returns the bundle, or undefined when the peer has none that verifies
 * @throws {HearthError} `bad_account_id` for a malformed ID; the network error when no
 *   member answered
 */
export async function fetchBundle(
  swarm: SwarmClient,
  peerAccountId: string,
  options: { signal?: AbortSignal; now?: number } = {},
): Promise<PrekeyBundle | undefined> {
  const identity = parseAccountId(peerAccountId);
  const key = swarmKeyOf(identity);
  const target = options.signal ? { signal: options.signal } : {};
  const answers = await Promise.allSettled(
    Array.from(
      { length: MEMBERS_ASKED },
      () => swarm.retrievePublic(key, BUNDLE_NAMESPACE, target),
    ),
  );
  const answered = answers.filter((a) => a.status === "fulfilled");
  if (answered.length === 0) throw (answers[0] as PromiseRejectedResult).reason;
  const items: RetrievedItem[] = answered.flatMap((a) => a.value.items);
  let newest: PrekeyBundle | undefined;
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.hash)) continue;
    seen.add(item.hash);
    let bundle: PrekeyBundle;
    try {
      bundle = await openBundle(
        item.data,
        identity,
        options.now === undefined ? {} : { now: options.now },
      );
    } catch (err) {
      if (err instanceof HearthError) continue;
      throw err;
    }
    if (!newest || bundle.createdAt > newest.createdAt) newest = bundle;
  }
  return newest;
}

/**
 * Where a peer's prekey bundle comes from: the peer's swarm (`fetchBundle`)
 * in a running messenger. Answers undefined when the peer has none.
 */
export type BundleSource = (
  peer: string,
  options: { signal: AbortSignal },
) => Promise<PrekeyBundle | undefined>;

/** Options of {@link fetchBundleWithin}. */
export interface FetchWithinOptions {
  /** How long to wait, ms; the fetch is aborted then. */
  timeoutMs: number;
  /** Aborts the fetch (and answers undefined at once when already aborted). */
  stop: AbortSignal;
  /** Current time, ms (for the logged duration). */
  clock: () => number;
  /** Gets a `bundle_fetched` debug event. */
  log: Logger;
}

/**
 * A peer's bundle from `source`, bounded by a timeout and a stop signal.
 * @param source where bundles come from
 * @param peer the peer's Account ID
 * @returns the bundle, or undefined on none, a failure, the timeout or a stop
 */
export async function fetchBundleWithin(
  source: BundleSource,
  peer: string,
  options: FetchWithinOptions,
): Promise<PrekeyBundle | undefined> {
  if (options.stop.aborted) return undefined;
  const abort = new AbortController();
  const onStop = () => abort.abort();
  options.stop.addEventListener("abort", onStop);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(undefined);
    }, options.timeoutMs);
  });
  const started = options.clock();
  try {
    const bundle = await Promise.race([
      source(peer, { signal: abort.signal }).catch(() => undefined),
      timeout,
    ]);
    options.log.debug("bundle_fetched", {
      found: bundle !== undefined,
      ms: options.clock() - started,
    });
    return bundle;
  } finally {
    clearTimeout(timer);
    options.stop.removeEventListener("abort", onStop);
  }
}
