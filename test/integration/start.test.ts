// `npm start` with no environment at all: `bun src/main.ts` on the embedded database, in the
// development auth mode, serves the chat flow end to end, and stops cleanly on SIGTERM.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnsecuredJWT } from "jose";
import { connect, nextEvent } from "../support/client.ts";
import { startMainProcess } from "../support/main-process.ts";

test("bun src/main.ts with no configuration serves the chat flow on the embedded database", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bunsen-start-"));
  try {
    // Only what a shell has: no DATABASE_URL, no JWT key, no REDIS_URL. DATA_DIR keeps parallel
    // test runs apart.
    await using server = await startMainProcess({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir });
    const { url, logs, proc } = server;
    expect(logs.find((entry) => entry.msg === "ready server built")).toMatchObject({ database: "pglite", auth: "development" });
    expect(logs.some((entry) => entry.level === "warn" && String(entry.msg).startsWith("development mode"))).toBe(true);

    const token = (sub: string) => new UnsecuredJWT({ sub, name: sub }).setExpirationTime("1h").encode();
    using ada = await connect(url, { auth: { token: token("ada") }, transports: ["websocket"] });
    using bob = await connect(url, { auth: { token: token("bob") } });
    await ada.emitWithAck("joinRoom", { roomId: "lobby" });
    await bob.emitWithAck("joinRoom", { roomId: "lobby" });
    const optimistic = nextEvent(bob, "roomMessageRecieved");
    const confirmed = nextEvent(bob, "roomMessageConfirmed");
    ada.emit("roomMessage", { roomId: "lobby", body: "hello from npm start", tempId: "t-start" });
    expect((await optimistic)[0]).toMatchObject({ tempId: "t-start", senderId: "ada", status: "pending" });
    expect((await confirmed)[0]).toMatchObject({ tempId: "t-start", senderId: "ada", status: "confirmed" });

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
