/**
 * What a failed onion request says about its path (PROTOCOL §7): which
 * relay failed, or that the relays did their job and the destination
 * failed, or nothing at all.
 *
 * A hop that cannot deliver to the next one answers `hop_failed`,
 * `timeout` or `unknown_hop` with its own index, so hop `h` reporting it
 * blames hop `h + 1`. Only when the first hop itself cannot be reached
 * (the client's fetch fails or times out) is hop 0 to blame.
 * @module
 */
import { HearthError } from "../../shared/errors.ts";

/** The verdict on a path after a failed request. */
export type PathVerdict =
  /** The relays carried the request; `destinationFailed` when the destination did not answer. */
  | { kind: "carried"; destinationFailed: boolean }
  /** A relay failed: `hop` is its index (0 = guard), undefined when it cannot be told which. */
  | { kind: "failed"; hop: number | undefined }
  /** The error says nothing about the path (a rate limit, a bad clock, a bug). */
  | { kind: "unknown" };

/** Codes of a hop that could not deliver to the next one. */
const FORWARD_FAILURES = new Set(["hop_failed", "timeout", "unknown_hop"]);

/** Codes a hop refuses a packet with that point at the hop itself. */
const HOP_FAULTS = new Set([...FORWARD_FAILURES, "unavailable", "decrypt_failed"]);

/**
 * Judge a path by the error its request ended with.
 * @param err what `rpcViaOnion` threw
 * @param options.relays how many relays precede the destination (the destination's hop index)
 * @param options.sealed whether the first hop answered `200`, i.e. an
 *   onion answer came back; otherwise an error at hop 0 is the first hop's
 *   own (unreachable, silent, or a plain HTTP refusal)
 */
export function judgePath(
  err: unknown,
  options: { relays: number; sealed: boolean },
): PathVerdict {
  if (!(err instanceof HearthError)) return { kind: "unknown" };
  const dest = options.relays;
  const raw = err.details?.hop;
  const hop = typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0 && raw <= dest
    ? raw
    : undefined;
  if (hop === 0 && !options.sealed) {
    // Rate limits, stale timestamps and replays are about this client, not the hop.
    return HOP_FAULTS.has(err.code) ? { kind: "failed", hop: 0 } : { kind: "unknown" };
  }
  if (FORWARD_FAILURES.has(err.code)) {
    if (hop === undefined) return { kind: "failed", hop: undefined };
    const next = hop + 1;
    if (next >= dest) return { kind: "carried", destinationFailed: true };
    return { kind: "failed", hop: next };
  }
  if (err.code === "decrypt_failed") {
    // The answer did not open, or the destination could not open the body:
    // a relay altered the packet (tagging), and which one cannot be told.
    return { kind: "failed", hop: hop === undefined || hop === dest ? undefined : hop };
  }
  if (hop === dest) return { kind: "carried", destinationFailed: err.code !== "wrong_swarm" };
  if (err.code === "unavailable" && hop !== undefined) return { kind: "failed", hop };
  return { kind: "unknown" };
}

/**
 * A fetch for `rpcViaOnion` that notes whether the first hop answered
 * `200`: the `sealed` option of {@link judgePath}.
 * @param note set to `{sealed: true}` once the first hop answers 200
 * @param inner the fetch to wrap (default: the global one)
 */
export function watchFirstHop(
  note: { sealed: boolean },
  inner: typeof fetch = fetch,
): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    note.sealed = res.status === 200;
    return res;
  };
}
