/**
 * How a double-ratchet state (ratchet.ts) is kept between messages: the
 * plain data of one side of a session, and its strict binary encoding for
 * the `sessions` table (inside a session record, session_record.ts).
 * @module
 */
import { HearthError } from "../../shared/errors.ts";
import { MAX_SKIPPED_KEYS } from "./ratchet.ts";

const STATE_VERSION = 1;

/** A message key kept for a message that has not arrived yet (§2.5). */
export interface SkippedKey {
  /** The ratchet public key of the chain the message belongs to. */
  readonly dh: Uint8Array;
  /** The message number in that chain. */
  readonly n: number;
  /** The 32-byte message key. */
  readonly mk: Uint8Array;
}

/** The state of one side of a session (§3.2), plain data only. */
export interface RatchetState {
  /** The associated data of the session (both identity keys). */
  readonly ad: Uint8Array;
  /** RK: the 32-byte root key. */
  readonly rk: Uint8Array;
  /** DHs: our current ratchet private key. */
  readonly dhsPrivate: Uint8Array;
  /** DHs: our current ratchet public key. */
  readonly dhsPublic: Uint8Array;
  /** DHr: the peer's current ratchet public key, null before any. */
  readonly dhr: Uint8Array | null;
  /** CKs: the sending chain key, null until we have one. */
  readonly cks: Uint8Array | null;
  /** CKr: the receiving chain key, null until we have received. */
  readonly ckr: Uint8Array | null;
  /** Ns: messages sent in the current sending chain. */
  readonly ns: number;
  /** Nr: messages received in the current receiving chain. */
  readonly nr: number;
  /** PN: messages in the previous sending chain. */
  readonly pn: number;
  /** MKSKIPPED, oldest first. */
  readonly skipped: readonly SkippedKey[];
}

/**
 * Serialize a state: version 1 ‖ flags ‖ ad length u16 ‖ ad ‖ rk ‖ DHs
 * private ‖ DHs public ‖ [DHr] ‖ [CKs] ‖ [CKr] ‖ Ns ‖ Nr ‖ PN ‖ skipped-key
 * chains (u16 count, 32 bytes each) ‖ skipped keys (u16 count, each chain
 * index u16 ‖ n u32 ‖ mk 32).
 * @param state the state
 * @returns the bytes to store (in the encrypted client database)
 */
export function encodeRatchetState(state: RatchetState): Uint8Array {
  const chains: Uint8Array[] = [];
  const chainIndex = new Map<string, number>();
  const index: number[] = [];
  let last: Uint8Array | undefined;
  let lastIndex = 0;
  for (const s of state.skipped) {
    // Keys of one chain sit together and share their dh array: skip the lookup.
    if (s.dh !== last) {
      const name = String.fromCharCode(...s.dh);
      let i = chainIndex.get(name);
      if (i === undefined) chainIndex.set(name, i = chains.push(s.dh) - 1);
      last = s.dh;
      lastIndex = i;
    }
    index.push(lastIndex);
  }
  const optional = [state.dhr, state.cks, state.ckr];
  const size = 4 + state.ad.length + 96 + optional.filter((k) => k !== null).length * 32 + 12 +
    2 + chains.length * 32 + 2 + state.skipped.length * 38;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = STATE_VERSION;
  out[1] = optional.reduce((f, k, i) => k === null ? f : f | (1 << i), 0);
  view.setUint16(2, state.ad.length);
  let at = 4;
  const put = (b: Uint8Array) => {
    out.set(b, at);
    at += b.length;
  };
  put(state.ad);
  put(state.rk);
  put(state.dhsPrivate);
  put(state.dhsPublic);
  for (const k of optional) if (k !== null) put(k);
  for (const n of [state.ns, state.nr, state.pn]) {
    view.setUint32(at, n);
    at += 4;
  }
  view.setUint16(at, chains.length);
  at += 2;
  for (const c of chains) put(c);
  view.setUint16(at, state.skipped.length);
  at += 2;
  for (const [i, s] of state.skipped.entries()) {
    view.setUint16(at, index[i]!);
    view.setUint32(at + 2, s.n);
    at += 6;
    put(s.mk);
  }
  return out;
}

/**
 * Parse a state written by {@link encodeRatchetState}, strictly.
 * @param bytes the stored bytes
 * @returns the state
 * @throws {HearthError} `bad_encoding` when the bytes are not a valid state
 */
export function decodeRatchetState(bytes: Uint8Array): RatchetState {
  const r = new StateReader(bytes);
  if (r.u8() !== STATE_VERSION) throw malformed();
  const flags = r.u8();
  if (flags > 0b111) throw malformed();
  const ad = r.bytes(r.u16());
  const rk = r.bytes(32);
  const dhsPrivate = r.bytes(32);
  const dhsPublic = r.bytes(32);
  const dhr = flags & 1 ? r.bytes(32) : null;
  const cks = flags & 2 ? r.bytes(32) : null;
  const ckr = flags & 4 ? r.bytes(32) : null;
  const ns = r.u32();
  const nr = r.u32();
  const pn = r.u32();
  const chainCount = r.u16();
  if (chainCount > MAX_SKIPPED_KEYS) throw malformed();
  const chains = Array.from({ length: chainCount }, () => r.bytes(32));
  const count = r.u16();
  if (count > MAX_SKIPPED_KEYS) throw malformed();
  const skipped: SkippedKey[] = [];
  for (let i = 0; i < count; i++) {
    const dh = chains[r.u16()];
    if (dh === undefined) throw malformed();
    skipped.push({ dh, n: r.u32(), mk: r.bytes(32) });
  }
  r.end();
  // §3.3: the receiving chain starts with DHr; counters only run on a chain.
  if ((dhr === null && ckr !== null) || (ckr === null && nr !== 0)) throw malformed();
  if (cks === null && (ns !== 0 || pn !== 0)) throw malformed();
  return { ad, rk, dhsPrivate, dhsPublic, dhr, cks, ckr, ns, nr, pn, skipped };
}

function malformed(): HearthError {
  return new HearthError("bad_encoding", "Malformed ratchet state");
}

/** A bounds-checked reader over the stored state bytes. */
class StateReader {
  #bytes: Uint8Array;
  #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw malformed();
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(n: number): number {
    if (this.#at + n > this.#bytes.length) throw malformed();
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(): number {
    return this.#bytes[this.#take(1)]!;
  }

  u16(): number {
    return this.#view.getUint16(this.#take(2));
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4));
  }

  bytes(n: number): Uint8Array {
    const at = this.#take(n);
    return this.#bytes.slice(at, at + n);
  }

  end(): void {
    if (this.#at !== this.#bytes.length) throw malformed();
  }
}
