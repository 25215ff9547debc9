/**
 * The node record as it travels on the wire (JSON). Relays sign, verify and
 * gossip records; clients read them to build paths and find swarms.
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
