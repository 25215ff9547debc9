/**
 * `client_key.json`: which file is the client database, and how to turn
 * the owner's passphrase into its key — the KDF's name, its parameters and
 * a random salt, and a check value: a labeled hash of the key, so a wrong
 * passphrase is refused without opening the database with a wrong key (a
 * failed open with a wrong key leaves libsql unable to open the file with
 * the right one until the process ends). The check lets an attacker who
 * has the file test a guess no faster than opening the database would: each
 * guess costs a full scrypt. It never holds the key.
 *
 * ```json
 * {"version": 1, "file": "client.db", "kdf": "scrypt",
 *  "params": {"N": 131072, "r": 8, "p": 1}, "salt": "<32 hex digits>",
 *  "check": "<64 hex digits>"}
 * ```
 *
 * Rewriting this file (atomically) is the commit point of a passphrase
 * change: it switches to a new file under a new salt at once (vault.ts).
 * @module
 */
import { fromHex, toHex } from "../../shared/crypto/bytes.ts";
import { labeledHash } from "../../shared/crypto/hash.ts";
import { checkScryptParams, type ScryptParams } from "../../shared/crypto/scrypt.ts";
import { writeFileAtomic } from "../../shared/atomic_file.ts";
import { HearthError } from "../../shared/errors.ts";

/** The file's name inside the data directory. */
export const KEY_FILE_NAME = "client_key.json";

/** The largest key file read: a valid one is a few hundred bytes. */
const MAX_KEY_FILE_BYTES = 4096;

/** The database file names a key file may point to: client.db, or client-<16 hex>.db. */
export const CLIENT_DB_FILE = /^client(?:-[0-9a-f]{16})?\.db$/;

/** The parsed key file: the database file and how to derive its key. */
export interface KeyFile {
  /** The database file's name inside the data directory (matches {@link CLIENT_DB_FILE}). */
  file: string;
  /** The KDF's name; only "scrypt" today. */
  kdf: "scrypt";
  /** scrypt's cost. */
  params: ScryptParams;
  /** The random salt, 16 to 64 bytes. */
  salt: Uint8Array;
  /** {@link keyCheckOf} the key, 32 bytes; absent in files written before it existed. */
  check?: Uint8Array;
}

/** The check value of a database key: H("hearth/client-key-check/v1", key). */
export function keyCheckOf(key: Uint8Array): Uint8Array {
  return labeledHash("hearth/client-key-check/v1", key);
}

/**
 * Read and check `<dataDir>/client_key.json`.
 * @param dataDir the node's data directory
 * @returns the key file, or null when there is none (no account yet)
 * @throws {HearthError} `internal` when the file is unreadable or malformed
 */
export async function readKeyFile(dataDir: string): Promise<KeyFile | null> {
  const path = `${dataDir}/${KEY_FILE_NAME}`;
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_KEY_FILE_BYTES) throw new RangeError("too large");
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new HearthError("internal", "Client key file is unreadable");
  }
  try {
    return parseKeyFile(JSON.parse(text));
  } catch {
    throw new HearthError("internal", "Client key file is malformed");
  }
}

/**
 * Write `<dataDir>/client_key.json` atomically, mode 0600.
 * @param dataDir the node's data directory
 * @param keyFile what to store
 */
export async function writeKeyFile(dataDir: string, keyFile: KeyFile): Promise<void> {
  const { N, r, p } = keyFile.params;
  const json = {
    version: 1,
    file: keyFile.file,
    kdf: keyFile.kdf,
    params: { N, r, p },
    salt: toHex(keyFile.salt),
    ...(keyFile.check ? { check: toHex(keyFile.check) } : {}),
  };
  await writeFileAtomic(`${dataDir}/${KEY_FILE_NAME}`, JSON.stringify(json) + "\n", {
    mode: 0o600,
  });
}

function parseKeyFile(value: unknown): KeyFile {
  if (typeof value !== "object" || value === null) throw new TypeError("key file");
  const { version, file, kdf, params, salt, check } = value as Record<string, unknown>;
  if (version !== 1) throw new TypeError("version");
  if (typeof file !== "string" || !CLIENT_DB_FILE.test(file)) throw new TypeError("file");
  if (kdf !== "scrypt") throw new TypeError("kdf");
  if (typeof params !== "object" || params === null) throw new TypeError("params");
  const { N, r, p } = params as Record<string, unknown>;
  if (typeof N !== "number" || typeof r !== "number" || typeof p !== "number") {
    throw new TypeError("params");
  }
  checkScryptParams({ N, r, p });
  if (typeof salt !== "string") throw new TypeError("salt");
  const saltBytes = fromHex(salt);
  if (saltBytes.length < 16 || saltBytes.length > 64) throw new RangeError("salt");
  const out: KeyFile = { file, kdf, params: { N, r, p }, salt: saltBytes };
  if (check !== undefined) {
    if (typeof check !== "string") throw new TypeError("check");
    out.check = fromHex(check, 32);
  }
  return out;
}
