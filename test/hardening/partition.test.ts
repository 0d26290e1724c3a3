// A network partition between the server and Postgres (the proxy accepts and never answers): every
// database call made for a request answers `unavailable` within DB_QUERY_TIMEOUT_MS instead of
// awaiting an answer that never comes — socket events through socket.io-client, the HTTP API with fetch.
import { expect, test } from "bun:test";
import { startApp, tokenFor } from "../support/app.ts";
import { connect } from "../support/client.ts";
import { createTestDatabase, databaseUrl } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

const DEADLINE_MS = 400;
// Generous against a loaded machine, far below "forever": without the deadline these never answer.
const CLIENT_WAIT_MS = 5_000;

test("blackholed Postgres: joinRoom, history, presence:get, notifications, message edit and the HTTP API answer unavailable within the deadline", async () => {
  const target = new URL(databaseUrl);
  await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  await using db = await createTestDatabase();
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  await using server = await startApp({ databaseUrl: viaProxy.toString(), env: { DB_QUERY_TIMEOUT_MS: String(DEADLINE_MS), API_KEY: "k".repeat(32) } });
  const auth = { token: await tokenFor({ sub: "alice" }) };
  using chat = await connect(server.url, { auth, transports: ["websocket"] });
  using notifications = await connect(`${server.url}/notifications`, { auth, transports: ["websocket"] });
  using messaging = await connect(`${server.url}/messaging`, { auth, transports: ["websocket"] });
  expect(await chat.emitWithAck("joinRoom", { roomId: "before" })).toMatchObject({ ok: true });

  proxy.setMode("blackhole");
  const answers: Record<string, unknown> = {};
  const timed = async (name: string, answer: Promise<unknown>) => {
    const started = performance.now();
    answers[name] = await answer;
    return performance.now() - started;
  };
  const waits = await Promise.all([
    timed("joinRoom", chat.timeout(CLIENT_WAIT_MS).emitWithAck("joinRoom", { roomId: "during" })),
    timed("history", chat.timeout(CLIENT_WAIT_MS).emitWithAck("history", { roomId: "before" })),
    timed("presence:get", chat.timeout(CLIENT_WAIT_MS).emitWithAck("presence:get", { userIds: ["never-seen"] })),
    timed("notification:get-count", notifications.timeout(CLIENT_WAIT_MS).emitWithAck("notification:get-count", {})),
    timed("notification:list", notifications.timeout(CLIENT_WAIT_MS).emitWithAck("notification:list", {})),
    timed("message:edit", messaging.timeout(CLIENT_WAIT_MS).emitWithAck("message:edit", { messageId: Bun.randomUUIDv7(), content: "x" })),
    timed("GET /api/conversations/:id", fetch(`${server.url}/api/conversations/c1`, { headers: { authorization: `Bearer ${"k".repeat(32)}` }, signal: AbortSignal.timeout(CLIENT_WAIT_MS) })
      .then(async (res) => ({ status: res.status, body: await res.json() }))),
    timed("POST /api/notifications", fetch(`${server.url}/api/notifications`, {
      method: "POST", headers: { authorization: `Bearer ${"k".repeat(32)}`, "content-type": "application/json" },
      body: JSON.stringify({ userId: "alice", type: "t", title: "hi" }), signal: AbortSignal.timeout(CLIENT_WAIT_MS),
    }).then(async (res) => ({ status: res.status, body: await res.json() }))),
  ]);
  console.log(`partition: answered in ${waits.map((ms) => Math.round(ms)).join(", ")} ms (deadline ${DEADLINE_MS} ms)`);
  proxy.setMode("up");
  for (const name of ["joinRoom", "history", "presence:get", "notification:get-count", "notification:list", "message:edit"]) {
    expect({ name, answer: answers[name] }).toMatchObject({ name, answer: { ok: false, error: { code: "unavailable" } } });
  }
  for (const name of ["GET /api/conversations/:id", "POST /api/notifications"]) {
    expect({ name, answer: answers[name] }).toMatchObject({ name, answer: { status: 503, body: { error: { code: "not_ready" } } } });
  }
}, 60_000);
