// Crash safety, end to end: a real `bun src/main.ts` is killed with SIGKILL while its database is
// unreachable, and a new process on the same DATA_DIR stores every emitted message exactly once.
// The database sits behind a TCP proxy set to "blackhole", so the messages stay unpersisted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { JWT_SECRET, tokenFor } from "../support/app.ts";
import { startMainProcess, type MainProcess } from "../support/main-process.ts";
import { connect, type ClientSocket } from "../support/client.ts";
import { createTestDatabase } from "../support/services.ts";
import { spooledTempIds, until } from "../support/spool-files.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";

const MESSAGES = 300;

let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TcpProxy;
let viaProxy: string;
let sql: postgres.Sql;
beforeAll(async () => {
  testDb = await createTestDatabase();
  const target = new URL(testDb.url);
  proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  const url = new URL(testDb.url);
  url.host = `127.0.0.1:${proxy.port}`;
  viaProxy = url.toString();
  sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql.end();
  await proxy[Symbol.asyncDispose]();
  await testDb[Symbol.asyncDispose]();
});

/** Starts the ready server as its own process and resolves once it logged `listening`. */
function startServer(dataDir: string): Promise<MainProcess> {
  return startMainProcess({
    ...(process.env as Record<string, string>), DATABASE_URL: viaProxy, JWT_SECRET, DATA_DIR: dataDir,
    LOG_LEVEL: "info", RATE_LIMIT_EVENTS: "0",
  });
}

async function user(url: string, sub: string): Promise<ClientSocket & Disposable> {
  return connect(url, { auth: { token: await tokenFor({ sub }) }, transports: ["websocket"] });
}

/** Emits `count` messages from alice and resolves once bob received every optimistic one. */
async function chat(alice: ClientSocket, bob: ClientSocket, roomId: string, prefix: string, count: number): Promise<void> {
  const all = Promise.withResolvers<void>();
  let received = 0;
  const onMessage = (message: { tempId: string }) => {
    if (message.tempId.startsWith(prefix) && ++received === count) all.resolve();
  };
  bob.on("roomMessageRecieved", onMessage);
  for (let i = 0; i < count; i++) alice.emit("roomMessage", { roomId, body: `${prefix}${i}`, tempId: `${prefix}${i}` });
  await all.promise;
  bob.off("roomMessageRecieved", onMessage);
}

async function copiesByTempId(roomId: string): Promise<Map<string, number>> {
  const rows = await sql<{ temp_id: string; n: number }[]>`
    select temp_id, count(*)::int as n from messages where room_id = ${roomId} group by temp_id`;
  return new Map(rows.map((r) => [r.temp_id, r.n]));
}

function expectExactlyOnce(copies: Map<string, number>, prefix: string, count: number): void {
  const expected = new Map(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, 1]));
  expect(copies).toEqual(expected);
}

describe("kill -9", () => {
  test(`${MESSAGES} messages emitted while the database is unreachable are stored exactly once after a restart`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bunsen-kill9-"));
    try {
      proxy.setMode("up");
      const first = await startServer(dataDir);
      {
        using alice = await user(first.url, "alice");
        using bob = await user(first.url, "bob");
        await alice.emitWithAck("joinRoom", { roomId: "crash" });
        await bob.emitWithAck("joinRoom", { roomId: "crash" });
        proxy.setMode("blackhole");
        await chat(alice, bob, "crash", "k-", MESSAGES);
        // The durability window (SPOOL_FSYNC_MS): wait until the batch holding the last one is written.
        await until(() => spooledTempIds(dataDir, "k-").size === MESSAGES, "all messages in the spool");
        expect((await copiesByTempId("crash")).size).toBe(0);
        first.proc.kill("SIGKILL");
        expect(await first.proc.exited).not.toBe(0);
      }
      proxy.setMode("up");
      await using second = await startServer(dataDir);
      expect(second.logs.find((l) => l.msg === "spool replayed")).toMatchObject({ messages: MESSAGES });
      await until(async () => (await copiesByTempId("crash")).size === MESSAGES, "all messages stored");
      expectExactlyOnce(await copiesByTempId("crash"), "k-", MESSAGES);

      // A graceful stop after the replay leaves nothing to replay.
      second.proc.kill("SIGTERM");
      expect(await second.proc.exited).toBe(0);
      expect(readdirSync(join(dataDir, "spool"))).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("messages confirmed before the kill are not stored twice; the unconfirmed ones are stored once", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bunsen-kill9-"));
    try {
      proxy.setMode("up");
      const first = await startServer(dataDir);
      {
        using alice = await user(first.url, "alice");
        using bob = await user(first.url, "bob");
        await alice.emitWithAck("joinRoom", { roomId: "mixed" });
        await bob.emitWithAck("joinRoom", { roomId: "mixed" });
        let confirmed = 0;
        alice.on("roomMessageConfirmed", () => confirmed++);
        await chat(alice, bob, "mixed", "c-", 150);
        await until(() => confirmed === 150, "150 confirmations");
        expectExactlyOnce(await copiesByTempId("mixed"), "c-", 150);

        proxy.setMode("blackhole");
        await chat(alice, bob, "mixed", "u-", 150);
        await until(() => spooledTempIds(dataDir, "u-").size === 150, "the unconfirmed messages in the spool");
        first.proc.kill("SIGKILL");
        await first.proc.exited;
        expect(confirmed).toBe(150);
      }
      proxy.setMode("up");
      await using second = await startServer(dataDir);
      // The confirmed ones may be replayed too (success is not journaled): ON CONFLICT skips them.
      const replayed = second.logs.find((l) => l.msg === "spool replayed")?.messages;
      expect(replayed).toBeGreaterThanOrEqual(150);
      await until(async () => (await copiesByTempId("mixed")).size === 300, "all 300 stored");
      const copies = await copiesByTempId("mixed");
      const [total] = await sql<{ n: number }[]>`select count(*)::int as n from messages where room_id = 'mixed'`;
      expect(total!.n).toBe(300);
      expectExactlyOnce(new Map([...copies].filter(([t]) => t.startsWith("c-"))), "c-", 150);
      expectExactlyOnce(new Map([...copies].filter(([t]) => t.startsWith("u-"))), "u-", 150);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a node restarted while the database is still down starts, reports not ready, and stores the spool once the database is back", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bunsen-kill9-"));
    try {
      proxy.setMode("up");
      const first = await startServer(dataDir);
      {
        using alice = await user(first.url, "alice");
        using bob = await user(first.url, "bob");
        await alice.emitWithAck("joinRoom", { roomId: "down" });
        await bob.emitWithAck("joinRoom", { roomId: "down" });
        proxy.setMode("blackhole");
        await chat(alice, bob, "down", "d-", 100);
        await until(() => spooledTempIds(dataDir, "d-").size === 100, "all messages in the spool");
        first.proc.kill("SIGKILL");
        await first.proc.exited;
      }
      proxy.setMode("reset"); // still down: refused at once
      await using second = await startServer(dataDir);
      expect(second.logs.some((l) => l.msg === "database unreachable at start: serving without it, retrying the migrations in the background")).toBe(true);
      expect((await fetch(`${second.url}/readyz`)).status).toBe(503);
      expect((await copiesByTempId("down")).size).toBe(0);
      proxy.setMode("up");
      await until(async () => (await copiesByTempId("down")).size === 100, "the spool stored once the database is back", 30_000);
      expectExactlyOnce(await copiesByTempId("down"), "d-", 100);
      await until(async () => (await fetch(`${second.url}/readyz`)).status === 200, "ready");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

// A graceful stop that cannot reach the database: the shutdown flush gives up at its deadline, and
// what it could not store stays journaled for the next start — nobody was told "failed" (every socket
// was disconnected before the flush), so nothing may be dropped.
describe("SIGTERM while the database is unreachable", () => {
  test("every message a receiver saw is stored exactly once after a restart with the database back; none was answered failed", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bunsen-sigterm-outage-"));
    try {
      proxy.setMode("up");
      const first = await startServer(dataDir);
      const confirmed = new Set<string>();
      const failed = new Set<string>();
      {
        using alice = await user(first.url, "alice");
        using bob = await user(first.url, "bob");
        await alice.emitWithAck("joinRoom", { roomId: "term" });
        await bob.emitWithAck("joinRoom", { roomId: "term" });
        alice.on("roomMessageConfirmed", (m: { tempId: string }) => confirmed.add(m.tempId));
        alice.on("roomMessageFailed", (m: { tempId: string }) => failed.add(m.tempId));
        await chat(alice, bob, "term", "s-", 100);
        await until(() => confirmed.size === 100, "100 confirmations before the outage");

        proxy.setMode("blackhole");
        await chat(alice, bob, "term", "t-", 300); // bob saw all 400
        const disconnected = new Promise((resolve) => alice.once("disconnect", resolve));
        first.proc.kill("SIGTERM");
        await disconnected;
        expect(await first.proc.exited).toBe(0);
        await first.logsDone;
        const timedOut = first.logs.find((l) => l.msg === "flush timed out");
        const stored = (await copiesByTempId("term")).size;
        console.log(`SIGTERM in an outage: 400 seen, ${confirmed.size} confirmed, ${failed.size} failed, ${stored} stored before the restart; flush log ${JSON.stringify(timedOut)}`);
      }
      expect(failed.size).toBe(0);
      proxy.setMode("up");
      await using second = await startServer(dataDir);
      await until(async () => (await copiesByTempId("term")).size >= 400, "every message stored after the restart", 30_000).catch(() => {});
      const copies = await copiesByTempId("term");
      console.log(`after the restart: ${copies.size} of 400 stored; replayed ${JSON.stringify(second.logs.find((l) => l.msg === "spool replayed"))}`);
      expect(new Map([...copies].filter(([t]) => t.startsWith("s-")))).toEqual(new Map(Array.from({ length: 100 }, (_, i) => [`s-${i}`, 1])));
      expectExactlyOnce(new Map([...copies].filter(([t]) => t.startsWith("t-"))), "t-", 300);
      for (const tempId of confirmed) expect(copies.get(tempId)).toBe(1);

      // Stored now: a graceful stop with the database up leaves an empty spool.
      second.proc.kill("SIGTERM");
      expect(await second.proc.exited).toBe(0);
      expect(readdirSync(join(dataDir, "spool"))).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
