// The chat scenario's runs (issue 6: "optimistic delivery latency, confirmation latency, rows
// persisted per second on Postgres and on the embedded database"). Unlike the other scenarios it
// needs several servers, so the runner hands it here: the same load generator (scenarios/chat.ts)
// against
//   postgres   src/main.ts with DATABASE_URL = a throwaway database (CREATE DATABASE … DROP after)
//   pglite     src/main.ts with DATABASE_URL unset: embedded PGlite in a temp DATA_DIR
//   nopersist  servers/bunsen-chat-nopersist.ts: the same optimistic emit, no database (baseline)
// then bench/writer.ts (the write-behind Writer alone, saturated, per PERSIST_BATCH_SIZE), pinned to
// the server's core. Each run gets a fresh server, database and data directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerSpec } from "../servers/index.ts";
import { createThrowawayDb, type ThrowawayDb } from "./pgdb.ts";
import { pinned, runLoadgen, startServer, stop } from "./processes.ts";
import type { Outcome } from "./results.ts";

// Signs the load generator's tokens and verifies them in the servers; a bench-only secret.
const BENCH_JWT_SECRET = "bunsen-bench-only-secret-0123456789abcdef";

export type ChatRunOptions = {
  server: ServerSpec;
  bun: string;
  serverCore: number | null;
  loadgenCore: number | null;
  isQuick: boolean;
  timeoutMs: number;
  freePort(): Promise<number>;
  onProgress(text: string): void;
};

type Mode = "postgres" | "pglite" | "nopersist";
const MODES: Mode[] = ["nopersist", "postgres", "pglite"];

export async function runChat(o: ChatRunOptions): Promise<Outcome> {
  const result: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const mode of MODES) {
    const outcome = await runMode(o, mode);
    if (outcome.ok) result[mode] = outcome.result;
    else problems.push(`${mode}: ${outcome.error}`);
  }
  o.onProgress("writer alone");
  const writerArgv = [o.bun, "bench/writer.ts", ...(o.isQuick ? ["--quick"] : [])];
  const writer = await runLoadgen(pinned(o.serverCore, writerArgv), o.isQuick ? 120_000 : 240_000, (t) => o.onProgress(t));
  if (writer.ok) result.writer = writer.result;
  else problems.push(`writer: ${writer.error}`);
  if (Object.keys(result).length === 0) return { status: "failed", note: problems.join("; ") };
  if (problems.length) result.problems = problems;
  return { status: "ok", result };
}

async function runMode(o: ChatRunOptions, mode: Mode): Promise<{ ok: true; result: Record<string, unknown> } | { ok: false; error: string }> {
  const port = await o.freePort();
  let db: ThrowawayDb | undefined;
  const dataDir = await mkdtemp(join(tmpdir(), `bench-chat-${mode}-`));
  try {
    if (mode === "postgres") db = await createThrowawayDb("chat");
    const env: Record<string, string> = {
      JWT_SECRET: BENCH_JWT_SECRET,
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      RATE_LIMIT_EVENTS: "0", // unlimited: the bench sends far above a user's rate
      SPOOL_ENABLED: process.env.BENCH_SPOOL ?? "true", // BENCH_SPOOL=false measures the crash-safety spool's cost
      ...(process.env.BENCH_SPOOL_FSYNC_MS ? { SPOOL_FSYNC_MS: process.env.BENCH_SPOOL_FSYNC_MS } : {}),
      LOG_LEVEL: "info", // main.ts announces "listening" at info; nothing on the message path logs at info
      ...(db ? { DATABASE_URL: db.url } : { DATABASE_URL: "" }),
    };
    const argv = mode === "nopersist" ? o.server.chatBaselineCommand!(port, o.bun) : o.server.chatCommand!(port, o.bun);
    o.onProgress(`${mode}: starting server`);
    let running;
    try {
      running = await startServer(pinned(o.serverCore, argv), port, 30_000, env);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    try {
      const loadgen = [o.bun, "bench/loadgen.ts", "chat", "--url", `http://127.0.0.1:${port}`, "--pid", String(running.pid)];
      if (o.isQuick) loadgen.push("--quick");
      const outcome = await runLoadgen(pinned(o.loadgenCore, loadgen), o.timeoutMs, o.onProgress, {
        BENCH_CHAT_MODE: mode,
        BENCH_JWT_SECRET,
        ...(db ? { BENCH_CHAT_DB_URL: db.url } : {}),
      });
      if (running.proc.exitCode !== null || running.proc.signalCode !== null)
        return { ok: false, error: `server exited during the scenario: ${running.stderrTail()}` };
      return outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: outcome.error };
    } finally {
      await stop(running.proc, 10_000); // SIGTERM: main.ts flushes its queue and closes the database
    }
  } finally {
    await db?.drop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}
