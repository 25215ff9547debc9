/**
 * The profile an account shows its contacts: a display name and an
 * optional small avatar. Validated once here, from the owner API and from
 * the wire alike, so nothing downstream sees a spoofing name or a
 * mislabelled image.
 *
 * Wire form (a frame, `src/shared/codec/frame.ts`): the JSON header
 * `{"v": 1, "name": "…"}`, plus `"avatar": "<media type>"` when there is
 * an avatar, whose bytes are the frame's blob.
 * @module
 */
import { bytesEqual } from "../../shared/crypto/mod.ts";
import { decodeFrame, encodeFrame } from "../../shared/codec/frame.ts";
import { HearthError } from "../../shared/errors.ts";

/** Longest display name, Unicode code points (after NFC and trimming). */
export const MAX_DISPLAY_NAME_CHARS = 64;
/** Largest avatar image, bytes (64 KiB). */
export const MAX_AVATAR_BYTES = 65_536;
/** Largest header of an encoded profile, bytes. */
export const MAX_PROFILE_HEADER_BYTES = 1_024;
/** Largest encoded profile, bytes: length prefix, header and avatar. */
export const MAX_PROFILE_BYTES: number = 4 + MAX_PROFILE_HEADER_BYTES + MAX_AVATAR_BYTES;
/** Version of the profile wire form. */
const PROFILE_VERSION = 1;

/** The image types an avatar may have. */
export const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
/** An avatar's media type. */
export type AvatarType = typeof AVATAR_TYPES[number];

/** A small image shown beside the display name. */
export interface Avatar {
  /** The declared media type; the bytes start with its magic number. */
  type: AvatarType;
  /** The image file, at most 64 KiB. */
  bytes: Uint8Array;
}

/** What an account shows of itself to its contacts. */
export interface Profile {
  /** NFC, trimmed, 1 to 64 code points, no control or bidi characters. */
  displayName: string;
  /** An optional small image. */
  avatar?: Avatar;
}

/**
 * Characters refused in a display name: C0 and C1 controls and DEL
 * (`\p{Cc}`), line and paragraph separators, and the bidirectional
 * formatting characters (LRM, RLM, ALM, embeddings, overrides, isolates),
 * which can make a name render as something else.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

const PNG_MAGIC = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_MAGIC = new Uint8Array([0xff, 0xd8, 0xff]);
const RIFF = new Uint8Array([0x52, 0x49, 0x46, 0x46]);
const WEBP = new Uint8Array([0x57, 0x45, 0x42, 0x50]);

/**
 * Validate and normalise a profile. The display name is NFC-normalised
 * and trimmed, then must be 1 to 64 code points with no control or
 * bidirectional formatting character. The avatar, when present, must be
 * at most 64 KiB and start with the magic bytes of its declared type.
 * Unknown fields are ignored; the result holds a copy of the avatar bytes.
 * @param input a value claimed to be a profile
 * @returns the normalised profile
 * @throws {HearthError} `bad_request` for a missing, mistyped or invalid
 *   field (a name over 64 code points included); `too_large` for an avatar
 *   over 64 KiB
 */
export function parseProfile(input: unknown): Profile {
  if (!isRecord(input)) throw bad("Profile must be an object");
  const displayName = parseDisplayName(input.displayName);
  if (input.avatar === undefined) return { displayName };
  return { displayName, avatar: parseAvatar(input.avatar) };
}

/**
 * Validate and normalise a display name, as {@link parseProfile} does.
 * @param input a value claimed to be a display name
 * @returns the NFC-normalised, trimmed name
 * @throws {HearthError} `bad_request` naming the problem
 */
export function parseDisplayName(input: unknown): string {
  if (typeof input !== "string") throw bad("Display name must be text");
  return checkName(input, "Display name");
}

/**
 * Validate and normalise a nickname the owner gives a peer: the rules of a
 * display name (NFC, trimmed, 1 to 64 code points, no control or
 * text-direction character); null or blank text clears it.
 * @param input a value claimed to be a nickname
 * @returns the NFC-normalised, trimmed nickname, or null to clear it
 * @throws {HearthError} `bad_request` naming the problem
 */
export function parseNickname(input: unknown): string | null {
  if (input === null) return null;
  if (typeof input !== "string") throw bad("Nickname must be text or null");
  if (input.length <= MAX_DISPLAY_NAME_CHARS * 16 && input.trim() === "") return null;
  return checkName(input, "Nickname");
}

/** The checks of a display name or a nickname (`what` names it in errors). */
function checkName(input: string, what: string): string {
  const tooLong = () => bad(`${what} is longer than ${MAX_DISPLAY_NAME_CHARS} characters`);
  // Bound the work before normalising: 64 code points are at most 128 UTF-16
  // units, and NFC never shrinks text by more than a few times.
  if (input.length > MAX_DISPLAY_NAME_CHARS * 16) throw tooLong();
  if (!input.isWellFormed()) throw bad(`${what} is not valid Unicode`);
  const name = input.normalize("NFC").trim();
  if (name === "") throw bad(`${what} is empty`);
  if ([...name].length > MAX_DISPLAY_NAME_CHARS) throw tooLong();
  if (FORBIDDEN_IN_NAME.test(name)) {
    throw bad(`${what} contains a control or text-direction character`);
  }
  return name;
}

/**
 * Encode a profile for the wire (validating it first).
 * @param profile the profile to send
 * @returns the frame bytes
 * @throws {HearthError} as {@link parseProfile}
 */
export function encodeProfile(profile: Profile): Uint8Array {
  const valid = parseProfile(profile);
  const header: Record<string, unknown> = { v: PROFILE_VERSION, name: valid.displayName };
  if (!valid.avatar) return encodeFrame(header);
  header.avatar = valid.avatar.type;
  return encodeFrame(header, valid.avatar.bytes);
}

/**
 * Decode and validate a profile received from the wire. Sizes are checked
 * before anything is parsed.
 * @param bytes the frame bytes
 * @returns the validated profile (owning copies of its bytes)
 * @throws {HearthError} `too_large` when the bytes or the header are too
 *   large; `bad_request` when the frame, version or fields are invalid
 */
export function decodeProfile(bytes: Uint8Array): Profile {
  if (!(bytes instanceof Uint8Array)) throw bad("Profile must be bytes");
  if (bytes.length > MAX_PROFILE_BYTES) {
    throw new HearthError("too_large", "Profile is too large");
  }
  const { header, blob } = decodeFrame(bytes, MAX_PROFILE_HEADER_BYTES);
  if (header.v !== PROFILE_VERSION) throw bad("Profile version is not supported");
  if (header.avatar === undefined) {
    if (blob.length !== 0) throw bad("Profile has avatar bytes but no avatar type");
    return parseProfile({ displayName: header.name });
  }
  return parseProfile({ displayName: header.name, avatar: { type: header.avatar, bytes: blob } });
}

function parseAvatar(input: unknown): Avatar {
  if (!isRecord(input)) throw bad("Avatar must be an object");
  const { type, bytes } = input;
  if (typeof type !== "string" || !(AVATAR_TYPES as readonly string[]).includes(type)) {
    throw bad("Avatar type must be image/png, image/jpeg or image/webp");
  }
  if (!(bytes instanceof Uint8Array)) throw bad("Avatar bytes must be binary");
  if (bytes.length > MAX_AVATAR_BYTES) {
    throw new HearthError("too_large", "Avatar is larger than 64 KiB");
  }
  if (!hasMagic(type as AvatarType, bytes)) {
    throw bad(`Avatar bytes are not a ${type.slice("image/".length).toUpperCase()} image`);
  }
  return { type: type as AvatarType, bytes: bytes.slice() };
}

/**
 * The media type of an image, told by its magic bytes.
 * @param bytes the image file
 * @returns `image/png`, `image/jpeg` or `image/webp`, or undefined when it is none of them
 */
export function sniffAvatarType(bytes: Uint8Array): AvatarType | undefined {
  return AVATAR_TYPES.find((type) => hasMagic(type, bytes));
}

function hasMagic(type: AvatarType, bytes: Uint8Array): boolean {
  switch (type) {
    case "image/png":
      return startsWith(bytes, PNG_MAGIC, 0);
    case "image/jpeg":
      return startsWith(bytes, JPEG_MAGIC, 0);
    case "image/webp":
      // "RIFF", a 4-byte little-endian size, then "WEBP".
      return startsWith(bytes, RIFF, 0) && startsWith(bytes, WEBP, 8);
  }
}

function startsWith(bytes: Uint8Array, magic: Uint8Array, offset: number): boolean {
  if (bytes.length < offset + magic.length) return false;
  return bytesEqual(bytes.subarray(offset, offset + magic.length), magic);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function bad(message: string): HearthError {
  return new HearthError("bad_request", message);
}
