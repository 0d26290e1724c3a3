// Faults: Postgres cut mid-flow (every message answered exactly once, confirmed or failed, and the
// server recovers by itself), and SIGTERM on a real `bun src/main.ts` with messages in flight
// (clients see the disconnect, the write-behind queue is flushed, exit code 0).
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { JWT_SECRET, startApp, tokenFor } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";
import { startMainProcess } from "../support/main-process.ts";
import { createTestDatabase, databaseUrl } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

const user = async (url: string, sub: string) => connect(url, { auth: { token: await tokenFor({ sub }) }, transports: ["websocket"] });

async function storedTempIds(url: string, tempIds: string[]): Promise<Set<string>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ temp_id: string }[]>`SELECT temp_id FROM messages WHERE temp_id IN ${sql(tempIds)}`;
    return new Set(rows.map((row) => row.temp_id));
  } finally {
    await sql.end();
  }
}

test("Postgres down mid-flow: each of 200 messages gets exactly one of confirmed or failed, and service resumes when it returns", async () => {
  const target = new URL(databaseUrl);
  await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  await using db = await createTestDatabase();
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  await using server = await startApp({
    databaseUrl: viaProxy.toString(),
    env: { PERSIST_MAX_RETRIES: "2", PERSIST_FLUSH_MS: "5", PERSIST_BATCH_SIZE: "20", RATE_LIMIT_EVENTS: "0" },
  });
  using alice = await user(server.url, "alice");
  await alice.emitWithAck("joinRoom", { roomId: "outage" });

  const answers = new Map<string, string[]>();
  const record = (kind: string) => (payload: { tempId: string }) => {
    const list = answers.get(payload.tempId) ?? [];
    list.push(kind);
    answers.set(payload.tempId, list);
    if (answers.size === expected.length && [...answers.values()].every((l) => l.length >= 1)) allAnswered.resolve();
  };
  alice.on("roomMessageConfirmed", record("confirmed"));
  alice.on("roomMessageFailed", record("failed"));
  const expected = Array.from({ length: 200 }, (_, i) => `t-${i}`);
  const allAnswered = Promise.withResolvers<void>();

  for (const [i, tempId] of expected.entries()) {
    if (i === 100) proxy.setMode("reset"); // mid-flow: earlier messages are still being written
    alice.emit("roomMessage", { roomId: "outage", body: `m${i}`, tempId });
    if (i % 20 === 19) await Bun.sleep(5); // spread over several batches, some before the cut
  }
  await allAnswered.promise;
  // A marker after the last answer: a duplicate answer would have arrived before it.
  proxy.setMode("up");
  const back = Array.from({ length: 20 }, (_, i) => `back-${i}`);
  const confirmedBack = back.map(() => Promise.withResolvers<void>());
  alice.on("roomMessageConfirmed", (m: { tempId: string }) => confirmedBack[back.indexOf(m.tempId)]?.resolve());
  for (const tempId of back) alice.emit("roomMessage", { roomId: "outage", body: "after", tempId });
  await Promise.all(confirmedBack.map((d) => d.promise));

  const counts = { confirmed: 0, failed: 0, duplicated: 0, missing: 0 };
  for (const tempId of expected) {
    const list = answers.get(tempId) ?? [];
    if (list.length === 0) counts.missing++;
    else if (list.length > 1) counts.duplicated++;
    else counts[list[0] as "confirmed" | "failed"]++;
  }
  console.log(`outage: ${JSON.stringify(counts)}`);
  expect({ duplicated: counts.duplicated, missing: counts.missing, total: counts.confirmed + counts.failed }).toEqual({ duplicated: 0, missing: 0, total: 200 });
  expect(counts.failed).toBeGreaterThan(0); // the outage was real
  // Every confirmed message is in the database, and so is every message sent after recovery.
  const confirmed = expected.filter((t) => answers.get(t)?.[0] === "confirmed");
  const stored = await storedTempIds(db.url, [...confirmed, ...back]);
  expect(stored.size).toBe(confirmed.length + back.length);
}, 60_000);

test("SIGTERM on bun src/main.ts with messages in flight: clients see the disconnect, the queue is flushed, exit code 0", async () => {
  await using db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "bunsen-sigterm-"));
  try {
    await using server = await startMainProcess({
      ...(process.env as Record<string, string>), LOG_LEVEL: "info", JWT_SECRET, DATABASE_URL: db.url, DATA_DIR: dataDir,
      // Rows wait in the write-behind queue: only the shutdown flush can store them.
      PERSIST_FLUSH_MS: "60000", PERSIST_BATCH_SIZE: "100000", RATE_LIMIT_EVENTS: "0",
    });
    const { url, proc: child, logs, logsDone } = server;

    using alice = await user(url, "alice");
    using bob = await user(url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "drain" });
    await bob.emitWithAck("joinRoom", { roomId: "drain" });
    const tempIds = Array.from({ length: 50 }, (_, i) => `drain-${i}`);
    // Each ack comes after the optimistic emit and before persistence: all 50 are in flight.
    const acks = await Promise.all(tempIds.map((tempId, i) => alice.timeout(5000).emitWithAck("roomMessage", { roomId: "drain", body: `d${i}`, tempId })));
    expect(acks.every((ack: { ok: boolean }) => ack.ok)).toBe(true);
    expect((await storedTempIds(db.url, tempIds)).size).toBe(0);

    const disconnects = [alice, bob].map((c) => nextEvent(c, "disconnect"));
    child.kill("SIGTERM");
    const reasons = (await Promise.all(disconnects)).map(([reason]) => reason);
    expect(await child.exited).toBe(0);
    await logsDone;
    expect(reasons.every((r) => r === "transport close" || r === "io server disconnect")).toBe(true);
    expect((await storedTempIds(db.url, tempIds)).size).toBe(50);
    expect(logs.some((entry) => entry.msg === "stopped")).toBe(true);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
