/**
 * Types of the directory: the node record (defined in src/shared, since
 * clients read records too) and this node's identity.
 * @module
 */
import type { DhKeyPair } from "../../shared/crypto/dh.ts";
import type { SigningKeyPair } from "../../shared/crypto/sign.ts";

export type { NodeRecord } from "../../shared/node_record.ts";

/** The keys and proof of work of this node, loaded from its data dir. */
export interface NodeIdentity {
  /** Hex Ed25519 public key. */
  readonly id: string;
  readonly signing: SigningKeyPair;
  readonly dh: DhKeyPair;
  /** 8-byte proof-of-work nonce over the public keys. */
  readonly powNonce: Uint8Array;
}
