// Throwaway Postgres databases for the chat scenario and the writer bench: CREATE DATABASE on the
// admin URL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), DROP … WITH (FORCE)
// after. Names carry the pid so concurrent runs by other engineers never collide.
import postgres from "postgres";

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export type ThrowawayDb = { url: string; name: string; drop(): Promise<void> };

let seq = 0;

export async function createThrowawayDb(tag: string): Promise<ThrowawayDb> {
  const name = `bench_${tag}_${process.pid}_${Date.now().toString(36)}_${seq++}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let isDropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (isDropped) return;
      isDropped = true;
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 1 });
      }
    },
  };
}

/** Rows in `messages` of a database (the chat scenario's persisted count). */
export async function countMessages(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select count(*)::int as n from messages`;
    return (row as { n: number }).n;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
