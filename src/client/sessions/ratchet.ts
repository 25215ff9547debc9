/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm", rev. 1,
 * 2016-11-20), with the functions of its §5.2: X25519 for the DH ratchet,
 * HKDF-SHA256 for KDF_RK, HMAC-SHA256 for KDF_CK and AES-256-GCM under
 * keys drawn by HKDF from each message key.
 *
 * States are plain, immutable data: encrypt and decrypt return a new state
 * and never change the one they are given, so a failed decryption leaves
 * nothing behind and the caller stores the new state with the message in
 * one transaction. Pure: no database, no network.
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  AEAD_TAG_BYTES,
  aesGcmOpen,
  aesGcmSeal,
  bytesEqual,
  concatBytes,
  CryptoError,
  deriveKey,
  type DhKeyPair,
  generateDhKeyPair,
  readU32,
  x25519,
} from "../../shared/crypto/mod.ts";
import type { RatchetState, SkippedKey } from "./ratchet_state.ts";

export type { DhKeyPair } from "../../shared/crypto/mod.ts";
export type { RatchetState, SkippedKey } from "./ratchet_state.ts";

/** The most message keys one header may make us skip in one chain (§3.2 MAX_SKIP). */
export const MAX_SKIP = 1000;
/** The most skipped message keys a session keeps; the oldest go first (§6.4). */
export const MAX_SKIPPED_KEYS = 2000;
/** Bytes of a ratchet header: ratchet public key, pn and n (u32 big-endian each). */
export const RATCHET_HEADER_BYTES = 40;

const ROOT_LABEL = "hearth/ratchet-root/v1";
const MESSAGE_LABEL = "hearth/ratchet-msg/v1";
const MAX_COUNTER = 0xffffffff;
const MAX_AD_BYTES = 0xffff;
const CK_MESSAGE = new Uint8Array([0x01]);
const CK_CHAIN = new Uint8Array([0x02]);

/** A parsed ratchet header (§3.4 HEADER). */
export interface RatchetHeader {
  /** The sender's current ratchet public key. */
  dh: Uint8Array;
  /** The number of messages in the sender's previous sending chain. */
  pn: number;
  /** The message number in the current sending chain. */
  n: number;
}

type WorkingState = { -readonly [K in keyof RatchetState]: RatchetState[K] } & {
  skipped: SkippedKey[];
};

/**
 * KDF_RK (§5.2): HKDF-SHA256 with the DH output as input key material and
 * the root key as salt, giving a new root key and a chain key.
 * @param rk the 32-byte root key
 * @param dhOut the 32-byte DH output
 * @returns the next root key and the new chain key
 */
export function kdfRk(rk: Uint8Array, dhOut: Uint8Array): { rk: Uint8Array; ck: Uint8Array } {
  const out = deriveKey(dhOut, ROOT_LABEL, { length: 64, salt: rk });
  return { rk: out.slice(0, 32), ck: out.slice(32) };
}

/**
 * KDF_CK (§5.2): HMAC-SHA256 keyed by the chain key, with 0x02 for the next
 * chain key and 0x01 for the message key.
 * @param ck the 32-byte chain key
 * @returns the next chain key and the message key
 */
export function kdfCk(ck: Uint8Array): { ck: Uint8Array; mk: Uint8Array } {
  return { ck: hmac(sha256, ck, CK_CHAIN), mk: hmac(sha256, ck, CK_MESSAGE) };
}

/**
 * The AES-256-GCM key and nonce of a message key (§5.2 ENCRYPT, with GCM
 * in place of CBC + HMAC): HKDF-SHA256(mk, "hearth/ratchet-msg/v1") → 44 bytes.
 * @param mk the 32-byte message key
 * @returns the 32-byte key and the 12-byte nonce
 */
export function messageCipherKeys(mk: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const out = deriveKey(mk, MESSAGE_LABEL, { length: 44 });
  return { key: out.subarray(0, 32), nonce: out.subarray(32) };
}

/**
 * Encode a ratchet header: dh (32) ‖ pn (u32 BE) ‖ n (u32 BE).
 * @param header the header fields
 * @returns 40 bytes
 * @throws {RangeError} when dh is not 32 bytes or a counter is not a u32
 */
export function encodeRatchetHeader(header: RatchetHeader): Uint8Array {
  if (header.dh.length !== 32) throw new RangeError("Ratchet key must be 32 bytes");
  if (!isU32(header.pn) || !isU32(header.n)) throw new RangeError("Counter must be a u32");
  const out = new Uint8Array(RATCHET_HEADER_BYTES);
  out.set(header.dh);
  const view = new DataView(out.buffer);
  view.setUint32(32, header.pn);
  view.setUint32(36, header.n);
  return out;
}

/**
 * Parse a ratchet header.
 * @param bytes exactly 40 bytes
 * @returns the header, with a copy of the key
 * @throws {CryptoError} when the length is wrong
 */
export function parseRatchetHeader(bytes: Uint8Array): RatchetHeader {
  if (bytes.length !== RATCHET_HEADER_BYTES) throw new CryptoError();
  return { dh: bytes.slice(0, 32), pn: readU32(bytes, 32), n: readU32(bytes, 36) };
}

/**
 * Start the initiator's side after the handshake (§3.3 RatchetInitAlice):
 * a fresh ratchet key, DHr = the responder's signed prekey and a first
 * sending chain.
 * @param sk the 32-byte session key from the handshake
 * @param ad the session's associated data
 * @param peerSpk the responder's signed prekey (32 bytes)
 * @returns the state, ready to send
 * @throws {RangeError} when sk or ad has a bad length
 * @throws {CryptoError} when peerSpk is not a usable X25519 key
 */
export async function initInitiator(
  sk: Uint8Array,
  ad: Uint8Array,
  peerSpk: Uint8Array,
): Promise<RatchetState> {
  checkInit(sk, ad);
  const dhs = await generateDhKeyPair();
  rememberKey(dhs);
  const { rk, ck } = kdfRk(sk, await x25519(dhs, peerSpk));
  return {
    ad: new Uint8Array(ad),
    rk,
    dhsPrivate: dhs.privateKey,
    dhsPublic: dhs.publicKey,
    dhr: new Uint8Array(peerSpk),
    cks: ck,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  };
}

/**
 * Start the responder's side after the handshake (§3.3 RatchetInitBob):
 * DHs = its signed prekey pair, RK = SK, no chains until the first message.
 * @param sk the 32-byte session key from the handshake
 * @param ad the session's associated data
 * @param spk the signed prekey pair the initiator used
 * @returns the state, ready to receive
 * @throws {RangeError} when sk, ad or the key pair has a bad length
 */
export function initResponder(sk: Uint8Array, ad: Uint8Array, spk: DhKeyPair): RatchetState {
  checkInit(sk, ad);
  if (spk.privateKey.length !== 32 || spk.publicKey.length !== 32) {
    throw new RangeError("X25519 key pair must be 32 bytes each");
  }
  const dhsPrivate = new Uint8Array(spk.privateKey);
  if (spk.cryptoKey) keyCache.set(dhsPrivate, spk.cryptoKey);
  return {
    ad: new Uint8Array(ad),
    rk: new Uint8Array(sk),
    dhsPrivate,
    dhsPublic: new Uint8Array(spk.publicKey),
    dhr: null,
    cks: null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  };
}

/**
 * Encrypt a message (§3.4 RatchetEncrypt): step the sending chain and seal
 * the plaintext with AES-256-GCM under AD ‖ header.
 * @param state the current state (not changed)
 * @param plaintext the bytes to encrypt
 * @returns the new state, the 40-byte header and the ciphertext (plaintext + 16 bytes)
 * @throws {TypeError} when the state has no sending chain yet (a responder before its first message)
 * @throws {RangeError} when the sending chain has used every message number
 */
export async function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
): Promise<{ state: RatchetState; header: Uint8Array; ciphertext: Uint8Array }> {
  if (state.cks === null) throw new TypeError("The session cannot send before it receives");
  if (state.ns >= MAX_COUNTER) throw new RangeError("The sending chain is exhausted");
  const { ck, mk } = kdfCk(state.cks);
  const header = encodeRatchetHeader({ dh: state.dhsPublic, pn: state.pn, n: state.ns });
  const { key, nonce } = messageCipherKeys(mk);
  const ciphertext = await aesGcmSeal(key, nonce, plaintext, concatBytes(state.ad, header));
  return { state: { ...state, cks: ck, ns: state.ns + 1 }, header, ciphertext };
}

/**
 * Decrypt a message (§3.5 RatchetDecrypt): a skipped key if one matches,
 * else a DH ratchet step when the header carries a new ratchet key, then
 * the receiving chain, keeping keys of skipped messages (at most
 * {@link MAX_SKIP} per chain, {@link MAX_SKIPPED_KEYS} in all). Works on a
 * copy: on any failure the given state stays as it was and usable.
 * @param state the current state (not changed)
 * @param header the 40-byte header as received
 * @param ciphertext the ciphertext as received
 * @returns the new state, without the used message key, and the plaintext
 * @throws {CryptoError} when the message does not decrypt: tampered, replayed, too far ahead or malformed
 */
export async function ratchetDecrypt(
  state: RatchetState,
  header: Uint8Array,
  ciphertext: Uint8Array,
): Promise<{ state: RatchetState; plaintext: Uint8Array }> {
  const h = parseRatchetHeader(header);
  // A sender never uses n = 2^32 − 1 (see ratchetEncrypt), so Nr stays a u32.
  if (ciphertext.length < AEAD_TAG_BYTES || h.n >= MAX_COUNTER) throw new CryptoError();
  const aad = concatBytes(state.ad, header);
  const found = state.skipped.findIndex((s) => s.n === h.n && bytesEqual(s.dh, h.dh));
  if (found >= 0) {
    // §3.5 TrySkippedMessageKeys; §6.1: the key is deleted once used.
    const plaintext = await openMessage(state.skipped[found]!.mk, ciphertext, aad);
    const skipped = state.skipped.filter((_, i) => i !== found);
    return { state: { ...state, skipped }, plaintext };
  }
  const w: WorkingState = { ...state, skipped: state.skipped.slice() };
  if (w.dhr === null || !bytesEqual(h.dh, w.dhr)) {
    skipMessageKeys(w, h.pn);
    await dhRatchet(w, h.dh);
  }
  skipMessageKeys(w, h.n);
  // An initiator has no receiving chain until the responder's first ratchet key.
  if (w.ckr === null) throw new CryptoError();
  const { ck, mk } = kdfCk(w.ckr);
  w.ckr = ck;
  w.nr += 1;
  const plaintext = await openMessage(mk, ciphertext, aad);
  // §6.4: bound the stored skipped keys; the oldest are dropped first.
  if (w.skipped.length > MAX_SKIPPED_KEYS) {
    w.skipped.splice(0, w.skipped.length - MAX_SKIPPED_KEYS);
  }
  return { state: w, plaintext };
}

/**
 * The peer's current ratchet public key (DHr), to match an incoming message
 * to a session; before any message it is the responder's signed prekey.
 * @param state a state
 * @returns a copy of DHr, or null for a responder that has not received yet
 */
export function ratchetRemoteKey(state: RatchetState): Uint8Array | null {
  return state.dhr === null ? null : new Uint8Array(state.dhr);
}

/**
 * Whether this side has decrypted any message of the session; until then an
 * initiator keeps sending prekey messages.
 * @param state a state
 * @returns true once a receiving chain exists
 */
export function ratchetHasReceived(state: RatchetState): boolean {
  return state.ckr !== null;
}

/** §3.5 SkipMessageKeys: keep the keys of messages n < until of the current chain. */
function skipMessageKeys(w: WorkingState, until: number): void {
  if (w.nr + MAX_SKIP < until) throw new CryptoError();
  if (w.ckr === null || w.dhr === null) return;
  let ck = w.ckr;
  for (; w.nr < until; w.nr++) {
    const next = kdfCk(ck);
    w.skipped.push({ dh: w.dhr, n: w.nr, mk: next.mk });
    ck = next.ck;
  }
  w.ckr = ck;
}

/** §3.5 DHRatchet: a new receiving chain from the peer's key, then a new sending chain from a fresh key. */
async function dhRatchet(w: WorkingState, theirs: Uint8Array): Promise<void> {
  w.pn = w.ns;
  w.ns = 0;
  w.nr = 0;
  w.dhr = theirs;
  const [received, next] = await Promise.all([
    x25519(cachedPair(w.dhsPrivate, w.dhsPublic), theirs),
    generateDhKeyPair(),
  ]);
  const receiving = kdfRk(w.rk, received);
  rememberKey(next);
  const sending = kdfRk(receiving.rk, await x25519(next, theirs));
  w.ckr = receiving.ck;
  w.dhsPrivate = next.privateKey;
  w.dhsPublic = next.publicKey;
  w.rk = sending.rk;
  w.cks = sending.ck;
}

async function openMessage(
  mk: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const { key, nonce } = messageCipherKeys(mk);
  return await aesGcmOpen(key, nonce, ciphertext, aad);
}

/**
 * Imported ratchet private keys, keyed by the state's own (never mutated)
 * private key array, so a state kept in memory imports each key once.
 * Weak: an entry goes when its state does; nothing here is serialized.
 */
const keyCache = new WeakMap<Uint8Array, CryptoKey>();

function rememberKey(pair: DhKeyPair): void {
  if (pair.cryptoKey) keyCache.set(pair.privateKey, pair.cryptoKey);
}

function cachedPair(privateKey: Uint8Array, publicKey: Uint8Array): DhKeyPair {
  const pair: DhKeyPair = { privateKey, publicKey };
  const cached = keyCache.get(privateKey);
  if (cached) pair.cryptoKey = cached;
  return pair;
}

function checkInit(sk: Uint8Array, ad: Uint8Array): void {
  if (sk.length !== 32) throw new RangeError("Session key must be 32 bytes");
  if (ad.length > MAX_AD_BYTES) throw new RangeError("Associated data is too long");
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_COUNTER;
}
