/**
 * Node identities for tests that do not need a proof of work or a signed
 * record: fresh real keys, a zero nonce.
 */
import { toHex } from "../src/shared/crypto/bytes.ts";
import { generateDhKeyPair } from "../src/shared/crypto/dh.ts";
import { generateSigningKeyPair } from "../src/shared/crypto/sign.ts";
import type { NodeIdentity } from "../src/relay/directory/record_types.ts";

/** A node identity with fresh Ed25519 and X25519 keys. */
export async function testIdentity(): Promise<NodeIdentity> {
  const signing = await generateSigningKeyPair();
  return {
    id: toHex(signing.publicKey),
    signing,
    dh: await generateDhKeyPair(),
    powNonce: new Uint8Array(8),
  };
}
