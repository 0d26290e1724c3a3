// Operations endpoints over real HTTP: /healthz, /readyz (200, and 503 with the database cut off
// through a TCP proxy), GET /api/stats. /metrics has its own file (metrics.test.ts).
import { describe, expect, test } from "bun:test";
import { startApp } from "../support/app.ts";
import { createTestDatabase, databaseUrl } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { API_KEY, call, userSocket } from "./helpers.ts";

describe("health and readiness", () => {
  test("/healthz answers 200, also to HEAD", async () => {
    await using server = await startApp();
    expect(await call(server.url, "/healthz", { auth: null })).toMatchObject({ status: 200, body: { status: "ok" } });
    const head = await fetch(server.url + "/healthz", { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
  });

  test("/readyz is 200 while the database answers, 503 while it is unreachable, and 200 again after", async () => {
    const target = new URL(databaseUrl);
    await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    await using db = await createTestDatabase();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    await using server = await startApp({ databaseUrl: viaProxy.toString() });
    expect(await call(server.url, "/readyz", { auth: null })).toMatchObject({ status: 200, body: { status: "ready", checks: { database: true } } });

    proxy.setMode("reset");
    expect(await call(server.url, "/readyz", { auth: null })).toMatchObject({
      status: 503, body: { error: { code: "not_ready", message: "not ready: database unreachable", checks: { database: false } } },
    });

    proxy.setMode("up");
    expect(await call(server.url, "/readyz", { auth: null })).toMatchObject({ status: 200 });
  }, 15_000);
});

describe("GET /api/stats", () => {
  test("reports sockets, users and rooms in total and per namespace, rates, queue depth and latency", async () => {
    await using server = await startApp({ env: { API_KEY } });
    using alice1 = await userSocket(server.url, "alice", { tenant_id: "t1" });
    using alice2 = await userSocket(server.url, "alice", { tenant_id: "t1" }, "/orders");
    using bob = await userSocket(server.url, "bob");
    expect(await bob.emitWithAck("joinRoom", { roomId: "r1" })).toMatchObject({ ok: true });
    expect(await call(server.url, "/api/stats", { auth: null })).toMatchObject({ status: 401 });
    const { status, body } = await call(server.url, "/api/stats");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      sockets: 3,
      users: 2,
      // user:alice, tenant:t1, user:bob, r1 on "/"; user:alice, tenant:t1 on "/orders".
      rooms: 6,
      namespaces: { "/": { sockets: 2, users: 2, rooms: 4 }, "/orders": { sockets: 1, users: 1, rooms: 2 }, "/admin": { sockets: 0, users: 0, rooms: 0 } },
      eventsPerSecond: { in: expect.any(Number), out: expect.any(Number) },
      persistence: { depth: 0 },
      confirmLatencyMs: { count: 0, p50: null, p99: null },
    });
    void alice1;
    void alice2;
  });
});

describe("/readyz with extra checks", () => {
  test("is 503 naming the failing check, such as Redis, while the database is fine", async () => {
    await using server = await startApp();
    const { createRouter } = await import("../../src/http/routes.ts");
    let isRedisReady = false;
    const router = createRouter(server.app, { readiness: { redis: () => isRedisReady } });
    const down = await router(new Request("http://x/readyz"));
    expect([down.status, await down.json()]).toEqual([503, { error: { code: "not_ready", message: "not ready: redis unreachable", checks: { database: true, redis: false } } }]);
    isRedisReady = true;
    const up = await router(new Request("http://x/readyz"));
    expect([up.status, await up.json()]).toEqual([200, { status: "ready", checks: { database: true, redis: true } }]);
  });
});
