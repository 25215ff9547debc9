/**
 * Parse the node's command line once, into a typed options object. Every
 * mistake is a FlagError with a one-line message; main.ts prints it and
 * exits with code 2.
 * @module
 */
import { type HostPort, isLoopbackHost, parseHostPort } from "./host_port.ts";
import type { LogLevel } from "./log.ts";

/** The parsed command line. */
export interface CliOptions {
  dataDir: string | undefined;
  listen: HostPort;
  publicAddr: HostPort | undefined;
  web: HostPort;
  seeds: HostPort[];
  powBits: number;
  rateLimit: { ratePerSecond: number; burst: number } | null;
  logLevel: LogLevel;
  localNet: boolean;
  /** The largest file the owner may send, MB (10^6 bytes); undefined: the default (100). */
  maxFileMb: number | undefined;
  /**
   * Where the web port's owner password comes from: a file (`--web-password-file`),
   * the environment (`HEARTH_WEB_PASSWORD`), or none. Required when `--web` is
   * not a loopback address.
   */
  webPassword: { file: string } | { env: string } | undefined;
  help: boolean;
  version: boolean;
}

/** A command-line mistake. The message is one line. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** Usage text printed by --help. */
export const USAGE = `hearth: a private, decentralized messenger node

Usage: hearth [flags]

  --data-dir DIR          where keys and databases live (default: per-user data folder)
  --listen HOST:PORT      relay port, public (default 0.0.0.0:7000; port 0 = any free port)
  --public-addr HOST:PORT what other nodes dial (default: --listen)
  --web HOST:PORT         owner web port (default 127.0.0.1:7080; port 0 = any); beyond
                          loopback it needs an owner password
  --web-password-file PATH  a file holding the web port's owner password (or set the
                          environment variable HEARTH_WEB_PASSWORD)
  --seed HOST:PORT        a node to join the network through (repeatable)
  --pow-bits N            proof-of-work difficulty of node records (default 20)
  --rate-limit R:B|off    per-peer requests/s and burst on the relay port (default 300:600)
  --log-level LEVEL       debug, info, warn or error (default info)
  --no-local-net          never start the embedded local network of helper relays
  --max-file-mb N         the largest file the owner may send, MB (default 100, at most 500)
  --help                  print this help
  --version               print the version`;

const DEFAULTS = {
  listen: "0.0.0.0:7000",
  web: "127.0.0.1:7080",
  powBits: 20,
};

function hostPortFlag(flag: string, value: string, allowPortZero: boolean): HostPort {
  try {
    return parseHostPort(value, { allowPortZero });
  } catch (err) {
    throw new FlagError(`${flag}: ${(err as Error).message}: ${JSON.stringify(value)}`);
  }
}

/** The environment variable that may hold the web port's owner password. */
export const WEB_PASSWORD_ENV = "HEARTH_WEB_PASSWORD";

/**
 * Parse arguments.
 * @param args the command line, without the program
 * @param env reads an environment variable (default: none set); only
 *   {@link WEB_PASSWORD_ENV} is read
 * @throws {FlagError} on an unknown flag, a missing or bad value, or `--web`
 *   beyond loopback without an owner password
 */
export function parseFlags(
  args: readonly string[],
  env: (name: string) => string | undefined = () => undefined,
): CliOptions {
  const out: CliOptions = {
    dataDir: undefined,
    listen: parseHostPort(DEFAULTS.listen),
    publicAddr: undefined,
    web: parseHostPort(DEFAULTS.web),
    seeds: [],
    powBits: DEFAULTS.powBits,
    rateLimit: { ratePerSecond: 300, burst: 600 },
    logLevel: "info",
    localNet: true,
    maxFileMb: undefined,
    webPassword: undefined,
    help: false,
    version: false,
  };
  for (let i = 0; i < args.length; i++) {
    let arg = args[i]!;
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || (inline === undefined && v.startsWith("--"))) {
        throw new FlagError(`${arg}: missing value`);
      }
      return v;
    };
    switch (arg) {
      case "--data-dir": {
        const v = value();
        if (v.trim() === "") throw new FlagError("--data-dir: empty path");
        out.dataDir = v;
        break;
      }
      case "--listen":
        out.listen = hostPortFlag(arg, value(), true);
        break;
      case "--public-addr":
        out.publicAddr = hostPortFlag(arg, value(), false);
        break;
      case "--web":
        out.web = hostPortFlag(arg, value(), true);
        break;
      case "--seed":
        out.seeds.push(hostPortFlag(arg, value(), false));
        break;
      case "--pow-bits": {
        const v = value();
        if (!/^\d{1,2}$/.test(v) || Number(v) > 32) {
          throw new FlagError(`--pow-bits: expected 0 to 32: ${JSON.stringify(v)}`);
        }
        out.powBits = Number(v);
        break;
      }
      case "--rate-limit": {
        const v = value();
        if (v === "off") {
          out.rateLimit = null;
          break;
        }
        const m = /^(\d{1,7}):(\d{1,7})$/.exec(v);
        if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
          throw new FlagError(`--rate-limit: expected RATE:BURST or off: ${JSON.stringify(v)}`);
        }
        out.rateLimit = { ratePerSecond: Number(m[1]), burst: Number(m[2]) };
        break;
      }
      case "--log-level": {
        const v = value();
        if (v !== "debug" && v !== "info" && v !== "warn" && v !== "error") {
          throw new FlagError(
            `--log-level: expected debug, info, warn or error: ${JSON.stringify(v)}`,
          );
        }
        out.logLevel = v;
        break;
      }
      case "--max-file-mb": {
        const v = value();
        if (!/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > 500) {
          throw new FlagError(`--max-file-mb: expected 1 to 500: ${JSON.stringify(v)}`);
        }
        out.maxFileMb = Number(v);
        break;
      }
      case "--web-password-file": {
        const v = value();
        if (v.trim() === "") throw new FlagError("--web-password-file: empty path");
        out.webPassword = { file: v };
        break;
      }
      case "--no-local-net":
        if (inline !== undefined) throw new FlagError(`${arg}: takes no value`);
        out.localNet = false;
        break;
      case "--help":
      case "-h":
        out.help = true;
        break;
      case "--version":
        out.version = true;
        break;
      default:
        throw new FlagError(`unknown flag: ${JSON.stringify(arg)} (see --help)`);
    }
  }
  if (out.webPassword === undefined) {
    const fromEnv = env(WEB_PASSWORD_ENV);
    if (fromEnv !== undefined && fromEnv !== "") out.webPassword = { env: fromEnv };
  }
  if (!isLoopbackHost(out.web.host) && out.webPassword === undefined) {
    throw new FlagError(
      `--web: binding the web port beyond loopback needs an owner password: give --web-password-file PATH or set ${WEB_PASSWORD_ENV}`,
    );
  }
  if (out.web.port !== 0 && out.web.port === out.listen.port) {
    throw new FlagError("--web: the web port and the relay port must differ");
  }
  return out;
}

/**
 * The default per-user data folder: $XDG_DATA_HOME/hearth, else
 * ~/.local/share/hearth (Linux), ~/Library/Application Support/hearth
 * (macOS), %APPDATA%\hearth (Windows).
 */
export function defaultDataDir(env: (name: string) => string | undefined, os: string): string {
  if (os === "windows") return `${env("APPDATA") ?? env("USERPROFILE") ?? "."}\\hearth`;
  const home = env("HOME") ?? ".";
  if (os === "darwin") return `${home}/Library/Application Support/hearth`;
  const xdg = env("XDG_DATA_HOME");
  return `${xdg && xdg.startsWith("/") ? xdg : `${home}/.local/share`}/hearth`;
}
