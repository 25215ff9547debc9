/**
 * The group's signed state record (namespace 13, docs/PROTOCOL.md §14):
 * the sequence number, the key generation, the group key wrapped to each
 * member (padded with junk entries to a multiple of 25), and the info
 * (name, picture, members, revoked access keys) encrypted under the group
 * key, all signed by the group key. Parsed strictly, size first; a record
 * whose signature fails is refused before anything else is read.
 *
 * Layout: `u8 1 || u64 seq || u32 gen || nonce24 || u8 blocks ||
 * wrapped (48 × 25·blocks) || XChaCha20-Poly1305(groupKey, nonce,
 * pad(info JSON, infoPadBytes(blocks)), AD = K || u32 gen || u64 seq) || sig64`,
 * `sig = Ed25519(G, H("hearth/group-state/v1", K, everything before sig))`.
 * @module
 */
import {
  concatBytes,
  CryptoError,
  fromBase64,
  fromHex,
  fromUtf8,
  labeledHash,
  pad,
  randomBytes,
  readU32,
  readU64,
  sign,
  type SigningKeyPair,
  toBase64,
  toHex,
  u32,
  u64,
  unpad,
  utf8,
  verify,
  xchachaOpen,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import type { DhKeyPair } from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { formatAccountId, parseAccountId, sniffAvatarType } from "../account/mod.ts";
import {
  groupDhKeyPair,
  groupSwarmKey,
  unwrapGroupKey,
  wrapGroupKey,
  WRAPPED_KEY_BYTES,
} from "./group_access.ts";

/** The most members of a group, the creator included. */
export const MAX_GROUP_MEMBERS = 100;
/** Wrapped keys come in blocks of this many (junk fills the last). */
export const WRAP_BLOCK = 25;
/** The largest group picture, bytes. */
export const MAX_GROUP_PICTURE_BYTES = 8_192;
/** Most characters of a group name. */
export const MAX_GROUP_NAME_CHARS = 64;
/** Most revoked access keys a state remembers (the oldest go first). */
export const MAX_REVOKED = 100;
/** The state record's format byte. */
export const STATE_FORMAT = 1;

const SIG_LABEL = "hearth/group-state/v1";
const HEAD_BYTES = 1 + 8 + 4 + 24 + 1;
const TAG_BYTES = 16;
const SIG_BYTES = 64;

/**
 * The padded size of the info for a number of wrapped-key blocks: room for
 * a full name, a full picture, {@link MAX_REVOKED} revoked keys and 25
 * members per block, so the record's size tells only the block count.
 * @param blocks 1 … 4
 */
export function infoPadBytes(blocks: number): number {
  return 20_480 + 168 * WRAP_BLOCK * blocks;
}

/** The size of a state record with a number of wrapped-key blocks. */
export function stateRecordBytes(blocks: number): number {
  return HEAD_BYTES + WRAPPED_KEY_BYTES * WRAP_BLOCK * blocks + infoPadBytes(blocks) + TAG_BYTES +
    SIG_BYTES;
}

/** One member as the state names it. */
export interface StateMember {
  /** The member's Account ID. */
  accountId: string;
  /** The member's 32-byte access public key (relays know it by its token). */
  access: Uint8Array;
  /** Whether the member holds the group seed. */
  admin: boolean;
}

/** A group picture. */
export interface GroupPicture {
  /** `image/png`, `image/jpeg` or `image/webp`, told by its bytes. */
  type: string;
  /** At most {@link MAX_GROUP_PICTURE_BYTES}. */
  bytes: Uint8Array;
}

/** What the encrypted info holds. */
export interface GroupInfo {
  /** 1 … 64 characters. */
  name: string;
  /** The picture, if any. */
  picture?: GroupPicture;
  /** 1 … {@link MAX_GROUP_MEMBERS} members, distinct Account IDs and access keys. */
  members: StateMember[];
  /** Access keys revoked (removed members'), newest last, at most {@link MAX_REVOKED}. */
  revoked: Uint8Array[];
}

/** A state record's content. */
export interface GroupState {
  /** Strictly increasing; the highest that verifies wins. */
  seq: number;
  /** The key generation (counts up with every rekey). */
  generation: number;
  /** The info. */
  info: GroupInfo;
}

/** A state record as a member opened it. */
export interface OpenedState extends GroupState {
  /** The group key of `generation`. */
  key: Uint8Array;
}

/**
 * Check a group name: well-formed Unicode, NFC, 1 … 64 code points.
 * @throws {HearthError} `bad_request`
 */
export function checkGroupName(name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_GROUP_NAME_CHARS * 4) {
    throw new HearthError("bad_request", "Group name must be 1 to 64 characters");
  }
  if (!name.isWellFormed()) throw new HearthError("bad_request", "Group name is not well-formed");
  const v = name.normalize("NFC").trim();
  const chars = [...v].length;
  if (chars === 0 || chars > MAX_GROUP_NAME_CHARS) {
    throw new HearthError("bad_request", "Group name must be 1 to 64 characters");
  }
  return v;
}

/**
 * Check a group picture: a PNG, JPEG or WebP image (by its bytes) of at most 8 KiB.
 * @throws {HearthError} `too_large` over 8 KiB; `bad_request` for anything but those images
 */
export function checkGroupPicture(bytes: Uint8Array): GroupPicture {
  if (bytes.length > MAX_GROUP_PICTURE_BYTES) {
    throw new HearthError("too_large", "Group picture is larger than 8 KiB");
  }
  const type = sniffAvatarType(bytes);
  if (!type) {
    throw new HearthError("bad_request", "Group picture must be a PNG, JPEG or WebP image");
  }
  return { type, bytes: bytes.slice() };
}

/** The info as JSON (the picture in base64, access keys in hex). */
export function infoToJson(info: GroupInfo): Record<string, unknown> {
  return {
    name: info.name,
    ...(info.picture ? { picture: toBase64(info.picture.bytes) } : {}),
    members: info.members.map((m) => ({
      id: m.accountId,
      access: toHex(m.access),
      admin: m.admin,
    })),
    revoked: info.revoked.map((r) => toHex(r)),
  };
}

/**
 * Parse the info (after decryption: from a verified record only), strictly.
 * @throws {HearthError} `bad_request` for any bad field
 */
export function infoFromJson(value: unknown): GroupInfo {
  const bad = (why: string) => new HearthError("bad_request", `Group info ${why}`);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw bad("is malformed");
  }
  const o = value as Record<string, unknown>;
  const name = checkGroupName(o.name);
  const info: GroupInfo = { name, members: [], revoked: [] };
  if (o.picture !== undefined) {
    if (typeof o.picture !== "string") throw bad("has a bad picture");
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(o.picture);
    } catch {
      throw bad("has a bad picture");
    }
    info.picture = checkGroupPicture(bytes);
  }
  if (!Array.isArray(o.members) || o.members.length === 0) throw bad("has no members");
  if (o.members.length > MAX_GROUP_MEMBERS) throw bad("has too many members");
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const raw of o.members) {
    if (raw === null || typeof raw !== "object") throw bad("has a bad member");
    const m = raw as Record<string, unknown>;
    if (typeof m.id !== "string" || typeof m.access !== "string" || typeof m.admin !== "boolean") {
      throw bad("has a bad member");
    }
    let accountId: string;
    let access: Uint8Array;
    try {
      accountId = formatAccountId(parseAccountId(m.id));
      access = fromHex(m.access, 32);
    } catch {
      throw bad("has a bad member");
    }
    if (ids.has(accountId) || keys.has(m.access)) throw bad("repeats a member");
    ids.add(accountId);
    keys.add(toHex(access));
    info.members.push({ accountId, access, admin: m.admin });
  }
  if (!info.members.some((m) => m.admin)) throw bad("has no admin");
  if (!Array.isArray(o.revoked) || o.revoked.length > MAX_REVOKED) throw bad("has bad revocations");
  for (const r of o.revoked) {
    if (typeof r !== "string") throw bad("has bad revocations");
    try {
      info.revoked.push(fromHex(r, 32));
    } catch {
      throw bad("has bad revocations");
    }
  }
  return info;
}

/**
 * Seal and sign a state record (admins: it needs the group seed).
 * @param group the group's key pair
 * @param state the state, with the group key of its generation
 * @returns the record, {@link stateRecordBytes} long
 * @throws {HearthError} `group_full` over 100 members; `too_large` when the info does not fit
 */
export async function sealState(
  group: SigningKeyPair,
  state: GroupState & { key: Uint8Array },
): Promise<Uint8Array> {
  const { seq, generation, info, key } = state;
  const count = info.members.length;
  if (count > MAX_GROUP_MEMBERS) {
    throw new HearthError("group_full", "A group has at most 100 members");
  }
  const blocks = Math.max(1, Math.ceil(count / WRAP_BLOCK));
  const swarmKey = groupSwarmKey(group.publicKey);
  const nonce = randomBytes(24);
  const dh = await groupDhKeyPair(group);
  const entries: Uint8Array[] = [];
  for (const m of info.members) {
    entries.push(
      await wrapGroupKey(dh, parseAccountId(m.accountId), { swarmKey, generation, nonce, key }),
    );
  }
  while (entries.length < blocks * WRAP_BLOCK) entries.push(randomBytes(WRAPPED_KEY_BYTES));
  shuffle(entries);
  const plain = utf8(JSON.stringify(infoToJson(info)));
  const padTo = infoPadBytes(blocks);
  if (plain.length + 4 > padTo) {
    throw new HearthError("too_large", "Group info does not fit the state record");
  }
  const ad = concatBytes(swarmKey, u32(generation), u64(seq));
  const sealed = xchachaSeal(key, nonce, pad(plain, padTo), ad);
  const body = concatBytes(
    new Uint8Array([STATE_FORMAT]),
    u64(seq),
    u32(generation),
    nonce,
    new Uint8Array([blocks]),
    ...entries,
    sealed,
  );
  const sig = await sign(group, labeledHash(SIG_LABEL, swarmKey, body));
  return concatBytes(body, sig);
}

/**
 * The outcome of opening a state record: refused (wrong size, format or
 * signature), verified but without an entry for the member (`removed`:
 * the member is not in this generation), or opened.
 */
export type StateOutcome =
  | { kind: "invalid" }
  | { kind: "not_member"; seq: number; generation: number }
  | ({ kind: "opened" } & OpenedState);

/**
 * Verify and open a state record as a member: size and format first, then
 * the group's signature, then the member's wrapped key and the info.
 * @param data the item's bytes (untrusted)
 * @param groupPublicKey the group's Ed25519 public key
 * @param memberDh the member's account X25519 key pair
 */
export async function openState(
  data: Uint8Array,
  groupPublicKey: Uint8Array,
  memberDh: DhKeyPair,
): Promise<StateOutcome> {
  const invalid = { kind: "invalid" } as const;
  if (data.length < HEAD_BYTES || data.length > MAX_ITEM_BYTES) return invalid;
  if (data[0] !== STATE_FORMAT) return invalid;
  const blocks = data[HEAD_BYTES - 1]!;
  if (blocks < 1 || blocks * WRAP_BLOCK > MAX_GROUP_MEMBERS) return invalid;
  if (data.length !== stateRecordBytes(blocks)) return invalid;
  const swarmKey = groupSwarmKey(groupPublicKey);
  const body = data.subarray(0, data.length - SIG_BYTES);
  const sig = data.subarray(data.length - SIG_BYTES);
  if (!(await verify(groupPublicKey, labeledHash(SIG_LABEL, swarmKey, body), sig))) return invalid;
  let seq: number;
  try {
    seq = readU64(data, 1);
  } catch {
    return invalid;
  }
  const generation = readU32(data, 9);
  const nonce = data.subarray(13, 37);
  const entries: Uint8Array[] = [];
  let at = HEAD_BYTES;
  for (let i = 0; i < blocks * WRAP_BLOCK; i++, at += WRAPPED_KEY_BYTES) {
    entries.push(data.subarray(at, at + WRAPPED_KEY_BYTES));
  }
  const key = await unwrapGroupKey(memberDh, groupPublicKey, {
    swarmKey,
    generation,
    nonce,
    entries,
  });
  if (!key) return { kind: "not_member", seq, generation };
  let info: GroupInfo;
  try {
    const ad = concatBytes(swarmKey, u32(generation), u64(seq));
    const plain = unpad(xchachaOpen(key, nonce, body.subarray(at), ad));
    info = infoFromJson(JSON.parse(fromUtf8(plain)));
  } catch (err) {
    if (err instanceof CryptoError || err instanceof HearthError || err instanceof SyntaxError) {
      return invalid;
    }
    throw err;
  }
  return { kind: "opened", seq, generation, key, info };
}

function shuffle<T>(list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const r = randomBytes(4);
    const j = ((r[0]! << 24 | r[1]! << 16 | r[2]! << 8 | r[3]!) >>> 0) % (i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}
