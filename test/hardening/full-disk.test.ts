// A full disk under DATA_DIR: a real tmpfs of 2 MiB, filled to the last byte, under a real
// `bun src/main.ts` on Postgres. The spool cannot reserve a segment, so the server runs without it
// (messages go straight through the write-behind queue, each still confirmed), says so on /readyz and
// once in the log — and journals again once space is back. A start on the full disk serves too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { JWT_SECRET, tokenFor } from "../support/app.ts";
import { connect, type ClientSocket } from "../support/client.ts";
import { startMainProcess, type MainProcess } from "../support/main-process.ts";
import { createTestDatabase } from "../support/services.ts";
import { spooledTempIds, until } from "../support/spool-files.ts";

let mountPoint: string;
let isMounted = false;
let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: postgres.Sql;
beforeAll(async () => {
  mountPoint = mkdtempSync(join(tmpdir(), "bunsen-full-disk-"));
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint], { encoding: "utf8" });
  if (mount.status !== 0) throw new Error(`this test needs to mount a tmpfs (run as root): ${mount.stderr}`);
  isMounted = true;
  testDb = await createTestDatabase();
  sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await testDb?.[Symbol.asyncDispose]();
  if (isMounted) spawnSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Writes zeros until the file system refuses: not a byte is left. */
function fillDisk(path: string): void {
  const chunk = new Uint8Array(4096);
  try {
    for (let i = 0; i < 1024; i++) writeFileSync(path, chunk, { flag: "a" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    return;
  }
  throw new Error("the tmpfs never filled up");
}

function startServer(dataDir: string): Promise<MainProcess> {
  return startMainProcess({
    ...(process.env as Record<string, string>), DATABASE_URL: testDb.url, JWT_SECRET, DATA_DIR: dataDir, LOG_LEVEL: "info", RATE_LIMIT_EVENTS: "0",
  });
}

async function user(url: string, sub: string): Promise<ClientSocket & Disposable> {
  return connect(url, { auth: { token: await tokenFor({ sub }) }, transports: ["websocket"] });
}

/** Sends `count` messages, resolving once each was acked and confirmed (stored). */
async function sendConfirmed(alice: ClientSocket, roomId: string, prefix: string, count: number): Promise<void> {
  const confirmed = new Set<string>();
  const all = Promise.withResolvers<void>();
  const onConfirmed = (m: { tempId: string }) => {
    if (m.tempId.startsWith(prefix)) confirmed.add(m.tempId);
    if (confirmed.size === count) all.resolve();
  };
  const onFailed = (m: { tempId: string; error: unknown }) => all.reject(new Error(`${m.tempId} failed: ${JSON.stringify(m.error)}`));
  alice.on("roomMessageConfirmed", onConfirmed);
  alice.on("roomMessageFailed", onFailed);
  try {
    const acks = await Promise.all(
      Array.from({ length: count }, (_, i) => alice.timeout(5_000).emitWithAck("roomMessage", { roomId, body: `${prefix}${i}`, tempId: `${prefix}${i}` })),
    );
    expect(acks.every((ack: { ok: boolean }) => ack.ok)).toBe(true);
    await all.promise;
  } finally {
    alice.off("roomMessageConfirmed", onConfirmed);
    alice.off("roomMessageFailed", onFailed);
  }
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

test("a full DATA_DIR: the server stays up, every message is acked and confirmed, /readyz says degraded; journaling resumes when space is back", async () => {
  const dataDir = join(mountPoint, "data");
  mkdirSync(dataDir);
  const filler = join(mountPoint, "filler");
  fillDisk(filler);

  // Twice: the first start, then a restart on the same full disk (no crash loop).
  for (const round of ["first", "restart"]) {
    const server = await startServer(dataDir);
    try {
      using alice = await user(server.url, "alice");
      await alice.emitWithAck("joinRoom", { roomId: "full" });
      await sendConfirmed(alice, "full", `${round}-`, 20);
      expect(server.proc.exitCode).toBeNull();
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from messages where temp_id like ${`${round}-%`}`;
      expect(n).toBe(20);
      const ready = await readyz(server.url);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: "degraded", checks: { database: true }, degraded: { spool: { dir: join(dataDir, "spool") } } });
      expect(ready.body.degraded.spool.reason).toContain("ENOSPC");
      const warnings = server.logs.filter((l) => l.msg === "spool unavailable: messages are not journaled until space is back");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: "error", dir: join(dataDir, "spool") });
      console.log(`full disk (${round}): 20 of 20 acked and confirmed, /readyz ${ready.status} ${JSON.stringify(ready.body.degraded)}`);

      if (round === "restart") {
        rmSync(filler); // space is back
        await until(async () => {
          await sendConfirmed(alice, "full", `back-${Date.now()}-`, 1);
          return (await readyz(server.url)).body.status === "ready";
        }, "journaling resumed");
        // Journaled again: a message sent now is in the spool before it is stored.
        alice.emit("roomMessage", { roomId: "full", body: "after", tempId: "after-0" });
        await until(() => spooledTempIds(dataDir, "after-").size === 1, "the spool takes lines again");
        expect(server.logs.some((l) => l.msg === "spool resumed")).toBe(true);
      }
    } finally {
      server.proc.kill("SIGTERM");
      expect(await server.proc.exited).toBe(0);
    }
  }
}, 90_000);

test("one page left under DATA_DIR (the lock fits, a segment does not): no SIGBUS, every message confirmed", async () => {
  const dataDir = join(mountPoint, "one-page");
  mkdirSync(dataDir);
  const filler = join(mountPoint, "filler-one-page");
  fillDisk(filler);
  truncateSync(filler, statSync(filler).size - 4096);
  try {
    await using server = await startServer(dataDir);
    using alice = await user(server.url, "alice");
    await alice.emitWithAck("joinRoom", { roomId: "page" });
    await sendConfirmed(alice, "page", "page-", 20);
    expect(server.proc.exitCode).toBeNull();
    expect((await readyz(server.url)).body.status).toBe("degraded");
  } finally {
    rmSync(filler, { force: true });
  }
}, 60_000);
