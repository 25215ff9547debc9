/**
 * The node record as it travels on the wire (JSON) and sits in the
 * directory. Signing, verification and proof of work live in record.ts.
 * @module
 */

/** A signed node record. All binary fields are lowercase hex. */
export interface NodeRecord {
  /** Ed25519 public key, 32 bytes hex: the node ID. */
  id: string;
  /** X25519 public key, 32 bytes hex: onion layers are encrypted to it. */
  x25519: string;
  /** Public address others dial, "host:port". */
  addr: string;
  /** Protocol version the node speaks. */
  version: number;
  /** When the record was signed, ms since the Unix epoch. */
  ts: number;
  /** Proof-of-work nonce over the public keys, 8 bytes hex. */
  pow: string;
  /** Ed25519 signature over the record's signing bytes, 64 bytes hex. */
  sig: string;
}

/** The keys and proof of work of this node, loaded from its data dir. */
export interface NodeIdentity {
  /** Hex Ed25519 public key. */
  readonly id: string;
  readonly signing: import("../../shared/crypto/sign.ts").SigningKeyPair;
  readonly dh: import("../../shared/crypto/dh.ts").DhKeyPair;
  /** 8-byte proof-of-work nonce over the public keys. */
  readonly powNonce: Uint8Array;
}
