/**
 * Fetch a peer's prekey bundle: read the public-read namespace 5 of the
 * peer's swarm (no signature: the reader does not reveal who it is beyond
 * what the onion path shows), from two members at once, and keep the
 * newest bundle that verifies under the peer's Account ID. Items that do
 * not verify are skipped.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
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
