/**
 * Parse a storage RPC request frame (PROTOCOL §5) once, at the edge, into
 * a tagged union: every field is read with its type, range and size
 * checked, and the namespace class decides which signatures the request
 * may carry (none, the owner's, or a group member's), so the logic that
 * runs the request never touches raw input.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/bytes.ts";
import { decodeFrame } from "../../shared/codec/frame.ts";
import { arr, hexField, int, optInt } from "../../shared/codec/fields.ts";
import { MAX_ITEM_BYTES, MAX_LONG_POLL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { chunkKey, namespaceKind } from "../../shared/storage/namespaces.ts";
import {
  isNamespace,
  isValidTtl,
  MAX_HASHES_PER_REQUEST,
  MAX_RETRIEVE_BYTES,
} from "../store/item.ts";

/** The owner's signature on a request. */
export interface OwnerAuth {
  /** The owner's Ed25519 public key. */
  pubkey: Uint8Array;
  /** When the owner signed, ms since the epoch. */
  ts: number;
  /** Ed25519 signature over `storageSigningBytes` (src/shared/storage/signing.ts). */
  sig: Uint8Array;
}

/**
 * A group member's signature on a request (member-write and member-read
 * namespaces only): the owner's (the group's) public key, the member's
 * access key, the group's token granting it, and the member's signature.
 */
export interface MemberAuth {
  /** The group's Ed25519 public key: the owner of the swarm key. */
  pubkey: Uint8Array;
  /** The member's Ed25519 access public key. */
  member: Uint8Array;
  /** Ed25519(group key, groupAccessBytes(key, member)) (src/shared/storage/namespaces.ts). */
  token: Uint8Array;
  /** When the member signed, ms since the epoch. */
  ts: number;
  /** The member's Ed25519 signature over `storageSigningBytes`, the same bytes an owner signs. */
  sig: Uint8Array;
}

/** Whether a request's signature is a member's rather than the owner's. */
export function isMemberAuth(auth: OwnerAuth | MemberAuth): auth is MemberAuth {
  return "member" in auth;
}

/** A storage RPC request, parsed and checked. */
export type StorageRequest =
  | {
    method: "store";
    key: Uint8Array;
    ns: number;
    ttl: number;
    data: Uint8Array;
    /** Absent for an inbox or content-addressed store; a member's only in member-write. */
    auth: OwnerAuth | MemberAuth | undefined;
  }
  | {
    method: "retrieve";
    key: Uint8Array;
    ns: number;
    /**
     * Absent only for an unsigned retrieve of a public-read or
     * content-addressed namespace (then `wait` is 0); a member's only in
     * member-write and member-read.
     */
    auth: OwnerAuth | MemberAuth | undefined;
    after: Uint8Array | undefined;
    wait: number;
    maxBytes: number;
  }
  | { method: "delete"; key: Uint8Array; ns: number; auth: OwnerAuth; hashes: Uint8Array[] }
  | {
    method: "expire";
    key: Uint8Array;
    ns: number;
    auth: OwnerAuth;
    hashes: Uint8Array[];
    expiry: number;
  }
  | { method: "swarm"; key: Uint8Array };

/** The methods a request frame may name. */
export type StorageMethod = StorageRequest["method"];

type Header = Record<string, unknown>;

/**
 * Parse a request frame.
 * @throws {HearthError} `bad_request`, `bad_encoding`, `too_large`,
 *   `unknown_method`, `bad_namespace` or `bad_ttl`
 */
export function parseStorageRequest(frame: Uint8Array): StorageRequest {
  const { header, blob } = decodeFrame(frame);
  const method = header.method;
  if (typeof method !== "string") throw new HearthError("bad_request", "Field method is missing");
  if (method !== "store" && blob.length > 0) {
    throw new HearthError("bad_request", "Only store carries data");
  }
  switch (method) {
    case "store":
      return parseStore(header, blob);
    case "retrieve":
      return parseRetrieve(header);
    case "delete":
      return { method, ...ownerChange(header), hashes: hashList(header) };
    case "expire":
      return {
        method,
        ...ownerChange(header),
        hashes: hashList(header),
        expiry: int(header, "expiry", 0, Number.MAX_SAFE_INTEGER),
      };
    case "swarm":
      return { method, key: hexField(header, "key", 32) };
    default:
      throw new HearthError("unknown_method", "No such storage method");
  }
}

/** The target and owner's signature of a delete or expire: the owner's alone, in any class. */
function ownerChange(header: Header): { key: Uint8Array; ns: number; auth: OwnerAuth } {
  const { key, ns } = target(header);
  if (namespaceKind(ns) === "content") {
    throw new HearthError("bad_namespace", "Content-addressed items have no owner");
  }
  if (hasMemberFields(header)) {
    throw new HearthError("bad_namespace", "Only the owner deletes or changes expiry");
  }
  return { key, ns, auth: parseOwnerAuth(header) };
}

function parseStore(header: Header, data: Uint8Array): StorageRequest {
  const { key, ns } = target(header);
  const ttl = int(header, "ttl", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (!isValidTtl(ns, ttl)) throw new HearthError("bad_ttl", "TTL is out of range");
  if (data.length > MAX_ITEM_BYTES) throw new HearthError("too_large", "Item is too large");
  let auth: OwnerAuth | MemberAuth | undefined;
  switch (namespaceKind(ns)) {
    case "inbox":
      // Anyone stores; signature fields, if any, are ignored.
      break;
    case "content":
      refuseAnyAuth(header);
      if (!bytesEqual(key, chunkKey(data))) {
        throw new HearthError("bad_request", "Key is not the hash of the data");
      }
      break;
    case "member_write":
      auth = hasMemberFields(header) ? parseMemberAuth(header) : requireOwnerAuth(header);
      break;
    default:
      if (hasMemberFields(header)) {
        throw new HearthError("bad_namespace", "Only the owner stores in this namespace");
      }
      auth = requireOwnerAuth(header);
  }
  return { method: "store", key, ns, ttl, data, auth };
}

function parseRetrieve(header: Header): StorageRequest {
  const { key, ns } = target(header);
  const wait = optInt(header, "wait", 0, MAX_LONG_POLL_MS, 0);
  let auth: OwnerAuth | MemberAuth | undefined;
  const kind = namespaceKind(ns);
  const unsigned = kind === "content" ||
    (kind === "public_read" && !hasOwnerFields(header) && !hasMemberFields(header));
  if (kind === "content") refuseAnyAuth(header);
  if (unsigned) {
    // Anyone may read these, but not hold a node's request open.
    if (wait !== 0) throw new HearthError("bad_request", "An unsigned retrieve cannot wait");
  } else if (hasMemberFields(header)) {
    if (kind !== "member_write" && kind !== "member_read") {
      throw new HearthError("bad_namespace", "Only the owner retrieves in this namespace");
    }
    auth = parseMemberAuth(header);
  } else {
    auth = parseOwnerAuth(header);
  }
  return {
    method: "retrieve",
    key,
    ns,
    auth,
    after: header.after === undefined ? undefined : hexField(header, "after", 32),
    wait,
    maxBytes: optInt(header, "maxBytes", 1, MAX_RETRIEVE_BYTES, MAX_RETRIEVE_BYTES),
  };
}

/** The owner's signature, when the class takes only signed stores. */
function requireOwnerAuth(header: Header): OwnerAuth {
  if (!hasOwnerFields(header)) {
    throw new HearthError("bad_namespace", "Namespace takes only signed stores");
  }
  return parseOwnerAuth(header);
}

/** Content-addressed requests are unsigned: any signature field is an error. */
function refuseAnyAuth(header: Header): void {
  if (hasOwnerFields(header) || hasMemberFields(header)) {
    throw new HearthError("bad_request", "Content-addressed requests carry no signature");
  }
}

/** Whether a header carries any of the owner's signature fields. */
function hasOwnerFields(header: Header): boolean {
  return header.pubkey !== undefined || header.ts !== undefined || header.sig !== undefined;
}

/** Whether a header carries any of a member's own fields. */
function hasMemberFields(header: Header): boolean {
  return header.member !== undefined || header.token !== undefined;
}

function target(header: Header): { key: Uint8Array; ns: number } {
  const key = hexField(header, "key", 32);
  const ns = int(header, "ns", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (!isNamespace(ns)) throw new HearthError("bad_namespace", "Namespace is out of range");
  return { key, ns };
}

/**
 * Read the owner's `pubkey`, `ts` and `sig` fields of a request.
 * @throws {HearthError} `bad_request` or `bad_encoding`
 */
export function parseOwnerAuth(header: Header): OwnerAuth {
  return {
    pubkey: hexField(header, "pubkey", 32),
    ts: int(header, "ts", 0, Number.MAX_SAFE_INTEGER),
    sig: hexField(header, "sig", 64),
  };
}

/**
 * Read a member's `pubkey`, `member`, `token`, `ts` and `sig` fields.
 * @throws {HearthError} `bad_request` or `bad_encoding`
 */
export function parseMemberAuth(header: Header): MemberAuth {
  return {
    ...parseOwnerAuth(header),
    member: hexField(header, "member", 32),
    token: hexField(header, "token", 64),
  };
}

function hashList(header: Header): Uint8Array[] {
  const list = arr(header, "hashes", MAX_HASHES_PER_REQUEST);
  if (list.length === 0) throw new HearthError("bad_request", "Field hashes is empty");
  return list.map((h) => hexField({ hashes: h }, "hashes", 32));
}
