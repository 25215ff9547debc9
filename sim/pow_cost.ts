/**
 * The cost of the proof of work: the SHA-256 rate of the real solver on
 * this machine, measured by mining identities at a low difficulty with the
 * real `solvePow`, and what a sybil operator pays at the network's
 * difficulty: expected 2^D hashes per identity, done once per identity.
 * @module
 */
import { randomBytes } from "../src/shared/crypto/bytes.ts";
import { solvePow } from "../src/relay/identity.ts";

/** The measured rate and the cost of a share of the network. */
export interface PowCost {
  /** Difficulty mined to measure, bits. */
  measuredBits: number;
  /** Identities mined. */
  mined: number;
  /** Mean seconds per identity at the measured difficulty. */
  meanSecondsAtMeasured: number;
  /** Hashes per second of one core (2^bits × mined / time). */
  hashesPerSecond: number;
  /** The network's difficulty, bits. */
  networkBits: number;
  /** Expected seconds of one core per identity at the network's difficulty. */
  secondsPerIdentity: number;
  /** For each network size: sybil identities (10% of the network) and their cost. */
  shares: {
    networkNodes: number;
    sybilIdentities: number;
    coreSeconds: number;
    coreHours: number;
  }[];
}

/**
 * Mine `mined` identities at `measuredBits` and extrapolate to `networkBits`.
 * @param options difficulties, sample size, network sizes and sybil share
 */
export function measurePowCost(options: {
  measuredBits: number;
  mined: number;
  networkBits: number;
  networkSizes: number[];
  sybilShare: number;
}): PowCost {
  const t0 = performance.now();
  for (let i = 0; i < options.mined; i++) {
    solvePow(randomBytes(32), randomBytes(32), options.measuredBits);
  }
  const seconds = (performance.now() - t0) / 1000;
  const hashesPerSecond = (2 ** options.measuredBits * options.mined) / seconds;
  const secondsPerIdentity = 2 ** options.networkBits / hashesPerSecond;
  return {
    measuredBits: options.measuredBits,
    mined: options.mined,
    meanSecondsAtMeasured: seconds / options.mined,
    hashesPerSecond,
    networkBits: options.networkBits,
    secondsPerIdentity,
    shares: options.networkSizes.map((n) => {
      const sybilIdentities = Math.round((n * options.sybilShare) / (1 - options.sybilShare));
      const coreSeconds = sybilIdentities * secondsPerIdentity;
      return { networkNodes: n, sybilIdentities, coreSeconds, coreHours: coreSeconds / 3600 };
    }),
  };
}
