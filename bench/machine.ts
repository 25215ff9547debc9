/**
 * What machine the benchmarks ran on: CPU count and model, memory, OS and
 * the Deno, V8 and TypeScript versions.
 * @module
 */

import { readProcFile } from "./process_metrics.ts";

/** A description of the machine and runtime. */
export interface MachineInfo {
  /** Logical CPUs the process may use. */
  nproc: number;
  /** CPU model name from /proc/cpuinfo ("unknown" elsewhere). */
  cpuModel: string;
  /** Total memory, MiB. */
  memTotalMiB: number;
  /** Operating system and kernel release. */
  os: string;
  /** Deno version. */
  deno: string;
  /** V8 version. */
  v8: string;
  /** TypeScript version. */
  typescript: string;
}

/** Describe the machine this process runs on. */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = (await readProcFile("/proc/cpuinfo")) ?? "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: model,
    memTotalMiB: Math.round(Deno.systemMemoryInfo().total / 1_048_576),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}
