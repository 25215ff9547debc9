/**
 * This node's identity: an Ed25519 key (the node ID), an X25519 key (onion
 * layers are encrypted to it) and a proof of work over both public keys
 * (PROTOCOL.md §2). Kept in `node_key.json` in the data dir, readable only
 * by the owner (mode 0600), created at first start.
 * @module
 */
import { writeFileAtomic } from "../shared/atomic_file.ts";
import { fromHex, randomBytes, toHex, u32, utf8 } from "../shared/crypto/bytes.ts";
import { labeledHash, sha256 } from "../shared/crypto/hash.ts";
import { signingKeyPairFromSeed } from "../shared/crypto/sign.ts";
import { dhKeyPairFromPrivate } from "../shared/crypto/dh.ts";
import type { NodeIdentity } from "./directory/record_types.ts";

/** Label of the proof-of-work hash. */
export const POW_LABEL = "hearth/node-pow/v1";
/** File name of the node key in the data dir. */
export const NODE_KEY_FILE = "node_key.json";
/** Largest proof-of-work difficulty this node will try to solve. */
export const MAX_POW_BITS = 40;

/**
 * Count the leading zero bits of a hash.
 * @param hash the bytes to inspect
 * @returns the number of zero bits before the first one bit
 */
export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const b of hash) {
    if (b === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

/**
 * The strength of a proof of work: the leading zero bits of
 * `H("hearth/node-pow/v1", id, x25519, nonce)`.
 * @param id the 32-byte Ed25519 public key
 * @param x25519 the 32-byte X25519 public key
 * @param nonce the 8-byte nonce
 */
export function powBitsOf(id: Uint8Array, x25519: Uint8Array, nonce: Uint8Array): number {
  return leadingZeroBits(labeledHash(POW_LABEL, id, x25519, nonce));
}

/**
 * Whether a nonce is a proof of work of at least `bits` over the keys.
 * @param keys the 32-byte Ed25519 and X25519 public keys
 * @param nonce the 8-byte nonce
 * @param options.bits the difficulty D
 */
export function checkPow(
  keys: { id: Uint8Array; x25519: Uint8Array },
  nonce: Uint8Array,
  options: { bits: number },
): boolean {
  if (nonce.length !== 8 || keys.id.length !== 32 || keys.x25519.length !== 32) return false;
  return powBitsOf(keys.id, keys.x25519, nonce) >= options.bits;
}

/**
 * Find an 8-byte nonce whose proof-of-work hash has at least `bits` leading
 * zero bits. About 2^bits hashes; one reused buffer holds the exact bytes
 * {@link labeledHash} would hash, so each try is one SHA-256 call.
 * @param id the 32-byte Ed25519 public key
 * @param x25519 the 32-byte X25519 public key
 * @param bits the difficulty D, 0 to {@link MAX_POW_BITS}
 * @returns the nonce
 * @throws {RangeError} on a bad key length or difficulty
 */
export function solvePow(id: Uint8Array, x25519: Uint8Array, bits: number): Uint8Array {
  if (id.length !== 32 || x25519.length !== 32) throw new RangeError("Keys must be 32 bytes");
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_POW_BITS) {
    throw new RangeError(`Proof-of-work bits must be 0 to ${MAX_POW_BITS}`);
  }
  const label = utf8(POW_LABEL);
  const parts = [label, id, x25519, new Uint8Array(8)];
  let size = 0;
  for (const p of parts) size += 4 + p.length;
  const message = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    message.set(u32(p.length), offset);
    message.set(p, offset + 4);
    offset += 4 + p.length;
  }
  const nonceAt = size - 8;
  const view = new DataView(message.buffer);
  // A random high word keeps two solvers of the same keys from colliding.
  view.setUint32(nonceAt, new DataView(randomBytes(4).buffer).getUint32(0));
  for (let low = 0;; low++) {
    if (low === 0x1_0000_0000) {
      low = 0;
      view.setUint32(nonceAt, (view.getUint32(nonceAt) + 1) >>> 0);
    }
    view.setUint32(nonceAt + 4, low);
    if (leadingZeroBits(sha256(message)) >= bits) return message.slice(nonceAt);
  }
}

/** The JSON of `node_key.json`; the public keys are there for tools to read. */
interface KeyFile {
  id: string;
  x25519: string;
  ed25519Seed: string;
  x25519Private: string;
  pow: string;
}

function parseKeyFile(text: string): { seed: Uint8Array; dh: Uint8Array; pow: Uint8Array } {
  try {
    const o = JSON.parse(text) as KeyFile;
    return {
      seed: fromHex(o.ed25519Seed, 32),
      dh: fromHex(o.x25519Private, 32),
      pow: fromHex(o.pow, 8),
    };
  } catch {
    throw new Error("Node key file is malformed");
  }
}

/**
 * Load this node's identity from `node_key.json` in `dataDir`, or create
 * one at first start (file mode 0600). A stored nonce weaker than
 * `powBits` (the difficulty was raised) is solved again and saved.
 * @param dataDir the node's data directory (created when missing)
 * @param options.powBits the network's proof-of-work difficulty D
 * @returns the identity
 * @throws {Error} when the key file exists but is malformed
 */
export async function loadOrCreateIdentity(
  dataDir: string,
  options: { powBits: number },
): Promise<NodeIdentity> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = `${dataDir}/${NODE_KEY_FILE}`;
  let stored: { seed: Uint8Array; dh: Uint8Array; pow: Uint8Array } | undefined;
  try {
    stored = parseKeyFile(await Deno.readTextFile(path));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const signing = await signingKeyPairFromSeed(stored?.seed ?? randomBytes(32));
  const dh = await dhKeyPairFromPrivate(stored?.dh ?? randomBytes(32));
  let pow = stored?.pow;
  const keys = { id: signing.publicKey, x25519: dh.publicKey };
  if (!pow || !checkPow(keys, pow, { bits: options.powBits })) {
    pow = solvePow(signing.publicKey, dh.publicKey, options.powBits);
    const file: KeyFile = {
      id: toHex(signing.publicKey),
      x25519: toHex(dh.publicKey),
      ed25519Seed: toHex(signing.seed),
      x25519Private: toHex(dh.privateKey),
      pow: toHex(pow),
    };
    await writeFileAtomic(path, JSON.stringify(file));
  }
  return { id: toHex(signing.publicKey), signing, dh, powNonce: pow };
}
