/**
 * Lets playwright-core load under the test task's permissions (no -A).
 *
 * At load, playwright-core asks `fs.existsSync("/proc/sys/fs/binfmt_misc/WSLInterop")`
 * (is this WSL?). Deno treats `/proc/sys/…` as a special file that needs
 * `--allow-all` and throws `NotCapable` even from `existsSync`. Here
 * `existsSync` answers `false` for such a path instead: a file the process
 * may not look at does not exist for it. Import this module before
 * `playwright-core`.
 * @module
 */
import fs from "node:fs";

const original = fs.existsSync;
fs.existsSync = function existsSync(path: fs.PathLike): boolean {
  try {
    return original(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) return false;
    throw err;
  }
};
