// Vector sources (see tests/vectors/README.md):
// - RFC 8032 §7.1 TEST 1, TEST 2 and TEST 3 public keys: valid.
// - libsodium's small-order blocklist (ge25519_has_small_order in
//   src/libsodium/crypto_core/ed25519/ref10/ed25519_ref10.c): the y values
//   0, 1, the two order-8 values, p - 1, p and p + 1, each with the sign bit
//   clear and set (libsodium ignores it). All must be refused: small order,
//   or a non-canonical encoding.
import { assert, assertFalse } from "../../../tests/assert.ts";
import { fromHex, randomBytes } from "./bytes.ts";
import { isValidEd25519PublicKey } from "./point.ts";
import { signingKeyPairFromSeed } from "./sign.ts";

const RFC8032_PUBLIC_KEYS = [
  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
];

/** libsodium ge25519_has_small_order blocklist, sign bit clear. */
const SMALL_ORDER_BLOCKLIST = [
  "0000000000000000000000000000000000000000000000000000000000000000", // 0 (order 4)
  "0100000000000000000000000000000000000000000000000000000000000000", // 1 (order 1)
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1 (order 2)
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (= 0, order 4)
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1 (= 1, order 1)
];

Deno.test("RFC 8032 public keys and fresh keys are valid", async () => {
  for (const hex of RFC8032_PUBLIC_KEYS) assert(isValidEd25519PublicKey(fromHex(hex)), hex);
  for (let i = 0; i < 20; i++) {
    const pair = await signingKeyPairFromSeed(randomBytes(32));
    assert(isValidEd25519PublicKey(pair.publicKey));
  }
});

Deno.test("small-order and non-canonical points are refused (libsodium blocklist)", () => {
  for (const hex of SMALL_ORDER_BLOCKLIST) {
    const key = fromHex(hex);
    assertFalse(isValidEd25519PublicKey(key), `${hex} sign 0`);
    key[31]! |= 0x80;
    assertFalse(isValidEd25519PublicKey(key), `${hex} sign 1`);
  }
});

Deno.test("off-curve points and wrong lengths are refused", () => {
  // y = 2 is not on the curve (no x satisfies the equation).
  const notOnCurve = new Uint8Array(32);
  notOnCurve[0] = 2;
  assertFalse(isValidEd25519PublicKey(notOnCurve));
  const good = fromHex(RFC8032_PUBLIC_KEYS[0]!);
  assertFalse(isValidEd25519PublicKey(good.subarray(0, 31)));
  assertFalse(isValidEd25519PublicKey(new Uint8Array([...good, 0])));
  assertFalse(isValidEd25519PublicKey("not bytes" as unknown as Uint8Array));
});
