// Writer alone (issue 6, chat target "≥ 20,000 messages/s persisted on Postgres"): enqueue N chat
// messages into src/persistence/writer.ts's Writer at once and time until every onResult has fired.
// No sockets: this is the persistence ceiling the chat flow cannot exceed. One throwaway Postgres
// database per batch size (fresh table and index each time); PGlite in a temp dir for comparison.
//
//   bun bench/writer.ts [--count 200000] [--batch 500,1000,2000] [--pglite-count 50000] [--quick]
// Prints one JSON line {ok, result}; the runner calls it from the chat scenario (bench/lib/chat-runner.ts).
import { parseArgs } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLog } from "../src/log.ts";
import { openDatabase, type Database } from "../src/persistence/db.ts";
import { Writer, type WriteResult } from "../src/persistence/writer.ts";
import { countMessages, createThrowawayDb } from "./lib/pgdb.ts";

configureLog("error");

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    count: { type: "string" },
    batch: { type: "string" },
    "pglite-count": { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const isQuick = values.quick ?? false;
const count = Number(values.count ?? (isQuick ? 50_000 : 200_000));
const pgliteCount = Number(values["pglite-count"] ?? (isQuick ? 10_000 : 50_000));
const batchSizes = (values.batch ?? "500,1000,2000").split(",").map(Number);
const BODY = "x".repeat(64);

/** Enqueues `n` messages like the chat module's, resolves with timing once all are answered. */
async function runWriter(database: Database, n: number, batchSize: number) {
  const writer = new Writer(database.db, { batchSize, flushEveryMs: 20, maxQueue: n + 1, maxRetries: 5 });
  const rooms = Array.from({ length: 20 }, (_, i) => `bench-room-${i}`);
  let answered = 0;
  let failed = 0;
  const done = Promise.withResolvers<void>();
  const onResult = (r: WriteResult) => {
    if (!r.ok) failed++;
    if (++answered === n) done.resolve();
  };
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    writer.enqueue(
      {
        kind: "message",
        row: { id: Bun.randomUUIDv7(), roomId: rooms[i % 20]!, senderId: `user-${i % 20}`, tenantId: null, body: BODY, tempId: `t-${i}`, createdAt: new Date() },
      },
      onResult,
    );
  }
  const enqueueMs = performance.now() - start;
  await done.promise;
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  await writer.close();
  return {
    batchSize,
    count: n,
    failed,
    seconds: Math.round(ms) / 1000,
    rowsPerS: Math.round((n / ms) * 1000),
    enqueueMs: Math.round(enqueueMs),
    // CPU of this (writer) process per row, i.e. the share a server would pay: statement building + driver.
    writerCpuUsPerRow: Math.round(((cpu.user + cpu.system) / n) * 100) / 100,
  };
}

try {
  const postgresRuns = [];
  for (const batchSize of batchSizes) {
    const db = await createThrowawayDb("writer");
    try {
      const database = await openDatabase({ databaseUrl: db.url, dataDir: "" });
      try {
        await runWriter(database, Math.min(5_000, count), batchSize); // warm-up: JIT, connections, prepared shapes
        const run = await runWriter(database, count, batchSize);
        const rows = await countMessages(db.url);
        postgresRuns.push({ ...run, rowsInTable: rows - Math.min(5_000, count) });
        process.stderr.write(`progress writer: postgres batch ${batchSize}: ${run.rowsPerS} rows/s\n`);
      } finally {
        await database.close();
      }
    } finally {
      await db.drop();
    }
  }
  const pgliteRuns = [];
  const dir = await mkdtemp(join(tmpdir(), "bench-writer-pglite-"));
  try {
    const database = await openDatabase({ dataDir: dir });
    try {
      for (const batchSize of batchSizes) {
        const run = await runWriter(database, pgliteCount, batchSize);
        pgliteRuns.push(run);
        process.stderr.write(`progress writer: pglite batch ${batchSize}: ${run.rowsPerS} rows/s\n`);
      }
    } finally {
      await database.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ ok: true, result: { postgres: postgresRuns, pglite: pgliteRuns } })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
}
process.exit(0);
