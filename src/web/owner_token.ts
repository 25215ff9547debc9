/**
 * The owner token: the bearer secret of the owner API. 32 random bytes,
 * base64url without padding (43 characters), in `<dataDir>/owner-token`
 * with mode 0600, created at the node's first start and kept across
 * restarts. Delete the file to get a new token at the next start.
 * @module
 */
import { randomBytes } from "../shared/crypto/mod.ts";
import { writeFileAtomic } from "../shared/atomic_file.ts";

/** The token file's name inside the data directory. */
export const OWNER_TOKEN_FILE = "owner-token";

/** What a token looks like: 32 bytes as unpadded base64url. */
export const OWNER_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The owner token of a data directory, created when the file is missing or
 * does not hold a well-formed token. The file's mode is set to 0600 if it
 * was looser.
 * @param dataDir the node's data directory (created if missing, mode 0700)
 * @returns the token text
 */
export async function loadOrCreateOwnerToken(dataDir: string): Promise<string> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = `${dataDir}/${OWNER_TOKEN_FILE}`;
  let text: string | undefined;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (text !== undefined && OWNER_TOKEN_PATTERN.test(text)) {
    if (Deno.build.os !== "windows") {
      const { mode } = await Deno.stat(path);
      if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
    }
    return text;
  }
  const token = toBase64Url(randomBytes(32));
  await writeFileAtomic(path, `${token}\n`, { mode: 0o600 });
  return token;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
