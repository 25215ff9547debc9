/**
 * Per-peer token buckets for the relay port. Peers are keyed by their
 * remote address, held only in memory, never logged or persisted, and
 * forgotten once their bucket is full again.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HearthError } from "../../shared/errors.ts";

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Tokens added per second (default 300). */
  ratePerSecond?: number;
  /** Bucket size (default 600). */
  burst?: number;
  /** Most peers tracked at once (default 10,000); beyond, new peers are refused. */
  maxPeers?: number;
  /** Clock in ms (default Date.now). */
  clock?: () => number;
  /** Returns the peer key of a request (default: the remote address). */
  peerOf: (request: Request) => string | undefined;
}

/** A token-bucket limiter: `take(peer)` is false when the peer must wait. */
export class TokenBuckets {
  #rate: number;
  #burst: number;
  #maxPeers: number;
  #clock: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: Omit<RateLimitOptions, "peerOf"> = {}) {
    this.#rate = options.ratePerSecond ?? 300;
    this.#burst = options.burst ?? 600;
    this.#maxPeers = options.maxPeers ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** Take one token for `peer`; false when its bucket is empty. */
  take(peer: string): boolean {
    const now = this.#clock();
    let b = this.#buckets.get(peer);
    if (!b) {
      if (this.#buckets.size >= this.#maxPeers) this.#sweep(now);
      if (this.#buckets.size >= this.#maxPeers) return false;
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(peer, b);
    }
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Number of peers tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    for (const [peer, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(peer);
    }
  }
}

/**
 * Hono middleware refusing requests beyond the per-peer rate with
 * `rate_limited`.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const buckets = new TokenBuckets(options);
  return async function rateLimitMiddleware(c, next) {
    const peer = options.peerOf(c.req.raw) ?? "unknown";
    if (!buckets.take(peer)) throw new HearthError("rate_limited", "Too many requests");
    await next();
  };
}
