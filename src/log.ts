// Leveled JSON-lines logger: one object per line, flat fields, no formatting when a level is off.
// `log.debug?.(...)` is undefined when debug is off, so its arguments are never evaluated (STYLE 2.8).
import { createRequire } from "node:module";
import { formatWithOptions, inspect } from "node:util";

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
      if (fields) for (const key in fields) if (fields[key] !== undefined) line += ` ${key}=${textOf(fieldOf(key, fields[key]))}`;
      sink(line);
    };
  }
  return (msg, fields) => {
    const entry: Fields = { time: new Date().toISOString(), level, msg };
    if (fields) for (const key in fields) entry[key] = fieldOf(key, fields[key]);
    sink(JSON.stringify(entry));
  };
}

function fieldOf(key: string, value: unknown): unknown {
  return isSecretMember(key, value) ? REDACTED : serialise(value);
}

// `auth` only as an object (a handshake's auth); as a string it is a mode ("jwt", "development").
function isSecretMember(key: string, value: unknown): boolean {
  if (value == null) return false;
  return (SECRET_KEY.test(key) && !HINT_KEY.test(key)) || (key === "auth" && typeof value === "object");
}

// Fields that name how to get a credential, never one: the start banner's `tokenHint` command.
// Their text still passes redactText, so a JWT pasted into one is caught all the same.
const HINT_KEY = /Hint$/;

function textOf(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  return redact(value);
}

// Redaction: every field of every line passes here, so a URL with `?token=<JWT>`, an Authorization
// header or a DATABASE_URL with its password never reaches a log collector, at any level.
// Field names that hold a credential: their value is replaced whole.
const SECRET_KEY = /token|secret|password|passwd|api[_-]?key|authorization|cookie|jwt|credential|signature/i;
// In free text: query parameters and JSON members with such a name, Bearer/Basic credentials, a
// URL's password, and anything shaped like a JWT (a token under an innocent name).
const SECRET_NAME = "[\\w.-]*(?:token|secret|password|passwd|api[_-]?key|apikey|authorization|cookie|jwt|credential|signature|auth)[\\w.-]*";
const QUERY_SECRET = new RegExp(`([?&;]${SECRET_NAME}=)[^&#\\s"']*`, "gi");
const JSON_SECRET = new RegExp(`("${SECRET_NAME}"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"|[^,}\\]\\s]+)`, "gi");
const SCHEME_SECRET = /\b(bearer|basic)\s+[\w.~+/=-]+/gi;
const URL_PASSWORD = /(\/\/[^:/\s@]+:)[^@/\s]+@/g;
const JWT_SHAPE = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const REDACTED = "***";
const MAX_DEPTH = 6;

/** `text` with every credential it carries replaced by `***`. */
export function redactText(text: string): string {
  return text
    .replace(JWT_SHAPE, REDACTED)
    .replace(QUERY_SECRET, `$1${REDACTED}`)
    .replace(JSON_SECRET, `$1"${REDACTED}"`)
    .replace(SCHEME_SECRET, `$1 ${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/**
 * A copy of `value` fit for a log: strings through redactText, members named like a credential
 * (token, password, apiKey, authorization, …) and a Socket.IO CONNECT packet's auth payload replaced.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value !== "object" || value === null || depth >= MAX_DEPTH) return value;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Headers) {
    const headers: Record<string, string> = {};
    value.forEach((item, key) => (headers[key] = item));
    return redact(headers, depth);
  }
  if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  const copy: Record<string, unknown> = {};
  // A decoded CONNECT (type 0) carries the handshake's auth, whatever its members are called.
  const isConnectPacket = (value as { type?: unknown }).type === 0 && "nsp" in value;
  for (const [key, item] of Object.entries(value)) {
    copy[key] = (isConnectPacket && key === "data") || isSecretMember(key, item) ? REDACTED : redact(item, depth + 1);
  }
  return copy;
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

// The `debug` instance (DEBUG=…) of a package that prints what clients send: socket.io-parser prints
// every packet it encodes and decodes, the CONNECT with its auth among them; ioredis prints its
// commands, AUTH with the password among them.
const DEBUG_PRINTERS = ["socket.io-parser", "ioredis"];
// A CONNECT as the wire writes it (`0[/nsp,]{auth}`): its payload is the handshake's auth.
const RAW_CONNECT = /^(0(?:\/[^,]*,)?)\{[\s\S]*\}$/;
// ioredis's `write command[…]: 0 -> auth([ 'user', 'password' ])`, and HELLO with AUTH.
const REDIS_AUTH = /\b(auth|hello)\(.*\)/gi;

interface DebugModule {
  formatters: Record<string, (this: { useColors?: boolean }, value: unknown) => string>;
  inspectOpts?: Record<string, unknown>;
  log?: (...args: unknown[]) => void;
}

/**
 * Makes the `debug` output of the packages that print client input go through the same redaction
 * as the log: packets and values are redacted before they are formatted (a CONNECT's auth payload
 * whole, credential-named members, JWT-shaped strings), and each line once more as text. The ready
 * server calls it at start, so DEBUG=socket.io* stays usable in production without leaking tokens.
 */
export function redactDebugOutput(packages: readonly string[] = DEBUG_PRINTERS): number {
  let installed = 0;
  for (const name of packages) {
    let debug: DebugModule;
    try {
      debug = createRequire(Bun.resolveSync(name, import.meta.dir))("debug") as DebugModule;
    } catch {
      continue; // not installed (ioredis is an optional peer of the library)
    }
    const options = () => debug.inspectOpts ?? {};
    debug.formatters.j = (value) => {
      try {
        return JSON.stringify(redact(value));
      } catch {
        return "[Circular]";
      }
    };
    debug.formatters.s = (value) => typeof value === "string" ? redactText(value.replace(RAW_CONNECT, `$1{"${REDACTED}"}`)) : redactText(String(value));
    debug.formatters.o = function (value) {
      return inspect(redact(value), { ...options(), colors: this.useColors }).split("\n").map((line) => line.trim()).join(" ");
    };
    debug.formatters.O = function (value) {
      return inspect(redact(value), { ...options(), colors: this.useColors });
    };
    // What the formatters did not see (arguments past the format string) is redacted as text.
    debug.log = (...args: unknown[]) => {
      process.stderr.write(redactText(formatWithOptions(options(), ...args).replace(REDIS_AUTH, `$1(${REDACTED})`)) + "\n");
    };
    installed++;
  }
  return installed;
}
