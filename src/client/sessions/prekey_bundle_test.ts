import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import {
  concatBytes,
  generateDhKeyPair,
  labeledHash,
  randomBytes,
  sign,
  toBase64,
  toHex,
  u32,
  utf8,
} from "../../shared/crypto/mod.ts";
import { HearthError } from "../../shared/errors.ts";
import { type AccountKeys, accountKeysFromSeed } from "../account/keys.ts";
import { createSeed } from "../account/seed.ts";
import {
  BUNDLE_NAMESPACE,
  MAX_OPKS,
  openBundle,
  type PrekeyBundle,
  signBundle,
} from "./prekey_bundle.ts";

const T0 = 1_800_000_000_000;

async function newAccount(): Promise<AccountKeys> {
  return await accountKeysFromSeed(createSeed());
}

async function newBundle(opks: number): Promise<PrekeyBundle> {
  const x25519Pub = async () => (await generateDhKeyPair()).publicKey;
  return {
    createdAt: T0,
    spk: { id: 7, key: await x25519Pub() },
    kem: { id: 0xfffffffe, key: ml_kem768.keygen().publicKey },
    opks: await Promise.all(
      Array.from({ length: opks }, async (_, i) => ({ id: 1 + i * 1000, key: await x25519Pub() })),
    ),
  };
}

/** A header as JSON, written out from the design, for bundles the codec would not sign. */
function jsonHeader(bundle: PrekeyBundle, patch: Record<string, unknown> = {}) {
  return {
    v: 1,
    createdAt: bundle.createdAt,
    spk: { id: bundle.spk.id, key: toHex(bundle.spk.key) },
    kem: { id: bundle.kem.id, key: toBase64(bundle.kem.key) },
    opks: bundle.opks.map((o) => ({ id: o.id, key: toHex(o.key) })),
    ...patch,
  };
}

/** Sign any header the way the design says: the exact JSON bytes under the identity key. */
async function signRaw(keys: AccountKeys, header: unknown): Promise<Uint8Array> {
  const json = utf8(JSON.stringify(header));
  const signed = labeledHash("hearth/prekey-bundle/v1", keys.signing.publicKey, json);
  return concatBytes(u32(json.length), json, await sign(keys.signing, signed));
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await assertRejects(() => promise, HearthError);
  return (err as HearthError).code;
}

Deno.test("a signed bundle opens to what was signed, with 0 and with 100 one-time prekeys", async () => {
  const keys = await newAccount();
  assertEquals(BUNDLE_NAMESPACE % 10, 5);
  for (const count of [0, MAX_OPKS]) {
    const bundle = await newBundle(count);
    const item = await signBundle(keys, bundle);
    assert(item.length < 16_000, "A full bundle fits a 16 KiB onion packet");
    const opened = await openBundle(item, keys.signing.publicKey, { now: T0 });
    assertEquals(opened, bundle);
  }
});

Deno.test("the bundle is the frame the design specifies, and its KEM key works", async () => {
  const keys = await newAccount();
  const bundle = await newBundle(2);
  const item = await signBundle(keys, bundle);
  // Independently built bytes open the same way: the format is pinned, not just round-tripped.
  const raw = await signRaw(keys, jsonHeader(bundle));
  assertEquals(await openBundle(raw, keys.signing.publicKey, { now: T0 }), bundle);
  assertEquals(item.subarray(0, item.length - 64), raw.subarray(0, raw.length - 64));
  const opened = await openBundle(item, keys.signing.publicKey, { now: T0 });
  const { cipherText } = ml_kem768.encapsulate(opened.kem.key);
  assertEquals(cipherText.length, 1088);
});

Deno.test("forged, foreign and tampered bundles are bad_signature", async () => {
  const keys = await newAccount();
  const other = await newAccount();
  const item = await signBundle(keys, await newBundle(3));
  const forged = item.slice();
  forged.set(randomBytes(64), forged.length - 64);
  assertEquals(
    await refusal(openBundle(forged, keys.signing.publicKey, { now: T0 })),
    "bad_signature",
  );
  // Another account's valid bundle is not this account's.
  assertEquals(
    await refusal(openBundle(item, other.signing.publicKey, { now: T0 })),
    "bad_signature",
  );
  const theirs = await signBundle(other, await newBundle(1));
  assertEquals(
    await refusal(openBundle(theirs, keys.signing.publicKey, { now: T0 })),
    "bad_signature",
  );
  // Any change to the header bytes: an id digit, a key digit, the time.
  const text = new TextDecoder().decode(item.subarray(4, item.length - 64));
  for (const [from, to] of [['"id":7', '"id":8'], [`"createdAt":${T0}`, `"createdAt":${T0 - 1}`]]) {
    const changed = utf8(text.replace(from!, to!));
    const tampered = concatBytes(u32(changed.length), changed, item.subarray(item.length - 64));
    assertEquals(
      await refusal(openBundle(tampered, keys.signing.publicKey, { now: T0 })),
      "bad_signature",
    );
  }
  const flipped = item.slice();
  flipped[40]! ^= 1;
  assert(
    ["bad_signature", "bad_request"].includes(
      await refusal(openBundle(flipped, keys.signing.publicKey, { now: T0 })),
    ),
  );
});

Deno.test("well-signed but malformed bundles are refused field by field", async () => {
  const keys = await newAccount();
  const bundle = await newBundle(3);
  const pub = keys.signing.publicKey;
  const code = async (patch: Record<string, unknown>, now = T0) =>
    await refusal(openBundle(await signRaw(keys, jsonHeader(bundle, patch)), pub, { now }));
  const opk = (id: number, key = toHex(randomBytes(32))) => ({ id, key });
  const manyOpks = Array.from({ length: MAX_OPKS + 1 }, (_, i) => opk(i + 1));
  assertEquals(await code({ opks: manyOpks }), "too_large");
  assertEquals(await code({ opks: [opk(5), opk(6), opk(5)] }), "bad_request");
  assertEquals(await code({ v: 2 }), "bad_request");
  assertEquals(await code({ v: undefined }), "bad_request");
  assertEquals(await code({ createdAt: T0 + 60_001 }), "bad_request");
  assertEquals(await code({ createdAt: -1 }), "bad_request");
  assertEquals(await code({ createdAt: "now" }), "bad_request");
  assertEquals(await code({ spk: { id: 1, key: toHex(randomBytes(31)) } }), "bad_request");
  assertEquals(await code({ spk: { id: 1, key: toHex(randomBytes(33)) } }), "bad_request");
  assertEquals(await code({ spk: { id: 1, key: "00".repeat(32) } }), "bad_request");
  assertEquals(await code({ spk: { id: 0, key: toHex(randomBytes(32)) } }), "bad_request");
  assertEquals(
    await code({ spk: { id: 2 ** 32 - 1, key: toHex(randomBytes(32)) } }),
    "bad_request",
  );
  assertEquals(await code({ spk: { id: 1.5, key: toHex(randomBytes(32)) } }), "bad_request");
  assertEquals(await code({ spk: null }), "bad_request");
  assertEquals(await code({ opks: [opk(1, "00".repeat(32))] }), "bad_request");
  assertEquals(await code({ opks: [opk(1, "zz".repeat(32))] }), "bad_request");
  assertEquals(await code({ opks: "none" }), "bad_request");
  const kem = bundle.kem.key;
  assertEquals(await code({ kem: { id: 1, key: toBase64(kem.subarray(0, 1183)) } }), "bad_request");
  assertEquals(await code({ kem: { id: 1, key: "not base64!" } }), "bad_request");
  // A coefficient ≥ q (FIPS 203 §7.2 encapsulation key check).
  const outOfRange = kem.slice();
  outOfRange.set([0xff, 0x0f], 0);
  assertEquals(await code({ kem: { id: 1, key: toBase64(outOfRange) } }), "bad_request");
  assert(throws(() => ml_kem768.encapsulate(outOfRange)), "noble refuses that key too");
  // At the edge of the clock window it opens.
  const edge = await signRaw(keys, jsonHeader(bundle, { createdAt: T0 + 60_000 }));
  assertEquals((await openBundle(edge, pub, { now: T0 })).createdAt, T0 + 60_000);
  // Frame damage: no signature, a signature too long, not a frame.
  const item = await signBundle(keys, bundle);
  const bad = (bytes: Uint8Array) => refusal(openBundle(bytes, pub, { now: T0 }));
  assertEquals(await bad(item.subarray(0, item.length - 64)), "bad_request");
  assertEquals(await bad(concatBytes(item, new Uint8Array(1))), "bad_request");
  assertEquals(await bad(new Uint8Array(3)), "bad_request");
  assertEquals(await bad(concatBytes(u32(5), utf8("[1,2]"), new Uint8Array(64))), "bad_request");
});

Deno.test("signBundle refuses a bundle that would not open", async () => {
  const keys = await newAccount();
  const bundle = await newBundle(MAX_OPKS);
  const extra = { id: 999_999_999, key: (await generateDhKeyPair()).publicKey };
  assertEquals(
    await refusal(signBundle(keys, { ...bundle, opks: [...bundle.opks, extra] })),
    "too_large",
  );
  const dup = { ...bundle, opks: [bundle.opks[0]!, bundle.opks[0]!] };
  assertEquals(await refusal(signBundle(keys, dup)), "bad_request");
  const shortKem = { ...bundle, kem: { id: 1, key: bundle.kem.key.subarray(1) } };
  assertEquals(await refusal(signBundle(keys, shortKem)), "bad_request");
  const zeroSpk = { ...bundle, spk: { id: 1, key: new Uint8Array(32) } };
  assertEquals(await refusal(signBundle(keys, zeroSpk)), "bad_request");
  assertEquals(await refusal(signBundle(keys, { ...bundle, createdAt: 1.5 })), "bad_request");
});

function throws(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
}
