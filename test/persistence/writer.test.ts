import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { count, eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { configureLog } from "../../src/log.ts";
import { openDatabase, type Database } from "../../src/persistence/db.ts";
import { messageReceipts, messages, presence } from "../../src/persistence/schema.ts";
import { Writer, isTransient, type WriteOp, type WriteResult, type WriterOptions } from "../../src/persistence/writer.ts";
import { createTestDatabase, DATABASE_BACKENDS, type DatabaseBackend } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

configureLog(process.env.TEST_LOG === "1" ? "debug" : "silent");

const OPTIONS: WriterOptions = { batchSize: 500, flushEveryMs: 5, maxQueue: 100_000, maxRetries: 5, retryBaseMs: 5 };

function messageOp(roomId: string, i: number, id: string = Bun.randomUUIDv7()): WriteOp {
  return { kind: "message", row: { id, roomId, senderId: `u${i % 7}`, body: `hello ${i}`, tempId: `t${i}` } };
}

/** Enqueues ops and records every onResult call, so a test can assert each op was answered exactly once. */
function enqueueAll(writer: Writer, ops: WriteOp[]) {
  const calls = ops.map(() => [] as WriteResult[]);
  let answered = 0;
  const done = Promise.withResolvers<void>();
  ops.forEach((op, i) =>
    writer.enqueue(op, (result) => {
      calls[i]!.push(result);
      if (++answered === ops.length) done.resolve();
    }),
  );
  return {
    calls,
    done: done.promise.then(() => calls.map((c) => c[0]!)),
    codes: () => calls.map((c) => (c[0]?.ok ? "ok" : c[0]?.error.code)),
  };
}

async function rowCount(database: Database, roomId: string): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(messages).where(eq(messages.roomId, roomId));
  return row?.n ?? 0;
}

/** For conditions that raise no event; bounded by a deadline. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await Bun.sleep(5);
  }
}

describe.each(Object.keys(DATABASE_BACKENDS) as DatabaseBackend[])("Writer on %s", (kind) => {
  let handle: Awaited<ReturnType<(typeof DATABASE_BACKENDS)[typeof kind]>>;
  let database: Database;
  beforeAll(async () => {
    handle = await DATABASE_BACKENDS[kind]();
    database = handle.database;
  });
  afterAll(() => handle[Symbol.asyncDispose]());

  test("holds ops until the database is ready, then stores them; a flush deadline before that fails them once", async () => {
    const ready = Promise.withResolvers<void>();
    const writer = new Writer(database.db, { ...OPTIONS, ready: ready.promise });
    const roomId = `ready-${Bun.randomUUIDv7()}`;
    const held = enqueueAll(writer, Array.from({ length: 20 }, (_, i) => messageOp(roomId, i)));
    await Bun.sleep(100);
    expect(held.calls.every((c) => c.length === 0)).toBe(true);
    expect(await rowCount(database, roomId)).toBe(0);
    ready.resolve();
    expect((await held.done).every((r) => r.ok)).toBe(true);
    expect(await rowCount(database, roomId)).toBe(20);

    const never = new Writer(database.db, { ...OPTIONS, ready: new Promise<void>(() => {}), flushTimeoutMs: 200 });
    const stuck = enqueueAll(never, [messageOp(roomId, 99)]);
    await never.close();
    expect(stuck.codes()).toEqual(["persist_failed"]);
    expect(stuck.calls[0]).toHaveLength(1);
  });

  test("applies the migrations at open", async () => {
    expect(database.kind).toBe(kind);
    expect(await database.ping()).toBe(true);
    const result: unknown = await database.db.execute(
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    // postgres-js answers an array of rows, PGlite a { rows } object.
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { table_name: string }[];
    const names = rows.map((row) => row.table_name);
    expect(names).toEqual(["conversation_participants", "conversations", "message_receipts", "messages", "notifications", "presence"]);
  });

  test("persists 5,000 messages in batches and answers each op exactly once", async () => {
    await using writer = new Writer(database.db, OPTIONS);
    const ops = Array.from({ length: 5_000 }, (_, i) => messageOp("bulk", i));
    const started = performance.now();
    const tracked = enqueueAll(writer, ops);
    const results = await tracked.done;
    const elapsedMs = performance.now() - started;
    console.log(JSON.stringify({ backend: kind, rows: ops.length, elapsedMs: Math.round(elapsedMs), rowsPerSecond: Math.round(ops.length / (elapsedMs / 1000)) }));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(tracked.calls.every((c) => c.length === 1)).toBe(true);
    expect(writer.stats()).toEqual({ depth: 0, inFlight: 0, persisted: 5_000, failed: 0, retries: 0 });
    expect(await rowCount(database, "bulk")).toBe(5_000);
  });

  test("stores a replayed id once, within a batch and across batches", async () => {
    await using writer = new Writer(database.db, OPTIONS);
    const ids = Array.from({ length: 20 }, () => Bun.randomUUIDv7());
    const first = enqueueAll(writer, [...ids, ...ids].map((id, i) => messageOp("replay", i, id)));
    expect((await first.done).every((r) => r.ok)).toBe(true);
    const again = enqueueAll(writer, ids.map((id, i) => messageOp("replay", i, id)));
    expect((await again.done).every((r) => r.ok)).toBe(true);
    expect(await rowCount(database, "replay")).toBe(20);
  });

  test("answers queue_full synchronously once maxQueue ops wait, and never drops silently", async () => {
    await using writer = new Writer(database.db, { ...OPTIONS, maxQueue: 10 });
    const tracked = enqueueAll(writer, Array.from({ length: 15 }, (_, i) => messageOp("full", i)));
    expect(tracked.calls.slice(10).map((c) => c.map((r) => !r.ok && r.error.code))).toEqual(Array(5).fill(["queue_full"]));
    expect(writer.stats()).toMatchObject({ depth: 10, failed: 5 });
    await tracked.done;
    expect(tracked.codes()).toEqual([...Array(10).fill("ok"), ...Array(5).fill("queue_full")]);
    expect(tracked.calls.every((c) => c.length === 1)).toBe(true);
  });

  test("isolates a bad row: it alone fails with persist_rejected, the rest of the batch is stored", async () => {
    await using writer = new Writer(database.db, OPTIONS);
    const ops = Array.from({ length: 40 }, (_, i) => messageOp("bad", i));
    ops[17] = messageOp("bad", 17, "not-a-uuid");
    const tracked = enqueueAll(writer, ops);
    await tracked.done;
    expect(tracked.codes().filter((c) => c !== "ok")).toEqual(["persist_rejected"]);
    expect(tracked.codes()[17]).toBe("persist_rejected");
    expect(await rowCount(database, "bad")).toBe(39);
  });

  test("flushes receipts and presence as their own statements, merging duplicates in a batch", async () => {
    await using writer = new Writer(database.db, OPTIONS);
    const messageId = Bun.randomUUIDv7();
    const t1 = new Date("2025-01-01T00:00:01Z");
    const t2 = new Date("2025-01-01T00:00:02Z");
    const tracked = enqueueAll(writer, [
      messageOp("receipts", 0, messageId),
      { kind: "receipt", row: { messageId, userId: "bob", deliveredAt: t1 } },
      { kind: "receipt", row: { messageId, userId: "bob", readAt: t2 } },
      { kind: "receipt", row: { messageId, userId: "carol", readAt: t2 } },
      { kind: "presence", row: { userId: "bob", lastSeen: t1 } },
      { kind: "presence", row: { userId: "bob", lastSeen: t2 } },
    ]);
    await tracked.done;
    expect(tracked.codes()).toEqual(Array(6).fill("ok"));
    const receipts = await database.db.select().from(messageReceipts).where(eq(messageReceipts.messageId, messageId)).orderBy(messageReceipts.userId);
    expect(receipts).toEqual([
      { messageId, userId: "bob", deliveredAt: t1, readAt: t2 },
      { messageId, userId: "carol", deliveredAt: t2, readAt: t2 },
    ]);
    expect(await database.db.select().from(presence).where(eq(presence.userId, "bob"))).toEqual([{ userId: "bob", lastSeen: t2 }]);
  });

  test("flush() drains everything enqueued, even below batch size, before resolving", async () => {
    const writer = new Writer(database.db, { ...OPTIONS, flushEveryMs: 60_000 });
    const tracked = enqueueAll(writer, Array.from({ length: 7 }, (_, i) => messageOp("drain", i)));
    await writer.close();
    expect(tracked.codes()).toEqual(Array(7).fill("ok"));
    expect(writer.enqueue(messageOp("drain", 8), () => {})).toBe(false);
    expect(await rowCount(database, "drain")).toBe(7);
  });
});

describe("Writer against a Postgres that goes away", () => {
  test("fails a batch with persist_failed after maxRetries, then persists the replay once the database is back", async () => {
    await using testDb = await createTestDatabase();
    const url = new URL(testDb.url);
    await using proxy = startTcpProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const database = await openDatabase({ databaseUrl: url.href, dataDir: "", connectTimeoutMs: 1_000 });
    try {
      await using writer = new Writer(database.db, { ...OPTIONS, maxRetries: 3 });
      const ops = Array.from({ length: 50 }, (_, i) => messageOp("down", i));
      proxy.setMode("reset");
      const down = enqueueAll(writer, ops);
      const failed = await down.done;
      expect(failed.map((r) => !r.ok && r.error.code)).toEqual(Array(50).fill("persist_failed"));
      expect(writer.stats()).toMatchObject({ depth: 0, persisted: 0, failed: 50, retries: 3 });

      proxy.setMode("up");
      const back = enqueueAll(writer, ops);
      expect((await back.done).every((r) => r.ok)).toBe(true);
      expect(await rowCount(database, "down")).toBe(50);
    } finally {
      await database.close();
    }
  });

  test("keeps retrying through a short outage and loses nothing", async () => {
    await using testDb = await createTestDatabase();
    const url = new URL(testDb.url);
    await using proxy = startTcpProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const database = await openDatabase({ databaseUrl: url.href, dataDir: "", connectTimeoutMs: 1_000 });
    try {
      await using writer = new Writer(database.db, { ...OPTIONS, maxRetries: 50, retryMaxMs: 50 });
      proxy.setMode("reset");
      const tracked = enqueueAll(writer, Array.from({ length: 30 }, (_, i) => messageOp("blip", i)));
      await until(() => writer.stats().retries >= 2);
      expect(tracked.calls.every((c) => c.length === 0)).toBe(true);
      proxy.setMode("up");
      expect((await tracked.done).every((r) => r.ok)).toBe(true);
      expect(await rowCount(database, "blip")).toBe(30);
    } finally {
      await database.close();
    }
  });
});

describe("Writer against a Postgres that never answers", () => {
  test("bounds each statement, fails with persist_failed, and recovers when the link is back", async () => {
    await using testDb = await createTestDatabase();
    const url = new URL(testDb.url);
    await using proxy = startTcpProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const database = await openDatabase({ databaseUrl: url.href, dataDir: "", connectTimeoutMs: 1_000, pingTimeoutMs: 200 });
    try {
      await using writer = new Writer(database.db, { ...OPTIONS, maxRetries: 1, statementTimeoutMs: 200 });
      proxy.setMode("blackhole");
      const ops = Array.from({ length: 10 }, (_, i) => messageOp("blackhole", i));
      const lost = await enqueueAll(writer, ops).done;
      expect(lost.map((r) => (r.ok ? "ok" : r.error))).toEqual(Array(10).fill({ code: "persist_failed", message: "no answer within 200 ms" }));
      expect(await database.ping()).toBe(false);

      proxy.setMode("up");
      expect((await enqueueAll(writer, ops).done).every((r) => r.ok)).toBe(true);
      expect(await rowCount(database, "blackhole")).toBe(10);
    } finally {
      await database.close();
    }
  });
  test("flush() gives up at its deadline: retries stop and every waiting op fails once", async () => {
    await using testDb = await createTestDatabase();
    const url = new URL(testDb.url);
    await using proxy = startTcpProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const database = await openDatabase({ databaseUrl: url.href, dataDir: "", connectTimeoutMs: 1_000, closeTimeoutMs: 200 });
    try {
      const writer = new Writer(database.db, {
        ...OPTIONS, batchSize: 5, maxRetries: 1_000, statementTimeoutMs: 100, flushTimeoutMs: 300,
      });
      proxy.setMode("blackhole");
      const tracked = enqueueAll(writer, Array.from({ length: 12 }, (_, i) => messageOp("deadline", i)));
      await writer.close();
      expect(tracked.calls.every((c) => c.length === 1)).toBe(true);
      expect(new Set(tracked.codes())).toEqual(new Set(["persist_failed"]));
      expect(writer.stats()).toMatchObject({ depth: 0, inFlight: 0, persisted: 0, failed: 12 });
    } finally {
      proxy.setMode("up");
      await database.close();
    }
  });
});

describe("Writer against a slow Postgres", () => {
  test("a table lock held by another session delays the results but loses none", async () => {
    await using testDb = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: testDb.url, dataDir: "" });
    const locker = postgres(testDb.url, { max: 1, onnotice: () => {} });
    const observer = postgres(testDb.url, { max: 1, onnotice: () => {} });
    try {
      await using writer = new Writer(database.db, OPTIONS);
      const locked = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const holding = locker.begin(async (tx) => {
        await tx`LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`;
        locked.resolve();
        await release.promise;
      });
      await locked.promise;
      const tracked = enqueueAll(writer, Array.from({ length: 25 }, (_, i) => messageOp("slow", i)));
      await until(async () => {
        const [row] = await observer`select count(*)::int as n from pg_locks where relation = 'messages'::regclass and not granted`;
        return row?.n > 0;
      });
      expect(writer.stats()).toMatchObject({ inFlight: 25, persisted: 0 });
      expect(tracked.calls.every((c) => c.length === 0)).toBe(true);
      release.resolve();
      await holding;
      expect((await tracked.done).every((r) => r.ok)).toBe(true);
      expect(await rowCount(database, "slow")).toBe(25);
    } finally {
      await Promise.all([locker.end(), observer.end()]);
      await database.close();
    }
  });
});

describe("isTransient", () => {
  test.each([
    [{ code: "ECONNREFUSED" }, true],
    [{ code: "CONNECTION_CLOSED" }, true],
    [{ code: "EPIPE" }, true],
    [{ code: "08006" }, true],
    [{ code: "40001" }, true],
    [{ code: "57014" }, true],
    [{ code: "23505" }, false],
    [{ code: "22P02" }, false],
  ])("classifies %j as transient=%p", (fields, expected) => {
    const error = Object.assign(new Error("x"), fields);
    expect(isTransient(new Error("wrapped", { cause: error }))).toBe(expected);
  });
});
