// The spool on a temp dir against a real Postgres: a "crash" is a Spool dropped without close(),
// its unanswered callbacks never called — exactly what a kill -9 leaves behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { configureLog } from "../../src/log.ts";
import { openDatabase, type Database } from "../../src/persistence/db.ts";
import { insertMessages } from "../../src/persistence/queries.ts";
import { messages, type NewMessage } from "../../src/persistence/schema.ts";
import { Spool } from "../../src/persistence/spool.ts";
import { Writer, type WriteResult, type WriterOptions } from "../../src/persistence/writer.ts";
import { createTestDatabase } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

configureLog(process.env.TEST_LOG === "1" ? "debug" : "silent");

const OPTIONS: WriterOptions = { batchSize: 500, flushEveryMs: 5, maxQueue: 100_000, maxRetries: 5, retryBaseMs: 5 };
const OK: WriteResult = { ok: true };
const FAILED: WriteResult = { ok: false, error: { code: "persist_failed", message: "test" } };

let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let database: Database;
beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await openDatabase({ databaseUrl: testDb.url, dataDir: "" });
});
afterAll(async () => {
  await database.close();
  await testDb[Symbol.asyncDispose]();
});

function tempDir(): { dir: string } & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "bunsen-spool-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

function rowsFor(roomId: string, n: number): NewMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: Bun.randomUUIDv7(), roomId, senderId: `u${i % 3}`, tenantId: null, body: `hello ${i}`, tempId: `t${i}`, createdAt: new Date(),
  }));
}

async function idsIn(roomId: string): Promise<string[]> {
  const rows = await database.db.select({ id: messages.id }).from(messages).where(eq(messages.roomId, roomId));
  return rows.map((r) => r.id).sort();
}

/** Journals rows the way Writer.enqueue does, returning the callbacks the queue would call. */
function journal(spool: Spool, rows: NewMessage[]): ((result: WriteResult) => void)[] {
  return rows.map((row) => spool.track(row, () => {}));
}

describe("Spool", () => {
  test("a restart stores every message journaled but not answered, each once; failed ones are not revived", async () => {
    using tmp = tempDir();
    const rows = rowsFor("r-replay", 100);
    const crashed = new Spool({ dir: tmp.dir, fsyncEveryMs: 1 });
    const answers = journal(crashed, rows);
    // 0..39 were stored before the crash, 40..49 answered "failed" to their sender, the rest unanswered.
    await insertMessages(database.db, rows.slice(0, 40));
    for (let i = 0; i < 40; i++) answers[i]!(OK);
    for (let i = 40; i < 50; i++) answers[i]!(FAILED);
    await crashed.flush();

    const spool = new Spool({ dir: tmp.dir });
    await using writer = new Writer(database.db, { ...OPTIONS, spool });
    const { replayed, settled } = spool.replay(writer);
    expect(replayed).toBe(90); // success is not journaled: the 40 stored ones replay as no-ops
    await settled;
    const expected = [...rows.slice(0, 40), ...rows.slice(50)].map((r) => r.id).sort();
    expect(await idsIn("r-replay")).toEqual(expected);
    const [row] = await database.db.select().from(messages).where(eq(messages.id, rows[60]!.id));
    expect(row).toMatchObject({ body: "hello 60", tempId: "t60", senderId: "u0" });
    expect(row!.createdAt.getTime()).toBe(rows[60]!.createdAt!.getTime());
    await spool.close();
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  test("a torn last line (a kill mid-write) is skipped; the lines before it replay", async () => {
    using tmp = tempDir();
    const rows = rowsFor("r-torn", 20);
    const crashed = new Spool({ dir: tmp.dir, fsyncEveryMs: 1 });
    journal(crashed, rows);
    await crashed.flush();
    const [segment] = readdirSync(tmp.dir);
    appendFileSync(join(tmp.dir, segment!), `{"m":{"id":"${Bun.randomUUIDv7()}","roomId":"r-torn","sender`);

    const spool = new Spool({ dir: tmp.dir });
    await using writer = new Writer(database.db, { ...OPTIONS, spool });
    const { replayed, settled } = spool.replay(writer);
    expect(replayed).toBe(20);
    await settled;
    expect(await idsIn("r-torn")).toEqual(rows.map((r) => r.id).sort());
    await spool.close();
  });

  test("sealed segments are deleted once every message in them is answered, oldest first", async () => {
    using tmp = tempDir();
    const spool = new Spool({ dir: tmp.dir, fsyncEveryMs: 1, segmentBytes: 2_000 });
    const early = journal(spool, rowsFor("r-rot", 20)); // ~5 KB: several 2 KB segments
    const late = journal(spool, rowsFor("r-rot", 20));
    await spool.flush();
    const segments = readdirSync(tmp.dir).length;
    expect(segments).toBeGreaterThan(3);
    for (const answer of late) answer(OK);
    // The later segments are fully answered, but the oldest still hold unanswered messages.
    expect(readdirSync(tmp.dir).length).toBe(segments);
    for (const answer of early) answer(OK);
    // Every sealed segment is gone; the current one takes the next lines until close().
    expect(readdirSync(tmp.dir).length).toBe(1);
    expect(spool.stats()).toMatchObject({ pending: 0 });
    await spool.close();
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  test("with the Writer: stored messages leave an empty spool after close", async () => {
    using tmp = tempDir();
    const spool = new Spool({ dir: tmp.dir, fsyncEveryMs: 2, segmentBytes: 8_000 });
    const writer = new Writer(database.db, { ...OPTIONS, spool });
    const rows = rowsFor("r-live", 300);
    const results: WriteResult[] = [];
    for (const row of rows) writer.enqueue({ kind: "message", row }, (r) => results.push(r));
    writer.enqueue({ kind: "presence", row: { userId: "u-spool", lastSeen: new Date() } }, () => {});
    await writer.close();
    expect(results.length).toBe(300);
    expect(results.every((r) => r.ok)).toBe(true);
    await spool.close();
    expect(readdirSync(tmp.dir)).toEqual([]);
    expect(await idsIn("r-live")).toHaveLength(300);
  });

  test("a replay that meets a database outage keeps its segments and retries until the database is back", async () => {
    using tmp = tempDir();
    const rows = rowsFor("r-outage", 50);
    const crashed = new Spool({ dir: tmp.dir, fsyncEveryMs: 1 });
    journal(crashed, rows);
    await crashed.flush();

    await using proxy = startTcpProxy({ hostname: new URL(testDb.url).hostname, port: Number(new URL(testDb.url).port || 5432) });
    const url = new URL(testDb.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const viaProxy = await openDatabase({ databaseUrl: url.toString(), dataDir: "", connectTimeoutMs: 1_000 });
    try {
      proxy.setMode("reset");
      const spool = new Spool({ dir: tmp.dir, replayRetryMs: 20 });
      await using writer = new Writer(viaProxy.db, { ...OPTIONS, spool, maxRetries: 0 });
      const { settled } = spool.replay(writer);
      // A second crash during the outage: a third process would still find all 50.
      await until(() => writer.stats().failed >= 50);
      expect(new Spool({ dir: tmp.dir }).stats().pending).toBe(50);
      expect(readdirSync(tmp.dir).length).toBeGreaterThan(0);
      proxy.setMode("up");
      await settled;
      expect(await idsIn("r-outage")).toEqual(rows.map((r) => r.id).sort());
      await spool.close();
      expect(readdirSync(tmp.dir)).toEqual([]);
    } finally {
      await viaProxy.close();
    }
  });
});

/** For conditions that raise no event; bounded by a deadline. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await Bun.sleep(5);
  }
}
