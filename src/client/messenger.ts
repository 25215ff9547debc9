/**
 * The owner's messenger core, as far as the account goes: the encrypted
 * client database (vault.ts) in `<dataDir>/client/`, the account row in it,
 * and the account's keys, which are held in memory only while the database
 * is unlocked. The owner API (src/web/) drives it.
 * @module
 */
import {
  accountIdQrSvg,
  type AccountKeys,
  accountKeysFromSeed,
  type Avatar,
  createSeed,
  parseDisplayName,
  phraseToSeed,
  seedToPhrase,
  sniffAvatarType,
} from "./account/mod.ts";
import { ClientVault, type ClientVaultOptions, type VaultState } from "./db/vault.ts";
import { HearthError } from "../shared/errors.ts";
import { bytesEqual } from "../shared/crypto/mod.ts";
import type { NodeRecord } from "../shared/node_record.ts";
import { ChatService } from "./messages/chat_service.ts";
import type { GroupService } from "./groups/group_service.ts";
import { MAX_AVATAR_BYTES } from "./messages/content.ts";
import { SwarmClient } from "./network/swarm_client.ts";
import { markRestorePending } from "./sync/config_rows.ts";
import { ConfigSync } from "./sync/config_sync.ts";
import { type Logger, silentLogger } from "../shared/log.ts";

export type { VaultState } from "./db/vault.ts";

/** The folder of the client's files inside a node's data directory. */
export const CLIENT_DIR = "client";

/** What a restore from the recovery phrase tells the owner about message history. */
export const HISTORY_NOTICE =
  "Message history is not restored from the recovery phrase: it lives on the node where it was received. Messages still waiting in your inbox will arrive.";

/** Options of {@link Messenger.open}. */
export interface MessengerOptions {
  /** scrypt's cost for new passphrase keys (tests pass small ones). */
  kdfParams?: ClientVaultOptions["kdfParams"];
  /** Current time, ms (default Date.now). */
  clock?: () => number;
  /**
   * The live directory: with it, messages are sent and received while
   * unlocked, and the account config is kept in the swarm.
   */
  nodes?: () => NodeRecord[];
  /** Events only (default silent). */
  log?: Logger;
  /** How long a restore waits for the account config before answering, ms (default 10 s). */
  restoreWaitMs?: number;
  /** The largest file the owner may send, bytes (default 100 MB; node flag `--max-file-mb`). */
  maxFileBytes?: number;
}

/** What {@link Messenger.createAccount} takes. */
export interface CreateAccountInput {
  /** The passphrase that will lock the client database. */
  passphrase: string;
  /** The display name shown to contacts; unset when absent. */
  displayName?: string;
  /** Restore from this 24-word phrase instead of creating a new seed. */
  recoveryPhrase?: string;
}

/** What {@link Messenger.createAccount} answers. */
export interface CreatedAccount {
  /** The account's ID. */
  accountId: string;
  /** The 24-word recovery phrase: only when newly created (never on restore). */
  recoveryPhrase?: string;
  /** Only on restore: that message history does not come back ({@link HISTORY_NOTICE}). */
  historyNotice?: string;
}

/** What {@link Messenger.updateProfile} takes; absent fields stay. */
export interface ProfileUpdate {
  /** The new display name, 1 to 64 characters (see parseDisplayName). */
  displayName?: string;
  /** A PNG, JPEG or WebP image of at most 8 KiB (its type is told by its bytes), or null. */
  avatar?: Avatar | null;
}

/** The owner's account as the owner API shows it. */
export interface AccountView {
  /** The Account ID. */
  accountId: string;
  /** The display name ("" when unset). */
  displayName: string;
  /** The Account ID as a QR code, an SVG document. */
  qrSvg: string;
  /** Whether the owner has an avatar (served at `GET /api/account/avatar`). */
  hasAvatar: boolean;
}

/** The owner's messenger: account creation, restore, lock and unlock. */
export class Messenger {
  readonly #vault: ClientVault;
  readonly #clock: () => number;
  #keys: AccountKeys | null = null;
  #displayName = "";
  #hasAvatar = false;
  #queue: Promise<unknown> = Promise.resolve();
  #chat: ChatService | null = null;
  readonly #nodes: (() => NodeRecord[]) | undefined;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #restoreWaitMs: number;
  readonly #maxFileBytes: number | undefined;
  #sync: ConfigSync | null = null;

  private constructor(vault: ClientVault, dir: string, options: MessengerOptions) {
    this.#vault = vault;
    this.#dir = dir;
    this.#clock = options.clock ?? Date.now;
    this.#nodes = options.nodes;
    this.#log = options.log ?? silentLogger;
    this.#restoreWaitMs = options.restoreWaitMs ?? 10_000;
    this.#maxFileBytes = options.maxFileBytes;
  }

  /**
   * Open the messenger of a node's data directory. It starts `absent` (no
   * account yet) or `locked`.
   * @param dataDir the node's data directory; the client's files go in `<dataDir>/client/`
   * @param options.kdfParams scrypt's cost for new keys
   * @throws {HearthError} `internal` when the client's key file is unreadable
   */
  static async open(dataDir: string, options: MessengerOptions = {}): Promise<Messenger> {
    const vault = await ClientVault.open(
      `${dataDir}/${CLIENT_DIR}`,
      options.kdfParams ? { kdfParams: options.kdfParams } : {},
    );
    return new Messenger(vault, `${dataDir}/${CLIENT_DIR}`, options);
  }

  /** Where the client database stands: `absent`, `locked` or `unlocked`. */
  state(): VaultState {
    return this.#vault.state;
  }

  /**
   * Create a new account (a fresh seed) or restore one from its recovery
   * phrase, and leave the client database unlocked under `passphrase`.
   * Every input is checked before anything is written. A restore fetches
   * the account config (profile, contacts, blocked list, settings) from the
   * swarm, waiting for it at most `restoreWaitMs`; a slower one is applied
   * in the background when it arrives.
   * @param input.passphrase 1 to 1024 characters
   * @param input.displayName optional, 1 to 64 characters (see parseDisplayName)
   * @param input.recoveryPhrase optional: restore this account instead
   * @returns the Account ID, and the recovery phrase when newly created or the history
   *   notice when restored
   * @throws {HearthError} `conflict` when an account exists; `bad_request` for an empty
   *   passphrase, a bad display name or a bad phrase; `too_large` for an overlong passphrase
   */
  createAccount(input: CreateAccountInput): Promise<CreatedAccount> {
    return this.#serial(async () => {
      // A create that stopped after making the vault but before writing the
      // account row left an unlocked vault with no account: finish it.
      const unfinished = this.#vault.state === "unlocked" && !this.#keys &&
        !(await this.#vault.db.selectFrom("account").select("id").executeTakeFirst());
      if (this.#vault.state !== "absent" && !unfinished) {
        throw new HearthError("conflict", "An account already exists");
      }
      const displayName = input.displayName === undefined
        ? ""
        : parseDisplayName(input.displayName);
      const restoring = input.recoveryPhrase !== undefined;
      const seed = restoring ? phraseToSeed(input.recoveryPhrase!) : createSeed();
      const keys = await accountKeysFromSeed(seed);
      // Unlocking an unlocked vault only checks the passphrase.
      if (unfinished) await this.#vault.unlock(input.passphrase);
      else await this.#vault.create(input.passphrase);
      await this.#vault.db.insertInto("account").values({
        id: 1,
        seed,
        display_name: displayName,
        created_at: this.#clock(),
      }).execute();
      this.#keys = keys;
      this.#displayName = displayName;
      this.#hasAvatar = false;
      if (restoring) {
        await markRestorePending(this.#vault.db, input.displayName !== undefined);
        await this.#startSync(true);
        await this.#loadProfile();
      }
      await this.#startChat();
      if (!restoring) await this.#startSync(false);
      const created: CreatedAccount = { accountId: keys.accountId };
      if (restoring) created.historyNotice = HISTORY_NOTICE;
      else created.recoveryPhrase = seedToPhrase(seed);
      seed.fill(0);
      return created;
    });
  }

  /**
   * Unlock the client database and load the account's keys. When already
   * unlocked, only checks the passphrase.
   * @param passphrase the owner's passphrase
   * @throws {HearthError} `wrong_passphrase`; `not_found` when there is no account yet
   */
  unlock(passphrase: string): Promise<void> {
    return this.#serial(async () => {
      if (this.#vault.state === "absent") throw noAccount();
      await this.#vault.unlock(passphrase);
      if (this.#keys) return;
      const row = await this.#vault.db.selectFrom("account")
        .select("seed").where("id", "=", 1).executeTakeFirst();
      if (!row) return;
      const seed = new Uint8Array(row.seed);
      this.#keys = await accountKeysFromSeed(seed);
      seed.fill(0);
      await this.#loadProfile();
      await this.#startChat();
      await this.#startSync(false);
    });
  }

  /**
   * Change the passphrase of the client database (re-encrypted under a new
   * salt). The current one is checked first; then messaging stops for the
   * change (open event streams end) and starts again.
   * @param current the current passphrase
   * @param next the new passphrase, 1 to 1024 characters
   * @throws {HearthError} `wrong_passphrase`; `locked`; `not_found` without an account;
   *   `bad_request` or `too_large` for the new one
   */
  changePassphrase(current: string, next: string): Promise<void> {
    return this.#serial(async () => {
      this.account();
      await this.#vault.unlock(current); // unlocked: only checks it
      await this.#stopSync(5_000);
      await this.#stopChat();
      try {
        await this.#vault.changePassphrase(current, next);
      } finally {
        await this.#startChat();
        await this.#startSync(false);
      }
    });
  }

  /**
   * The account's 24-word recovery phrase, after checking the passphrase.
   * @param passphrase the owner's passphrase
   * @throws {HearthError} `wrong_passphrase`; `locked`; `not_found` without an account
   */
  recoveryPhrase(passphrase: string): Promise<string> {
    return this.#serial(async () => {
      this.account();
      await this.#vault.unlock(passphrase); // unlocked: only checks it
      const row = await this.#vault.db.selectFrom("account")
        .select("seed").where("id", "=", 1).executeTakeFirstOrThrow();
      const seed = new Uint8Array(row.seed);
      try {
        return seedToPhrase(seed);
      } finally {
        seed.fill(0);
      }
    });
  }

  /**
   * Close the client database and forget the keys, after publishing a
   * changed account config (bounded). A no-op unless unlocked.
   */
  lock(): Promise<void> {
    return this.#serial(async () => {
      await this.#stopSync(5_000);
      await this.#stopChat();
      this.#forgetKeys();
      await this.#vault.lock();
    });
  }

  /**
   * The owner's account.
   * @throws {HearthError} `not_found` when there is no account yet; `locked` while locked
   */
  account(): AccountView {
    const state = this.#vault.state;
    if (state === "absent") throw noAccount();
    if (state === "locked" || !this.#keys) {
      if (state === "unlocked") throw noAccount();
      throw new HearthError("locked", "Client database is locked");
    }
    const { accountId } = this.#keys;
    return {
      accountId,
      displayName: this.#displayName,
      qrSvg: accountIdQrSvg(accountId),
      hasAvatar: this.#hasAvatar,
    };
  }

  /**
   * Change the owner's profile. The new name rides along with the next
   * messages; the avatar (or its removal) goes once to each peer, with the
   * next message to it (a change counts the profile version up). The
   * account config carries both. Everything is checked before anything is written.
   * @param input.displayName 1 to 64 characters (see parseDisplayName)
   * @param input.avatar a PNG, JPEG or WebP image of at most 8 KiB, or null to remove it
   * @returns the account as it is now
   * @throws {HearthError} `locked`; `not_found` without an account; `bad_request` for a bad
   *   name or an avatar that is not a PNG, JPEG or WebP image; `too_large` for an image
   *   over 8 KiB
   */
  updateProfile(input: ProfileUpdate): Promise<AccountView> {
    return this.#serial(async () => {
      this.account();
      const name = input.displayName === undefined
        ? undefined
        : parseDisplayName(input.displayName);
      const avatar = input.avatar === undefined ? undefined : checkAvatar(input.avatar);
      const db = this.#vault.db;
      const row = await db.selectFrom("account").select(["display_name", "avatar"])
        .where("id", "=", 1).executeTakeFirstOrThrow();
      const old = row.avatar ? new Uint8Array(row.avatar) : null;
      const nameChanged = name !== undefined && name !== row.display_name;
      const avatarChanged = avatar !== undefined &&
        (avatar === null ? old !== null : old === null || !bytesEqual(old, avatar.bytes));
      if (nameChanged || avatarChanged) {
        await db.updateTable("account").set((eb) => ({
          ...(nameChanged ? { display_name: name } : {}),
          ...(avatarChanged
            ? { avatar: avatar?.bytes ?? null, avatar_type: avatar?.type ?? null }
            : {}),
          profile_version: eb("profile_version", "+", 1),
        })).where("id", "=", 1).execute();
      }
      await this.#loadProfile();
      return this.account();
    });
  }

  /**
   * The owner's avatar, or null.
   * @throws {HearthError} `locked`; `not_found` without an account
   */
  async avatar(): Promise<Avatar | null> {
    this.account();
    const row = await this.#vault.db.selectFrom("account").select("avatar")
      .where("id", "=", 1).executeTakeFirst();
    if (!row?.avatar) return null;
    const bytes = new Uint8Array(row.avatar);
    const type = sniffAvatarType(bytes);
    return type ? { type, bytes } : null;
  }

  /** Lock and close for good. Idempotent. */
  close(): Promise<void> {
    return this.#serial(async () => {
      await this.#stopSync(0);
      await this.#stopChat();
      this.#forgetKeys();
      await this.#vault.close();
    });
  }

  /**
   * 1:1 messaging, while unlocked.
   * @throws {HearthError} `locked` while locked; `not_found` when there is no account yet
   */
  chat(): ChatService {
    this.account();
    return this.#chat!;
  }

  /**
   * The owner's groups (docs/PROTOCOL.md §14), while unlocked.
   * @throws {HearthError} `locked` while locked; `not_found` when there is no account yet
   */
  groups(): GroupService {
    return this.chat().groups();
  }

  async #startChat(): Promise<void> {
    if (this.#chat || !this.#keys) return;
    this.#chat = await ChatService.start({
      db: this.#vault.db,
      keys: this.#keys,
      clock: this.#clock,
      log: this.#log.child("chat"),
      ...(this.#maxFileBytes !== undefined ? { maxFileBytes: this.#maxFileBytes } : {}),
      ...(this.#nodes ? { nodes: this.#nodes, guardFile: `${this.#dir}/guard.json` } : {}),
    });
  }

  /**
   * Start keeping the account config in the swarm (with a directory only).
   * With `waitRestore`, wait up to `restoreWaitMs` for a pending restore.
   */
  async #startSync(waitRestore: boolean): Promise<void> {
    if (this.#sync || !this.#keys || !this.#nodes) return;
    const sync = new ConfigSync({
      db: this.#vault.db,
      keys: this.#keys,
      swarm: new SwarmClient({ nodes: this.#nodes, clock: this.#clock }),
      clock: this.#clock,
      log: this.#log.child("config"),
      onRestored: () => void this.#serial(() => this.#afterRestore(sync)).catch(() => {}),
    });
    this.#sync = sync;
    sync.start();
    if (!waitRestore) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      sync.restored,
      new Promise((resolve) => timer = setTimeout(resolve, this.#restoreWaitMs)),
    ]);
    clearTimeout(timer);
  }

  /** A config restored in the background: pick up its display name and avatar. */
  async #afterRestore(sync: ConfigSync): Promise<void> {
    if (this.#sync !== sync || !this.#keys) return;
    await this.#loadProfile();
    // Groups the config brought back resume polling and fetch their keys.
    await this.#chat?.groups().resume();
  }

  /** Keep the display name and whether there is an avatar in step with the account row. */
  async #loadProfile(): Promise<void> {
    const row = await this.#vault.db.selectFrom("account").select(["display_name", "avatar"])
      .where("id", "=", 1).executeTakeFirst();
    this.#displayName = row?.display_name ?? "";
    this.#hasAvatar = row?.avatar != null &&
      sniffAvatarType(new Uint8Array(row.avatar)) !== undefined;
  }

  async #stopSync(flushMs: number): Promise<void> {
    const sync = this.#sync;
    this.#sync = null;
    await sync?.stop({ flushMs });
  }

  async #stopChat(): Promise<void> {
    const chat = this.#chat;
    this.#chat = null;
    await chat?.stop();
  }

  #forgetKeys(): void {
    this.#keys?.seed.fill(0);
    this.#keys = null;
    this.#displayName = "";
    this.#hasAvatar = false;
  }

  /** Run state changes one at a time, in call order; a failure does not block the next. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function noAccount(): HearthError {
  return new HearthError("not_found", "No account yet");
}

/**
 * An avatar the owner may set: its type told by its bytes, small enough to ride along.
 * @throws {HearthError} `bad_request` when not a PNG, JPEG or WebP image; `too_large` over 8 KiB
 */
function checkAvatar(avatar: Avatar | null): Avatar | null {
  if (avatar === null) return null;
  if (typeof avatar !== "object" || !(avatar.bytes instanceof Uint8Array)) {
    throw new HearthError("bad_request", "Avatar must be image bytes");
  }
  const type = sniffAvatarType(avatar.bytes);
  if (!type) throw new HearthError("bad_request", "Avatar must be a PNG, JPEG or WebP image");
  if (avatar.bytes.length > MAX_AVATAR_BYTES) {
    throw new HearthError("too_large", "Avatar is larger than 8 KiB");
  }
  return { type, bytes: avatar.bytes.slice() };
}
