// Spec: Signal, "The Double Ratchet Algorithm", rev. 1 (2016-11-20). Each
// test names the section whose behaviour it checks. No published vectors
// exist for our labels, so the KDFs and the message encryption are
// cross-checked against a second implementation (WebCrypto HKDF, HMAC and
// AES-GCM) following §5.2 by hand.
import fc from "fast-check";
import {
  assert,
  assertEquals,
  assertFalse,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../tests/assert.ts";
import {
  buf,
  concatBytes,
  CryptoError,
  generateDhKeyPair,
  randomBytes,
  utf8,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import {
  encodeRatchetHeader,
  initInitiator,
  initResponder,
  kdfCk,
  kdfRk,
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
  messageCipherKeys,
  parseRatchetHeader,
  RATCHET_HEADER_BYTES,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetHasReceived,
  ratchetRemoteKey,
} from "./ratchet.ts";
import { decodeRatchetState, encodeRatchetState, type RatchetState } from "./ratchet_state.ts";

interface Sent {
  header: Uint8Array;
  ciphertext: Uint8Array;
  text: string;
}

/** One side of a conversation: its state, replaced after every operation. */
class Party {
  state: RatchetState;

  constructor(state: RatchetState) {
    this.state = state;
  }

  async send(text: string): Promise<Sent> {
    const out = await ratchetEncrypt(this.state, utf8(text));
    this.state = out.state;
    return { header: out.header, ciphertext: out.ciphertext, text };
  }

  async sendMany(prefix: string, count: number): Promise<Sent[]> {
    const out: Sent[] = [];
    for (let i = 0; i < count; i++) out.push(await this.send(`${prefix}${i}`));
    return out;
  }

  async receive(m: Sent): Promise<void> {
    const out = await ratchetDecrypt(this.state, m.header, m.ciphertext);
    assertEquals(new TextDecoder().decode(out.plaintext), m.text);
    this.state = out.state;
  }

  /** Expect a refusal that leaves the state exactly as it was. */
  async refuse(header: Uint8Array, ciphertext: Uint8Array, label = ""): Promise<void> {
    const before = encodeRatchetState(this.state);
    const error = await ratchetDecrypt(this.state, header, ciphertext).then(
      () => new Error(`decrypted: ${label}`),
      (e) => e,
    );
    assert(error instanceof CryptoError, `expected a CryptoError: ${label}: ${error}`);
    assertEquals(encodeRatchetState(this.state), before, `state unchanged ${label}`);
  }
}

async function newPair(): Promise<{ alice: Party; bob: Party }> {
  const sk = randomBytes(32);
  const ad = randomBytes(64);
  const spk = await generateDhKeyPair();
  return {
    alice: new Party(await initInitiator(sk, ad, spk.publicKey)),
    bob: new Party(initResponder(sk, ad, spk)),
  };
}

/** Round trips: each side sends `per` messages, the other reads them in order. */
async function converse(alice: Party, bob: Party, rounds: number, per = 2): Promise<Sent[]> {
  const all: Sent[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const m of await alice.sendMany(`a${r}.`, per)) {
      await bob.receive(m);
      all.push(m);
    }
    for (const m of await bob.sendMany(`b${r}.`, per)) {
      await alice.receive(m);
      all.push(m);
    }
  }
  return all;
}

function header(m: Sent) {
  return parseRatchetHeader(m.header);
}

Deno.test("messages in order decrypt both ways, with the headers of §3.4 and a DH step per turn (§2.3)", async () => {
  const { alice, bob } = await newPair();
  const a = await alice.sendMany("a", 3);
  assertEquals(a.map((m) => [header(m).pn, header(m).n]), [[0, 0], [0, 1], [0, 2]]);
  for (const m of a) assertEquals(header(m).dh, alice.state.dhsPublic);
  for (const m of a) await bob.receive(m);
  const b = await bob.sendMany("b", 2);
  assertEquals(b.map((m) => [header(m).pn, header(m).n]), [[0, 0], [0, 1]]);
  for (const m of b) await alice.receive(m);
  const aliceKey = alice.state.dhsPublic;
  const next = await alice.send("again");
  // §3.5 DHRatchet: a new ratchet key, PN = the previous chain's length.
  assertNotEquals(header(next).dh, header(a[0]!).dh);
  assertEquals(header(next).dh, aliceKey);
  assertEquals([header(next).pn, header(next).n], [3, 0]);
  await bob.receive(next);
  assertEquals(ratchetRemoteKey(bob.state), aliceKey);
  await converse(alice, bob, 3);
});

Deno.test("the responder cannot send before it receives, and has no remote key until then (§3.3)", async () => {
  const { alice, bob } = await newPair();
  await assertRejects(() => ratchetEncrypt(bob.state, utf8("x")), TypeError);
  assertEquals(ratchetRemoteKey(bob.state), null);
  assertFalse(ratchetHasReceived(bob.state));
  assertFalse(ratchetHasReceived(alice.state));
  // Before the first reply, the initiator's DHr is the responder's signed prekey.
  assertEquals(ratchetRemoteKey(alice.state), bob.state.dhsPublic);
  await bob.receive(await alice.send("hi"));
  assert(ratchetHasReceived(bob.state));
  await alice.receive(await bob.send("hello"));
  assert(ratchetHasReceived(alice.state));
});

Deno.test("out-of-order messages within one chain decrypt, each once (§2.5)", async () => {
  const { alice, bob } = await newPair();
  const sent = await alice.sendMany("m", 6);
  await bob.receive(sent[5]!);
  assertEquals(bob.state.skipped.length, 5);
  for (const i of [0, 3, 1, 4, 2]) await bob.receive(sent[i]!);
  assertEquals(bob.state.skipped.length, 0);
});

Deno.test("out-of-order messages across DH ratchet steps decrypt, using PN (§2.5, §3.5)", async () => {
  const { alice, bob } = await newPair();
  const a = await alice.sendMany("a", 3);
  await bob.receive(a[1]!); // a0 skipped
  const b = await bob.sendMany("b", 3);
  await alice.receive(b[2]!); // b0, b1 skipped
  const a2 = await alice.sendMany("c", 2); // new chain, PN = 3
  assertEquals(header(a2[0]!).pn, 3);
  await bob.receive(a2[1]!); // skips a2 (old chain, via PN) and c0 (new chain)
  assertEquals(bob.state.skipped.length, 3);
  for (const m of [a2[0]!, a[2]!, a[0]!]) await bob.receive(m);
  assertEquals(bob.state.skipped.length, 0);
  for (const m of [b[0]!, b[1]!]) await alice.receive(m);
  assertEquals(alice.state.skipped.length, 0);
  await converse(alice, bob, 2);
});

Deno.test("any delivery order of three chains decrypts every message exactly once (§2.5, property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(), { minLength: 9, maxLength: 9 }), async (keys) => {
      const { alice, bob } = await newPair();
      const held: Sent[] = [];
      for (let chain = 0; chain < 2; chain++) {
        // Bob reads the first of each chain and replies, so Alice's next chain is new.
        const [first, ...rest] = await alice.sendMany(`${chain}.`, 4);
        await bob.receive(first!);
        await alice.receive(await bob.send(`r${chain}`));
        held.push(...rest);
      }
      held.push(...await alice.sendMany("2.", 3));
      const order = held.map((m, i) => ({ m, k: keys[i]! })).sort((x, y) => x.k - y.k);
      for (const { m } of order) await bob.receive(m);
      for (const { m } of order) await bob.refuse(m.header, m.ciphertext, "replay");
      assertEquals(bob.state.skipped.length, 0);
    }),
    { numRuns: 15 },
  );
});

Deno.test("a header that skips more than MAX_SKIP keys in one chain is refused; exactly MAX_SKIP is not (§3.5)", async () => {
  const { alice, bob } = await newPair();
  const sent = await alice.sendMany("m", MAX_SKIP + 2);
  await bob.refuse(sent[MAX_SKIP + 1]!.header, sent[MAX_SKIP + 1]!.ciphertext, "n = MAX_SKIP + 1");
  assertEquals(bob.state.skipped.length, 0);
  await bob.receive(sent[MAX_SKIP]!);
  assertEquals(bob.state.skipped.length, MAX_SKIP);
  await bob.receive(sent[MAX_SKIP + 1]!);
  await bob.receive(sent[0]!);
});

Deno.test("a PN that skips more than MAX_SKIP keys of the previous chain is refused (§3.5)", async () => {
  const { alice, bob } = await newPair();
  const old = await alice.sendMany("m", MAX_SKIP + 2);
  await bob.receive(old[0]!);
  await alice.receive(await bob.send("reply"));
  const next = await alice.send("next"); // PN = MAX_SKIP + 2, Nr = 1
  await bob.refuse(next.header, next.ciphertext, "PN too far ahead");
  await bob.receive(old[1]!);
  await bob.receive(next); // now Nr + MAX_SKIP = PN: allowed
  assertEquals(bob.state.skipped.length, MAX_SKIP);
});

Deno.test("the stored skipped keys never exceed MAX_SKIPPED_KEYS and the oldest are dropped first (§6.4)", async () => {
  const { alice, bob } = await newPair();
  const firsts: Sent[] = [];
  const seconds: Sent[] = [];
  for (let round = 0; round < 3; round++) {
    const sent = await alice.sendMany(`r${round}.`, MAX_SKIP + 1);
    await bob.receive(sent[MAX_SKIP]!);
    assert(bob.state.skipped.length <= MAX_SKIPPED_KEYS);
    assertEquals(bob.state.skipped.length, Math.min((round + 1) * MAX_SKIP, MAX_SKIPPED_KEYS));
    firsts.push(sent[0]!);
    seconds.push(sent[1]!);
    await alice.receive(await bob.send(`reply ${round}`));
  }
  // Round 0's keys were the oldest: all gone. Rounds 1 and 2 are kept.
  await bob.refuse(firsts[0]!.header, firsts[0]!.ciphertext, "round 0 dropped");
  await bob.refuse(seconds[0]!.header, seconds[0]!.ciphertext, "round 0 dropped");
  await bob.receive(firsts[1]!);
  await bob.receive(firsts[2]!);
  assertEquals(bob.state.skipped.length, MAX_SKIPPED_KEYS - 2);
  // The full state survives a store and reload.
  const stored = encodeRatchetState(bob.state);
  assertEquals(decodeRatchetState(stored), bob.state);
  const restarted = new Party(decodeRatchetState(stored));
  await restarted.receive(seconds[2]!);
});

Deno.test("a replayed message is refused: each message key is deleted once used (§3.5, §6.1)", async () => {
  const { alice, bob } = await newPair();
  const a = await alice.sendMany("a", 3);
  await bob.receive(a[0]!);
  await bob.refuse(a[0]!.header, a[0]!.ciphertext, "in-order replay");
  await bob.receive(a[2]!);
  await bob.receive(a[1]!); // from the skipped keys
  await bob.refuse(a[1]!.header, a[1]!.ciphertext, "skipped-key replay");
  await alice.receive(await bob.send("b"));
  await bob.receive(await alice.send("c"));
  for (const m of a) await bob.refuse(m.header, m.ciphertext, "old-chain replay");
});

Deno.test("a tampered header, body, tag or associated data is refused and the state is unchanged (§3.5)", async () => {
  const { alice, bob } = await newPair();
  await converse(alice, bob, 1);
  const sent = await alice.sendMany("m", 3); // a new chain: Bob has not seen its key
  const tamperAll = async (m: Sent, path: string) => {
    const flip = (bytes: Uint8Array, i: number) => {
      const copy = bytes.slice();
      copy[i]! ^= 0x01;
      return copy;
    };
    await bob.refuse(flip(m.header, 3), m.ciphertext, `${path}: ratchet key`);
    await bob.refuse(flip(m.header, 35), m.ciphertext, `${path}: pn`);
    await bob.refuse(flip(m.header, 39), m.ciphertext, `${path}: n`);
    await bob.refuse(m.header, flip(m.ciphertext, 0), `${path}: body`);
    await bob.refuse(m.header, flip(m.ciphertext, m.ciphertext.length - 1), `${path}: tag`);
    await bob.refuse(m.header, m.ciphertext.subarray(0, 15), `${path}: short ciphertext`);
    await bob.refuse(m.header.subarray(1), m.ciphertext, `${path}: short header`);
    const zeroKey = concatBytes(new Uint8Array(32), m.header.subarray(32));
    await bob.refuse(zeroKey, m.ciphertext, `${path}: small-order key`);
    // The associated data (both identity keys) is bound to every message.
    const otherAd = { ...bob.state, ad: flipAd(bob.state.ad) };
    await assertRejects(() => ratchetDecrypt(otherAd, m.header, m.ciphertext), CryptoError);
  };
  await tamperAll(sent[1]!, "DH step");
  await bob.receive(sent[1]!); // sent[0] is now a skipped key, sent[2] next in the chain
  await tamperAll(sent[0]!, "skipped key");
  await tamperAll(sent[2]!, "current chain");
  // The genuine messages still decrypt with the untouched state.
  await bob.receive(sent[0]!);
  await bob.receive(sent[2]!);
});

function flipAd(ad: Uint8Array): Uint8Array {
  const copy = ad.slice();
  copy[0]! ^= 0x80;
  return copy;
}

Deno.test("an initiator with no receiving chain refuses a header carrying its own DHr (§3.3)", async () => {
  const { alice, bob } = await newPair();
  const forged = encodeRatchetHeader({ dh: bob.state.dhsPublic, pn: 0, n: 0 });
  await alice.refuse(forged, randomBytes(40), "no receiving chain");
});

Deno.test("a state survives encode/decode mid-conversation, on both sides, and carries on (restart)", async () => {
  const { alice, bob } = await newPair();
  assertEquals(decodeRatchetState(encodeRatchetState(bob.state)), bob.state);
  assertEquals(decodeRatchetState(encodeRatchetState(alice.state)), alice.state);
  await converse(alice, bob, 2);
  const pending = await alice.sendMany("p", 4);
  await bob.receive(pending[3]!);
  const late = await bob.sendMany("q", 2);
  await alice.receive(late[1]!);
  assertEquals(bob.state.skipped.length, 3);
  for (const side of [alice, bob]) {
    const bytes = encodeRatchetState(side.state);
    assertEquals(decodeRatchetState(bytes), side.state);
    assertEquals(encodeRatchetState(decodeRatchetState(bytes)), bytes);
    side.state = decodeRatchetState(bytes);
  }
  await bob.receive(pending[0]!);
  await alice.receive(late[0]!);
  await converse(alice, bob, 2);
});

Deno.test("a malformed stored state is refused with bad_encoding", async () => {
  const { alice, bob } = await newPair();
  await bob.receive(await alice.send("a"));
  await bob.receive((await alice.sendMany("b", 3))[2]!);
  const good = encodeRatchetState(bob.state);
  const bad: Uint8Array[] = [
    new Uint8Array(0),
    concatBytes(new Uint8Array([2]), good.subarray(1)), // unknown version
    concatBytes(new Uint8Array([1, 8]), good.subarray(2)), // unknown flag
    concatBytes(good, new Uint8Array(1)), // trailing byte
    // A receiving chain without DHr, counters without chains.
    encodeRatchetState({ ...bob.state, dhr: null }),
    encodeRatchetState({ ...bob.state, ckr: null }),
    encodeRatchetState({ ...alice.state, cks: null }),
  ];
  for (let cut = 0; cut < good.length; cut += 7) bad.push(good.subarray(0, cut));
  const badIndex = good.slice();
  badIndex[good.length - 38] = 0xff; // the last skipped key names a missing chain
  bad.push(badIndex);
  const tooMany = good.slice();
  new DataView(tooMany.buffer).setUint16(good.length - 2 * 38 - 2, MAX_SKIPPED_KEYS + 1);
  bad.push(tooMany);
  for (const [i, bytes] of bad.entries()) {
    const error = assertThrows(() => decodeRatchetState(bytes), HearthError, undefined);
    assertEquals(error.code, "bad_encoding", `case ${i}`);
  }
});

Deno.test("forward secrecy: after a conversation, neither side's current state decrypts earlier messages (§6.1)", async () => {
  const { alice, bob } = await newPair();
  const earlier = await converse(alice, bob, 4, 3);
  // What an attacker takes: both states as stored, plus anything in memory.
  const taken = [alice.state, bob.state].map((s) => decodeRatchetState(encodeRatchetState(s)));
  for (const state of taken) {
    for (const m of earlier) {
      await assertRejects(() => ratchetDecrypt(state, m.header, m.ciphertext), CryptoError);
    }
  }
});

Deno.test("post-compromise security: a copied state is locked out after a round trip (§6.2)", async () => {
  const { alice, bob } = await newPair();
  await converse(alice, bob, 2);
  await bob.receive(await alice.send("before"));
  // Eve copies Bob's whole state and then sees, and tries, every message Alice sends.
  const eve = new Party(decodeRatchetState(encodeRatchetState(bob.state)));
  const exposed = await alice.send("exposed");
  await bob.receive(exposed);
  await eve.receive(exposed); // the compromise is real: the current chain is Eve's
  for (let round = 0; round < 3; round++) {
    await alice.receive(await bob.send(`b${round}`));
    for (const m of await alice.sendMany(`a${round}.`, 2)) {
      await bob.receive(m);
      if (round === 0) {
        // §6.2: until Bob ratchets with fresh randomness, his copied DHs still works.
        await eve.receive(m);
      } else {
        await eve.refuse(m.header, m.ciphertext, `round ${round}`);
      }
    }
  }
  // Eve's root key diverged from Bob's at his first new ratchet key.
  assertNotEquals(eve.state.rk, bob.state.rk);
});

Deno.test("KDF_RK, KDF_CK and the message keys match WebCrypto HKDF and HMAC (§5.2)", async () => {
  for (let i = 0; i < 5; i++) {
    const rk = randomBytes(32);
    const dh = randomBytes(32);
    const root = await webHkdf(dh, rk, "hearth/ratchet-root/v1", 64);
    assertEquals(kdfRk(rk, dh), { rk: root.slice(0, 32), ck: root.slice(32) });
    const ck = randomBytes(32);
    assertEquals(kdfCk(ck), { ck: await webHmac(ck, 0x02), mk: await webHmac(ck, 0x01) });
    const mk = randomBytes(32);
    const keys = await webHkdf(mk, new Uint8Array(0), "hearth/ratchet-msg/v1", 44);
    const ours = messageCipherKeys(mk);
    assertEquals([ours.key.slice(), ours.nonce.slice()], [keys.slice(0, 32), keys.slice(32)]);
  }
});

Deno.test("a ratchet message is AES-256-GCM under the chain's message key with AD ‖ header as associated data (§3.4)", async () => {
  const { alice } = await newPair();
  const cks = alice.state.cks!;
  const ad = alice.state.ad;
  const m = await alice.send("independently checked");
  assertEquals(m.ciphertext.length, utf8(m.text).length + 16);
  const keys = await webHkdf(
    await webHmac(cks, 0x01),
    new Uint8Array(0),
    "hearth/ratchet-msg/v1",
    44,
  );
  const aes = await crypto.subtle.importKey("raw", keys.slice(0, 32), "AES-GCM", false, [
    "decrypt",
  ]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: keys.slice(32), additionalData: buf(concatBytes(ad, m.header)) },
    aes,
    buf(m.ciphertext),
  );
  assertEquals(new Uint8Array(plain), utf8(m.text));
  assertEquals(alice.state.cks, kdfCk(cks).ck, "the chain moved on");
});

Deno.test("ratchet headers encode to 40 bytes and parse strictly", () => {
  const dh = randomBytes(32);
  const bytes = encodeRatchetHeader({ dh, pn: 0xffffffff, n: 7 });
  assertEquals(bytes.length, RATCHET_HEADER_BYTES);
  assertEquals(bytes, concatBytes(dh, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 7])));
  assertEquals(parseRatchetHeader(bytes), { dh, pn: 0xffffffff, n: 7 });
  assertThrows(() => parseRatchetHeader(bytes.subarray(1)), CryptoError);
  assertThrows(() => parseRatchetHeader(concatBytes(bytes, new Uint8Array(1))), CryptoError);
  assertThrows(() => encodeRatchetHeader({ dh, pn: -1, n: 0 }), RangeError);
  assertThrows(() => encodeRatchetHeader({ dh, pn: 0, n: 2 ** 32 }), RangeError);
  assertThrows(() => encodeRatchetHeader({ dh: dh.subarray(1), pn: 0, n: 0 }), RangeError);
});

Deno.test("initialization checks its inputs", async () => {
  const spk = await generateDhKeyPair();
  await assertRejects(
    () => initInitiator(randomBytes(31), randomBytes(64), spk.publicKey),
    RangeError,
  );
  await assertRejects(
    () => initInitiator(randomBytes(32), randomBytes(64), new Uint8Array(32)),
    CryptoError,
  );
  assertThrows(() => initResponder(randomBytes(32), randomBytes(70_000), spk), RangeError);
});

async function webHkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number) {
  const key = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(utf8(info)) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

async function webHmac(key: Uint8Array, byte: number) {
  const k = await crypto.subtle.importKey(
    "raw",
    buf(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new Uint8Array([byte])));
}
