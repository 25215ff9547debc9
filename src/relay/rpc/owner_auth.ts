/**
 * The owner's signature on a storage request (PROTOCOL §5): checked by the
 * node that runs the request, and again by each swarm member a delete or
 * an expiry change is replicated to (PROTOCOL §6). Also a group member's
 * signature and access token (member-write and member-read namespaces),
 * checked only by the node that runs the request.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/bytes.ts";
import { verify } from "../../shared/crypto/sign.ts";
import { SIGNATURE_WINDOW_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { groupAccessBytes } from "../../shared/storage/namespaces.ts";
import { type SignedOperands, storageSigningBytes } from "../../shared/storage/signing.ts";
import { swarmKeyOf } from "../swarm/swarm_map.ts";
import type { MemberAuth, OwnerAuth } from "./storage_request.ts";

/**
 * Check that the owner of swarm key `key` signed these operands: the
 * timestamp is within the window, the public key hashes to `key`, and the
 * signature verifies.
 * @param key the 32-byte swarm key
 * @param auth the owner's public key, timestamp and signature
 * @param options.ns the namespace, options.operands the method and what it acts on,
 *   options.now the clock, options.windowMs the accepted clock difference
 *   (default ±60 s)
 * @throws {HearthError} `bad_timestamp` or `bad_signature`
 */
export async function checkOwnerAuth(
  key: Uint8Array,
  auth: OwnerAuth,
  options: AuthCheckOptions,
): Promise<void> {
  checkTimeAndOwner(key, auth, options);
  const signed = storageSigningBytes(key, options.ns, auth.ts, options.operands);
  if (!(await verify(auth.pubkey, signed, auth.sig))) {
    throw new HearthError("bad_signature", "Bad signature");
  }
}

/**
 * Check that a member the owner of swarm key `key` granted access signed
 * these operands: the timestamp is within the window, the group's public
 * key hashes to `key`, the group's token over
 * `groupAccessBytes(key, member)` verifies, and the member's signature over
 * the same bytes an owner signs verifies. Whether the member was revoked
 * since is the caller's check (it needs the store).
 * @param key the 32-byte swarm key
 * @param auth the group's key, the member's key and token, timestamp and signature
 * @param options as {@link checkOwnerAuth}
 * @throws {HearthError} `bad_timestamp` or `bad_signature`
 */
export async function checkMemberAuth(
  key: Uint8Array,
  auth: MemberAuth,
  options: AuthCheckOptions,
): Promise<void> {
  checkTimeAndOwner(key, auth, options);
  if (!(await verify(auth.pubkey, groupAccessBytes(key, auth.member), auth.token))) {
    throw new HearthError("bad_signature", "Bad access token");
  }
  const signed = storageSigningBytes(key, options.ns, auth.ts, options.operands);
  if (!(await verify(auth.member, signed, auth.sig))) {
    throw new HearthError("bad_signature", "Bad signature");
  }
}

/** What a signature check needs besides the key and the signature's fields. */
interface AuthCheckOptions {
  /** The namespace. */
  ns: number;
  /** The method and what it acts on. */
  operands: SignedOperands;
  /** The clock, ms. */
  now: number;
  /** The accepted clock difference, ms (default ±60 s). */
  windowMs?: number;
}

/**
 * The checks an owner's and a member's request share: the timestamp is
 * within the window, and the owner's public key hashes to `key`.
 * @throws {HearthError} `bad_timestamp` or `bad_signature`
 */
function checkTimeAndOwner(
  key: Uint8Array,
  auth: { pubkey: Uint8Array; ts: number },
  options: AuthCheckOptions,
): void {
  if (Math.abs(options.now - auth.ts) > (options.windowMs ?? SIGNATURE_WINDOW_MS)) {
    throw new HearthError("bad_timestamp", "Request timestamp is outside the window");
  }
  if (!bytesEqual(swarmKeyOf(auth.pubkey), key)) {
    throw new HearthError("bad_signature", "Key does not own this swarm key");
  }
}
