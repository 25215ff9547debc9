/**
 * What machine the benchmarks ran on: CPU count and model, memory, OS and
 * the Deno, V8 and TypeScript versions.
 * @module
 */

/** A description of the machine and runtime. */
export interface MachineInfo {
  /** Logical CPUs the process may use. */
  nproc: number;
  /** CPU model name from /proc/cpuinfo ("unknown" elsewhere). */
  cpuModel: string;
  /** Total memory, MiB (from /proc/meminfo). */
  memTotalMiB: number;
  /** Operating system and kernel release. */
  os: string;
  deno: string;
  v8: string;
  typescript: string;
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/** Describe the machine this process runs on. */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = await readOr("/proc/cpuinfo", "");
  const meminfo = await readOr("/proc/meminfo", "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKiB = Number(/^MemTotal:\s+(\d+)\s+kB$/m.exec(meminfo)?.[1] ?? NaN);
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: model,
    memTotalMiB: Math.round(memKiB / 1024),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}
