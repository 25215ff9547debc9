/**
 * Parse a storage RPC request frame (PROTOCOL §5) once, at the edge, into
 * a tagged union: every field is read with its type, range and size
 * checked, so the logic that runs the request never touches raw input.
 * @module
 */
import { decodeFrame } from "../../shared/codec/frame.ts";
import { arr, hexField, int, optInt } from "../../shared/codec/fields.ts";
import { MAX_ITEM_BYTES, MAX_LONG_POLL_MS } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  isNamespace,
  isPublicInbox,
  isPublicRead,
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

/** A storage RPC request, parsed and checked. */
export type StorageRequest =
  | {
    method: "store";
    key: Uint8Array;
    ns: number;
    ttl: number;
    data: Uint8Array;
    /** Present for owner-only namespaces. */
    auth: OwnerAuth | undefined;
  }
  | {
    method: "retrieve";
    key: Uint8Array;
    ns: number;
    /** Absent only for an unsigned retrieve of a public-read namespace (then `wait` is 0). */
    auth: OwnerAuth | undefined;
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
      return { method, ...target(header), auth: parseOwnerAuth(header), hashes: hashList(header) };
    case "expire":
      return {
        method,
        ...target(header),
        auth: parseOwnerAuth(header),
        hashes: hashList(header),
        expiry: int(header, "expiry", 0, Number.MAX_SAFE_INTEGER),
      };
    case "swarm":
      return { method, key: hexField(header, "key", 32) };
    default:
      throw new HearthError("unknown_method", "No such storage method");
  }
}

function parseStore(header: Header, data: Uint8Array): StorageRequest {
  const { key, ns } = target(header);
  const ttl = int(header, "ttl", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (!isValidTtl(ns, ttl)) throw new HearthError("bad_ttl", "TTL is out of range");
  if (data.length > MAX_ITEM_BYTES) throw new HearthError("too_large", "Item is too large");
  let auth: OwnerAuth | undefined;
  if (!isPublicInbox(ns)) {
    if (!hasAuthFields(header)) {
      throw new HearthError("bad_namespace", "Namespace takes only signed stores");
    }
    auth = parseOwnerAuth(header);
  }
  return { method: "store", key, ns, ttl, data, auth };
}

function parseRetrieve(header: Header): StorageRequest {
  const { key, ns } = target(header);
  const wait = optInt(header, "wait", 0, MAX_LONG_POLL_MS, 0);
  let auth: OwnerAuth | undefined;
  if (isPublicRead(ns) && !hasAuthFields(header)) {
    // Anyone may read a public-read namespace, but not hold a node's request open.
    if (wait !== 0) throw new HearthError("bad_request", "An unsigned retrieve cannot wait");
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

/** Whether a header carries any of the owner's signature fields. */
function hasAuthFields(header: Header): boolean {
  return header.pubkey !== undefined || header.ts !== undefined || header.sig !== undefined;
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

function hashList(header: Header): Uint8Array[] {
  const list = arr(header, "hashes", MAX_HASHES_PER_REQUEST);
  if (list.length === 0) throw new HearthError("bad_request", "Field hashes is empty");
  return list.map((h) => hexField({ hashes: h }, "hashes", 32));
}
