// Real Postgres and Redis for tests. CI (.ci/run) sets DATABASE_URL and REDIS_URL; locally the
// machine's defaults are used. Each test file that needs Postgres gets its own throwaway database.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { openDatabase, type Database } from "../../src/persistence/db.ts";

export const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Creates an empty database for one test file; dispose drops it. */
export async function createTestDatabase(): Promise<{ url: string } & AsyncDisposable> {
  const name = `bunsen_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async [Symbol.asyncDispose]() {
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await sql.end();
    },
  };
}

/**
 * Both database backends the ready server supports, each opened and migrated for one test file:
 * a throwaway Postgres database, or PGlite in a temp dir. Dispose closes and removes it.
 */
export const DATABASE_BACKENDS = {
  postgres: async (): Promise<{ database: Database } & AsyncDisposable> => {
    const test = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: test.url, dataDir: "" });
    return { database, async [Symbol.asyncDispose]() { await database.close(); await test[Symbol.asyncDispose](); } };
  },
  pglite: async (): Promise<{ database: Database } & AsyncDisposable> => {
    const dir = await mkdtemp(join(tmpdir(), "bunsen-pglite-"));
    const database = await openDatabase({ dataDir: dir });
    return { database, async [Symbol.asyncDispose]() { await database.close(); await rm(dir, { recursive: true, force: true }); } };
  },
};
export type DatabaseBackend = keyof typeof DATABASE_BACKENDS;
