/**
 * The client database's lock. The database (`<dataDir>/client.db`) is
 * encrypted at rest by libsql with a key drawn from the owner's passphrase
 * by scrypt; the salt and the KDF's parameters live in
 * `<dataDir>/client_key.json` (key_file.ts). The key itself is never written
 * anywhere.
 *
 * States: `absent` (no account yet), `locked`, `unlocked`. A wrong
 * passphrase changes nothing on disk. State changes run one at a time, so
 * two unlocks at once open one connection.
 *
 * Changing the passphrase copies the database (VACUUM INTO) to a new file,
 * `client-<16 hex>.db`, under the new key, then rewrites the key file to
 * name that file and the new salt: one atomic rename is the commit point,
 * so a crash leaves either the old file and passphrase or the new ones.
 * The old file is removed afterwards, and stray files at the next open.
 * Why not in place: libsql's `PRAGMA rekey` is refused in WAL mode, and
 * rewrites the file in place, where a crash can corrupt it. Why not renamed
 * over client.db: @libsql/client's close() leaves the native connection
 * open until garbage collection, and its late close deletes "<name>-wal"
 * by name — which would then be the new database's WAL.
 * @module
 */
import { type Kysely, sql } from "kysely";
import { bytesEqual, randomBytes, toHex } from "../../shared/crypto/bytes.ts";
import {
  deriveKeyFromPassphrase,
  SCRYPT_DEFAULTS,
  type ScryptParams,
} from "../../shared/crypto/scrypt.ts";
import { type OpenDatabase, openDatabase } from "../../shared/db/open.ts";
import { HearthError } from "../../shared/errors.ts";
import { CLIENT_DB_FILE, keyCheckOf, type KeyFile, readKeyFile, writeKeyFile } from "./key_file.ts";
import { type ClientDb, clientMigrations } from "./schema.ts";
import {
  checkEncrypted,
  exists,
  removeDatabaseFiles,
  sqliteFileUri,
  syncDir,
  syncFile,
} from "./_files.ts";

/** The database file's name when an account is created. */
export const CLIENT_DB_NAME = "client.db";

/** The longest passphrase accepted, in UTF-16 code units. */
export const MAX_PASSPHRASE_LENGTH = 1024;

/** Where the vault stands: no account yet, locked, or open. */
export type VaultState = "absent" | "locked" | "unlocked";

/** Options of {@link ClientVault.open}. */
export interface ClientVaultOptions {
  /** scrypt's cost for new keys (create, change of passphrase). Default: {@link SCRYPT_DEFAULTS}. */
  kdfParams?: ScryptParams;
}

/** The encrypted client database and its passphrase lock. */
export class ClientVault {
  readonly #dataDir: string;
  readonly #kdfParams: ScryptParams;
  #keyFile: KeyFile | null;
  #open: OpenDatabase<ClientDb> | null = null;
  #key: Uint8Array | null = null;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dataDir: string, kdfParams: ScryptParams, keyFile: KeyFile | null) {
    this.#dataDir = dataDir;
    this.#kdfParams = kdfParams;
    this.#keyFile = keyFile;
  }

  /**
   * Open the vault of a data directory (created if missing, mode 0700). Does
   * not open the database: the vault starts `absent` or `locked`. Removes
   * database files the key file does not name (a passphrase change that a
   * crash interrupted, or one whose cleanup failed).
   * @param dataDir the node's data directory
   * @param options.kdfParams scrypt's cost for new keys (tests pass small ones)
   * @throws {HearthError} `internal` when client_key.json is unreadable or malformed
   */
  static async open(dataDir: string, options: ClientVaultOptions = {}): Promise<ClientVault> {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const keyFile = await readKeyFile(dataDir);
    if (keyFile) await removeStrayDatabases(dataDir, keyFile.file);
    return new ClientVault(dataDir, options.kdfParams ?? SCRYPT_DEFAULTS, keyFile);
  }

  /** The current state. */
  get state(): VaultState {
    if (this.#open) return "unlocked";
    return this.#keyFile ? "locked" : "absent";
  }

  /**
   * The open database. Get it from here for each unit of work: lock() and
   * changePassphrase() close the connection a handle belongs to.
   * @throws {HearthError} `locked` when the vault is not unlocked
   */
  get db(): Kysely<ClientDb> {
    if (!this.#open) throw new HearthError("locked", "Client database is locked");
    return this.#open.db;
  }

  /**
   * Create the account's database, encrypted under a new passphrase, and leave
   * it unlocked. Database files left without a key file are unreadable (their
   * salt is gone) and are removed first.
   * @param passphrase 1 to {@link MAX_PASSPHRASE_LENGTH} characters
   * @throws {HearthError} `conflict` when a database already exists; `bad_request` for an
   *   empty passphrase; `too_large` for an overlong one
   */
  create(passphrase: string): Promise<void> {
    return this.#serial(async () => {
      if (this.state !== "absent") throw new HearthError("conflict", "Client database exists");
      checkNewPassphrase(passphrase);
      await removeStrayDatabases(this.#dataDir, null);
      const keyFile = this.#newKeyFile(CLIENT_DB_NAME);
      const key = await deriveKeyFromPassphrase(passphrase, keyFile.salt, keyFile.params);
      keyFile.check = keyCheckOf(key);
      const open = await openDatabase<ClientDb>(this.#path(keyFile.file), clientMigrations, {
        encryptionKey: toHex(key),
      });
      try {
        await writeKeyFile(this.#dataDir, keyFile);
      } catch (err) {
        await open.close();
        throw err;
      }
      await syncDir(this.#dataDir);
      this.#keyFile = keyFile;
      this.#open = open;
      this.#key = key;
    });
  }

  /**
   * Open the database with the owner's passphrase. When already unlocked, only
   * checks the passphrase.
   * @param passphrase the passphrase given at create or last change
   * @throws {HearthError} `wrong_passphrase` (nothing changes, the vault stays as it was);
   *   `conflict` when there is no account yet; `not_found` when the database file is missing
   */
  unlock(passphrase: string): Promise<void> {
    return this.#serial(async () => {
      const keyFile = this.#keyFile;
      if (!keyFile) throw new HearthError("conflict", "No client database yet");
      const key = await this.#deriveCurrent(keyFile, passphrase);
      // Never open the database with a wrong key: see key_file.ts.
      if (keyFile.check && !bytesEqual(keyCheckOf(key), keyFile.check)) throw wrongPassphrase();
      if (this.#open) {
        if (!bytesEqual(key, this.#key ?? new Uint8Array())) throw wrongPassphrase();
        return;
      }
      this.#open = await this.#openWith(keyFile.file, key);
      this.#key = key;
    });
  }

  /** Close the database and forget the key. A no-op unless unlocked. */
  lock(): Promise<void> {
    return this.#serial(() => this.#lockNow(), { evenClosed: true });
  }

  /**
   * Re-encrypt the database under a new passphrase and a new salt, into a new
   * file. The vault must be unlocked, and is unlocked again afterwards on a
   * new connection; on failure it stays unlocked under the old passphrase.
   * While it runs (two KDF runs and a copy), `db` throws `locked`.
   * @param oldPassphrase the current passphrase
   * @param newPassphrase 1 to {@link MAX_PASSPHRASE_LENGTH} characters
   * @throws {HearthError} `locked` unless unlocked; `wrong_passphrase` when the old one is
   *   wrong; `bad_request` or `too_large` for the new one
   */
  changePassphrase(oldPassphrase: string, newPassphrase: string): Promise<void> {
    return this.#serial(async () => {
      const old = this.#keyFile;
      if (!this.#open || !old) throw new HearthError("locked", "Client database is locked");
      checkNewPassphrase(newPassphrase);
      const oldKey = await this.#deriveCurrent(old, oldPassphrase);
      if (!bytesEqual(oldKey, this.#key ?? new Uint8Array())) throw wrongPassphrase();
      const next = this.#newKeyFile(`client-${toHex(randomBytes(8))}.db`);
      const newKey = await deriveKeyFromPassphrase(newPassphrase, next.salt, next.params);
      next.check = keyCheckOf(newKey);
      await this.#lockNow();
      let opened: OpenDatabase<ClientDb> | undefined;
      try {
        await this.#copy(old.file, oldKey, next.file, newKey);
        opened = await this.#openWith(next.file, newKey);
        await writeKeyFile(this.#dataDir, next); // the commit point
      } catch (err) {
        await opened?.close();
        await removeDatabaseFiles(this.#path(next.file)).catch(() => {});
        this.#open = await this.#openWith(old.file, oldKey);
        this.#key = oldKey;
        throw err;
      }
      await syncDir(this.#dataDir);
      this.#keyFile = next;
      this.#open = opened;
      this.#key = newKey;
      // Stray files are removed at the next open if this fails.
      await removeDatabaseFiles(this.#path(old.file)).catch(() => {});
    });
  }

  /** Lock, and refuse any later change of state. Idempotent. */
  close(): Promise<void> {
    return this.#serial(async () => {
      await this.#lockNow();
      this.#closed = true;
    }, { evenClosed: true });
  }

  /** Copy a database into a new encrypted file under another key, synced. */
  async #copy(from: string, fromKey: Uint8Array, to: string, toKey: Uint8Array): Promise<void> {
    const target = this.#path(to);
    await removeDatabaseFiles(target);
    const source = await this.#openWith(from, fromKey);
    try {
      await sql`VACUUM INTO ${sqliteFileUri(target, { key: toHex(toKey) })}`.execute(source.db);
    } finally {
      await source.close();
    }
    await syncFile(target);
    await checkEncrypted(target);
  }

  /** Derive the key of the current key file from a passphrase. */
  async #deriveCurrent(keyFile: KeyFile, passphrase: string): Promise<Uint8Array> {
    if (typeof passphrase !== "string" || passphrase.length === 0) throw wrongPassphrase();
    if (passphrase.length > MAX_PASSPHRASE_LENGTH) throw wrongPassphrase();
    return await deriveKeyFromPassphrase(passphrase, keyFile.salt, keyFile.params);
  }

  /** Open a database file of the data directory with a key; a wrong key changes nothing. */
  async #openWith(file: string, key: Uint8Array): Promise<OpenDatabase<ClientDb>> {
    const path = this.#path(file);
    // libsql would create a missing file: refuse instead.
    if (!(await exists(path))) throw new HearthError("not_found", "Client database is missing");
    try {
      return await openDatabase<ClientDb>(path, clientMigrations, { encryptionKey: toHex(key) });
    } catch (err) {
      if (isNotADatabase(err)) throw wrongPassphrase();
      throw err;
    }
  }

  async #lockNow(): Promise<void> {
    const open = this.#open;
    this.#open = null;
    this.#key?.fill(0);
    this.#key = null;
    await open?.close();
  }

  #newKeyFile(file: string): KeyFile {
    return { file, kdf: "scrypt", params: { ...this.#kdfParams }, salt: randomBytes(16) };
  }

  #path(file: string): string {
    return `${this.#dataDir}/${file}`;
  }

  /** Run state changes one at a time, in call order; a failure does not block the next. */
  #serial<T>(fn: () => Promise<T>, options: { evenClosed?: boolean } = {}): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed && !options.evenClosed) {
        throw new HearthError("unavailable", "Client vault is closed");
      }
      return fn();
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

/** Remove client database files (and their sidecars) other than `keep`. */
async function removeStrayDatabases(dataDir: string, keep: string | null): Promise<void> {
  for await (const entry of Deno.readDir(dataDir)) {
    const base = entry.name.replace(/-(?:wal|shm|journal)$/, "");
    if (!entry.isFile || !CLIENT_DB_FILE.test(base) || base === keep) continue;
    await removeDatabaseFiles(`${dataDir}/${base}`);
  }
}

function checkNewPassphrase(passphrase: string): void {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new HearthError("bad_request", "Passphrase is empty");
  }
  if (passphrase.length > MAX_PASSPHRASE_LENGTH) {
    throw new HearthError("too_large", "Passphrase is too long");
  }
}

function wrongPassphrase(): HearthError {
  return new HearthError("wrong_passphrase", "Wrong passphrase");
}

function isNotADatabase(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === "SQLITE_NOTADB" || (typeof message === "string" && message.includes("NOTADB"));
}
