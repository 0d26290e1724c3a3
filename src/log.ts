// Leveled JSON-lines logger: one object per line, flat fields, no formatting when a level is off.
// `log.debug?.(...)` is undefined when debug is off, so its arguments are never evaluated (STYLE 2.8).

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
/** `json`: one JSON object a line (for collectors); `text`: `time level msg key=value` (for a terminal). */
export type LogFormat = "json" | "text";
type Fields = Record<string, unknown>;
type LogFn = (msg: string, fields?: Fields) => void;

export interface Logger {
  debug?: LogFn;
  info?: LogFn;
  warn?: LogFn;
  error?: LogFn;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function writer(level: Exclude<LogLevel, "silent">, sink: (line: string) => void, format: LogFormat): LogFn {
  if (format === "text") {
    const label = level.toUpperCase().padEnd(5);
    return (msg, fields) => {
      let line = `${new Date().toISOString().slice(11, 23)} ${label} ${msg}`;
      if (fields) for (const key in fields) if (fields[key] !== undefined) line += ` ${key}=${textOf(serialise(fields[key]))}`;
      sink(line);
    };
  }
  return (msg, fields) => {
    const entry: Fields = { time: new Date().toISOString(), level, msg };
    if (fields) for (const key in fields) entry[key] = serialise(fields[key]);
    sink(JSON.stringify(entry));
  };
}

function textOf(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** The process-wide logger; `configureLog` sets its level once at boot. */
export const log: Logger = {};

export function configureLog(
  level: LogLevel,
  sink: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  format: LogFormat = "json",
): void {
  const min = RANK[level];
  for (const name of ["debug", "info", "warn", "error"] as const) {
    log[name] = RANK[name] >= min ? writer(name, sink, format) : undefined;
  }
}

configureLog("info");
