/**
 * A logger that cannot print metadata. Events are constant names; fields
 * are numbers and booleans only, so an IP, an Account ID, a key or a hash
 * cannot reach a log line by accident (DESIGN §5). Per-request events are
 * logged at debug level only.
 * @module
 */

/** Log levels, quietest last. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields allowed on a log line: counts, durations, flags. Never strings. */
export type LogFields = Record<string, number | boolean>;

/** Where log lines go. */
export type LogSink = (line: string) => void;

/** A logger bound to a component name. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger for a sub-component, e.g. `log.child("gossip")`. */
  child(component: string): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level printed (default "info"). */
  level?: LogLevel;
  /** Where lines go (default: stderr). */
  sink?: LogSink;
  /** Component name printed on every line. */
  component?: string;
}

const EVENT = /^[a-z][a-z0-9_.-]{0,63}$/;
const FIELD = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;
const encoder = new TextEncoder();

function stderrSink(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Create a logger.
 * @example
 * const log = createLogger({ level: "info" });
 * log.info("started", { directorySize: 7 });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const sink = options.sink ?? stderrSink;
  const component = options.component ?? "hearth";
  function write(at: LogLevel, event: string, fields?: LogFields): void {
    if (ORDER[at] < ORDER[level]) return;
    // Event names are code constants; anything else is replaced, not printed.
    const name = EVENT.test(event) ? event : "invalid-event-name";
    let line = `${at.toUpperCase()} ${component} ${name}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (!FIELD.test(k)) continue;
        if (typeof v === "number" && Number.isFinite(v)) {
          line += ` ${k}=${Math.round(v * 1000) / 1000}`;
        } else if (typeof v === "boolean") line += ` ${k}=${v}`;
      }
    }
    sink(line);
  }
  return {
    debug: (e, f) => write("debug", e, f),
    info: (e, f) => write("info", e, f),
    warn: (e, f) => write("warn", e, f),
    error: (e, f) => write("error", e, f),
    child: (c) => createLogger({ level, sink, component: `${component}.${c}` }),
  };
}

/** A logger that prints nothing (for tests and tools). */
export const silentLogger: Logger = createLogger({ sink: () => {} });
