/**
 * The typed content of a message, the bytes an envelope carries
 * (docs/PROTOCOL.md §10): one UTF-8 JSON object with a `type` tag. Untrusted
 * bytes are parsed once, here, into the {@link MessageContent} union; the
 * messenger never touches raw input. Unknown fields are ignored (newer
 * clients may add optional ones); an unknown `type` is `bad_request`.
 * @module
 */
import { fromUtf8, randomBytes, toBase64, toHex, utf8 } from "../../shared/crypto/mod.ts";
import { arr, asObject, base64Field, int, str } from "../../shared/codec/fields.ts";
import { HearthError } from "../../shared/errors.ts";
import { MAX_CONTENT_BYTES } from "./envelope.ts";
import {
  type AttachmentRef,
  attachmentRefsFromJson,
  attachmentRefToJson,
} from "../attachments/attachment_ref.ts";

/** Most characters (Unicode code points, after NFC) of a text or an edit. */
export const MAX_TEXT_CHARS: number = 10_000;
/** Most characters of a reaction's emoji. */
export const MAX_EMOJI_CHARS: number = 16;
/** Most message ids one receipt names. */
export const MAX_RECEIPT_IDS: number = 100;
/** Most characters of a display name. */
export const MAX_DISPLAY_NAME_CHARS: number = 64;
/** Largest avatar that rides along with a message, bytes. */
export const MAX_AVATAR_BYTES: number = 8_192;
/** Longest disappearing timer, seconds (one year). */
export const MAX_EXPIRES_IN_S: number = 365 * 24 * 3600;

/** The profile that rides along with a message. */
export interface ContentProfile {
  /** 1 … {@link MAX_DISPLAY_NAME_CHARS} characters, NFC. */
  displayName: string;
  /**
   * A small image (at most {@link MAX_AVATAR_BYTES}; PNG, JPEG or WebP, told
   * apart by its magic bytes). Absent: unchanged since the last one sent.
   * Empty (zero bytes): the sender removed its avatar.
   */
  avatar?: Uint8Array;
}

/** Fields every message carries. */
export interface CommonContent {
  /** The message id chosen by the sender: 16 random bytes, lowercase hex. */
  id: string;
  /** The sender's profile, riding along. */
  profile?: ContentProfile;
  /** Disappearing timer of the conversation, seconds. */
  expiresIn?: number;
  /** When the timer starts; only with `expiresIn` (absent: after_send). */
  mode?: "after_send" | "after_read";
}

/** The kinds of message, by their `type` tag. */
export type ContentBody =
  /**
   * A text, with files (docs/PROTOCOL.md §13) or without. `text` may be
   * absent on the wire when there are `attachments`; it is "" then.
   * `voice: true` says the one audio attachment is a voice clip.
   */
  | {
    type: "text";
    text: string;
    replyTo?: string;
    attachments?: AttachmentRef[];
    voice?: true;
  }
  | { type: "reaction"; target: string; emoji: string; remove?: boolean }
  | { type: "edit"; target: string; text: string }
  | { type: "delete"; target: string }
  | { type: "receipt"; kind: "delivered" | "read"; ids: string[] }
  | { type: "typing"; active: boolean }
  | { type: "request-accept" }
  | { type: "profile"; profile: ContentProfile }
  /** The conversation's disappearing timer changed: `expiresIn`/`mode` give it; absent means off. */
  | { type: "disappearing" }
  /**
   * The sender could not decrypt a session message from the recipient: the
   * recipient drops its sessions with the sender and re-sends what was not
   * delivered under a new handshake. Always sent in a sealed (v1) envelope.
   */
  | { type: "session-reset" }
  /**
   * A group invitation or an admin promotion (docs/PROTOCOL.md §14), 1:1:
   * the Group ID, its name, the member's access seed and token (base64,
   * 32 and 64 bytes) and, for a promotion, the group seed (`admin`, base64 32).
   */
  | {
    type: "group-invite";
    group: string;
    name: string;
    access: string;
    token: string;
    admin?: string;
  }
  /**
   * In a group: the sender leaves it (an admin removes it and rekeys). It
   * names the leaver's access public key (`access`, base64 32 bytes): an
   * admin acts on it only while that is the member's access key in the
   * group's state, so an old leave replayed after the member was added back
   * does nothing.
   */
  | { type: "group-leave"; access: string }
  /** In a group: an admin changed the group's state (members fetch it). */
  | { type: "group-update" };

/** A message's content: the common fields and one kind of body. */
export type MessageContent = CommonContent & ContentBody;

/** The `type` tags, in the order of {@link ContentBody}. */
export const CONTENT_TYPES = [
  "text",
  "reaction",
  "edit",
  "delete",
  "receipt",
  "typing",
  "request-accept",
  "profile",
  "disappearing",
  "session-reset",
  "group-invite",
  "group-leave",
  "group-update",
] as const;

type Obj = Record<string, unknown>;

const MESSAGE_ID = /^[0-9a-f]{32}$/;

/**
 * Whether a value is a message id (32 lowercase hex characters).
 * @param id the value
 * @returns true for a well-formed id
 */
export function isMessageId(id: unknown): id is string {
  return typeof id === "string" && MESSAGE_ID.test(id);
}

/** A fresh message id: 16 random bytes as lowercase hex. */
export function newMessageId(): string {
  return toHex(randomBytes(16));
}

function bad(message: string): HearthError {
  return new HearthError("bad_request", message);
}

function messageId(o: Obj, name: string): string {
  return asMessageId(o[name], name);
}

function asMessageId(v: unknown, name: string): string {
  if (!isMessageId(v)) {
    throw bad(`Field ${name} must be a message id`);
  }
  return v;
}

/** Read text, normalize it to NFC, and bound its length in code points. */
function text(o: Obj, name: string, maxChars: number): string {
  // A cheap bound before normalizing: composition rarely merges more than
  // three code points into one, so a longer text cannot end up short enough.
  const raw = str(o, name, { max: maxChars * 4 });
  if (!raw.isWellFormed()) throw bad(`Field ${name} is not well-formed Unicode`);
  const v = raw.normalize("NFC");
  let chars = 0;
  for (const _ of v) chars++;
  if (chars === 0) throw bad(`Field ${name} is empty`);
  if (chars > maxChars) throw bad(`Field ${name} is too long`);
  return v;
}

function bool(o: Obj, name: string): boolean {
  const v = o[name];
  if (typeof v !== "boolean") throw bad(`Field ${name} must be a boolean`);
  return v;
}

function profile(value: unknown): ContentProfile {
  const o = asObject(value, "profile");
  const out: ContentProfile = { displayName: text(o, "displayName", MAX_DISPLAY_NAME_CHARS) };
  if (o.avatar !== undefined) {
    const avatar = base64Field(o, "avatar", MAX_AVATAR_BYTES);
    if (avatar.length > MAX_AVATAR_BYTES) throw new HearthError("too_large", "Avatar is too large");
    out.avatar = avatar;
  }
  return out;
}

function body(o: Obj): ContentBody {
  const type = o.type;
  switch (type) {
    case "text": {
      const files = o.attachments === undefined ? undefined : attachmentRefsFromJson(o.attachments);
      const out: Extract<ContentBody, { type: "text" }> = {
        type,
        text: files && o.text === undefined ? "" : text(o, "text", MAX_TEXT_CHARS),
      };
      if (o.replyTo !== undefined) out.replyTo = messageId(o, "replyTo");
      if (files) out.attachments = files;
      if (o.voice !== undefined) {
        if (o.voice !== true) throw bad("Field voice must be true");
        if (files?.length !== 1 || !files[0]!.type.startsWith("audio/")) {
          throw bad("Field voice needs one audio attachment");
        }
        out.voice = true;
      }
      return out;
    }
    case "reaction": {
      const out: Extract<ContentBody, { type: "reaction" }> = {
        type,
        target: messageId(o, "target"),
        emoji: text(o, "emoji", MAX_EMOJI_CHARS),
      };
      if (o.remove !== undefined) out.remove = bool(o, "remove");
      return out;
    }
    case "edit":
      return { type, target: messageId(o, "target"), text: text(o, "text", MAX_TEXT_CHARS) };
    case "delete":
      return { type, target: messageId(o, "target") };
    case "receipt": {
      const kind = o.kind;
      if (kind !== "delivered" && kind !== "read") throw bad("Field kind is not a receipt kind");
      const list = arr(o, "ids", MAX_RECEIPT_IDS);
      if (list.length === 0) throw bad("Field ids is empty");
      return { type, kind, ids: list.map((id) => asMessageId(id, "ids")) };
    }
    case "typing":
      return { type, active: bool(o, "active") };
    case "request-accept":
      return { type };
    case "profile":
      return { type, profile: profile(o.profile) };
    case "disappearing":
    case "session-reset":
      return { type };
    case "group-invite":
      return groupInvite(o);
    case "group-leave":
      return { type, access: keyField(o, "access", 32) };
    case "group-update":
      return { type };
    default:
      throw bad("Unknown content type");
  }
}

/** A base64 key field of exactly `bytes` bytes, re-encoded canonically. */
function keyField(o: Obj, name: string, bytes: number): string {
  const v = base64Field(o, name, bytes);
  if (v.length !== bytes) throw bad(`Field ${name} must be ${bytes} bytes`);
  return toBase64(v);
}

/** A group invitation's fields: a Group ID's shape, a name, keys of exact sizes. */
function groupInvite(o: Obj): Extract<ContentBody, { type: "group-invite" }> {
  const group = str(o, "group", { max: 66 });
  if (!/^hearthg1[02-9ac-hj-np-z]{58}$/.test(group)) throw bad("Field group must be a Group ID");
  const key = (name: string, bytes: number) => keyField(o, name, bytes);
  const out: Extract<ContentBody, { type: "group-invite" }> = {
    type: "group-invite",
    group,
    name: text(o, "name", 64),
    access: key("access", 32),
    token: key("token", 64),
  };
  if (o.admin !== undefined) out.admin = key("admin", 32);
  return out;
}

/**
 * Turn untrusted JSON (already parsed) into typed content.
 * @throws {HearthError} `bad_request`, `bad_encoding` or `too_large` naming the field
 */
export function contentFromJson(value: unknown): MessageContent {
  const o = asObject(value, "content");
  const common: CommonContent = { id: messageId(o, "id") };
  const kind = body(o);
  if (kind.type !== "profile" && o.profile !== undefined) common.profile = profile(o.profile);
  if (o.expiresIn !== undefined) {
    common.expiresIn = int(o, "expiresIn", 1, MAX_EXPIRES_IN_S);
    if (o.mode !== undefined) {
      if (o.mode !== "after_send" && o.mode !== "after_read") throw bad("Field mode is unknown");
      common.mode = o.mode;
    }
  } else if (o.mode !== undefined) {
    throw bad("Field mode needs expiresIn");
  }
  return { ...kind, ...common };
}

/**
 * Parse the content bytes of an opened envelope: size first, then strict
 * UTF-8, then JSON, then every field.
 * @throws {HearthError} `too_large` over {@link MAX_CONTENT_BYTES}; `bad_request`
 *   (or `bad_encoding`, `too_large` for a field) when malformed
 */
export function parseContent(bytes: Uint8Array): MessageContent {
  if (bytes.length > MAX_CONTENT_BYTES) throw new HearthError("too_large", "Content is too large");
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    throw bad("Content is not JSON");
  }
  return contentFromJson(value);
}

function toJson(content: MessageContent): Obj {
  const out: Obj = {};
  for (const [name, value] of Object.entries(content)) {
    if (value === undefined) continue;
    // A text with files may have none: "" is sent as no field.
    if (name === "text" && value === "" && content.type === "text" && content.attachments) {
      continue;
    }
    if (name === "attachments") {
      out[name] = (value as AttachmentRef[]).map(attachmentRefToJson);
      continue;
    }
    out[name] = name === "profile" ? profileToJson(value as ContentProfile) : value;
  }
  return out;
}

function profileToJson(p: ContentProfile): Obj {
  const out: Obj = { displayName: p.displayName };
  if (p.avatar !== undefined) out.avatar = toBase64(p.avatar);
  return out;
}

/**
 * Encode content for an envelope. It is checked by the same rules as
 * {@link parseContent} (text is normalized to NFC), so whatever this
 * returns, a recipient accepts; every valid content fits one envelope.
 * @returns UTF-8 JSON, at most {@link MAX_CONTENT_BYTES}
 * @throws {HearthError} `bad_request` (or `bad_encoding`, `too_large`) when a
 *   field breaks a rule, e.g. an empty or over-long text
 * @example
 * ```ts ignore
 * const bytes = encodeContent({ type: "text", id: newMessageId(), text: "hello" });
 * ```
 */
export function encodeContent(content: MessageContent): Uint8Array {
  const checked = contentFromJson(toJson(content));
  const bytes = utf8(JSON.stringify(toJson(checked)));
  if (bytes.length > MAX_CONTENT_BYTES) throw new HearthError("too_large", "Content is too large");
  return bytes;
}
