/**
 * Write a file atomically: a new temp file (mode 0600 by default), synced,
 * then renamed over the target, so a crash leaves the old file or the new
 * one, never half of one.
 * @module
 */
import { randomBytes, toHex, utf8 } from "./crypto/bytes.ts";

/**
 * Replace `path` with `text`, atomically.
 * @param options.mode file mode of the new file (default 0o600; a umask can only narrow it)
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { mode?: number } = {},
): Promise<void> {
  const tmp = `${path}.tmp-${toHex(randomBytes(6))}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o600 });
  try {
    const data = utf8(text);
    for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
