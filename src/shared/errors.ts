/**
 * The closed set of error codes hearth speaks on the wire, and the HTTP
 * status each maps to. Adding a code is a protocol change: document it in
 * docs/PROTOCOL.md in the same commit.
 * @module
 */

/** Every error code, with its HTTP status. */
export const ERROR_STATUS = {
  /** The request is malformed: bad JSON, a missing or mistyped field. */
  bad_request: 400,
  /** A hex, base64 or binary field does not decode. */
  bad_encoding: 400,
  /** The body or an item is larger than allowed. */
  too_large: 413,
  /** An onion packet is not one of the fixed sizes. */
  bad_size: 400,
  /** A signature does not verify, or the public key does not own the key. */
  bad_signature: 401,
  /** A signed timestamp is outside the accepted window. */
  bad_timestamp: 406,
  /** A node record's proof of work is insufficient. */
  bad_pow: 400,
  /** A node record is older than allowed or from the far future. */
  stale_record: 400,
  /** The RPC method is not known. */
  unknown_method: 400,
  /** The namespace number is outside the allowed range or not writable. */
  bad_namespace: 400,
  /** A TTL or expiry is outside the allowed range. */
  bad_ttl: 400,
  /** This node is not in the swarm of the key; the body lists the swarm. */
  wrong_swarm: 421,
  /** The per-key quota is full. */
  quota_exceeded: 507,
  /** The caller sends too fast. */
  rate_limited: 429,
  /** An onion layer was seen before. */
  replay: 409,
  /** An onion layer does not decrypt. */
  decrypt_failed: 400,
  /** The next hop is not a known live node. */
  unknown_hop: 404,
  /** The next hop could not be reached or failed. */
  hop_failed: 502,
  /** The next hop did not answer in time. */
  timeout: 504,
  /** Fewer than W swarm members made the write durable; retry. */
  not_durable: 503,
  /** The node is shutting down or overloaded; retry elsewhere. */
  unavailable: 503,
  /** A node's public address could not be reached from here (announce). */
  unreachable: 422,
  /** The caller is not a known node (node-to-node routes). */
  unknown_node: 403,
  /** No such route, or no such conversation, message or contact. */
  not_found: 404,
  /** An Account ID is malformed or its checksum does not match. */
  bad_account_id: 400,
  /** The owner API request has no valid bearer token. */
  unauthorized: 401,
  /** The passphrase does not open the client database. */
  wrong_passphrase: 401,
  /** The client database is locked; unlock it first. */
  locked: 423,
  /** The request conflicts with the current state (e.g. an account already exists). */
  conflict: 409,
  /** A group member's access to the group swarm was revoked by an admin. */
  access_revoked: 403,
  /** A group already has its most members (100). */
  group_full: 409,
  /** A file could not be fetched whole and verified (a chunk is missing or corrupt); retry. */
  download_failed: 502,
  /** A bug in this node. Never the answer to bad input. */
  internal: 500,
} as const;

/** An error code from the closed set. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error that carries a wire error code and optional extra JSON fields. */
export class HearthError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  /**
   * @param code the wire code
   * @param message a short sentence-case description, safe to send (no user data)
   * @param details extra JSON fields for the error body (e.g. the right swarm)
   */
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "HearthError";
    this.code = code;
    this.details = details;
  }

  /** The HTTP status of this error's code. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /** The JSON body sent for this error: `{"error": code, "message", ...details}`. */
  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}

/** Whether a string is one of the closed set of codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);
}
