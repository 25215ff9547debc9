/**
 * The keys of one onion layer (docs/PROTOCOL.md §7): one HKDF call over the
 * X25519 secret of the layer, salted with both public keys, split into the
 * six keys a hop and the client need.
 * @module
 */
import { concatBytes } from "../crypto/bytes.ts";
import { deriveKey } from "../crypto/kdf.ts";

/** Bytes of one header slot: `eph_pub (32) || AES-GCM(routing) (64 + 16)`. */
export const SLOT_BYTES = 112;
/** Bytes of the onion header: 5 slots, the hop limit. */
export const HEADER_BYTES = 560;
/** Bytes of the plaintext routing block of one slot. */
export const ROUTING_BYTES = 64;
/** Bytes of the ephemeral X25519 public key at the start of a slot. */
export const EPH_BYTES = 32;
/** Bytes of the replay tag of a layer. */
export const TAG_BYTES = 16;

/** Domain label of the layer key derivation. */
export const LAYER_KEYS_LABEL = "hearth/onion/v1/keys";
/** Bytes drawn from the KDF for one layer. */
export const LAYER_KEYS_BYTES = 176;

/**
 * The all-zero 12-byte AES-GCM nonce of every onion use: each key encrypts
 * exactly once. Never mutate it.
 */
export const LAYER_NONCE: Uint8Array = new Uint8Array(12);

/** The keys of one layer, each its own 32-byte array (the tag 16 bytes). */
export interface LayerKeys {
  /** AES-GCM key of the routing slot. */
  readonly route: Uint8Array;
  /**
   * AES-CTR key of the forward transform: one stream over the shifted
   * header and the body (forward hops).
   */
  readonly shift: Uint8Array;
  /** AES-GCM key of the body at the final hop. */
  readonly final: Uint8Array;
  /** AES-CTR key of the response layer (forward hops). */
  readonly rstream: Uint8Array;
  /** AES-GCM key of a response this hop creates. */
  readonly resp: Uint8Array;
  /** Replay tag of the layer. */
  readonly tag: Uint8Array;
}

/**
 * Derive the keys of one layer:
 * `KDF(secret, salt = eph || node, "hearth/onion/v1/keys", 176)`.
 * @param secret the X25519 shared secret of the layer
 * @param publics `eph`, the layer's ephemeral public key, and `node`, the hop's X25519 key
 * @returns the six keys of the layer
 * @throws {RangeError} when a public key is not 32 bytes
 */
export function deriveLayerKeys(
  secret: Uint8Array,
  publics: { eph: Uint8Array; node: Uint8Array },
): LayerKeys {
  if (publics.eph.length !== EPH_BYTES || publics.node.length !== EPH_BYTES) {
    throw new RangeError("Layer public keys must be 32 bytes");
  }
  const m = deriveKey(secret, LAYER_KEYS_LABEL, {
    length: LAYER_KEYS_BYTES,
    salt: concatBytes(publics.eph, publics.node),
  });
  return {
    route: m.slice(0, 32),
    shift: m.slice(32, 64),
    final: m.slice(64, 96),
    rstream: m.slice(96, 128),
    resp: m.slice(128, 160),
    tag: m.slice(160, 176),
  };
}
