// Credentials never reach the log: `bun src/main.ts` at LOG_LEVEL=debug with DEBUG=socket.io* (the
// parser's own debug output on), refused engine requests whose URL carries ?token=<JWT>, a CONNECT
// whose auth carries the token, an HTTP call with Authorization: Bearer — the token appears nowhere
// in stdout or stderr, while the lines that would have carried it are there.
import { expect, test } from "bun:test";
import { JWT_SECRET, tokenFor } from "../support/app.ts";
import { connect } from "../support/client.ts";
import { startMainProcess } from "../support/main-process.ts";
import { createTestDatabase } from "../support/services.ts";

test("LOG_LEVEL=debug and DEBUG=socket.io*: no token in stdout or stderr after bad requests, a CONNECT with auth and a Bearer call", async () => {
  await using db = await createTestDatabase();
  await using server = await startMainProcess({
    DATABASE_URL: db.url, JWT_SECRET, LOG_LEVEL: "debug", LOG_FORMAT: "json", DEBUG: "socket.io*", DEBUG_COLORS: "false",
    CORS_ORIGINS: "http://allowed.example", SPOOL_ENABLED: "false", API_KEY: "api-key-that-is-long-and-secret-123",
  });
  const token = await tokenFor({ sub: "alice" });
  const opaque = "opaque-session-credential-42";
  const base = `${server.url}/socket.io/`;
  const refused = [
    fetch(`${base}?EIO=4&transport=polling&token=${token}`, { headers: { origin: "http://evil.example" } }), // bad Origin
    fetch(`${base}?EIO=9&transport=polling&token=${token}`), // bad EIO
    fetch(`${base}?EIO=4&transport=polling&sid=unknown-sid&token=${token}&access_token=${opaque}`), // unknown sid
  ];
  for (const res of await Promise.all(refused)) expect(res.status).toBeGreaterThanOrEqual(400);
  {
    // The CONNECT packet carries the token in its auth payload, and the handshake URL in its query.
    using alice = await connect(server.url, { auth: { token, sessionKey: opaque }, query: { token }, transports: ["polling"] });
    expect(await alice.emitWithAck("joinRoom", { roomId: "r" })).toMatchObject({ ok: true });
  }
  const api = await fetch(`${server.url}/api/stats`, { headers: { authorization: "Bearer api-key-that-is-long-and-secret-123" } });
  expect(api.status).toBe(200);
  await Bun.sleep(200); // lets the last lines through the pipes
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  await server.logsDone;
  const output = server.logs.map((entry) => JSON.stringify(entry)).join("\n") + server.stdout.join("");
  // The lines are there (the test would prove nothing otherwise)…
  expect(output).toContain("engine request refused");
  expect(output).toContain("socket.io-parser");
  // …without any of the credentials.
  const leaks = [token, token.split(".")[2]!, opaque, "api-key-that-is-long-and-secret-123"].filter((secret) => output.includes(secret));
  console.log(`redaction: ${output.length} characters of output, ${leaks.length} credentials found`);
  expect(leaks).toEqual([]);
}, 60_000);
