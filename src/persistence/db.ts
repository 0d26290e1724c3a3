// The database client: Postgres through postgres-js, or embedded PGlite when no URL is given.
// Both expose the same Drizzle query API; migrations from drizzle/ are applied at open.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly kind: "postgres" | "pglite";
  /** True when a trivial query answers within `pingTimeoutMs`; never throws. */
  ping(): Promise<boolean>;
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
  /** close() waits this long for running queries, then cuts the connections. @default 5_000 */
  closeTimeoutMs?: number;
  /** @default the repository's drizzle/ folder */
  migrationsFolder?: string;
}

const DEFAULT_MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
// Any constant works: it only serialises concurrent migrators (several nodes booting at once).
const MIGRATION_LOCK_ID = 0x62756e73;

/** Opens the database and applies pending migrations; throws when it cannot (boot fails fast). */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  const migrationsFolder = options.migrationsFolder ?? DEFAULT_MIGRATIONS;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options, migrationsFolder, pingTimeoutMs)
    : openPglite(options.dataDir, migrationsFolder, pingTimeoutMs);
}

async function openPostgres(url: string, options: OpenOptions, migrationsFolder: string, pingTimeoutMs: number): Promise<Database> {
  const clientOptions = {
    onnotice: () => {},
    connect_timeout: Math.ceil((options.connectTimeoutMs ?? 5_000) / 1000),
    idle_timeout: 60,
    connection: { application_name: "bunsen", statement_timeout: options.statementTimeoutMs ?? 15_000 },
  };
  const migrator = postgres(url, { ...clientOptions, max: 1 });
  try {
    // max: 1 keeps the advisory lock and the migration on the same session.
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(drizzlePostgres(migrator, { schema }), { migrationsFolder });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await migrator.end({ timeout: 1 });
  }
  const client = postgres(url, { ...clientOptions, max: options.poolSize ?? 10 });
  const db: Db = drizzlePostgres(client, { schema });
  return {
    db,
    kind: "postgres",
    ping: () => pingOf(db, pingTimeoutMs),
    close: () => client.end({ timeout: (options.closeTimeoutMs ?? 5_000) / 1000 }),
  };
}

async function openPglite(dataDir: string, migrationsFolder: string, pingTimeoutMs: number): Promise<Database> {
  const client = await PGlite.create(dataDir.startsWith("memory://") ? dataDir : join(dataDir, "pglite"));
  const pglite = drizzlePglite(client, { schema });
  await migratePglite(pglite, { migrationsFolder });
  const db: Db = pglite;
  return {
    db,
    kind: "pglite",
    ping: () => pingOf(db, pingTimeoutMs),
    async close() {
      if (!client.closed) await client.close();
    },
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
