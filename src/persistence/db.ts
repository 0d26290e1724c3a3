// The database client: Postgres through postgres-js, or embedded PGlite when no URL is given.
// Both expose the same Drizzle query API; migrations from drizzle/ are applied at open.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { isCompiled, packageFile, projectFile } from "../assets.ts";
import { log } from "../log.ts";
import * as schema from "./schema.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly kind: "postgres" | "pglite";
  /**
   * Settles once the migrations are applied. Postgres unreachable at boot (an outage, a node restarted
   * while the database is down) does not stop the server: migrations are retried in the background and
   * this settles when they succeed. Never rejects.
   */
  readonly ready: Promise<void>;
  /** True once `ready` has settled. */
  isReady(): boolean;
  /** True when migrated and a trivial query answers within `pingTimeoutMs`; never throws. */
  ping(): Promise<boolean>;
  /**
   * Runs one request-path query with a client-side deadline (`queryTimeoutMs`): in a network partition
   * the server's statement_timeout never arrives, so without it a socket event or an HTTP call would
   * await forever. Rejects with QueryTimeoutError on expiry; the query itself may still finish later.
   */
  query<T>(run: (db: Db) => PromiseLike<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; unset opens PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** PGlite's parent directory; `memory://` keeps PGlite in memory. */
  dataDir: string;
  /** @default 10 */
  poolSize?: number;
  /** @default 5_000 */
  connectTimeoutMs?: number;
  /** Server-side cap on one statement, so a stuck database fails the query instead of hanging it. @default 15_000 */
  statementTimeoutMs?: number;
  /** @default 2_000 */
  pingTimeoutMs?: number;
  /** Deadline of `query()`. @default 3_000 */
  queryTimeoutMs?: number;
  /** close() waits this long for running queries, then cuts the connections. @default 5_000 */
  closeTimeoutMs?: number;
  /** @default the repository's drizzle/ folder */
  migrationsFolder?: string;
}

const DEFAULT_MIGRATIONS = dirname(dirname(projectFile("drizzle/meta/_journal.json")));
// Any constant works: it only serialises concurrent migrators (several nodes booting at once).
const MIGRATION_LOCK_ID = 0x62756e73;

/**
 * A database that cannot be used as configured (bad credentials, no such database, a folder that cannot
 * be written): the message names the setting and what to check, for the operator at boot.
 */
export class DatabaseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

/** A request-path query that got no answer within its deadline (a partition, a stuck pool). */
export class QueryTimeoutError extends Error {
  readonly code = "QUERY_TIMEOUT";
  constructor(timeoutMs: number) {
    super(`the database did not answer within ${timeoutMs} ms`);
    this.name = "QueryTimeoutError";
  }
}

/** `promise`, or a QueryTimeoutError after `timeoutMs`. */
export async function withDeadline<T>(promise: PromiseLike<T>, timeoutMs: number): Promise<T> {
  let timer: Timer | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new QueryTimeoutError(timeoutMs)), timeoutMs)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens the database and applies pending migrations. Throws DatabaseError when the configuration
 * cannot work; a Postgres that is only unreachable yields a Database whose `ready` settles later.
 */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  const migrationsFolder = options.migrationsFolder ?? DEFAULT_MIGRATIONS;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 3_000;
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options, migrationsFolder, pingTimeoutMs, queryTimeoutMs)
    : openPglite(options.dataDir, migrationsFolder, pingTimeoutMs, queryTimeoutMs);
}

async function openPostgres(url: string, options: OpenOptions, migrationsFolder: string, pingTimeoutMs: number, queryTimeoutMs: number): Promise<Database> {
  const clientOptions = {
    onnotice: () => {},
    connect_timeout: Math.ceil((options.connectTimeoutMs ?? 5_000) / 1000),
    idle_timeout: 60,
    connection: { application_name: "bunsen", statement_timeout: options.statementTimeoutMs ?? 15_000 },
  };
  const migrate = async () => {
    const migrator = postgres(url, { ...clientOptions, max: 1 });
    try {
      // max: 1 keeps the advisory lock and the migration on the same session.
      await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migratePostgres(drizzlePostgres(migrator, { schema }), { migrationsFolder });
      await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    } finally {
      await migrator.end({ timeout: 1 });
    }
  };
  let isMigrated = false;
  let isClosed = false;
  let ready: Promise<void>;
  try {
    await migrate();
    isMigrated = true;
    ready = Promise.resolve();
  } catch (error) {
    if (!isUnreachable(error)) throw new DatabaseError(describePostgresError(url, error), { cause: error });
    log.warn?.("database unreachable at start: serving without it, retrying the migrations in the background", {
      hint: describePostgresError(url, error),
    });
    ready = (async () => {
      for (let attempt = 0; !isClosed; attempt++) {
        await Bun.sleep(Math.min(5_000, 250 * 2 ** attempt));
        try {
          if (isClosed) return;
          await migrate();
          isMigrated = true;
          log.info?.("database reachable: migrations applied", { attempts: attempt + 2 });
          return;
        } catch (retryError) {
          if (attempt % 10 === 0) log.warn?.("database still unreachable", { hint: describePostgresError(url, retryError) });
        }
      }
    })();
  }
  const client = postgres(url, { ...clientOptions, max: options.poolSize ?? 10 });
  const db: Db = drizzlePostgres(client, { schema });
  return {
    db,
    kind: "postgres",
    ready,
    isReady: () => isMigrated,
    ping: async () => isMigrated && pingOf(db, pingTimeoutMs),
    query: (run) => withDeadline(run(db), queryTimeoutMs),
    close: () => {
      isClosed = true;
      return client.end({ timeout: (options.closeTimeoutMs ?? 5_000) / 1000 });
    },
  };
}

// Connection-level failures an outage causes; everything else (authentication, a missing database,
// a refused migration) is a configuration problem that retrying cannot fix.
function isUnreachable(error: unknown): boolean {
  const code = rootCode(error);
  if (code === undefined) return false;
  return ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "CONNECT_TIMEOUT", "CONNECTION_CLOSED",
    "CONNECTION_ENDED", "CONNECTION_DESTROYED", "57P03"].includes(code) || code.startsWith("08");
}

function rootCode(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const code = (current as { code?: unknown } | null)?.code;
    if (typeof code === "string") return code;
    if (!(current instanceof Error) || current.cause === undefined) return undefined;
    current = current.cause;
  }
  return undefined;
}

/** What went wrong with DATABASE_URL and what to check, with the password masked. */
export function describePostgresError(url: string, error: unknown): string {
  const where = redactUrl(url);
  const code = rootCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const hint =
    code === "28P01" || code === "28000" ? "check the user name and password in it"
    : code === "3D000" ? "the database does not exist: create it (createdb) or fix its name in the URL"
    : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "the host name does not resolve: check the host in it"
    : code === "ECONNREFUSED" ? "nothing listens there: check that PostgreSQL is running and the host and port are right"
    : code === "CONNECT_TIMEOUT" || code === "ETIMEDOUT" ? "no answer: check the host, the port and any firewall in between"
    : "check that PostgreSQL is running and reachable with these settings";
  return `cannot use the database at DATABASE_URL=${where} (${code ?? "error"}: ${detail}): ${hint}; unset DATABASE_URL to use the embedded database`;
}

/** A postgres:// URL with its password replaced by `***`, for logs. */
export function redactUrl(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed) return "<not a URL>";
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

async function openPglite(dataDir: string, migrationsFolder: string, pingTimeoutMs: number, queryTimeoutMs: number): Promise<Database> {
  const isMemory = dataDir.startsWith("memory://");
  const folder = isMemory ? dataDir : join(resolve(dataDir), "pglite");
  let client: PGlite;
  try {
    if (!isMemory) mkdirSync(folder, { recursive: true });
    client = await PGlite.create(folder, await pgliteAssets());
    await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new DatabaseError(
      `cannot open the embedded database in ${folder} (${detail}): check that DATA_DIR is a folder this user can write, ` +
        "or set DATABASE_URL to use PostgreSQL",
      { cause: error },
    );
  }
  const db: Db = drizzlePglite(client, { schema });
  return {
    db,
    kind: "pglite",
    ready: Promise.resolve(),
    isReady: () => true,
    ping: () => pingOf(db, pingTimeoutMs),
    query: (run) => withDeadline(run(db), queryTimeoutMs),
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

// PGlite finds its WebAssembly and data files next to its own module; inside the single-file
// executable that is the embedded file system, so they are handed over from where they were embedded.
async function pgliteAssets(): Promise<{ pgliteWasmModule?: WebAssembly.Module; initdbWasmModule?: WebAssembly.Module; fsBundle?: Blob }> {
  if (!isCompiled) return {};
  const file = (name: string) => {
    const path = packageFile("@electric-sql/pglite", `dist/${name}`);
    if (path === undefined) throw new Error(`${name} is not embedded in this executable`);
    return Bun.file(path);
  };
  return {
    pgliteWasmModule: await WebAssembly.compile(await file("pglite.wasm").arrayBuffer()),
    initdbWasmModule: await WebAssembly.compile(await file("initdb.wasm").arrayBuffer()),
    fsBundle: file("pglite.data"),
  };
}

async function pingOf(db: Db, timeoutMs: number): Promise<boolean> {
  const timeout = Promise.withResolvers<boolean>();
  const timer = setTimeout(() => timeout.resolve(false), timeoutMs);
  const answer = db.execute(sql`select 1`).then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answer, timeout.promise]);
  } finally {
    clearTimeout(timer);
  }
}
