// Spec: Signal, "The PQXDH Key Agreement Protocol", rev. 3 (2024-01-23):
// §2.2 (KDF with F = 0xFF×32, zero salt), §3.3 (sending the initial message),
// §3.4 (receiving it). No published vectors fit our labels and key types, so
// the session key is cross-checked against a second implementation
// (WebCrypto HKDF over the hand-built input) and against an independent
// recomputation of every DH output from the responder's private keys.
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../tests/assert.ts";
import {
  buf,
  concatBytes,
  CryptoError,
  type DhKeyPair,
  ed25519PublicToX25519,
  generateDhKeyPair,
  randomBytes,
  toHex,
  utf8,
  x25519,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, accountKeysFromSeed } from "../account/keys.ts";
import {
  type BundleKeys,
  handshakeAd,
  handshakeSecret,
  initiateHandshake,
  isPrekeyId,
  MAX_PREKEY_ID,
  type ResponderPrekeys,
  respondHandshake,
} from "./pqxdh.ts";
import { initInitiator, initResponder, ratchetDecrypt, ratchetEncrypt } from "./ratchet.ts";
import { encodeSessionPayload, parseSessionPayload } from "./session_wire.ts";

interface Responder {
  keys: AccountKeys;
  spk: DhKeyPair;
  kem: { publicKey: Uint8Array; secretKey: Uint8Array };
  opk: DhKeyPair;
}

async function responder(): Promise<Responder> {
  return {
    keys: await accountKeysFromSeed(randomBytes(32)),
    spk: await generateDhKeyPair(),
    kem: ml_kem768.keygen(),
    opk: await generateDhKeyPair(),
  };
}

function bundleOf(b: Responder, withOpk = true): BundleKeys {
  return {
    identityEd25519: b.keys.signing.publicKey,
    spk: { id: 7, key: b.spk.publicKey },
    kem: { id: 8, key: b.kem.publicKey },
    ...(withOpk ? { opk: { id: 9, key: b.opk.publicKey } } : {}),
  };
}

function prekeysOf(b: Responder, withOpk = true): ResponderPrekeys {
  return {
    spk: b.spk,
    kemSecret: b.kem.secretKey,
    ...(withOpk ? { opk: b.opk } : {}),
  };
}

/** WebCrypto HKDF-SHA256: a second implementation of the handshake KDF. */
async function webHkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number) {
  const key = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(utf8(info)) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

Deno.test("a handshake between real account keys gives both sides the same SK and AD (PQXDH §3.3, §3.4)", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  for (const withOpk of [true, false]) {
    const bob = await responder();
    const a = await initiateHandshake(alice, bundleOf(bob, withOpk));
    assertEquals(a.init.spkId, 7);
    assertEquals(a.init.kemId, 8);
    assertEquals(a.init.opkId, withOpk ? 9 : 0);
    assertEquals(a.init.ek.length, 32);
    assertEquals(a.init.kemCt.length, 1088);
    assertEquals(a.peerSpk, bob.spk.publicKey);
    const b = await respondHandshake(
      bob.keys,
      alice.signing.publicKey,
      a.init,
      prekeysOf(bob, withOpk),
    );
    assertEquals(b.sk, a.sk, `SK with OPK: ${withOpk}`);
    assertEquals(b.ad, a.ad);
    // §3.3: AD = Encode(IK_A) ‖ Encode(IK_B), the initiator first.
    assertEquals(a.ad, concatBytes(alice.signing.publicKey, bob.keys.signing.publicKey));
  }
});

Deno.test("the session key is HKDF(F ‖ DH1 ‖ DH2 ‖ DH3 ‖ DH4 ‖ SS) with the PQXDH §2.2 salt and our label", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const { sk, init } = await initiateHandshake(alice, bundleOf(bob));
  // Recompute every input independently, from the responder's private keys.
  const ikA = ed25519PublicToX25519(alice.signing.publicKey);
  const dh1 = await x25519(bob.spk, ikA); // DH(IK_A, SPK_B)
  const dh2 = await x25519(bob.keys.dh, init.ek); // DH(EK_A, IK_B)
  const dh3 = await x25519(bob.spk, init.ek); // DH(EK_A, SPK_B)
  const dh4 = await x25519(bob.opk, init.ek); // DH(EK_A, OPK_B)
  const ss = ml_kem768.decapsulate(init.kemCt, bob.kem.secretKey);
  assertEquals(handshakeSecret([dh1, dh2, dh3, dh4], ss), sk);
  const ikm = concatBytes(new Uint8Array(32).fill(0xff), dh1, dh2, dh3, dh4, ss);
  assertEquals(await webHkdf(ikm, new Uint8Array(32), "hearth/pqxdh/v1", 32), sk);
});

Deno.test("hybrid: replacing the ML-KEM secret or any one DH output changes SK", () => {
  const dhs = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
  const ss = randomBytes(32);
  const base = handshakeSecret(dhs, ss);
  const seen = new Set([toHex(base)]);
  // A quantum attacker who knows every X25519 output still lacks SS, and a
  // classical one who broke ML-KEM still lacks the DH outputs.
  const other = handshakeSecret(dhs, randomBytes(32));
  assertNotEquals(other, base);
  seen.add(toHex(other));
  for (let i = 0; i < dhs.length; i++) {
    const changed = dhs.slice();
    changed[i] = randomBytes(32);
    const sk = handshakeSecret(changed, ss);
    assertNotEquals(sk, base, `DH${i + 1} replaced`);
    seen.add(toHex(sk));
  }
  // Dropping DH4 is a different key too (no OPK is not "OPK of zeros").
  seen.add(toHex(handshakeSecret(dhs.slice(0, 3), ss)));
  assertEquals(seen.size, 7);
});

Deno.test("the responder's SK differs when its ML-KEM secret key is another one (implicit rejection, FIPS 203 §7.3)", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const a = await initiateHandshake(alice, bundleOf(bob));
  const wrongKem = ml_kem768.keygen();
  const b = await respondHandshake(bob.keys, alice.signing.publicKey, a.init, {
    ...prekeysOf(bob),
    kemSecret: wrongKem.secretKey,
  });
  assertNotEquals(b.sk, a.sk);
});

Deno.test("a tampered init part or the wrong initiator gives the responder another SK", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const mallory = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const a = await initiateHandshake(alice, bundleOf(bob));
  const kemCt = a.init.kemCt.slice();
  kemCt[100]! ^= 1;
  const ek = (await generateDhKeyPair()).publicKey;
  for (const init of [{ ...a.init, kemCt }, { ...a.init, ek }]) {
    const b = await respondHandshake(bob.keys, alice.signing.publicKey, init, prekeysOf(bob));
    assertNotEquals(b.sk, a.sk);
  }
  // Another claimed initiator: DH1 and AD both change (the identity keys authenticate both sides).
  const b = await respondHandshake(bob.keys, mallory.signing.publicKey, a.init, prekeysOf(bob));
  assertNotEquals(b.sk, a.sk);
  assertNotEquals(b.ad, a.ad);
});

Deno.test("the ML-KEM prekey is reusable and every initiation draws a fresh ephemeral key", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const secretBefore = bob.kem.secretKey.slice();
  const one = await initiateHandshake(alice, bundleOf(bob, false));
  const two = await initiateHandshake(alice, bundleOf(bob, false));
  assertNotEquals(one.init.ek, two.init.ek);
  assertNotEquals(one.init.kemCt, two.init.kemCt);
  assertNotEquals(one.sk, two.sk);
  for (const a of [one, two]) {
    const b = await respondHandshake(
      bob.keys,
      alice.signing.publicKey,
      a.init,
      prekeysOf(bob, false),
    );
    assertEquals(b.sk, a.sk);
  }
  assertEquals(bob.kem.secretKey, secretBefore, "decapsulation leaves the secret key intact");
});

Deno.test("respondHandshake refuses an init naming a one-time prekey it was not given", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const a = await initiateHandshake(alice, bundleOf(bob));
  const error = await assertRejects(
    () => respondHandshake(bob.keys, alice.signing.publicKey, a.init, prekeysOf(bob, false)),
    HearthError,
  );
  assertEquals(error.code, "bad_request");
  const noOpk = await initiateHandshake(alice, bundleOf(bob, false));
  await assertRejects(
    () => respondHandshake(bob.keys, alice.signing.publicKey, noOpk.init, prekeysOf(bob)),
    RangeError,
  );
});

Deno.test("respondHandshake refuses malformed init parts", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const { init } = await initiateHandshake(alice, bundleOf(bob));
  const bad = [
    { ...init, ek: init.ek.subarray(1) },
    { ...init, kemCt: init.kemCt.subarray(1) },
    { ...init, spkId: 0 },
    { ...init, kemId: MAX_PREKEY_ID + 1 },
    { ...init, opkId: -1 },
    { ...init, spkId: 1.5 },
  ];
  for (const [i, b] of bad.entries()) {
    const error = await assertRejects(
      () => respondHandshake(bob.keys, alice.signing.publicKey, b, prekeysOf(bob)),
      HearthError,
    );
    assertEquals(error.code, "bad_request", `case ${i}`);
  }
});

Deno.test("a small-order ephemeral or prekey is refused: all-zero DH outputs (RFC 7748 §6.1)", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const { init } = await initiateHandshake(alice, bundleOf(bob));
  const zero = new Uint8Array(32);
  await assertRejects(
    () =>
      respondHandshake(bob.keys, alice.signing.publicKey, { ...init, ek: zero }, prekeysOf(bob)),
    CryptoError,
  );
  const withZeroSpk = { ...bundleOf(bob), spk: { id: 7, key: zero } };
  await assertRejects(() => initiateHandshake(alice, withZeroSpk), CryptoError);
  const withZeroOpk = { ...bundleOf(bob), opk: { id: 9, key: zero } };
  await assertRejects(() => initiateHandshake(alice, withZeroOpk), CryptoError);
  assertThrows(
    () => handshakeSecret([randomBytes(32), zero, randomBytes(32)], randomBytes(32)),
    CryptoError,
  );
});

Deno.test("initiateHandshake refuses malformed bundle keys and an invalid ML-KEM key", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const good = bundleOf(bob);
  const bad: BundleKeys[] = [
    { ...good, identityEd25519: good.identityEd25519.subarray(1) },
    { ...good, spk: { id: 7, key: good.spk.key.subarray(1) } },
    { ...good, kem: { id: 8, key: good.kem.key.subarray(1) } },
    { ...good, opk: { id: 9, key: new Uint8Array(33) } },
    { ...good, spk: { id: 0, key: good.spk.key } },
    { ...good, kem: { id: 0xffffffff, key: good.kem.key } },
  ];
  for (const [i, b] of bad.entries()) {
    const error = await assertRejects(() => initiateHandshake(alice, b), HearthError);
    assertEquals(error.code, "bad_request", `case ${i}`);
  }
  // FIPS 203 §7.2 modulus check: a coefficient of 4095 (≥ q) is refused.
  const kemKey = good.kem.key.slice();
  kemKey[0] = 0xff;
  kemKey[1] = 0x0f;
  await assertRejects(
    () => initiateHandshake(alice, { ...good, kem: { id: 8, key: kemKey } }),
    CryptoError,
  );
});

Deno.test("handshakeSecret and handshakeAd check their inputs", () => {
  const d = () => randomBytes(32);
  assertThrows(() => handshakeSecret([d(), d()], d()), RangeError);
  assertThrows(() => handshakeSecret([d(), d(), d(), d(), d()], d()), RangeError);
  assertThrows(() => handshakeSecret([d(), d(), randomBytes(31)], d()), RangeError);
  assertThrows(() => handshakeSecret([d(), d(), d()], randomBytes(31)), RangeError);
  assertThrows(() => handshakeAd(d(), randomBytes(31)), RangeError);
  assert(isPrekeyId(1) && isPrekeyId(MAX_PREKEY_ID));
  assert(!isPrekeyId(0) && !isPrekeyId(MAX_PREKEY_ID + 1) && !isPrekeyId("1"));
});

Deno.test("a prekey message between real accounts opens a session that works both ways", async () => {
  const alice = await accountKeysFromSeed(randomBytes(32));
  const bob = await responder();
  const a = await initiateHandshake(alice, bundleOf(bob));
  let aliceState = await initInitiator(a.sk, a.ad, a.peerSpk);
  const first = await ratchetEncrypt(aliceState, utf8("hello bob"));
  aliceState = first.state;
  const wire = encodeSessionPayload({ kind: "prekey", init: a.init, ...first });

  const parsed = parseSessionPayload(wire);
  assert(parsed.kind === "prekey");
  const b = await respondHandshake(bob.keys, alice.signing.publicKey, parsed.init, prekeysOf(bob));
  const opened = await ratchetDecrypt(
    initResponder(b.sk, b.ad, bob.spk),
    parsed.header,
    parsed.ciphertext,
  );
  assertEquals(opened.plaintext, utf8("hello bob"));
  const reply = await ratchetEncrypt(opened.state, utf8("hello alice"));
  const back = parseSessionPayload(encodeSessionPayload({ kind: "ratchet", ...reply }));
  const got = await ratchetDecrypt(aliceState, back.header, back.ciphertext);
  assertEquals(got.plaintext, utf8("hello alice"));
});
