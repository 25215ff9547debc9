/**
 * Node records (PROTOCOL.md §2): signing, strict parsing of untrusted JSON,
 * and verification of the signature, proof of work and freshness.
 * @module
 */
import { fromHex, toHex, u64, utf8 } from "../../shared/crypto/bytes.ts";
import { labeledHash } from "../../shared/crypto/hash.ts";
import { sign, verify } from "../../shared/crypto/sign.ts";
import { asObject, int, str } from "../../shared/codec/fields.ts";
import { MAX_ADDRESS_LENGTH, PROTOCOL_VERSION } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { formatHostPort, type HostPort, parseHostPort } from "../../shared/host_port.ts";
import { checkPow } from "../identity.ts";
import type { NodeIdentity, NodeRecord } from "./record_types.ts";

/** A record signed further ahead than this is refused, ms (10 minutes). */
export const RECORD_MAX_FUTURE_MS = 10 * 60_000;
/** A record signed longer ago than this is stale, ms (3 hours). */
export const RECORD_MAX_AGE_MS = 3 * 3600_000;
/** How often a node signs its record again, ms (30 minutes). */
export const RECORD_RESIGN_MS = 30 * 60_000;

const FIELDS = ["id", "x25519", "addr", "version", "ts", "pow", "sig"];
const HEX = /^[0-9a-f]*$/;
const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const NUMERIC_LABEL = /^([0-9]+|0[xX][0-9a-fA-F]*)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function isIpv6(host: string): boolean {
  let text = host;
  let groups = 8;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    if (!IPV4.test(text.slice(lastColon + 1))) return false;
    text = text.slice(0, lastColon + 1) + "0";
    groups = 7;
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const split = (s: string) => (s === "" ? [] : s.split(":"));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  if (![...head, ...tail].every((g) => HEX_GROUP.test(g))) return false;
  const count = head.length + tail.length;
  return halves.length === 2 ? count < groups : count === groups;
}

/**
 * Whether a text is a node address `host:port` in canonical form: IPv4, a
 * DNS name or `[IPv6]`, port 1–65535 without leading zeros, at most 255
 * characters. Stricter than {@link parseHostPort}: the IPv6 address must be
 * well formed, and a name must not end in a numeric label (a URL parser
 * would read it as IPv4).
 * @param addr the text to check
 */
export function isValidAddr(addr: string): boolean {
  if (typeof addr !== "string" || addr.length > MAX_ADDRESS_LENGTH) return false;
  let parsed: HostPort;
  try {
    parsed = parseHostPort(addr);
  } catch {
    return false;
  }
  if (formatHostPort(parsed) !== addr) return false;
  if (parsed.host.includes(":")) return isIpv6(parsed.host);
  if (IPV4.test(parsed.host)) return true;
  return !NUMERIC_LABEL.test(parsed.host.slice(parsed.host.lastIndexOf(".") + 1));
}

function hexOf(o: Record<string, unknown>, name: string, bytes: number): string {
  const v = str(o, name, { max: bytes * 2 });
  if (v.length !== bytes * 2 || !HEX.test(v)) {
    throw new HearthError("bad_encoding", `Field ${name} must be ${bytes} bytes of lowercase hex`);
  }
  return v;
}

/**
 * Parse untrusted JSON into a node record: exactly the seven fields, each
 * of the right type and size. Says nothing about the signature; see
 * {@link verifyRecord}.
 * @param value the decoded JSON
 * @returns a new record holding only the checked fields
 * @throws {HearthError} `bad_request` or `bad_encoding`
 */
export function parseRecord(value: unknown): NodeRecord {
  const o = asObject(value, "record");
  for (const key of Object.keys(o)) {
    if (!FIELDS.includes(key)) throw new HearthError("bad_request", "Record has an unknown field");
  }
  const addr = str(o, "addr", { max: MAX_ADDRESS_LENGTH });
  if (!isValidAddr(addr)) throw new HearthError("bad_request", "Record address is not host:port");
  return {
    id: hexOf(o, "id", 32),
    x25519: hexOf(o, "x25519", 32),
    addr,
    version: int(o, "version", 0, 0xffff_ffff),
    ts: int(o, "ts", 0, Number.MAX_SAFE_INTEGER),
    pow: hexOf(o, "pow", 8),
    sig: hexOf(o, "sig", 64),
  };
}

/**
 * The bytes a record's signature covers: `H("hearth/node-record/v1", id,
 * x25519, utf8(addr), u64(version), u64(ts), pow)`.
 * @param record the record (its `sig` is ignored)
 */
export function recordSigningBytes(record: Omit<NodeRecord, "sig">): Uint8Array {
  return labeledHash(
    "hearth/node-record/v1",
    fromHex(record.id, 32),
    fromHex(record.x25519, 32),
    utf8(record.addr),
    u64(record.version),
    u64(record.ts),
    fromHex(record.pow, 8),
  );
}

/**
 * Sign this node's record.
 * @param identity this node's keys and proof of work
 * @param fields.addr the public address, `host:port`
 * @param fields.ts the signing time, ms since the epoch
 * @param fields.version the protocol version (default {@link PROTOCOL_VERSION})
 * @returns the signed record
 * @throws {RangeError} when the address is not a valid `host:port`
 */
export async function signRecord(
  identity: NodeIdentity,
  fields: { addr: string; ts: number; version?: number },
): Promise<NodeRecord> {
  if (!isValidAddr(fields.addr)) throw new RangeError("Address must be host:port");
  const unsigned = {
    id: identity.id,
    x25519: toHex(identity.dh.publicKey),
    addr: fields.addr,
    version: fields.version ?? PROTOCOL_VERSION,
    ts: fields.ts,
    pow: toHex(identity.powNonce),
  };
  const sig = await sign(identity.signing, recordSigningBytes(unsigned));
  return { ...unsigned, sig: toHex(sig) };
}

/**
 * Check a parsed record: the version is one this node speaks, it is fresh,
 * the proof of work meets the difficulty and the signature verifies
 * (cheapest checks first).
 * @param record a record from {@link parseRecord} or {@link signRecord}
 * @param options.now the current time, ms
 * @param options.powBits the difficulty D
 * @throws {HearthError} `bad_request`, `stale_record`, `bad_pow` or `bad_signature`
 */
export async function verifyRecord(
  record: NodeRecord,
  options: { now: number; powBits: number },
): Promise<void> {
  if (record.version !== PROTOCOL_VERSION) {
    throw new HearthError("bad_request", "Record version is not supported");
  }
  if (record.ts > options.now + RECORD_MAX_FUTURE_MS) {
    throw new HearthError("stale_record", "Record is from the future");
  }
  if (record.ts < options.now - RECORD_MAX_AGE_MS) {
    throw new HearthError("stale_record", "Record is too old");
  }
  const id = fromHex(record.id, 32);
  const keys = { id, x25519: fromHex(record.x25519, 32) };
  if (!checkPow(keys, fromHex(record.pow, 8), { bits: options.powBits })) {
    throw new HearthError("bad_pow", "Record proof of work is too weak");
  }
  if (!await verify(id, recordSigningBytes(record), fromHex(record.sig, 64))) {
    throw new HearthError("bad_signature", "Record signature does not verify");
  }
}

/**
 * Whether a record is fresh at `now` (neither stale nor from the future).
 * @param record the record
 * @param now the current time, ms
 */
export function isFresh(record: NodeRecord, now: number): boolean {
  return record.ts <= now + RECORD_MAX_FUTURE_MS && record.ts >= now - RECORD_MAX_AGE_MS;
}
