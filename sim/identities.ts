/**
 * Node identities for the simulation: real Ed25519 and X25519 keys and a
 * real proof of work, from seeded randomness (the simulation mines at a
 * low difficulty; see pow_cost.ts for the cost at the network's).
 * @module
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { dhKeyPairFromPrivate } from "../src/shared/crypto/dh.ts";
import { signingKeyPairFromSeed } from "../src/shared/crypto/sign.ts";
import { solvePow } from "../src/relay/identity.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";
import type { SimRandom } from "./random.ts";

/**
 * Make a node identity from seeded randomness.
 * @param random the seeded source of the private keys
 * @param powBits the proof-of-work difficulty to mine
 */
export async function simIdentity(random: SimRandom, powBits: number): Promise<NodeIdentity> {
  const signing = await signingKeyPairFromSeed(random.bytes(32));
  const dh = await dhKeyPairFromPrivate(random.bytes(32));
  const powNonce = solvePow(signing.publicKey, dh.publicKey, powBits);
  return { id: toHex(signing.publicKey), signing, dh, powNonce };
}

/**
 * A unique public IPv4 address `a.b.c.d:7000`, in one of `groups` /16
 * networks when given (a sybil operator's few address blocks), else
 * anywhere in 1.0.0.0–223.255.255.255 outside 10/8 and 127/8.
 * @param random the seeded source
 * @param taken addresses already given out (updated)
 * @param groups the /16 networks to draw from, as [a, b] pairs
 */
export function simAddress(
  random: SimRandom,
  taken: Set<string>,
  groups?: readonly (readonly [number, number])[],
): string {
  for (let tries = 0; tries < 1_000; tries++) {
    let a: number;
    let b: number;
    if (groups && groups.length > 0) {
      [a, b] = groups[random.int(groups.length)]!;
    } else {
      a = 1 + random.int(223);
      b = random.int(256);
      if (a === 10 || a === 127) continue;
    }
    const addr = `${a}.${b}.${random.int(256)}.${1 + random.int(254)}:7000`;
    if (taken.has(addr)) continue;
    taken.add(addr);
    return addr;
  }
  throw new RangeError("Address space is exhausted");
}
