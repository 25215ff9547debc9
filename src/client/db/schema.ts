/**
 * The client database (`client.db`, encrypted at rest, see vault.ts): its
 * table types and migrations. It holds the owner's messenger state: the
 * account seed, contacts, conversations, messages, the outbox and the
 * guard pins. Nothing in it is ever sent as is.
 *
 * Conventions:
 * - times are integers, ms since the Unix epoch;
 * - Account IDs are their text form (with checksum), as the user sees them;
 * - booleans are integers 0 or 1;
 * - enumerations are text, typed as unions here and not constrained by
 *   CHECK clauses, so that a later value needs no table rebuild;
 * - relations are documented, not declared as foreign keys (SQLite does not
 *   enforce them unless each connection asks);
 * - blob columns are written as Uint8Array and read back as ArrayBuffer
 *   (libsql's behaviour), which {@link Blob} encodes.
 * @module
 */
import { type ColumnType, type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "../../shared/db/open.ts";

/** A blob column: libsql returns an ArrayBuffer, and takes a Uint8Array. */
export type Blob = ColumnType<ArrayBuffer, Uint8Array, Uint8Array>;

/** The owner's account: a single row (id = 1), absent until one is created or restored. */
export interface AccountTable {
  /** Always 1: the table has at most one row. */
  id: ColumnType<1, 1, never>;
  /** The 32-byte seed every account key derives from. The secret of secrets. */
  seed: Blob;
  /** The display name sent to contacts with messages ("" when unset). */
  display_name: Generated<string>;
  /** A small avatar image, or null. */
  avatar: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The avatar's media type, e.g. "image/webp", or null. */
  avatar_type: string | null;
  /** When the account was created or restored on this node. */
  created_at: number;
  /** Counts up with every profile change; contacts get the avatar again when theirs is older. */
  profile_version: Generated<number>;
}

/** Where a peer stands with the owner. */
export type ContactState = "contact" | "request" | "blocked" | "declined";

/** Every peer the owner knows: contacts, pending message requests, blocked and declined senders. */
export interface ContactsTable {
  /** The peer's Account ID. */
  account_id: string;
  /** The name the peer sent in its profile, or null before any. */
  display_name: string | null;
  /** The peer's avatar as last received, or null. */
  avatar: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The avatar's media type, or null. */
  avatar_type: string | null;
  /**
   * `contact` (accepted, or the owner wrote first), `request` (first contact
   * from them, awaiting accept/decline/block), `blocked` (their messages are
   * dropped unseen), `declined` (request dismissed; a new message makes it a
   * request again).
   */
  state: ContactState;
  /** When the peer first appeared. */
  added_at: number;
  /** The owner's `account.profile_version` last sent to this peer with its avatar (0: never). */
  profile_sent: Generated<number>;
  /** The owner's private name for the peer, shown instead of its own; never sent. Null: none. */
  nickname: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A conversation's kind: with one peer, Note to Self, or a group. */
export type ConversationKind = "1:1" | "self" | "group";

/** When a conversation's messages disappear. */
export type DisappearingMode = "off" | "after_send" | "after_read";

/** One row per conversation, listed by last activity. */
export interface ConversationsTable {
  /** The peer's Account ID for 1:1, or "self" for Note to Self. */
  id: string;
  /** `1:1` or `self`. */
  kind: ConversationKind;
  /** `sent_at` of the newest message, or null when empty (for sorting the list). */
  last_message_at: number | null;
  /** Incoming messages not yet read. */
  unread_count: Generated<number>;
  /** Disappearing messages: `off`, timer from sending, or timer from reading. */
  disappearing_mode: Generated<DisappearingMode>;
  /** The disappearing timer in seconds (0 when off). */
  disappearing_seconds: Generated<number>;
  /** 1 when notifications are muted. */
  muted: Generated<number>;
  /**
   * When the timer was last set, ms (0: never): the owner's clock for the
   * owner's own change, the item's signed sent-at time for a peer's. A
   * peer's change applies only when newer.
   */
  disappearing_at: Generated<number>;
}

/** Which way a message went. */
export type MessageDirection = "in" | "out";

/**
 * A message's status. Outgoing: queued → sent (W swarm members acknowledged)
 * → delivered (delivery receipt) → read (read receipt), or failed.
 * Incoming: delivered on arrival, read once the owner has seen it.
 */
export type MessageStatus = "queued" | "sent" | "delivered" | "read" | "failed";

/** Every message of every conversation, with its local state. */
export interface MessagesTable {
  /** The envelope hash (hex) for incoming messages; a local UUID for outgoing ones. */
  id: string;
  /** The conversation (`conversations.id`). */
  conversation_id: string;
  /** `in` or `out`. */
  direction: MessageDirection;
  /** The sender's Account ID (the owner's own for outgoing messages). */
  sender: string;
  /** When the sender sent it, by the sender's clock (signed inside the envelope). */
  sent_at: number;
  /** When this node stored it (incoming), or null for outgoing messages. */
  received_at: number | null;
  /** The message content as JSON (text, quoted reply preview, attachments later). */
  body_json: string;
  /** See {@link MessageStatus}. */
  status: MessageStatus;
  /** The `id` of the message this one replies to, or null. */
  reply_to: string | null;
  /** When the sender last edited it, or null. */
  edited_at: number | null;
  /** 1 once deleted for everyone: the body is wiped, a tombstone stays. */
  deleted: Generated<number>;
  /** When the message disappears (disappearing messages), or null. */
  expires_at: number | null;
  /**
   * How it was (or will be) encrypted on the wire: `session` (forward-secret
   * double ratchet) or `sealed` (the sealed envelope alone, when no session
   * could be made). Note to Self rows keep the default; the view reports them as `local`.
   */
  encryption: Generated<"session" | "sealed">;
  /**
   * For an incoming message whose timer starts when read: the timer, seconds
   * (`expires_at` is set when the owner reads it). Null otherwise.
   */
  expire_after_read: ColumnType<number | null, number | null | undefined, number | null>;
}

/** One reaction per sender per message; a new emoji replaces the old one. */
export interface ReactionsTable {
  /** The message reacted to (`messages.id`). */
  message_id: string;
  /** The reacting Account ID. */
  sender: string;
  /** The emoji, as text. */
  emoji: string;
  /** When the reaction was made, by the reactor's clock. */
  reacted_at: number;
}

/** Sealed envelopes waiting for the swarm to acknowledge them; retried with backoff. */
export interface OutboxTable {
  /** A local UUID. */
  id: string;
  /** The message it carries (`messages.id`), or null for control items (receipts, typing). */
  message_id: string | null;
  /** The recipient's Account ID (whose inbox to store into). */
  recipient: string;
  /** The sealed envelope, ready to store: retries resend the same bytes (same hash). */
  envelope: Blob;
  /** When it was queued (for ordering and giving up). */
  created_at: number;
  /** Attempts so far. */
  attempts: Generated<number>;
  /** Not before this time: the backoff. */
  next_attempt_at: number;
  /** The error code of the last failed attempt, or null (a code, never user data). */
  last_error: string | null;
  /**
   * How long the item lives in the swarm, ms, or null for the inbox default
   * (14 days). Also the longest it is retried: an item whose TTL has passed
   * since it was queued is dropped (typing indicators, disappearing messages).
   */
  ttl_ms: ColumnType<number | null, number | null | undefined, number | null>;
  /**
   * The message a control item acts on (`messages.id`: an edit, a delete for
   * everyone, a reaction), or null. The item goes when that message goes.
   */
  target_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Hashes of items already received, so a re-delivered item is dropped. */
export interface SeenHashesTable {
  /** The item hash, 32 bytes. */
  hash: Blob;
  /** When it was first seen (pruned after the swarm's longest TTL). */
  seen_at: number;
}

/** Owner settings as key → JSON value (read receipts, typing indicators, …). */
export interface SettingsTable {
  /** The setting's name. */
  key: string;
  /** Its value, as JSON text. */
  value_json: string;
}

/** A persisted role of a relay in the owner's onion paths. */
export type PathRole = "guard";

/** Pinned relays of the onion paths, kept across restarts (guards are kept for weeks). */
export interface PathsTable {
  /** The relay's node ID (Ed25519 public key, hex). */
  node_id: string;
  /** Its role: `guard` for a pinned first hop. */
  role: PathRole;
  /** Its address ("host:port") when last seen, for display only (the directory is authoritative). */
  addr: string | null;
  /** When it was pinned. */
  pinned_at: number;
  /** Consecutive failures through it; reset on success, replaced past a limit. */
  failures: Generated<number>;
}

/** What kind of prekey a row of {@link PrekeysTable} holds. */
export type PrekeyKind = "spk" | "kem" | "opk";

/**
 * The owner's private prekeys (docs/PROTOCOL.md §12): the signed X25519
 * prekey (`spk`), the signed ML-KEM-768 prekey (`kem`) and the one-time
 * X25519 prekeys (`opk`). A one-time prekey's row is deleted when a
 * handshake uses it; a retired signed prekey is kept for late messages,
 * then deleted.
 */
export interface PrekeysTable {
  /** `spk`, `kem` or `opk`. */
  kind: PrekeyKind;
  /** The id published in the bundle (u32, random). */
  id: number;
  /** The private key: 32 bytes (X25519) or 2,400 bytes (ML-KEM-768 secret key). */
  private: Blob;
  /** The public key: 32 bytes (X25519) or 1,184 bytes (ML-KEM-768). */
  public: Blob;
  /** When it was made. */
  created_at: number;
  /** When a newer one replaced it (signed prekeys), or null while current. */
  retired_at: number | null;
}

/** One double-ratchet session with a peer; a peer may have a few (the newest is used to send). */
export interface SessionsTable {
  /** The peer's Account ID. */
  peer: string;
  /** A random id of the session (hex). */
  id: string;
  /** The ratchet state, encoded (ratchet.ts); secret. */
  state: Blob;
  /** When the session was made. */
  created_at: number;
  /** When it last sent or received. */
  last_used_at: number;
}

/** When the prekey bundle was last published, and what it held (a single row, id = 1). */
export interface PrekeyPublishTable {
  /** Always 1. */
  id: ColumnType<1, 1, never>;
  /** When it was stored in the swarm. */
  published_at: number;
  /** A digest of the bundle's public content, to tell when it changed. */
  digest: string;
}

/**
 * Where a file stands: `local` (the owner's, stored here, not yet in the
 * network), `uploading`, `uploaded` (every chunk acknowledged), `remote`
 * (a peer's, known by its manifest only), `downloading`, `complete`
 * (a peer's, every chunk here and verified), `failed` (the last transfer
 * failed; `last_error` says why, and it can be retried).
 */
export type AttachmentState =
  | "local"
  | "uploading"
  | "uploaded"
  | "remote"
  | "downloading"
  | "complete"
  | "failed";

/** Files sent or received (docs/PROTOCOL.md §13): the manifest and the local state. */
export interface AttachmentsTable {
  /** A local id, 32 lowercase hex characters. */
  id: string;
  /** The message that carries it (`messages.id`), or null before it is sent. */
  message_id: string | null;
  /** `out` (the owner's) or `in` (a peer's). */
  direction: MessageDirection;
  /** The file name, as the sender gave it (never used as a path). */
  name: string;
  /** The media type, e.g. "image/jpeg" ("application/octet-stream" when unknown). */
  type: string;
  /** The file's size, bytes. */
  size: number;
  /** The file's random 32-byte key. Secret. */
  file_key: Blob;
  /** How many chunks the file is cut into. */
  chunk_count: number;
  /** JSON array of the hex hashes of the index chunks ("[]" until encrypted). */
  index_hashes: string;
  /** See {@link AttachmentState}. */
  state: AttachmentState;
  /** Bytes transferred so far (upload or download). */
  done_bytes: Generated<number>;
  /** 1 for a voice clip. */
  voice: Generated<number>;
  /** A voice clip's (or any audio's) duration, ms, or null. */
  duration_ms: number | null;
  /** A photo's small thumbnail, or null. */
  thumbnail: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The thumbnail's media type, or null. */
  thumbnail_type: string | null;
  /** The error code of the last failed transfer, or null. */
  last_error: string | null;
  /** When the row was made. */
  created_at: number;
  /** When its chunks expire from the network (uploaded files), or null. */
  expires_at: number | null;
}

/** A file's plaintext, chunk by chunk (the database is encrypted at rest). */
export interface AttachmentChunksTable {
  /** `attachments.id`. */
  attachment_id: string;
  /** The chunk's index, from 0. */
  idx: number;
  /** The chunk's plaintext (the last may be short). */
  data: Blob;
  /**
   * The owner's files: the key of the chunk's sealed bytes once a swarm
   * acknowledged them (null until then, so a retried upload sends only the rest).
   */
  chunk_key: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
}

/** Where the owner stands in a group. */
export type GroupState = "invited" | "joined" | "declined" | "left" | "removed";

/** The groups the owner was invited to or is in (docs/PROTOCOL.md §14). */
export interface GroupsTable {
  /** The group's ID (`hearthg1…`, its Ed25519 public key). */
  id: string;
  /** See {@link GroupState}. */
  state: GroupState;
  /** The group's name, from the newest verified state (or the invitation). */
  name: string;
  /** The group's picture, or null. */
  picture: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The picture's media type, or null. */
  picture_type: string | null;
  /** The group's 32-byte Ed25519 seed when the owner is an admin, else null. Secret. */
  admin_seed: ColumnType<ArrayBuffer | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The owner's 32-byte access key seed for the group swarm. Secret. */
  access_seed: Blob;
  /** The admins' 64-byte grant of that access key. */
  access_token: Blob;
  /** Who invited the owner (Account ID), or null for the creator. */
  invited_by: string | null;
  /** `seq` of the newest verified state applied (0: none yet). */
  state_seq: Generated<number>;
  /** The newest verified state's members and admins, as JSON. */
  state_json: Generated<string>;
  /** The last message item hash seen, for polling, or null. */
  poll_after: string | null;
  /** When the owner created, or was invited to, the group. */
  created_at: number;
}

/** A group's symmetric keys, by generation; old ones are kept to read older messages. */
export interface GroupKeysTable {
  /** `groups.id`. */
  group_id: string;
  /** The key's generation (counts up with every rekey). */
  generation: number;
  /** The 32-byte key. Secret. */
  key: Blob;
  /** When the owner first had it. */
  created_at: number;
}

/** What a group outbox row stores: a message (ns 11), a state record (ns 13) or revocations (ns 14). */
export type GroupOutboxKind = "message" | "state" | "revoke";

/**
 * Group items waiting for the group's swarm to acknowledge them; retried
 * with backoff, in queue order per group (docs/PROTOCOL.md §14).
 */
export interface GroupOutboxTable {
  /** A local id. */
  id: string;
  /** `groups.id`. */
  group_id: string;
  /** See {@link GroupOutboxKind}. */
  kind: GroupOutboxKind;
  /** The message it carries (`messages.id`), or null. */
  message_id: string | null;
  /** The sealed item, ready to store (retries resend the same bytes). */
  data: Blob;
  /** The swarm TTL, ms. */
  ttl_ms: number;
  /** When it was queued (order, and giving up). */
  created_at: number;
  /** Attempts so far. */
  attempts: Generated<number>;
  /** Not before this time: the backoff. */
  next_attempt_at: number;
  /** The error code of the last failed attempt, or null. */
  last_error: string | null;
}

/** The client database's tables. */
export interface ClientDb {
  /** Group items waiting to be stored. */
  group_outbox: GroupOutboxTable;
  /** Files sent and received. */
  attachments: AttachmentsTable;
  /** Files' plaintext chunks. */
  attachment_chunks: AttachmentChunksTable;
  /** Groups. */
  groups: GroupsTable;
  /** Groups' keys. */
  group_keys: GroupKeysTable;
  /** The owner's account (at most one row). */
  account: AccountTable;
  /** Known peers. */
  contacts: ContactsTable;
  /** Conversations. */
  conversations: ConversationsTable;
  /** Messages. */
  messages: MessagesTable;
  /** Reactions. */
  reactions: ReactionsTable;
  /** Envelopes waiting to be stored. */
  outbox: OutboxTable;
  /** De-duplication of received items. */
  seen_hashes: SeenHashesTable;
  /** Owner settings. */
  settings: SettingsTable;
  /** Pinned relays. */
  paths: PathsTable;
  /** The owner's private prekeys. */
  prekeys: PrekeysTable;
  /** Double-ratchet sessions with peers. */
  sessions: SessionsTable;
  /** The prekey bundle's publication. */
  prekey_publish: PrekeyPublishTable;
}

/** The client database's schema steps, for `openDatabase(path, clientMigrations, {encryptionKey})`. */
export const clientMigrations: readonly Migration[] = [
  {
    version: 1,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seed BLOB NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        avatar BLOB,
        avatar_type TEXT,
        created_at INTEGER NOT NULL
      )`.execute(db);
      await sql`CREATE TABLE contacts (
        account_id TEXT PRIMARY KEY,
        display_name TEXT,
        avatar BLOB,
        avatar_type TEXT,
        state TEXT NOT NULL,
        added_at INTEGER NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX contacts_state ON contacts (state)`.execute(db);
      await sql`CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        last_message_at INTEGER,
        unread_count INTEGER NOT NULL DEFAULT 0,
        disappearing_mode TEXT NOT NULL DEFAULT 'off',
        disappearing_seconds INTEGER NOT NULL DEFAULT 0,
        muted INTEGER NOT NULL DEFAULT 0
      )`.execute(db);
      await sql`CREATE INDEX conversations_last ON conversations (last_message_at)`.execute(db);
      await sql`CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        sender TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        received_at INTEGER,
        body_json TEXT NOT NULL,
        status TEXT NOT NULL,
        reply_to TEXT,
        edited_at INTEGER,
        deleted INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER
      )`.execute(db);
      await sql`CREATE INDEX messages_conversation_sent
        ON messages (conversation_id, sent_at, id)`.execute(db);
      await sql`CREATE INDEX messages_expires ON messages (expires_at)
        WHERE expires_at IS NOT NULL`.execute(db);
      await sql`CREATE TABLE reactions (
        message_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        emoji TEXT NOT NULL,
        reacted_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, sender)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        message_id TEXT,
        recipient TEXT NOT NULL,
        envelope BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT
      )`.execute(db);
      await sql`CREATE INDEX outbox_next ON outbox (next_attempt_at)`.execute(db);
      await sql`CREATE INDEX outbox_message ON outbox (message_id)
        WHERE message_id IS NOT NULL`.execute(db);
      await sql`CREATE TABLE seen_hashes (
        hash BLOB PRIMARY KEY,
        seen_at INTEGER NOT NULL
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX seen_hashes_seen ON seen_hashes (seen_at)`.execute(db);
      await sql`CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value_json TEXT NOT NULL
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE paths (
        node_id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        addr TEXT,
        pinned_at INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID`.execute(db);
    },
  },
  {
    version: 2,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE account ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 1`
        .execute(db);
      await sql`ALTER TABLE contacts ADD COLUMN profile_sent INTEGER NOT NULL DEFAULT 0`
        .execute(db);
      await sql`ALTER TABLE messages ADD COLUMN expire_after_read INTEGER`.execute(db);
      await sql`ALTER TABLE outbox ADD COLUMN ttl_ms INTEGER`.execute(db);
      await sql`CREATE INDEX reactions_message ON reactions (message_id)`.execute(db);
      await sql`CREATE INDEX outbox_recipient ON outbox (recipient, created_at, id)`.execute(db);
    },
  },
  {
    version: 3,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE outbox ADD COLUMN target_id TEXT`.execute(db);
      await sql`CREATE INDEX outbox_target ON outbox (target_id)
        WHERE target_id IS NOT NULL`.execute(db);
      await sql`ALTER TABLE conversations ADD COLUMN disappearing_at INTEGER NOT NULL DEFAULT 0`
        .execute(db);
    },
  },
  {
    version: 4,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE prekeys (
        kind TEXT NOT NULL,
        id INTEGER NOT NULL,
        private BLOB NOT NULL,
        public BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE sessions (
        peer TEXT NOT NULL,
        id TEXT NOT NULL,
        state BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        PRIMARY KEY (peer, id)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE prekey_publish (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        published_at INTEGER NOT NULL,
        digest TEXT NOT NULL
      )`.execute(db);
      await sql`ALTER TABLE messages ADD COLUMN encryption TEXT NOT NULL DEFAULT 'sealed'`
        .execute(db);
    },
  },
  {
    version: 5,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        message_id TEXT,
        direction TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        file_key BLOB NOT NULL,
        chunk_count INTEGER NOT NULL,
        index_hashes TEXT NOT NULL,
        state TEXT NOT NULL,
        done_bytes INTEGER NOT NULL DEFAULT 0,
        voice INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER,
        thumbnail BLOB,
        thumbnail_type TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      )`.execute(db);
      await sql`CREATE INDEX attachments_message ON attachments (message_id)
        WHERE message_id IS NOT NULL`.execute(db);
      await sql`CREATE TABLE attachment_chunks (
        attachment_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        data BLOB NOT NULL,
        chunk_key BLOB,
        PRIMARY KEY (attachment_id, idx)
      ) WITHOUT ROWID`.execute(db);
    },
  },
  {
    version: 6,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE groups (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        name TEXT NOT NULL,
        picture BLOB,
        picture_type TEXT,
        admin_seed BLOB,
        access_seed BLOB NOT NULL,
        access_token BLOB NOT NULL,
        invited_by TEXT,
        state_seq INTEGER NOT NULL DEFAULT 0,
        state_json TEXT NOT NULL DEFAULT '{}',
        poll_after TEXT,
        created_at INTEGER NOT NULL
      )`.execute(db);
      await sql`CREATE TABLE group_keys (
        group_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        key BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, generation)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE group_outbox (
        id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        message_id TEXT,
        data BLOB NOT NULL,
        ttl_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT
      )`.execute(db);
      await sql`CREATE INDEX group_outbox_due ON group_outbox (group_id, created_at)`.execute(db);
    },
  },
  {
    version: 7,
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE contacts ADD COLUMN nickname TEXT`.execute(db);
      // Message search reads every conversation's messages newest first.
      await sql`CREATE INDEX messages_sent ON messages (sent_at, id)`.execute(db);
    },
  },
];
