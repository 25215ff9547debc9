/**
 * The cost of forward-secret sessions on one thread (PROTOCOL §12): opening
 * a fetched prekey bundle, the PQXDH-style handshake on each side (X25519 × 4 + ML-KEM-768), and the
 * double ratchet per 1 KiB message: within one sending chain, with the
 * state encoded and decoded around each message (as the client database
 * keeps it), and the decrypt that takes a DH ratchet step (each change of
 * turn in a conversation).
 * @module
 */
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { accountKeysFromSeed, createSeed } from "../src/client/account/mod.ts";
import { generateDhKeyPair, randomBytes } from "../src/shared/crypto/mod.ts";
import { initiateHandshake, respondHandshake } from "../src/client/sessions/pqxdh.ts";
import { MAX_OPKS, openBundle, signBundle } from "../src/client/sessions/prekey_bundle.ts";
import {
  initInitiator,
  initResponder,
  ratchetDecrypt,
  ratchetEncrypt,
} from "../src/client/sessions/ratchet.ts";
import {
  decodeRatchetState,
  encodeRatchetState,
  type RatchetState,
} from "../src/client/sessions/ratchet_state.ts";
import { median, round } from "./stats.ts";

/** One measured operation. */
export interface SessionCost {
  /** What was measured. */
  op: string;
  /** Median cost of one operation, ms. */
  ms: number;
  /** How many were timed. */
  samples: number;
}

/** Bytes of the plaintext of each ratchet message. */
export const SESSION_MESSAGE_BYTES = 1_024;

async function timeEach(samples: number, fn: () => Promise<void>): Promise<number> {
  const each: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    each.push(performance.now() - t0);
  }
  return round(median(each));
}

/**
 * Measure the handshake and the ratchet with real keys.
 * @param options.samples how many of each (default 200)
 */
export async function measureSessionCosts(
  options: { samples?: number } = {},
): Promise<SessionCost[]> {
  const samples = options.samples ?? 200;
  const [alice, bob] = await Promise.all([
    accountKeysFromSeed(createSeed()),
    accountKeysFromSeed(createSeed()),
  ]);
  const spk = await generateDhKeyPair();
  const opk = await generateDhKeyPair();
  const kem = ml_kem768.keygen();
  const bundle = {
    identityEd25519: bob.signing.publicKey,
    spk: { id: 1, key: spk.publicKey },
    kem: { id: 2, key: kem.publicKey },
    opk: { id: 3, key: opk.publicKey },
  };
  const out: SessionCost[] = [];
  const push = (op: string, ms: number) => out.push({ op, ms, samples });

  const opks = [];
  for (let i = 0; i < MAX_OPKS; i++) {
    opks.push({ id: 100 + i, key: (await generateDhKeyPair()).publicKey });
  }
  const signed = await signBundle(bob, {
    createdAt: Date.now(),
    spk: bundle.spk,
    kem: bundle.kem,
    opks,
  });
  push(
    `open a fetched prekey bundle (${signed.length} B: Ed25519 verify, ${MAX_OPKS} one-time keys)`,
    await timeEach(samples, async () => {
      await openBundle(signed, bob.signing.publicKey);
    }),
  );

  let last = await initiateHandshake(alice, bundle);
  push(
    "handshake, initiator (4 X25519, ML-KEM encapsulate, HKDF)",
    await timeEach(samples, async () => {
      last = await initiateHandshake(alice, bundle);
    }),
  );
  const prekeys = { spk, kemSecret: kem.secretKey, opk };
  push(
    "handshake, responder (4 X25519, ML-KEM decapsulate, HKDF)",
    await timeEach(samples, async () => {
      await respondHandshake(bob, alice.signing.publicKey, last.init, prekeys);
    }),
  );

  const { sk, ad } = await respondHandshake(bob, alice.signing.publicKey, last.init, prekeys);
  let sender: RatchetState = await initInitiator(sk, ad, spk.publicKey);
  let receiver: RatchetState = initResponder(sk, ad, spk);
  const plaintext = randomBytes(SESSION_MESSAGE_BYTES);
  const sent: { header: Uint8Array; ciphertext: Uint8Array }[] = [];
  push(
    "ratchet encrypt, 1 KiB",
    await timeEach(samples, async () => {
      const r = await ratchetEncrypt(sender, plaintext);
      sender = r.state;
      sent.push(r);
    }),
  );
  let i = 0;
  push(
    "ratchet decrypt, 1 KiB (first one takes the DH step, median)",
    await timeEach(samples, async () => {
      const m = sent[i++]!;
      receiver = (await ratchetDecrypt(receiver, m.header, m.ciphertext)).state;
    }),
  );
  push(
    "ratchet encrypt + state decode/encode, 1 KiB",
    await timeEach(samples, async () => {
      const state = decodeRatchetState(encodeRatchetState(sender));
      const r = await ratchetEncrypt(state, plaintext);
      sender = decodeRatchetState(encodeRatchetState(r.state));
      sent.push(r);
    }),
  );

  // A change of turn: each decrypt below takes one DH ratchet step.
  const steps: number[] = [];
  for (let n = 0; n < Math.min(samples, 100); n++) {
    const reply = await ratchetEncrypt(receiver, plaintext);
    receiver = reply.state;
    const t0 = performance.now();
    sender = (await ratchetDecrypt(sender, reply.header, reply.ciphertext)).state;
    steps.push(performance.now() - t0);
    const back = await ratchetEncrypt(sender, plaintext);
    sender = back.state;
    receiver = (await ratchetDecrypt(receiver, back.header, back.ciphertext)).state;
  }
  out.push({
    op: "ratchet decrypt with a DH step, 1 KiB",
    ms: round(median(steps)),
    samples: steps.length,
  });
  return out;
}
