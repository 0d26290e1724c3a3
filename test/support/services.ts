// Real Postgres and Redis for tests. CI (.ci/run) sets DATABASE_URL and REDIS_URL; locally the
// machine's defaults are used. Each test file that needs Postgres gets its own throwaway database.
import postgres from "postgres";

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
