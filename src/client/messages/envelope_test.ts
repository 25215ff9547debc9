/**
 * The envelope (docs/PROTOCOL.md §10): round trip, exact sizes, sealed
 * sender, tampering, the recipient binding of the signature, versions
 * (inner version 1 carries content, 2 a session payload, each signed
 * under its own label).
 */
import fc from "fast-check";
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import {
  bytesEqual,
  concatBytes,
  CryptoError,
  ed25519PublicToX25519,
  labeledHash,
  pad,
  randomBytes,
  sign,
  u64,
  unpad,
} from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";
import { measureEnvelope } from "./bench_envelope.ts";
import {
  ENVELOPE_SIZES,
  envelopeSizeFor,
  MAX_CONTENT_BYTES,
  openEnvelope,
  sealEnvelope,
} from "./envelope.ts";
import { openBox, sealBox } from "./sealed_box.ts";
import { testAccount } from "./test_keys.ts";

const [alice, bob, carol] = await Promise.all([testAccount(), testAccount(), testAccount()]);

Deno.test("an envelope opens to the sender, the content and the sent-at time", async () => {
  const content = new TextEncoder().encode("hello bob");
  const envelope = await sealEnvelope(content, alice, bob.signing.publicKey, { now: 1_700_000 });
  const opened = await openEnvelope(envelope, bob);
  assertEquals(opened.sender, alice.signing.publicKey);
  assertEquals(opened.content, content);
  assertEquals(opened.sentAt, 1_700_000);
  assertEquals(opened.version, 1);
  // Note to Self: sender and recipient are the same account.
  const self = await openEnvelope(
    await sealEnvelope(content, alice, alice.signing.publicKey),
    alice,
  );
  assertEquals(self.sender, alice.signing.publicKey);
});

Deno.test("the largest content fills the relay's item limit exactly", async () => {
  // 76,800 − (1 + 32 + 24 + 16) box − 4 pad − (1 + 32 + 8 + 64) inner header.
  assertEquals(MAX_CONTENT_BYTES, 76_618);
  assertEquals(Math.max(...ENVELOPE_SIZES), MAX_ITEM_BYTES);
  assertEquals(MAX_ITEM_BYTES, 76_800);
  const largest = await sealEnvelope(randomBytes(MAX_CONTENT_BYTES), alice, bob.signing.publicKey);
  assertEquals(largest.length, 76_800);
  assert(largest.length <= MAX_ITEM_BYTES);
  assertEquals((await openEnvelope(largest, bob)).content.length, MAX_CONTENT_BYTES);
  await assertRejects(
    () => sealEnvelope(randomBytes(MAX_CONTENT_BYTES + 1), alice, bob.signing.publicKey),
    RangeError,
  );
});

Deno.test("envelopes are exactly one of the bucket sizes", async () => {
  const cases: [number, number][] = [
    [0, 256],
    [74, 256],
    [75, 1_024],
    [842, 1_024],
    [843, 4_096],
    [3_914, 4_096],
    [3_915, 16_384],
    [16_202, 16_384],
    [16_203, 65_536],
    [65_354, 65_536],
    [65_355, 76_800],
  ];
  for (const [length, size] of cases) {
    assertEquals(envelopeSizeFor(length), size, `content of ${length}`);
    const envelope = await sealEnvelope(randomBytes(length), alice, bob.signing.publicKey);
    assertEquals(envelope.length, size, `content of ${length}`);
  }
  assertEquals(envelopeSizeFor(MAX_CONTENT_BYTES + 1), undefined);
});

Deno.test("property: any content length up to the maximum round-trips at its bucket size", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.integer({ min: 0, max: 1_200 }), fc.integer({ min: 0, max: MAX_CONTENT_BYTES })),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      async (length, now) => {
        const content = randomBytes(length);
        const envelope = await sealEnvelope(content, alice, bob.signing.publicKey, { now });
        assertEquals(envelope.length, envelopeSizeFor(length));
        const opened = await openEnvelope(envelope, bob);
        assertEquals(opened.content, content);
        assertEquals(opened.sentAt, now);
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("a third party cannot open it, nor can the sender", async () => {
  const envelope = await sealEnvelope(randomBytes(20), alice, bob.signing.publicKey);
  await assertRejects(() => openEnvelope(envelope, carol), CryptoError);
  await assertRejects(() => openEnvelope(envelope, alice), CryptoError);
  // Bob's X25519 key with another Ed25519 key: decrypts, but the signature
  // was made for Bob, so it does not verify.
  await assertRejects(
    () => openEnvelope(envelope, { ...bob, signing: carol.signing }),
    CryptoError,
  );
});

Deno.test("tampering with any byte is CryptoError, except the version byte", async () => {
  const small = await sealEnvelope(randomBytes(50), alice, bob.signing.publicKey);
  assertEquals(small.length, 256);
  for (let i = 0; i < small.length; i++) {
    const tampered = small.slice();
    tampered[i] = tampered[i]! ^ (1 << (i % 8));
    if (i === 0) {
      const error = await assertRejects(() => openEnvelope(tampered, bob), HearthError);
      assertEquals(error.code, "bad_request");
    } else {
      await assertRejects(() => openEnvelope(tampered, bob), CryptoError);
    }
  }
  const large = await sealEnvelope(randomBytes(3_000), alice, bob.signing.publicKey);
  for (const i of [1, 32, 33, 56, 57, 1_000, large.length - 17, large.length - 1]) {
    const tampered = large.slice();
    tampered[i] = tampered[i]! ^ 0x80;
    await assertRejects(() => openEnvelope(tampered, bob), CryptoError);
  }
  for (
    const bad of [new Uint8Array(0), small.subarray(0, 255), concatBytes(small, new Uint8Array(1))]
  ) {
    await assertRejects(() => openEnvelope(bad, bob), CryptoError);
  }
});

Deno.test("a version byte we do not know is bad_request", async () => {
  const envelope = await sealEnvelope(randomBytes(10), alice, bob.signing.publicKey);
  for (const version of [0, 2, 255]) {
    const other = envelope.slice();
    other[0] = version;
    const error = await assertRejects(() => openEnvelope(other, bob), HearthError);
    assertEquals(error.code, "bad_request");
  }
});

/** Whether any 8-byte run of `needle` appears anywhere in `haystack`. */
function containsAnyRun(haystack: Uint8Array, needle: Uint8Array): boolean {
  for (let n = 0; n + 8 <= needle.length; n++) {
    const run = needle.subarray(n, n + 8);
    for (let h = 0; h + 8 <= haystack.length; h++) {
      if (haystack[h] === run[0] && bytesEqual(haystack.subarray(h, h + 8), run)) return true;
    }
  }
  return false;
}

Deno.test("the envelope carries no copy of the sender's or the recipient's keys", async () => {
  const keys = [
    alice.signing.publicKey,
    ed25519PublicToX25519(alice.signing.publicKey),
    bob.signing.publicKey,
    bob.dh.publicKey,
  ];
  // The search itself finds a key where there is one.
  assert(containsAnyRun(concatBytes(randomBytes(100), keys[0]!.subarray(5, 13)), keys[0]!));
  for (const length of [0, 500, 20_000]) {
    for (let i = 0; i < 5; i++) {
      const envelope = await sealEnvelope(randomBytes(length), alice, bob.signing.publicKey);
      for (const key of keys) assert(!containsAnyRun(envelope, key), "a key appears in the bytes");
    }
  }
});

Deno.test("re-sealing Alice's signed message from Bob to Carol fails at Carol", async () => {
  const content = new TextEncoder().encode("for Bob only");
  const envelope = await sealEnvelope(content, alice, bob.signing.publicKey);
  // Bob removes the encryption layer, keeping Alice's signed inner message…
  const signedInner = await openBox(envelope, bob.dh);
  // …and seals it, byte for byte, to Carol as if Alice had written to her.
  const forwarded = await sealBox(signedInner, carol.dh.publicKey);
  await assertRejects(() => openEnvelope(forwarded, carol), CryptoError);
  // The same re-sealing to Bob himself opens: the attack fails only because
  // the signature names the recipient.
  const toSelf = await openEnvelope(await sealBox(signedInner, bob.dh.publicKey), bob);
  assertEquals(toSelf.sender, alice.signing.publicKey);
  assertEquals(toSelf.content, content);
});

/** An envelope built by hand from the bytes of docs/PROTOCOL.md §10. */
async function handBuilt(
  options: {
    innerVersion?: number;
    label?: string;
    sender?: Uint8Array;
    signer?: typeof alice;
    recipientInSig?: Uint8Array;
    sentAt?: Uint8Array;
    content?: Uint8Array;
    padded?: (inner: Uint8Array) => Uint8Array;
  } = {},
): Promise<Uint8Array> {
  const sender = options.sender ?? alice.signing.publicKey;
  const sentAt = options.sentAt ?? u64(42);
  const content = options.content ?? new TextEncoder().encode("by hand");
  const digest = labeledHash(
    options.label ?? "hearth/envelope-sig/v1",
    sender,
    options.recipientInSig ?? bob.signing.publicKey,
    sentAt,
    content,
  );
  const sig = await sign((options.signer ?? alice).signing, digest);
  const inner = concatBytes(
    new Uint8Array([options.innerVersion ?? 1]),
    sender,
    sentAt,
    sig,
    content,
  );
  const padded = options.padded ? options.padded(inner) : pad(inner, 256 - 73);
  return await sealBox(padded, bob.dh.publicKey);
}

Deno.test("an envelope built from the spec opens; each broken rule is CryptoError", async () => {
  const good = await openEnvelope(await handBuilt(), bob);
  assertEquals(good.sender, alice.signing.publicKey);
  assertEquals(good.sentAt, 42);
  assertEquals(new TextDecoder().decode(good.content), "by hand");
  // Inner version 2: the same layout, signed under the v2 label.
  const v2 = await openEnvelope(
    await handBuilt({ innerVersion: 2, label: "hearth/envelope-sig/v2" }),
    bob,
  );
  assertEquals([v2.version, new TextDecoder().decode(v2.content)], [2, "by hand"]);
  const broken = [
    handBuilt({ innerVersion: 2 }), // a v1 signature under inner version 2
    handBuilt({ innerVersion: 1, label: "hearth/envelope-sig/v2" }),
    handBuilt({ innerVersion: 3, label: "hearth/envelope-sig/v2" }),
    handBuilt({ innerVersion: 0 }),
    handBuilt({ signer: carol }), // Carol claims to be Alice
    handBuilt({ recipientInSig: carol.signing.publicKey }),
    handBuilt({ sentAt: new Uint8Array(8).fill(0xff) }), // above 2^53
    handBuilt({ padded: (inner) => pad(inner, 1_024 - 74) }), // not a bucket size
    handBuilt({
      padded: (inner) => {
        const p = pad(inner, 256 - 73);
        p[p.length - 1] = 1; // padding not all zero
        return p;
      },
    }),
    handBuilt({ padded: (inner) => pad(inner.subarray(0, 104), 256 - 73) }), // short inner
  ];
  for (const envelope of await Promise.all(broken)) {
    await assertRejects(() => openEnvelope(envelope, bob), CryptoError);
  }
  // The hand-built padding is the one the module writes.
  const made = await sealEnvelope(new Uint8Array(0), alice, bob.signing.publicKey, { now: 42 });
  assertEquals(unpad(await openBox(made, bob.dh)).length, 105);
});

Deno.test("sealing checks its arguments", async () => {
  await assertRejects(() => sealEnvelope(randomBytes(1), alice, randomBytes(31)), RangeError);
  const notAPoint = new Uint8Array(32);
  notAPoint[0] = 2; // y = 2 is not on the curve
  await assertRejects(() => sealEnvelope(randomBytes(1), alice, notAPoint), CryptoError);
  // y = 0 is a point of small order: the shared secret would be zero.
  await assertRejects(() => sealEnvelope(randomBytes(1), alice, new Uint8Array(32)), CryptoError);
  await assertRejects(
    () => sealEnvelope(randomBytes(1), alice, bob.signing.publicKey, { now: -1 }),
    RangeError,
  );
});

Deno.test("inner version 2 carries a session payload and says so; sizes are shared", async () => {
  const payload = randomBytes(57);
  const envelope = await sealEnvelope(payload, alice, bob.signing.publicKey, {
    now: 7,
    version: 2,
  });
  assertEquals(envelope.length, envelopeSizeFor(payload.length));
  const opened = await openEnvelope(envelope, bob);
  assertEquals([opened.version, opened.sentAt], [2, 7]);
  assertEquals(opened.content, payload);
  // Switching the inner version byte (Bob re-sealing to himself) breaks the signature.
  const inner = unpad(await openBox(envelope, bob.dh));
  inner[0] = 1;
  const switched = await sealBox(pad(inner, 256 - 73), bob.dh.publicKey);
  await assertRejects(() => openEnvelope(switched, bob), CryptoError);
  await assertRejects(
    () => sealEnvelope(payload, alice, bob.signing.publicKey, { version: 3 as 2 }),
    RangeError,
  );
});

Deno.test("measureEnvelope runs and reports finite times", async () => {
  const { sealMs, openMs } = await measureEnvelope(3);
  assert(Number.isFinite(sealMs) && sealMs >= 0);
  assert(Number.isFinite(openMs) && openMs >= 0);
});
