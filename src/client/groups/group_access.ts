/**
 * A group's keys besides its messages' (docs/PROTOCOL.md §14): the swarm
 * key, the members' access grants (an Ed25519 access key per member and the
 * group key's signature over it, which relays check), and the wrapping of
 * the symmetric group key to each member's X25519 key.
 * @module
 */
import {
  deriveKey,
  type DhKeyPair,
  dhKeyPairFromPrivate,
  ed25519PublicToX25519,
  ed25519SeedToX25519Private,
  randomBytes,
  sign,
  type SigningKeyPair,
  signingKeyPairFromSeed,
  u32,
  verify,
  x25519,
  xchachaOpen,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import { concatBytes } from "../../shared/crypto/bytes.ts";
import { groupAccessBytes } from "../../shared/storage/namespaces.ts";
import { swarmKeyOf } from "../../shared/swarm_map.ts";

/** Bytes of one wrapped group key: the 32-byte key and the 16-byte tag. */
export const WRAPPED_KEY_BYTES = 48;

const WRAP_LABEL = "hearth/group-wrap/v1";

/** The swarm key of a group: the same mapping as an account's (`swarmKeyOf(G)`). */
export function groupSwarmKey(groupPublicKey: Uint8Array): Uint8Array {
  return swarmKeyOf(groupPublicKey);
}

/** A member's access to the group swarm: its key pair's seed and the admins' grant. */
export interface MemberAccess {
  /** The 32-byte seed of the member's Ed25519 access key. */
  seed: Uint8Array;
  /** The access public key (what relays and the state record name). */
  publicKey: Uint8Array;
  /** Ed25519(group key, groupAccessBytes(K, publicKey)), 64 bytes. */
  token: Uint8Array;
}

/**
 * Make a fresh access grant for one member (admins only: it needs the group seed).
 * @param group the group's key pair
 */
export async function grantAccess(group: SigningKeyPair): Promise<MemberAccess> {
  const member = await signingKeyPairFromSeed(randomBytes(32));
  const token = await sign(
    group,
    groupAccessBytes(groupSwarmKey(group.publicKey), member.publicKey),
  );
  return { seed: member.seed, publicKey: member.publicKey, token };
}

/**
 * Whether a token grants an access key to the group's swarm.
 * @param groupPublicKey the group's Ed25519 public key
 * @param accessPublicKey the member's access public key
 * @param token 64 bytes
 */
export async function verifyAccess(
  groupPublicKey: Uint8Array,
  accessPublicKey: Uint8Array,
  token: Uint8Array,
): Promise<boolean> {
  return await verify(
    groupPublicKey,
    groupAccessBytes(groupSwarmKey(groupPublicKey), accessPublicKey),
    token,
  );
}

/** The X25519 key pair of the group key (the admins' side of the key wrapping). */
export async function groupDhKeyPair(group: SigningKeyPair): Promise<DhKeyPair> {
  return await dhKeyPairFromPrivate(ed25519SeedToX25519Private(group.seed));
}

function wrapKey(shared: Uint8Array, swarmKey: Uint8Array, generation: number): Uint8Array {
  return deriveKey(shared, WRAP_LABEL, { salt: concatBytes(swarmKey, u32(generation)) });
}

/**
 * Wrap the group key of a generation to one member: XChaCha20-Poly1305
 * under HKDF(X25519(G_x, member_x), salt = K || u32(gen), info
 * "hearth/group-wrap/v1"), with the state record's nonce.
 * @param groupDh the group's X25519 key pair
 * @param memberAccount the member's Ed25519 account public key
 * @returns {@link WRAPPED_KEY_BYTES} bytes
 * @throws {CryptoError} when the member's key is not a valid point
 */
export async function wrapGroupKey(
  groupDh: DhKeyPair,
  memberAccount: Uint8Array,
  w: { swarmKey: Uint8Array; generation: number; nonce: Uint8Array; key: Uint8Array },
): Promise<Uint8Array> {
  const shared = await x25519(groupDh, ed25519PublicToX25519(memberAccount));
  return xchachaSeal(wrapKey(shared, w.swarmKey, w.generation), w.nonce, w.key);
}

/**
 * Find and unwrap the member's copy of the group key among a record's
 * entries (each is tried; junk and other members' entries do not open).
 * @param memberDh the member's account X25519 key pair
 * @param groupPublicKey the group's Ed25519 public key
 * @returns the 32-byte key, or undefined when no entry is the member's
 */
export async function unwrapGroupKey(
  memberDh: DhKeyPair,
  groupPublicKey: Uint8Array,
  w: { swarmKey: Uint8Array; generation: number; nonce: Uint8Array; entries: Uint8Array[] },
): Promise<Uint8Array | undefined> {
  let shared: Uint8Array;
  try {
    shared = await x25519(memberDh, ed25519PublicToX25519(groupPublicKey));
  } catch {
    return undefined;
  }
  const key = wrapKey(shared, w.swarmKey, w.generation);
  for (const entry of w.entries) {
    try {
      const out = xchachaOpen(key, w.nonce, entry);
      if (out.length === 32) return out;
    } catch { /* another member's entry, or junk */ }
  }
  return undefined;
}
