/**
 * Protocol constants: every size, time and count limit in one place.
 * docs/PROTOCOL.md quotes these; change both together.
 * @module
 */

/** Wire protocol version spoken by this node. */
export const PROTOCOL_VERSION = 1;

/** Largest stored item (one message or file chunk), bytes. */
export const MAX_ITEM_BYTES = 76_800;

/** Shortest TTL of a stored item, ms. */
export const MIN_TTL_MS = 10_000;
/** Longest TTL in a public inbox namespace, ms (14 days). */
export const MAX_INBOX_TTL_MS = 14 * 24 * 3600_000;
/** Longest TTL in an owner-only namespace, ms (30 days). */
export const MAX_OWNER_TTL_MS = 30 * 24 * 3600_000;

/** Accepted clock difference for signed requests, ms. */
export const SIGNATURE_WINDOW_MS = 60_000;

/** Longest a retrieve may wait for new items, ms. */
export const MAX_LONG_POLL_MS = 25_000;

/** Swarm size R and write quorum W on a full network. */
export const SWARM_SIZE = 5;
export const WRITE_QUORUM = 3;

/** Fixed onion packet sizes (whole packet: header and body), bytes. */
export const ONION_PACKET_SIZES = [2_048, 16_384, 98_304] as const;
/** Fixed onion response sizes, bytes. */
export const ONION_RESPONSE_SIZES = [2_048, 16_384, 98_304] as const;

/** Most hops an onion header can carry (the hop limit). */
export const MAX_ONION_HOPS = 5;

/** Largest body of any JSON node-to-node request, bytes. */
export const MAX_JSON_BODY_BYTES = 256 * 1024;
/** Largest replication batch body, bytes. */
export const MAX_REPLICATION_BODY_BYTES = 1_048_576;

/** Largest node record in JSON, bytes; longest address text. */
export const MAX_RECORD_BYTES = 1_024;
export const MAX_ADDRESS_LENGTH = 255;

/** Most records one directory answer (one page) carries. */
export const MAX_DIRECTORY_RECORDS = 4_096;
/** Most live nodes one directory holds, its own node included. */
export const MAX_KNOWN_NODES = 65_536;
