/**
 * Memory of a process from /proc (Linux): its resident set size, and the
 * process ID of a node process found by its data folder.
 * @module
 */

/**
 * The resident set size of a process, from `VmRSS` in /proc/<pid>/status.
 * @param pid the process ID
 * @returns RSS in MiB, or undefined when the process or the file is gone
 */
export async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Find the node process started with `--data-dir <dataDir>` by scanning
 * /proc/<pid>/cmdline (the devnet library does not hand out process IDs).
 * @param dataDir the node's data folder, exactly as passed on its command line
 * @returns the process ID, or undefined when no such process runs
 */
export async function pidOfDataDir(dataDir: string): Promise<number | undefined> {
  const needle = `\0--data-dir\0${dataDir}\0`;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(needle)) return Number(entry.name);
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return undefined;
}
