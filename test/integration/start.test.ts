// `npm start` with no environment at all: `bun src/main.ts` on the embedded database, in the
// development auth mode, serves the chat flow end to end, and stops cleanly on SIGTERM.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnsecuredJWT } from "jose";
import { connect, nextEvent } from "../support/client.ts";

test("bun src/main.ts with no configuration serves the chat flow on the embedded database", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bunsen-start-"));
  // Only what a shell has: no DATABASE_URL, no JWT key, no REDIS_URL. PORT=0 and DATA_DIR keep
  // parallel test runs apart; HOST keeps it on loopback.
  const child = Bun.spawn([process.execPath, "src/main.ts"], {
    cwd: join(import.meta.dir, "../.."),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir },
    stdin: "ignore", stdout: "ignore", stderr: "pipe",
  });
  try {
    const logs: Record<string, unknown>[] = [];
    const listening = Promise.withResolvers<number>();
    void (async () => {
      let rest = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream()) as unknown as AsyncIterable<string>) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            logs.push(entry);
            if (entry.msg === "listening") listening.resolve(entry.port as number);
          } catch {}
        }
      }
      listening.reject(new Error("the server exited before listening"));
    })();
    const url = `http://127.0.0.1:${await listening.promise}`;
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

    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  } finally {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
