#!/usr/bin/env bun
// The `bunsen` command: `bunsen` (or `bunsen start`, or `npm start`) runs the ready server;
// `bunsen token` prints a token the running configuration accepts; `bunsen check-config` validates
// the environment; `--help` and `--version`. Composition root of the ready server: config → data
// folder lock → port check → createApp() → listen → banner → SIGTERM/SIGINT → graceful shutdown.
import { resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { isCompiled } from "./assets.ts";
import { issueToken } from "./auth/jwt.ts";
import { ConfigError, DEFAULTS, loadConfig, type Config } from "./config.ts";
import { configureLog, log, redactDebugOutput, type LogFormat } from "./log.ts";
import { DatabaseError, redactUrl } from "./persistence/db.ts";
import { DataDirLockedError, lockDataDir } from "./persistence/lock.ts";

const HELP = `Bunsen ${pkg.version}: a Socket.IO-compatible real-time server on Bun

Usage:
  bunsen [start]                       run the server (configured by environment variables)
  bunsen token --sub <user> [options]  print a token this configuration accepts
      --tenant <id>                    tenant claim (tenant_id)
      --role <role>                    role claim (repeatable; admin opens /dashboard and the admin API)
      --name <display name>            name claim
      --ttl <duration>                 lifetime, e.g. 30m, 12h, 7d (default 24h)
  bunsen check-config                  validate the environment and print the effective settings
  bunsen --help | --version

Without any environment the server listens on port ${DEFAULTS.PORT}, keeps its data in ${DEFAULTS.DATA_DIR}
(an embedded PostgreSQL), and accepts unsigned development tokens. Every variable is described in
the README ("Configuration"); the main ones: PORT, DATABASE_URL, REDIS_URL, JWT_SECRET, API_KEY.
`;

/** Runs one command; resolves with the exit code for the short commands, never for `start`. */
export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  const args = [...argv];
  if (args.includes("--help") || args.includes("-h") || args[0] === "help") return print(HELP, 0);
  if (args.includes("--version") || args.includes("-v")) return print(`${pkg.version}\n`, 0);
  const command = args[0] === undefined || args[0].startsWith("-") ? "start" : args.shift()!;
  switch (command) {
    case "start":
      if (args.length > 0) return print(`bunsen start takes no arguments (got ${args.join(" ")}); see bunsen --help\n`, 2, true);
      await start();
      return undefined;
    case "token":
      return token(args);
    case "check-config":
      return checkConfig();
    default:
      return print(`unknown command "${command}"; see bunsen --help\n`, 2, true);
  }
}

function print(text: string, code: number, isError = false): number {
  (isError ? process.stderr : process.stdout).write(text);
  return code;
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.message + "\n");
    process.exit(1);
  }
}

async function start(): Promise<void> {
  const config = configOrExit();
  const format: LogFormat = config.logFormat === "auto" ? (process.stderr.isTTY ? "text" : "json") : config.logFormat;
  configureLog(config.logLevel, undefined, format);
  redactDebugOutput();
  for (const warning of config.warnings) log.warn?.(`unsafe configuration: ${warning}`);
  const fail = (message: string): never => {
    if (format === "json") log.error?.(message);
    else process.stderr.write(`bunsen: ${message}\n`);
    process.exit(1);
  };

  // The data folder is locked and the port checked before the database and the spool are opened, so
  // a second server started by mistake leaves the first one's files alone.
  const isMemory = config.persistence.dataDir.startsWith("memory://");
  let dataDir = config.persistence.dataDir;
  let lock: { release(): void } | undefined;
  try {
    if (!isMemory) {
      const held = lockDataDir(dataDir);
      dataDir = held.dir;
      lock = held;
    }
  } catch (err) {
    if (err instanceof DataDirLockedError) fail(err.message);
    fail(`cannot create the data folder ${resolve(dataDir)} (${(err as Error).message}): set DATA_DIR to a folder this user can write`);
  }
  if (config.port !== 0) {
    const problem = portProblem(config.port, config.host);
    if (problem) fail(problem);
  }

  const { createApp } = await import("./app.ts");
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    app = await createApp({ ...config, persistence: { ...config.persistence, dataDir } });
  } catch (err) {
    if (err instanceof DatabaseError) fail(err.message);
    throw err;
  }
  let server;
  try {
    server = app.io.listen({ port: config.port, hostname: config.host }, app.fetch);
  } catch (err) {
    await app.close();
    fail(`cannot listen on ${config.host}:${config.port} (${(err as Error).message}): set PORT (or HOST) to a free one`);
  }
  const banner = bannerOf(config, server!.port!, dataDir, app.database.kind);
  // A terminal gets the banner; a collector gets the same facts as one JSON line.
  if (format === "json") log.info?.("listening", banner.fields);
  else if (log.info) process.stderr.write(banner.text);

  let isStopping = false;
  const shutdown = async (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    log.info?.("shutting down", { signal });
    await app.close();
    lock?.release();
    log.info?.("stopped", { signal });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

// Bun.serve binds synchronously: a port that is taken fails here, before anything is opened.
function portProblem(port: number, hostname: string): string | undefined {
  try {
    const probe = Bun.serve({ port, hostname, fetch: () => new Response(null, { status: 503 }) });
    void probe.stop(true);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EADDRINUSE"
      ? `port ${port} on ${hostname} is already in use (another server listens there): stop it, or set PORT to a free port`
      : `cannot listen on ${hostname}:${port} (${(err as Error).message}): set PORT (or HOST) to one this user may bind`;
  }
}

const TOKEN_COMMAND = isCompiled ? `${process.argv0.split("/").pop()} token --sub alice` : "npm run token -- --sub alice";

function bannerOf(config: Config, port: number, dataDir: string, database: "postgres" | "pglite") {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host.includes(":") ? `[${config.host}]` : config.host;
  const base = `http://${host}:${port}`;
  const urls = { socket: `${base}${config.path}`, demo: `${base}/demo`, dashboard: `${base}/dashboard`, metrics: `${base}/metrics`, health: `${base}/readyz` };
  const databaseText = database === "pglite"
    ? `embedded PostgreSQL (PGlite) in ${resolve(dataDir, "pglite")}`
    : `PostgreSQL at ${redactUrl(config.persistence.databaseUrl!)}`;
  const authText = config.auth.mode === "development"
    ? `development: tokens are NOT verified; get one with \`${TOKEN_COMMAND}\` (any unsigned JWT with a sub works)`
    : `JWT (${config.auth.algorithms.join(", ")})${config.auth.secret ? `; get a token with \`${TOKEN_COMMAND}\`` : ""}`;
  const fields = {
    port, host: config.host, url: base, urls, dataDir, database, auth: config.auth.mode, nodeId: config.nodeId, path: config.path,
    redis: config.redisUrl === undefined ? undefined : redactUrl(config.redisUrl),
    ...(config.auth.mode === "development" ? { tokenHint: TOKEN_COMMAND } : {}),
  };
  const text = [
    ``,
    `  Bunsen ${pkg.version} is listening on ${base}`,
    ``,
    `  Socket.IO   ${urls.socket}   namespaces ${config.namespaces.join(" ")}`,
    `  Demo        ${urls.demo}`,
    `  Dashboard   ${urls.dashboard}   (admin role)`,
    `  Metrics     ${urls.metrics}   health ${urls.health}`,
    `  Database    ${databaseText}`,
    `  Data        ${dataDir}`,
    `  Redis       ${config.redisUrl === undefined ? "off (one node)" : redactUrl(config.redisUrl)}`,
    `  Auth        ${authText}`,
    ``,
    ``,
  ].join("\n");
  return { fields, text };
}

interface TokenArgs {
  sub?: string;
  tenant?: string;
  name?: string;
  ttl: string;
  roles: string[];
}

function parseTokenArgs(args: string[]): TokenArgs | string {
  const parsed: TokenArgs = { ttl: "24h", roles: [] };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const [name, inline] = flag.includes("=") ? [flag.slice(0, flag.indexOf("=")), flag.slice(flag.indexOf("=") + 1)] : [flag, undefined];
    const value = inline ?? args[++i];
    if (value === undefined || value === "") return `${name} needs a value`;
    switch (name) {
      case "--sub": case "--user": parsed.sub = value; break;
      case "--tenant": parsed.tenant = value; break;
      case "--name": parsed.name = value; break;
      case "--role": parsed.roles.push(value); break;
      case "--ttl":
        if (!/^\d+\s*(s|m|h|d|w)$/.test(value)) return `--ttl expects a duration such as 30m, 12h or 7d, got "${value}"`;
        parsed.ttl = value;
        break;
      default: return `unknown option ${name}`;
    }
  }
  return parsed.sub === undefined ? "--sub <user id> is required" : parsed;
}

async function token(args: string[]): Promise<number> {
  const parsed = parseTokenArgs(args);
  if (typeof parsed === "string") return print(`bunsen token: ${parsed}; see bunsen --help\n`, 2, true);
  const config = configOrExit();
  const claims: Record<string, unknown> = { sub: parsed.sub };
  if (parsed.tenant !== undefined) claims[config.auth.tenantIdClaims[0] ?? "tenant_id"] = parsed.tenant;
  if (parsed.name !== undefined) claims.name = parsed.name;
  if (parsed.roles.length === 1) claims.role = parsed.roles[0];
  if (parsed.roles.length > 1) claims.roles = parsed.roles;
  try {
    return print(`${await issueToken(config.auth, claims, parsed.ttl)}\n`, 0);
  } catch (err) {
    return print(`bunsen token: ${(err as Error).message}\n`, 1, true);
  }
}

function checkConfig(): number {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return print(err.message + "\n", 1, true);
  }
  const p = config.persistence;
  const lines = [
    "configuration is valid",
    `  listen      ${config.host}:${config.port}${config.path}`,
    `  environment ${config.nodeEnv}`,
    `  database    ${p.databaseUrl ? `PostgreSQL at ${redactUrl(p.databaseUrl)}` : `embedded PostgreSQL (PGlite) in ${resolve(p.dataDir, "pglite")}`}`,
    `  data        ${p.dataDir.startsWith("memory://") ? p.dataDir : resolve(p.dataDir)} (spool ${p.spoolEnabled ? "on" : "off"})`,
    `  redis       ${config.redisUrl ? redactUrl(config.redisUrl) : "off (one node)"}`,
    `  auth        ${config.auth.mode === "development" ? "development (tokens are not verified)" : `jwt ${config.auth.algorithms.join(",")}`}`,
    `  http api    ${config.apiKey ? "API key or admin token" : "admin token"}`,
    `  rate limit  ${config.limits.rateLimitEvents > 0 ? `${config.limits.rateLimitEvents} events per ${config.limits.rateLimitWindowMs} ms per socket` : "off"}`,
    `  namespaces  ${config.namespaces.join(" ")}`,
    "",
  ];
  return print(lines.join("\n"), 0);
}

if (import.meta.main || Bun.main === import.meta.path) {
  const code = await runCli(Bun.argv.slice(2));
  if (code !== undefined) process.exit(code);
}
