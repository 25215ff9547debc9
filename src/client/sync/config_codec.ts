/**
 * The encrypted account config (PROTOCOL §11): the owner's profile,
 * contacts (with blocked and declined peers), per-conversation settings and
 * owner settings, kept in an owner-only namespace of the account's own
 * swarm so that a restore from the recovery phrase brings them back.
 *
 * Item layout: `0x01 || nonce (24) || XChaCha20-Poly1305(key, nonce,
 * pad(frame)) || Ed25519 signature (64)`, key = HKDF(seed,
 * "hearth/config-key/v1"), signature by the account key over
 * `H("hearth/config-sig/v1", account public key, nonce, ciphertext)`.
 * @module
 */
import {
  bucketFor,
  CryptoError,
  deriveKey,
  fromBase64,
  labeledHash,
  pad,
  randomBytes,
  sign,
  type SigningKeyPair,
  toBase64,
  unpad,
  verify,
  xchachaOpen,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { parseAccountId, parseNickname } from "../account/mod.ts";
import type { ContactState, DisappearingMode, GroupState } from "../db/schema.ts";

/** The owner-only namespace of the account config (PROTOCOL §5: ns % 10 != 0). */
export const CONFIG_NAMESPACE = 2;
/** The item format's version byte. */
export const CONFIG_FORMAT = 1;
/** Bytes around the padded plaintext: format byte, nonce, AEAD tag, signature. */
export const CONFIG_OVERHEAD = 1 + 24 + 16 + 64;
/** The largest padded plaintext: what fits one item. */
export const MAX_CONFIG_PLAINTEXT = MAX_ITEM_BYTES - CONFIG_OVERHEAD;
/** Padding buckets of the plaintext, so the item size reveals only a range. */
export const CONFIG_BUCKETS: readonly number[] = [4_096, 16_384, 65_536, MAX_CONFIG_PLAINTEXT];

const KEY_LABEL = "hearth/config-key/v1";
const SIG_LABEL = "hearth/config-sig/v1";
const STATES: readonly ContactState[] = ["contact", "blocked", "declined"];
const MODES: readonly DisappearingMode[] = ["off", "after_send", "after_read"];
const MAX_ENTRIES = 10_000;

/** An image kept in the config. */
export interface ConfigAvatar {
  /** Its media type. */
  type: string;
  /** The image bytes. */
  bytes: Uint8Array;
}

/** A peer as the config keeps it (pending requests are not kept). */
export interface ConfigContact {
  /** The peer's Account ID. */
  accountId: string;
  /** The peer's display name, or null. */
  displayName: string | null;
  /** `contact`, `blocked` or `declined`. */
  state: ContactState;
  /** The owner's nickname for the peer, when one is set (absent in configs from before nicknames). */
  nickname?: string;
  /** The peer's avatar, when it fits. */
  avatar?: ConfigAvatar;
}

/** A conversation's settings. */
export interface ConfigConversation {
  /** The peer's Account ID, or "self". */
  id: string;
  /** Disappearing mode. */
  disappearingMode: DisappearingMode;
  /** Disappearing timer, seconds. */
  disappearingSeconds: number;
  /** Whether notifications are muted. */
  muted: boolean;
}

/** A group as the config keeps it (docs/PROTOCOL.md §14): enough to rejoin and fetch its keys. */
export interface ConfigGroup {
  /** The Group ID. */
  id: string;
  /** Where the owner stands. */
  state: GroupState;
  /** The group's name. */
  name: string;
  /** The owner's 32-byte access seed. */
  access: Uint8Array;
  /** The 64-byte access token. */
  token: Uint8Array;
  /** The 32-byte group seed, when the owner is an admin. */
  admin?: Uint8Array;
}

/** Everything the config holds. */
export interface AccountConfig {
  /** Counts up with every publication; the newest wins on restore. */
  version: number;
  /** When it was made, ms since the epoch (tie-break after `version`). */
  updatedAt: number;
  /** The owner's profile. */
  profile: { displayName: string; avatar?: ConfigAvatar };
  /** Contacts, blocked and declined peers. */
  contacts: ConfigContact[];
  /** Per-conversation settings. */
  conversations: ConfigConversation[];
  /** Owner settings, key → JSON text. */
  settings: Record<string, string>;
  /** Groups (absent in configs from before groups: none). */
  groups?: ConfigGroup[];
}

/** The key that encrypts an account's config, from its seed. */
export function configKey(seed: Uint8Array): Uint8Array {
  return deriveKey(seed, KEY_LABEL);
}

/**
 * Serialise a config (without encrypting): a frame whose JSON header holds
 * the fields and whose blob holds the avatars, in header order.
 * @param options.withContactAvatars false drops the contacts' avatars
 */
export function serializeConfig(
  config: AccountConfig,
  options: { withContactAvatars?: boolean } = {},
): Uint8Array {
  const blobs: Uint8Array[] = [];
  const avatar = (a: ConfigAvatar | undefined) => {
    if (!a) return undefined;
    blobs.push(a.bytes);
    return { type: a.type, size: a.bytes.length };
  };
  const withAvatars = options.withContactAvatars ?? true;
  const header = {
    v: CONFIG_FORMAT,
    version: config.version,
    updatedAt: config.updatedAt,
    profile: { displayName: config.profile.displayName, avatar: avatar(config.profile.avatar) },
    contacts: config.contacts.map((c) => ({
      id: c.accountId,
      name: c.displayName,
      state: c.state,
      ...(c.nickname ? { nick: c.nickname } : {}),
      avatar: withAvatars ? avatar(c.avatar) : undefined,
    })),
    conversations: config.conversations.map((c) => ({
      id: c.id,
      mode: c.disappearingMode,
      seconds: c.disappearingSeconds,
      muted: c.muted,
    })),
    settings: config.settings,
    ...(config.groups && config.groups.length > 0
      ? {
        groups: config.groups.map((g) => ({
          id: g.id,
          state: g.state,
          name: g.name,
          access: toBase64(g.access),
          token: toBase64(g.token),
          ...(g.admin ? { admin: toBase64(g.admin) } : {}),
        })),
      }
      : {}),
  };
  const total = blobs.reduce((n, b) => n + b.length, 0);
  const blob = new Uint8Array(total);
  let at = 0;
  for (const b of blobs) {
    blob.set(b, at);
    at += b.length;
  }
  return encodeFrame(header, blob);
}

/**
 * Encrypt and sign a config as one storable item. When it would not fit,
 * the contacts' avatars are dropped first.
 * @throws {HearthError} `too_large` when it does not fit one item even without them
 */
export async function sealConfig(
  config: AccountConfig,
  seed: Uint8Array,
  signing: SigningKeyPair,
): Promise<Uint8Array> {
  let plain = serializeConfig(config);
  if (bucketFor(plain.length, CONFIG_BUCKETS) === undefined) {
    plain = serializeConfig(config, { withContactAvatars: false });
  }
  return await sealConfigFrame(plain, seed, signing);
}

/**
 * Encrypt and sign a serialised config (see {@link serializeConfig}): the
 * last step of {@link sealConfig}.
 * @throws {HearthError} `too_large` when it does not fit one item
 */
export async function sealConfigFrame(
  plain: Uint8Array,
  seed: Uint8Array,
  signing: SigningKeyPair,
): Promise<Uint8Array> {
  const bucket = bucketFor(plain.length, CONFIG_BUCKETS);
  if (bucket === undefined) {
    throw new HearthError("too_large", "Account config does not fit one item");
  }
  const nonce = randomBytes(24);
  const ciphertext = xchachaSeal(configKey(seed), nonce, pad(plain, bucket));
  const sig = await sign(signing, sigInput(signing.publicKey, nonce, ciphertext));
  const out = new Uint8Array(1 + nonce.length + ciphertext.length + sig.length);
  out[0] = CONFIG_FORMAT;
  out.set(nonce, 1);
  out.set(ciphertext, 25);
  out.set(sig, 25 + ciphertext.length);
  return out;
}

/**
 * Verify, decrypt and parse a config item of the account.
 * @throws {HearthError} `bad_request` when the item is malformed, not signed by the
 *   account, does not decrypt under its key, or holds bad fields
 */
export async function openConfig(
  item: Uint8Array,
  seed: Uint8Array,
  publicKey: Uint8Array,
): Promise<AccountConfig> {
  if (item.length < CONFIG_OVERHEAD || item[0] !== CONFIG_FORMAT) throw bad("malformed");
  const nonce = item.subarray(1, 25);
  const ciphertext = item.subarray(25, item.length - 64);
  const sig = item.subarray(item.length - 64);
  if (!(await verify(publicKey, sigInput(publicKey, nonce, ciphertext), sig))) {
    throw bad("not signed by the account");
  }
  let plain: Uint8Array;
  try {
    plain = unpad(xchachaOpen(configKey(seed), nonce, ciphertext));
  } catch (err) {
    if (err instanceof CryptoError) throw bad("not decryptable");
    throw err;
  }
  return parseConfig(plain);
}

function sigInput(publicKey: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return labeledHash(SIG_LABEL, publicKey, nonce, ciphertext);
}

function parseConfig(plain: Uint8Array): AccountConfig {
  const { header: h, blob } = decodeFrame(plain, MAX_ITEM_BYTES);
  let at = 0;
  const avatar = (raw: unknown): ConfigAvatar | undefined => {
    if (raw === undefined || raw === null) return undefined;
    const a = obj(raw);
    const size = a.size;
    if (typeof a.type !== "string" || a.type.length > 64) throw bad("bad avatar");
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw bad("bad avatar");
    if (at + (size as number) > blob.length) throw bad("bad avatar");
    const bytes = blob.slice(at, at + (size as number));
    at += size as number;
    return { type: a.type, bytes };
  };
  if (h.v !== CONFIG_FORMAT) throw bad("unknown format");
  if (!Number.isSafeInteger(h.version) || (h.version as number) < 0) throw bad("bad version");
  if (!Number.isSafeInteger(h.updatedAt) || (h.updatedAt as number) < 0) throw bad("bad time");
  const p = obj(h.profile);
  const profile: AccountConfig["profile"] = { displayName: text(p.displayName, 256) };
  const own = avatar(p.avatar);
  if (own) profile.avatar = own;
  const contacts = list(h.contacts).map((raw): ConfigContact => {
    const c = obj(raw);
    const accountId = text(c.id, 128);
    try {
      parseAccountId(accountId);
    } catch {
      throw bad("bad contact");
    }
    if (!STATES.includes(c.state as ContactState)) throw bad("bad contact state");
    const name = c.name === null || c.name === undefined ? null : text(c.name, 256);
    const out: ConfigContact = { accountId, displayName: name, state: c.state as ContactState };
    if (c.nick !== undefined && c.nick !== null) out.nickname = configNickname(c.nick);
    const a = avatar(c.avatar);
    if (a) out.avatar = a;
    return out;
  });
  const conversations = list(h.conversations).map((raw): ConfigConversation => {
    const c = obj(raw);
    const seconds = c.seconds;
    if (!MODES.includes(c.mode as DisappearingMode)) throw bad("bad disappearing mode");
    if (!Number.isSafeInteger(seconds) || (seconds as number) < 0) throw bad("bad timer");
    if (typeof c.muted !== "boolean") throw bad("bad muted flag");
    return {
      id: text(c.id, 128),
      disappearingMode: c.mode as DisappearingMode,
      disappearingSeconds: seconds as number,
      muted: c.muted,
    };
  });
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(h.settings))) settings[k] = text(v, MAX_ITEM_BYTES);
  const groups = h.groups === undefined ? [] : list(h.groups).map(configGroup);
  return {
    version: h.version as number,
    updatedAt: h.updatedAt as number,
    profile,
    contacts,
    conversations,
    settings,
    ...(groups.length > 0 ? { groups } : {}),
  };
}

const GROUP_STATES: readonly GroupState[] = ["invited", "joined", "declined", "left", "removed"];

function configGroup(raw: unknown): ConfigGroup {
  const g = obj(raw);
  const id = text(g.id, 66);
  if (!/^hearthg1[02-9ac-hj-np-z]{58}$/.test(id)) throw bad("bad group");
  if (!GROUP_STATES.includes(g.state as GroupState)) throw bad("bad group state");
  const bytes = (v: unknown, n: number): Uint8Array => {
    let out: Uint8Array;
    try {
      out = fromBase64(text(v, 128));
    } catch {
      throw bad("bad group key");
    }
    if (out.length !== n) throw bad("bad group key");
    return out;
  };
  const out: ConfigGroup = {
    id,
    state: g.state as GroupState,
    name: text(g.name, 256),
    access: bytes(g.access, 32),
    token: bytes(g.token, 64),
  };
  if (g.admin !== undefined && g.admin !== null) out.admin = bytes(g.admin, 32);
  return out;
}

/** A contact's nickname as the config keeps it: one the owner API would take. */
function configNickname(raw: unknown): string {
  let nickname: string | null;
  try {
    nickname = parseNickname(text(raw, 256));
  } catch {
    throw bad("bad nickname");
  }
  if (nickname === null) throw bad("bad nickname");
  return nickname;
}

function obj(raw: unknown): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw bad("not an object");
  return raw as Record<string, unknown>;
}

function list(raw: unknown): unknown[] {
  if (!Array.isArray(raw) || raw.length > MAX_ENTRIES) throw bad("not a list");
  return raw;
}

function text(raw: unknown, max: number): string {
  if (typeof raw !== "string" || raw.length > max) throw bad("not a string");
  return raw;
}

function bad(why: string): HearthError {
  return new HearthError("bad_request", `Account config is ${why}`);
}
