/**
 * Process metrics from /proc (Linux): resident memory, CPU time, and the
 * node processes found by their data folder (the devnet library does not
 * hand out process IDs).
 *
 * Deno lets only an `--allow-all` program read /proc, and `deno task
 * bench` runs with named permissions; so the files are read by `cat` and
 * the process list by `ps` (both allowed by `--allow-run`).
 * @module
 */

async function stdoutOf(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read a file under /proc.
 * @param path e.g. "/proc/cpuinfo"
 * @returns its text, or undefined when it cannot be read (no such process, not Linux)
 */
export function readProcFile(path: string): Promise<string | undefined> {
  return stdoutOf("cat", [path]);
}

/**
 * The resident set size of a process, from `VmRSS` in /proc/<pid>/status.
 * @param pid the process ID
 * @returns RSS in MiB, or undefined when the process or the file is gone
 */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const status = await readProcFile(`/proc/${pid}/status`);
  const kib = status === undefined ? undefined : /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) / 1024;
}

let clockTicks: number | undefined;

async function ticksPerSecond(): Promise<number> {
  clockTicks ??= Number((await stdoutOf("getconf", ["CLK_TCK"]))?.trim()) || 100;
  return clockTicks;
}

/**
 * CPU time a process has used so far (user + system, every thread), from
 * /proc/<pid>/stat. Its resolution is one clock tick (10 ms).
 * @param pid the process ID
 * @returns milliseconds of CPU, or undefined when the process is gone
 */
export async function cpuMs(pid: number): Promise<number | undefined> {
  const stat = await readProcFile(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name may hold spaces; the fields after it are plain numbers
  // (utime and stime are fields 14 and 15).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks / (await ticksPerSecond())) * 1000 : undefined;
}

async function pidsWithArgs(needle: string): Promise<number[]> {
  const list = await stdoutOf("ps", ["-ww", "-eo", "pid=,args="]);
  if (list === undefined) return [];
  const pids: number[] = [];
  for (const line of list.split("\n")) {
    const match = /^\s*(\d+)\s(.*)$/.exec(line);
    if (match && `${match[2]} `.includes(needle)) pids.push(Number(match[1]));
  }
  return pids;
}

/**
 * The node process started with `--data-dir <dataDir>`.
 * @param dataDir the node's data folder, exactly as passed on its command line (no spaces)
 * @returns the process ID, or undefined when no such process runs
 */
export async function pidOfDataDir(dataDir: string): Promise<number | undefined> {
  return (await pidsWithArgs(` --data-dir ${dataDir} `))[0];
}

/**
 * The node processes whose data folder lies under `root` (a folder this
 * program made).
 * @param root the parent folder of the nodes' data folders (no spaces)
 * @returns their process IDs
 */
export function pidsUnder(root: string): Promise<number[]> {
  return pidsWithArgs(` --data-dir ${root}/`);
}

/** Machine-wide CPU time so far, in clock ticks summed over all cores (/proc/stat). */
export interface MachineCpu {
  /** All CPU time. */
  total: number;
  /** Idle time. */
  idle: number;
  /** Idle time waiting for the disk. */
  iowait: number;
  /** Interrupt and softirq time: loopback networking is mostly here, charged to no process. */
  irq: number;
  /** Time the hypervisor gave this machine's virtual CPUs to someone else. */
  steal: number;
}

/**
 * The machine-wide CPU counters from the first line of /proc/stat.
 * @returns the counters, or undefined when /proc/stat cannot be read
 */
export async function machineCpu(): Promise<MachineCpu | undefined> {
  const stat = await readProcFile("/proc/stat");
  const line = stat?.split("\n")[0];
  if (!line?.startsWith("cpu ")) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.slice(4).trim().split(/\s+/)
    .map(Number);
  const parts = [user, nice, system, idle, iowait, irq, softirq, steal];
  if (parts.some((n) => n === undefined || !Number.isFinite(n))) return undefined;
  const total = parts.reduce((a, b) => a! + b!, 0)!;
  return { total, idle: idle!, iowait: iowait!, irq: irq! + softirq!, steal: steal! };
}
