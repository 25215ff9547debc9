/**
 * A group message (namespace 11, docs/PROTOCOL.md §14): stored by a member
 * with its access grant, encrypted under the group key of a generation,
 * signed by the sender's account key inside the encryption, and padded to
 * the envelope sizes so relays see only a size bucket.
 *
 * Layout: `u32 gen || nonce24 || XChaCha20-Poly1305(groupKey[gen], nonce,
 * pad(A32 || u64 sentAt || sig64 || content), AD = K || u32 gen)`, with
 * `sig = Ed25519(A, H("hearth/group-msg/v1", K, u32 gen, u64 sentAt, content))`.
 * @module
 */
import {
  bucketFor,
  concatBytes,
  labeledHash,
  pad,
  randomBytes,
  readU32,
  readU64,
  sign,
  type SigningKeyPair,
  u32,
  u64,
  unpad,
  verify,
  xchachaOpen,
  xchachaSeal,
} from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { HearthError } from "../../shared/errors.ts";

/** The sizes a group message item comes in (as sealed envelopes, PROTOCOL §10). */
export const GROUP_MESSAGE_SIZES: readonly number[] = [
  256,
  1_024,
  4_096,
  16_384,
  65_536,
  MAX_ITEM_BYTES,
];
/** Bytes around the padded plaintext: generation, nonce, tag. */
export const GROUP_MESSAGE_OVERHEAD = 4 + 24 + 16;
/** Bytes before the content in the plaintext: sender, sent-at, signature. */
const INNER_HEAD = 32 + 8 + 64;
/** The largest content a group message carries. */
export const MAX_GROUP_CONTENT_BYTES = MAX_ITEM_BYTES - GROUP_MESSAGE_OVERHEAD - 4 - INNER_HEAD;

const SIG_LABEL = "hearth/group-msg/v1";

/** A group message, opened. */
export interface OpenedGroupMessage {
  /** The sender's Ed25519 account public key. */
  sender: Uint8Array;
  /** The sender's signed clock, ms. */
  sentAt: number;
  /** The content bytes (PROTOCOL §10 content). */
  content: Uint8Array;
  /** The key generation it was sealed under. */
  generation: number;
}

function sigInput(swarmKey: Uint8Array, generation: number, sentAt: number, content: Uint8Array) {
  return labeledHash(SIG_LABEL, swarmKey, u32(generation), u64(sentAt), content);
}

/**
 * Seal a group message.
 * @param sender the sender's account key pair
 * @param m the group's swarm key, the generation and its key, the sent-at time and the content
 * @throws {HearthError} `too_large` when the content does not fit one item
 */
export async function sealGroupMessage(
  sender: SigningKeyPair,
  m: {
    swarmKey: Uint8Array;
    generation: number;
    key: Uint8Array;
    sentAt: number;
    content: Uint8Array;
  },
): Promise<Uint8Array> {
  if (m.content.length > MAX_GROUP_CONTENT_BYTES) {
    throw new HearthError("too_large", "Content is too large");
  }
  const sig = await sign(sender, sigInput(m.swarmKey, m.generation, m.sentAt, m.content));
  const inner = concatBytes(sender.publicKey, u64(m.sentAt), sig, m.content);
  const size = bucketFor(inner.length + GROUP_MESSAGE_OVERHEAD, GROUP_MESSAGE_SIZES)!;
  const nonce = randomBytes(24);
  const gen = u32(m.generation);
  const sealed = xchachaSeal(
    m.key,
    nonce,
    pad(inner, size - GROUP_MESSAGE_OVERHEAD),
    concatBytes(m.swarmKey, gen),
  );
  return concatBytes(gen, nonce, sealed);
}

/**
 * The generation a group message names, or undefined when the item cannot
 * be one (not one of the sizes). Read before looking up the key.
 */
export function groupMessageGeneration(data: Uint8Array): number | undefined {
  if (!GROUP_MESSAGE_SIZES.includes(data.length)) return undefined;
  return readU32(data, 0);
}

/**
 * Open a group message: size first, then the AEAD under the generation's
 * key, the padding, the layout and the sender's signature. Every failure is
 * the same `undefined`.
 * @param data the item (untrusted)
 * @param swarmKey the group's swarm key
 * @param key the group key of the generation it names ({@link groupMessageGeneration})
 */
export async function openGroupMessage(
  data: Uint8Array,
  swarmKey: Uint8Array,
  key: Uint8Array,
): Promise<OpenedGroupMessage | undefined> {
  const generation = groupMessageGeneration(data);
  if (generation === undefined) return undefined;
  let inner: Uint8Array;
  try {
    inner = unpad(
      xchachaOpen(
        key,
        data.subarray(4, 28),
        data.subarray(28),
        concatBytes(swarmKey, u32(generation)),
      ),
    );
  } catch {
    return undefined;
  }
  if (inner.length < INNER_HEAD) return undefined;
  const sender = inner.slice(0, 32);
  let sentAt: number;
  try {
    sentAt = readU64(inner, 32);
  } catch {
    return undefined;
  }
  const sig = inner.subarray(40, 104);
  const content = inner.slice(INNER_HEAD);
  if (!(await verify(sender, sigInput(swarmKey, generation, sentAt, content), sig))) {
    return undefined;
  }
  return { sender, sentAt, content, generation };
}
