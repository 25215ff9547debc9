/**
 * The command line of `deno task bench`: where to write the JSON results.
 *
 * ```sh
 * deno task bench                       # bench/results.json
 * deno task bench --out /tmp/r.json     # or --out=/tmp/r.json
 * deno task bench /tmp/r.json           # a bare path means the same
 * ```
 * @module
 */

/** What the command line asked for. */
export interface BenchArgs {
  /** Where to write the results as JSON; undefined for the default (bench/results.json). */
  outPath?: string;
  /** Print the usage and stop. */
  help: boolean;
}

/** The usage text printed by `--help` and after a bad argument. */
export const BENCH_USAGE: string = [
  "usage: deno task bench [--out <path> | <path>]",
  "  --out <path>, --out=<path>, <path>   write the results as JSON there",
  "                                       (default bench/results.json)",
  "  --help                               print this and stop",
].join("\n");

/**
 * Parse the bench's arguments.
 * @param args the arguments after the script (`Deno.args`)
 * @returns the output path, if one was given, and whether help was asked for
 * @throws {RangeError} on an unknown option, a missing or empty path, or two paths
 * @example
 * ```ts
 * parseBenchArgs(["--out", "/tmp/r.json"]); // { outPath: "/tmp/r.json", help: false }
 * ```
 */
export function parseBenchArgs(args: readonly string[]): BenchArgs {
  let outPath: string | undefined;
  let help = false;
  const setOut = (path: string | undefined) => {
    if (path === undefined || path === "") throw new RangeError("--out needs a path");
    if (outPath !== undefined) throw new RangeError("Give one output path, not two");
    outPath = path;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
    } else if (arg === "--out" || arg === "-o") {
      const next = args[i + 1];
      if (next !== undefined && next.startsWith("-")) throw new RangeError("--out needs a path");
      setOut(next);
      i++;
    } else if (arg.startsWith("--out=")) {
      setOut(arg.slice("--out=".length));
    } else if (arg.startsWith("-")) {
      throw new RangeError(`Unknown option ${arg}`);
    } else {
      setOut(arg);
    }
  }
  return outPath === undefined ? { help } : { outPath, help };
}

/**
 * Resolve an output path against a folder, as a shell would.
 * @param base the folder a relative path is taken from (absolute)
 * @param path the path given on the command line
 * @returns `path` itself when absolute, else `base` joined with it
 * @example
 * ```ts
 * resolvePath("/home/me", "r.json"); // "/home/me/r.json"
 * ```
 */
export function resolvePath(base: string, path: string): string {
  if (path.startsWith("/")) return path;
  return `${base.replace(/\/+$/, "")}/${path}`;
}
