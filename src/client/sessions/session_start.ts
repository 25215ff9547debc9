/**
 * The crypto steps of a session, apart from its storage: starting one from
 * a peer's bundle (as initiator), and finding which of a peer's sessions
 * opens a payload. Pure: no database, no network.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/mod.ts";
import type { AccountKeys } from "../account/mod.ts";
import type { PrekeyBundle } from "./prekey_bundle.ts";
import { initiateHandshake } from "./pqxdh.ts";
import { initInitiator, ratchetDecrypt, ratchetRemoteKey } from "./ratchet.ts";
import type { RatchetState } from "./ratchet_state.ts";
import { type LoadedSession, newSessionId } from "./session_rows.ts";
import type { SessionPayload } from "./session_wire.ts";

/**
 * Start a session with a peer's bundle (the PQXDH handshake as initiator,
 * a one-time prekey picked at random when the bundle has any).
 * @param keys the owner's keys
 * @param options.peerKey the peer's identity key; `bundle` its opened bundle; `now`, ms
 * @returns the new session (its messages are prekey messages until the peer
 *   answers), or undefined when the handshake fails
 */
export async function initiateSession(
  keys: AccountKeys,
  options: { peerKey: Uint8Array; bundle: PrekeyBundle; now: number },
): Promise<LoadedSession | undefined> {
  const { peerKey, bundle, now } = options;
  const opk = bundle.opks.length > 0 ? bundle.opks[randomIndex(bundle.opks.length)] : undefined;
  try {
    const hs = await initiateHandshake(keys, {
      identityEd25519: peerKey,
      spk: bundle.spk,
      kem: bundle.kem,
      ...(opk ? { opk } : {}),
    });
    const ratchet = await initInitiator(hs.sk, hs.ad, hs.peerSpk);
    return { id: newSessionId(), createdAt: now, ek: hs.init.ek, pendingInit: hs.init, ratchet };
  } catch {
    return undefined;
  }
}

/**
 * Try a payload with a peer's sessions: the one whose current or skipped
 * ratchet keys name the header's key first, then the others newest first.
 * Each try works on a copy (ratchet.ts), so a miss changes nothing.
 * @param sessions the peer's sessions, newest first
 * @param payload the parsed payload
 * @returns the session that opened it, its new state and the plaintext; or undefined
 */
export async function tryDecrypt(
  sessions: LoadedSession[],
  payload: SessionPayload,
): Promise<
  { session: LoadedSession; state: RatchetState; plaintext: Uint8Array } | undefined
> {
  const dh = payload.header.subarray(0, 32);
  const names = (s: LoadedSession) => {
    const remote = ratchetRemoteKey(s.ratchet);
    return (remote !== null && bytesEqual(remote, dh)) ||
      s.ratchet.skipped.some((k) => bytesEqual(k.dh, dh));
  };
  const ordered = [...sessions.filter(names), ...sessions.filter((s) => !names(s))];
  for (const session of ordered) {
    try {
      const { state, plaintext } = await ratchetDecrypt(
        session.ratchet,
        payload.header,
        payload.ciphertext,
      );
      return { session, state, plaintext };
    } catch {
      // Not this session's message.
    }
  }
  return undefined;
}

/** A uniform index in 0 … n − 1 (n ≤ 2^16). */
function randomIndex(n: number): number {
  const limit = 65_536 - (65_536 % n);
  const buf = new Uint16Array(1);
  do crypto.getRandomValues(buf); while (buf[0]! >= limit);
  return buf[0]! % n;
}
