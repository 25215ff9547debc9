/**
 * File chores of the client vault: SQLite sidecar files, fsync of files and
 * directories, SQLite URIs, and a check that a database file is not
 * plaintext. Private to this folder.
 * @module
 */
import { bytesEqual, utf8 } from "../../shared/crypto/bytes.ts";
import { HearthError } from "../../shared/errors.ts";

/** The first 16 bytes of every plaintext SQLite database. */
const SQLITE_HEADER = utf8("SQLite format 3\0");

/** The files SQLite keeps beside a database in WAL or rollback mode. */
const SIDECARS = ["-wal", "-shm", "-journal"];

/**
 * Whether a path exists.
 * @param path the path
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Remove a database's -wal, -shm and -journal files, if any. Only safe when
 * no connection is open and the -wal holds nothing uncheckpointed.
 * @param path the database file's path
 */
export async function removeSidecars(path: string): Promise<void> {
  for (const suffix of SIDECARS) await removeIfPresent(`${path}${suffix}`);
}

/**
 * Remove a database file and its sidecars, if any.
 * @param path the database file's path
 */
export async function removeDatabaseFiles(path: string): Promise<void> {
  await removeSidecars(path);
  await removeIfPresent(path);
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Flush a file's contents to disk.
 * @param path the file's path
 */
export async function syncFile(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true, write: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
}

/**
 * Flush a directory's entries to disk, so a rename in it survives power loss.
 * Ignored where directories cannot be opened (Windows).
 * @param path the directory's path
 */
export async function syncDir(path: string): Promise<void> {
  let dir: Deno.FsFile;
  try {
    dir = await Deno.open(path, { read: true });
  } catch {
    return;
  }
  try {
    await dir.sync();
  } catch {
    // Some platforms and file systems refuse fsync on a directory.
  } finally {
    dir.close();
  }
}

/**
 * A SQLite URI filename for a path, with query parameters. `%`, `?` and `#`
 * in the path are percent-encoded, as RFC 3986 and SQLite require.
 * @param path a file path
 * @param params query parameters (values must be URI-safe, e.g. hex)
 */
export function sqliteFileUri(path: string, params: Record<string, string>): string {
  const escaped = path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  return `file:${escaped}${query === "" ? "" : `?${query}`}`;
}

/**
 * Refuse a database file that starts with the plaintext SQLite header.
 * @param path the database file's path
 * @throws {HearthError} `internal` when the file is not encrypted
 */
export async function checkEncrypted(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(SQLITE_HEADER.length);
    const n = await file.read(head);
    if (n === head.length && bytesEqual(head, SQLITE_HEADER)) {
      throw new HearthError("internal", "Database copy is not encrypted");
    }
  } finally {
    file.close();
  }
}
