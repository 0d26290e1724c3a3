// What a new user meets, tried the way they meet it: the server started from a folder that has
// never seen it (no .data, no environment), a second start by mistake, the `bunsen` command line,
// a wrong DATABASE_URL, a database that is down at start, and the single-file executable copied
// alone to an empty folder. Clients are real socket.io-client sockets; tokens come from the CLI.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { io, type Socket } from "socket.io-client";
import pkg from "../../package.json" with { type: "json" };
import { startMainProcess, type MainProcess } from "../support/main-process.ts";
import { createTestDatabase } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

const ROOT = join(import.meta.dir, "../..");
const BUN = process.execPath;
const SHELL_ENV = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function freshFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

/** Runs a short CLI command to its end; `command` defaults to `bun <repo>/src/cli.ts`. */
async function cli(args: string[], env: Record<string, string> = {}, command = [BUN, join(ROOT, "src/cli.ts")]) {
  const proc = Bun.spawn([...command, ...args], { cwd: tmpdir(), env: { ...SHELL_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Runs a server process to its end (it is expected to refuse to start). */
async function runToExit(env: Record<string, string>, cwd: string, timeoutMs = 30_000) {
  const proc = Bun.spawn([BUN, join(ROOT, "src/main.ts")], { cwd, env: { ...SHELL_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { output: stdout + stderr, code };
}

function connect(url: string, token: string, transports = ["websocket"]): Promise<Socket> {
  const socket = io(url, { forceNew: true, reconnection: false, auth: { token }, transports });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
  });
}

function next(socket: Socket, event: string): Promise<any> {
  return new Promise((resolve) => socket.once(event, resolve));
}

/** The chat flow as the README writes it: join, send, optimistic copy, confirmation; then history. */
async function chatFlow(server: MainProcess, tokenOf: (sub: string) => Promise<string>, body: string): Promise<void> {
  const ada = await connect(server.url, await tokenOf("ada"));
  const bob = await connect(server.url, await tokenOf("bob"), ["polling", "websocket"]);
  try {
    expect(await ada.emitWithAck("joinRoom", { roomId: "lobby" })).toMatchObject({ ok: true });
    expect(await bob.emitWithAck("joinRoom", { roomId: "lobby" })).toMatchObject({ ok: true });
    const optimistic = next(bob, "roomMessageRecieved");
    const confirmed = next(bob, "roomMessageConfirmed");
    ada.emit("roomMessage", { roomId: "lobby", body, tempId: "t-1" });
    expect(await optimistic).toMatchObject({ tempId: "t-1", senderId: "ada", body, status: "pending" });
    expect(await confirmed).toMatchObject({ tempId: "t-1", senderId: "ada", status: "confirmed" });
  } finally {
    ada.disconnect();
    bob.disconnect();
  }
}

const cliToken = (env: Record<string, string> = {}, command?: string[]) => async (sub: string) => {
  const { stdout, code, stderr } = await cli(["token", "--sub", sub], env, command);
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  return stdout.trim();
};

describe("the quick start from a folder that has never seen the server", () => {
  test("starts with no environment and no .data, creates DATA_DIR, says where everything is, serves the chat flow, and stops on SIGTERM", async () => {
    const clone = freshFolder("bunsen-clone-");
    expect(existsSync(join(clone, ".data"))).toBe(false);
    await using server = await startMainProcess(SHELL_ENV, 30_000, { cwd: clone });
    expect(readdirSync(join(clone, ".data")).sort()).toEqual(expect.arrayContaining(["bunsen.lock", "pglite"]));

    const banner = server.logs.find((entry) => entry.msg === "listening")!;
    const port = banner.port as number;
    expect(banner).toMatchObject({
      dataDir: join(clone, ".data"),
      database: "pglite",
      auth: "development",
      urls: {
        socket: `http://127.0.0.1:${port}/socket.io/`,
        demo: `http://127.0.0.1:${port}/demo`,
        dashboard: `http://127.0.0.1:${port}/dashboard`,
        metrics: `http://127.0.0.1:${port}/metrics`,
      },
    });
    expect(String(banner.tokenHint)).toContain("token -- --sub");
    for (const url of Object.values(banner.urls as Record<string, string>).filter((u) => !u.includes("/socket.io/")))
      expect((await fetch(url)).status).toBe(200);

    await chatFlow(server, cliToken(), "hello from a fresh clone");
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    expect(existsSync(join(clone, ".data", "bunsen.lock"))).toBe(false); // released on a clean stop
  }, 90_000);

  test("a second server on the same DATA_DIR refuses, naming the folder and the owner's PID, and leaves the first untouched", async () => {
    const clone = freshFolder("bunsen-twice-");
    await using first = await startMainProcess(SHELL_ENV, 30_000, { cwd: clone });
    const second = await runToExit({ PORT: "0", HOST: "127.0.0.1" }, clone);
    expect(second.code).toBe(1);
    expect(second.output).toContain(join(clone, ".data"));
    expect(second.output).toContain(`PID ${first.proc.pid}`);
    expect(second.output).not.toContain("spool replayed");
    expect(second.output).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    await chatFlow(first, cliToken(), "the first server still serves");
  }, 90_000);

  test("a busy port is refused before the database or the spool is opened", async () => {
    await using first = await startMainProcess({ ...SHELL_ENV, DATA_DIR: freshFolder("bunsen-port-a-") }, 30_000);
    const port = String(first.logs.find((entry) => entry.msg === "listening")!.port);
    const otherData = freshFolder("bunsen-port-b-");
    const second = await runToExit({ PORT: port, HOST: "127.0.0.1", DATA_DIR: otherData }, tmpdir());
    expect(second.code).toBe(1);
    expect(second.output).toContain(`port ${port}`);
    expect(second.output).toContain("PORT");
    expect(existsSync(join(otherData, "pglite"))).toBe(false);
    expect(existsSync(join(otherData, "spool"))).toBe(false);
  }, 60_000);

  test("a lock left by a killed server is stale and taken over", async () => {
    const clone = freshFolder("bunsen-stale-");
    const killed = await startMainProcess(SHELL_ENV, 30_000, { cwd: clone });
    killed.proc.kill("SIGKILL");
    await killed.proc.exited;
    expect(existsSync(join(clone, ".data", "bunsen.lock"))).toBe(true);
    await using again = await startMainProcess(SHELL_ENV, 30_000, { cwd: clone });
    expect((await fetch(`${again.url}/readyz`)).status).toBe(200);
  }, 90_000);
});

describe("the bunsen command line", () => {
  test("--help lists the commands, --version prints the package version, an unknown command exits 2", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const word of ["start", "token --sub", "check-config", "--version", "DATABASE_URL"]) expect(help.stdout).toContain(word);
    expect(await cli(["--version"])).toEqual({ stdout: `${pkg.version}\n`, stderr: "", code: 0 });
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command");
  });

  test("token prints a token signed with JWT_SECRET (issuer and audience included) that jose verifies", async () => {
    const secret = "a-secret-for-the-cli-test-of-32-bytes!";
    const env = { JWT_SECRET: secret, JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "chat" };
    const { stdout, code } = await cli(["token", "--sub", "alice", "--tenant", "t1", "--role", "admin", "--ttl", "2h"], env);
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(stdout.trim(), new TextEncoder().encode(secret), { issuer: "https://issuer.test", audience: "chat" });
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: "alice", tenant_id: "t1", role: "admin" });
    expect(payload.exp! - payload.iat!).toBe(7200);
  });

  test("token without --sub, or with only a public key configured, explains itself", async () => {
    const missing = await cli(["token"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--sub");
    const { publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const spki = Buffer.from(await crypto.subtle.exportKey("spki", publicKey)).toString("base64");
    const pem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----`;
    const publicOnly = await cli(["token", "--sub", "alice"], { JWT_PUBLIC_KEY: pem });
    expect(publicOnly.code).toBe(1);
    expect(publicOnly.stderr).toContain("identity provider");
  });

  test("check-config validates the environment: the effective settings when valid, every problem when not", async () => {
    const valid = await cli(["check-config"], { PORT: "4100", DATABASE_URL: "postgres://app:hunter2@db.internal:5432/app" });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain("configuration is valid");
    expect(valid.stdout).toContain("0.0.0.0:4100");
    expect(valid.stdout).toContain("postgres://app:***@db.internal:5432/app");
    expect(valid.stdout).not.toContain("hunter2");
    const invalid = await cli(["check-config"], { PORT: "http", NODE_ENV: "production", LOG_FORMAT: "xml" });
    expect(invalid.code).toBe(1);
    for (const name of ["PORT", "JWT_SECRET", "LOG_FORMAT"]) expect(invalid.stderr).toContain(name);
  });
});

describe("the database at start", () => {
  test("a DATABASE_URL naming a database that does not exist ends the start with a message naming DATABASE_URL, not a stack trace", async () => {
    const url = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
    url.pathname = "/bunsen_no_such_database";
    const run = await runToExit({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: url.toString(), DATA_DIR: freshFolder("bunsen-nodb-") }, tmpdir());
    expect(run.code).toBe(1);
    expect(run.output).toContain("DATABASE_URL=");
    expect(run.output).toContain("does not exist");
    expect(run.output).not.toMatch(/\n\s+at /);
  }, 60_000);

  test("Postgres down at start: the server serves, reports not ready, answers what needs the database with unavailable, and migrates and serves fully once Postgres is back", async () => {
    await using db = await createTestDatabase();
    const target = new URL(db.url);
    await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    proxy.setMode("reset");
    const viaProxy = new URL(db.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    await using server = await startMainProcess({ ...SHELL_ENV, DATABASE_URL: viaProxy.toString(), DATA_DIR: freshFolder("bunsen-down-") }, 30_000);
    expect(server.logs.some((entry) => String(entry.hint ?? "").includes("DATABASE_URL="))).toBe(true);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);

    const ada = await connect(server.url, await cliToken()("ada"));
    try {
      // What needs the database answers at once with a clear error, and nothing hangs.
      expect(await ada.timeout(10_000).emitWithAck("joinRoom", { roomId: "general" })).toMatchObject({ ok: false, error: { code: "unavailable" } });
      proxy.setMode("up");
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await Bun.sleep(100);
        status = (await fetch(`${server.url}/readyz`)).status;
      }
      expect(status).toBe(200);
      expect(server.logs.some((entry) => entry.msg === "database reachable: migrations applied")).toBe(true);
      expect(await ada.emitWithAck("joinRoom", { roomId: "general" })).toMatchObject({ ok: true });
      const confirmed = next(ada, "roomMessageConfirmed");
      ada.emit("roomMessage", { roomId: "general", body: "the database is back", tempId: "t-back" });
      expect(await confirmed).toMatchObject({ tempId: "t-back", status: "confirmed" });
    } finally {
      ada.disconnect();
    }
  }, 90_000);
});

describe("the single-file executable", () => {
  let binary = "";
  test("npm run compile builds one executable", async () => {
    const out = join(freshFolder("bunsen-build-"), "bunsen");
    const build = Bun.spawnSync([BUN, "run", "compile", out], { cwd: ROOT, env: { ...process.env }, stdout: "pipe", stderr: "pipe" });
    expect({ code: build.exitCode, stderr: build.exitCode === 0 ? "" : build.stderr.toString() }).toEqual({ code: 0, stderr: "" });
    binary = out;
  }, 120_000);

  for (const backend of ["pglite", "postgres"] as const) {
    test(`copied alone to an empty folder, it serves the chat flow on ${backend} and its pages`, async () => {
      expect(binary).not.toBe("");
      const folder = freshFolder("bunsen-bin-");
      copyFileSync(binary, join(folder, "bunsen"));
      await using db = backend === "postgres" ? await createTestDatabase() : undefined;
      const env: Record<string, string> = { PATH: "/usr/bin:/bin", ...(db ? { DATABASE_URL: db.url } : {}) };
      const command = [join(folder, "bunsen")];
      await using server = await startMainProcess(env, 30_000, { cwd: folder, command });
      expect(server.logs.find((entry) => entry.msg === "listening")).toMatchObject({ database: backend, dataDir: join(folder, ".data") });
      for (const page of ["/demo", "/dashboard", "/assets/socket.io.min.js"]) expect((await fetch(server.url + page)).status).toBe(200);
      await chatFlow(server, cliToken({}, command), `hello from the ${backend} binary`);
    }, 90_000);
  }
});
