/**
 * How often a peer whose session payloads do not open is sent a
 * `session-reset` (docs/PROTOCOL.md §12): at most once per
 * {@link RESET_INTERVAL_MS}, except that a prekey message naming a new
 * handshake (an ephemeral key that this pacer has not answered with a
 * reset yet) may have another one once {@link NEW_HANDSHAKE_RESET_MS} has
 * passed since the last. That is what heals a peer that started its new
 * handshake from a stale bundle (the one of the node the owner restored
 * from): every reset makes it try again with a new key.
 *
 * Kept in memory only, bounded: the last {@link HANDSHAKES_KEPT} keys per
 * peer and at most {@link PEERS_KEPT} peers (the least recently reset goes
 * first; forgetting one only allows its next reset sooner).
 * @module
 */
import { bytesEqual } from "../../shared/crypto/mod.ts";

/** A peer is sent at most one `session-reset` this often, ms (an hour)… */
export const RESET_INTERVAL_MS = 3_600_000;
/** …but one for a new handshake this often, ms (a minute). */
export const NEW_HANDSHAKE_RESET_MS = 60_000;
/** How many handshake keys answered with a reset are remembered per peer. */
export const HANDSHAKES_KEPT = 8;
/** How many peers are remembered. */
export const PEERS_KEPT = 1_000;

/** What is remembered of one peer. */
interface PeerResets {
  /** When it was last sent a reset, ms. */
  last: number;
  /** Ephemeral keys of the handshakes answered with a reset, oldest first. */
  handshakes: Uint8Array[];
}

/** Decides when a peer is due a `session-reset`; one per inbox receiver. */
export class ResetPacer {
  readonly #peers = new Map<string, PeerResets>();

  /**
   * Whether a payload from `peer` that did not open should be answered with
   * a `session-reset` now; when it should, the reset is counted as sent.
   * @param peer the peer's Account ID
   * @param options.now current time, ms
   * @param options.handshake the ephemeral key of a prekey message tried as a new handshake
   * @returns true when the reset is due
   */
  due(peer: string, options: { now: number; handshake?: Uint8Array }): boolean {
    const { now, handshake } = options;
    const known = this.#peers.get(peer);
    if (known) {
      const since = now - known.last;
      const fresh = handshake !== undefined &&
        !known.handshakes.some((k) => bytesEqual(k, handshake));
      if (since < RESET_INTERVAL_MS && !(fresh && since >= NEW_HANDSHAKE_RESET_MS)) return false;
    }
    const handshakes = known?.handshakes ?? [];
    if (handshake !== undefined && !handshakes.some((k) => bytesEqual(k, handshake))) {
      handshakes.push(handshake.slice());
      if (handshakes.length > HANDSHAKES_KEPT) handshakes.shift();
    }
    this.#peers.delete(peer);
    this.#peers.set(peer, { last: now, handshakes });
    if (this.#peers.size > PEERS_KEPT) {
      this.#peers.delete(this.#peers.keys().next().value!);
    }
    return true;
  }
}
