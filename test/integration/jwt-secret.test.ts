// A JWT_SECRET shorter than 32 bytes (RFC 7518 §3.2 for HS256): `bun src/main.ts` refuses to start
// with it when NODE_ENV=production, and starts with a warning naming the fix otherwise.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMainProcess } from "../support/main-process.ts";
import { createTestDatabase } from "../support/services.ts";

const MAIN = join(import.meta.dir, "../../src/main.ts");

test("NODE_ENV=production with JWT_SECRET=short: exit 1, the message names JWT_SECRET and 32 bytes", async () => {
  const proc = Bun.spawn([process.execPath, MAIN], {
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", JWT_SECRET: "short", PORT: "0", HOST: "127.0.0.1" },
    stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  expect(code).toBe(1);
  expect(stderr).toContain("JWT_SECRET: is 5 bytes; use at least 32");
});

test("JWT_SECRET=short outside production: the server starts and warns, naming the fix", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bunsen-secret-"));
  try {
    await using db = await createTestDatabase();
    await using server = await startMainProcess({ PATH: process.env.PATH ?? "", DATA_DIR: dataDir, DATABASE_URL: db.url, JWT_SECRET: "short", LOG_FORMAT: "json" });
    const warning = server.logs.find((entry) => entry.level === "warn" && String(entry.msg).includes("JWT_SECRET"));
    expect(String(warning?.msg)).toContain("JWT_SECRET: is 5 bytes; use at least 32");
    expect(String(warning?.msg)).toContain("refused when NODE_ENV=production");
    expect(JSON.stringify(server.logs)).not.toContain("short\""); // the secret itself is not printed
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);
