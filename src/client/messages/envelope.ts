/**
 * The message envelope (docs/PROTOCOL.md §10): sealed sender. The
 * sender's identity, a timestamp and an Ed25519 signature that binds the
 * sender, the recipient, the time and what the envelope carries travel
 * inside the encryption; the whole envelope is padded to one of a few
 * fixed sizes. The encryption is {@link sealBox} (sealed_box.ts) to the
 * recipient's identity key.
 *
 * The inner version tells what is carried: 1, the content itself (only
 * sealed: the recipient's identity key opens it); 2, a session payload
 * (session_wire.ts), whose content only the double-ratchet session opens
 * (forward secret, docs/PROTOCOL.md §12).
 * @module
 */
import {
  bucketFor,
  concatBytes,
  CryptoError,
  type DhKeyPair,
  ed25519PublicToX25519,
  labeledHash,
  pad,
  PAD_OVERHEAD,
  readU64,
  sign,
  type SigningKeyPair,
  u64,
  unpad,
  verify,
} from "../../shared/crypto/mod.ts";
import { MAX_ITEM_BYTES } from "../../shared/codec/limits.ts";
import { checkEnvelopeVersion, openBox, sealBox, SEALED_BOX_OVERHEAD } from "./sealed_box.ts";

/** The keys a sender needs: its Ed25519 identity key pair. */
export interface SenderKeys {
  /** The Ed25519 key pair the content is signed with. */
  readonly signing: SigningKeyPair;
}

/**
 * The keys a recipient needs: its Ed25519 public key (the signature binds
 * it) and its X25519 key pair (`ed25519SeedToX25519Private` of the seed).
 */
export interface RecipientKeys {
  /** Our Ed25519 public key: a signature must name it. */
  readonly signing: { readonly publicKey: Uint8Array };
  /** Our X25519 key pair: it opens the box. */
  readonly dh: DhKeyPair;
}

/**
 * The inner version: 1 when the envelope carries the content itself, 2
 * when it carries a session payload.
 */
export type InnerVersion = 1 | 2;

/** What an opened envelope tells: who sent what, and when they say they sent it. */
export interface OpenedEnvelope {
  /** The sender's Ed25519 public key (verified). */
  sender: Uint8Array;
  /**
   * The bytes exactly as sealed: the content (inner version 1), or a session
   * payload to decrypt with the sender's session (inner version 2).
   */
  content: Uint8Array;
  /** The sender's clock when sealing, ms since the epoch (signed, not checked). */
  sentAt: number;
  /** The inner version: what {@link content} is. */
  version: InnerVersion;
}

/** Inner version of an envelope that carries the content itself. */
export const INNER_VERSION: number = 1;

/** Inner version of an envelope that carries a session payload. */
export const SESSION_INNER_VERSION: number = 2;

/** Bytes of the inner plaintext before the content: version, sender, sentAt, signature. */
export const INNER_HEADER_BYTES: number = 1 + 32 + 8 + 64;

/**
 * Every size an envelope can have, bytes: the whole envelope, as stored.
 * The largest is the relay's item limit.
 */
export const ENVELOPE_SIZES: readonly number[] = [
  256,
  1_024,
  4_096,
  16_384,
  65_536,
  MAX_ITEM_BYTES,
];

/** The padded inner plaintext sizes that give {@link ENVELOPE_SIZES}. */
const PADDED_SIZES = ENVELOPE_SIZES.map((size) => size - SEALED_BOX_OVERHEAD);

/** Bytes the envelope adds to the content before padding. */
export const ENVELOPE_OVERHEAD: number = SEALED_BOX_OVERHEAD + PAD_OVERHEAD + INNER_HEADER_BYTES;

/** Largest content one envelope carries, bytes (76,618). */
export const MAX_CONTENT_BYTES: number = MAX_ITEM_BYTES - ENVELOPE_OVERHEAD;

/** The signature's label per inner version: a payload never verifies as content. */
const SIGNATURE_LABELS: Record<InnerVersion, string> = {
  1: "hearth/envelope-sig/v1",
  2: "hearth/envelope-sig/v2",
};

function signedDigest(
  version: InnerVersion,
  sender: Uint8Array,
  recipient: Uint8Array,
  inner: { sentAt: number; content: Uint8Array },
): Uint8Array {
  return labeledHash(
    SIGNATURE_LABELS[version],
    sender,
    recipient,
    u64(inner.sentAt),
    inner.content,
  );
}

/**
 * The envelope size that carries `contentLength` bytes of content.
 * @returns the size, or undefined when the content is too large
 */
export function envelopeSizeFor(contentLength: number): number | undefined {
  const padded = bucketFor(INNER_HEADER_BYTES + contentLength, PADDED_SIZES);
  return padded === undefined ? undefined : padded + SEALED_BOX_OVERHEAD;
}

/**
 * Sign, pad and encrypt content (or a session payload) for one recipient.
 * @param content the encoded message content (content.ts), or with
 *   `version: 2` an encoded session payload; at most {@link MAX_CONTENT_BYTES}
 * @param from the sender's keys
 * @param toAccountPublicKey the recipient's 32-byte Ed25519 public key
 * @param options.now the sent-at timestamp, ms (default `Date.now()`)
 * @param options.version the inner version: 1 (default) content, 2 a session payload
 * @returns the envelope, exactly one of {@link ENVELOPE_SIZES} bytes
 * @throws {RangeError} when the content is too large, a key is not 32 bytes
 *   or `now` is not a non-negative integer
 * @throws {CryptoError} when the recipient key is not a valid public key
 * @example
 * ```ts ignore
 * const envelope = await sealEnvelope(encodeContent(message), alice, bobPublicKey);
 * ```
 */
export async function sealEnvelope(
  content: Uint8Array,
  from: SenderKeys,
  toAccountPublicKey: Uint8Array,
  options: { now?: number; version?: InnerVersion } = {},
): Promise<Uint8Array> {
  const version = options.version ?? 1;
  if (version !== 1 && version !== 2) throw new RangeError("Unknown inner version");
  if (content.length > MAX_CONTENT_BYTES) {
    throw new RangeError("Content is too large for one envelope");
  }
  if (toAccountPublicKey.length !== 32) {
    throw new RangeError("Account public key must be 32 bytes");
  }
  const sentAt = options.now ?? Date.now();
  const sender = from.signing.publicKey;
  const recipientX = ed25519PublicToX25519(toAccountPublicKey);
  const signature = await sign(
    from.signing,
    signedDigest(version, sender, toAccountPublicKey, { sentAt, content }),
  );
  const inner = concatBytes(
    new Uint8Array([version]),
    sender,
    u64(sentAt),
    signature,
    content,
  );
  const padded = bucketFor(inner.length, PADDED_SIZES)!;
  return await sealBox(pad(inner, padded), recipientX);
}

/**
 * Decrypt an envelope, check its padding and its signature. A version 2
 * envelope is opened only this far: its content is the session payload.
 * @param envelope the bytes as fetched from the inbox
 * @param me our keys
 * @returns the verified sender, the content (or payload), the signed sent-at time and
 *   the inner version
 * @throws {HearthError} `bad_request` when the version byte is unknown
 * @throws {CryptoError} for anything else: a size that is not an envelope
 *   size, a box that does not decrypt, malformed padding or inner layout, a
 *   signature that does not verify (one error, whatever the cause)
 */
export async function openEnvelope(
  envelope: Uint8Array,
  me: RecipientKeys,
): Promise<OpenedEnvelope> {
  checkEnvelopeVersion(envelope);
  if (!ENVELOPE_SIZES.includes(envelope.length)) throw new CryptoError();
  const inner = unpad(await openBox(envelope, me.dh));
  const version = inner[0];
  if (inner.length < INNER_HEADER_BYTES || (version !== 1 && version !== 2)) {
    throw new CryptoError();
  }
  const sender = inner.slice(1, 33);
  let sentAt: number;
  try {
    sentAt = readU64(inner, 33);
  } catch {
    throw new CryptoError();
  }
  const signature = inner.subarray(41, INNER_HEADER_BYTES);
  const content = inner.slice(INNER_HEADER_BYTES);
  const digest = signedDigest(version, sender, me.signing.publicKey, { sentAt, content });
  if (!(await verify(sender, digest, signature))) throw new CryptoError();
  return { sender, content, sentAt, version };
}
