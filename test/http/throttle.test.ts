// Throttled emits (seed 000's throttler) over real HTTP: events sharing a key coalesce, only the
// newest is sent at the end of the window; GET /api/events/pending lists them, POST
// /api/events/flush sends them now, and `force: true` bypasses the throttle.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { API_KEY, call, record, userSocket } from "./helpers.ts";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ env: { API_KEY } });
});
afterAll(async () => {
  await server[Symbol.asyncDispose]();
});

const likes = (key: string, count: number, ms: number, extra: Record<string, unknown> = {}) => ({
  event: "post_liked", data: { post_id: key, like_count: count }, to: { users: [`${key}-viewer`] }, throttle: { key, ms }, ...extra,
});

describe("throttle", () => {
  test("coalesces a burst into its newest event, sent once at the end of the window", async () => {
    using viewer = await userSocket(server.url, "burst-viewer");
    const v = record(viewer);
    const started = Date.now();
    const answers = [];
    for (let count = 1; count <= 5; count++) answers.push(await call(server.url, "/api/emit", { body: likes("burst", count, 500) }));
    expect(answers.map((a) => [a.status, a.body.recipients, a.body.throttled.isReplaced])).toEqual([
      [202, null, false], [202, null, true], [202, null, true], [202, null, true], [202, null, true],
    ]);
    const pending = await call(server.url, "/api/events/pending");
    expect(pending.body.events.filter((e: { key: string }) => e.key === "burst")).toEqual([
      expect.objectContaining({ key: "burst", namespace: "/", event: "post_liked", data: { post_id: "burst", like_count: 5 }, coalescedCount: 5 }),
    ]);

    await v.until("post_liked");
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
    // The sentinel is sent after the window closed: had a second event been sent, it came first.
    await call(server.url, "/api/users/burst-viewer/emit", { body: { event: "sentinel" } });
    await v.until("sentinel");
    expect(v.named("post_liked")).toEqual([[{ post_id: "burst", like_count: 5 }]]);
    expect((await call(server.url, "/api/events/pending")).body.events.some((e: { key: string }) => e.key === "burst")).toBe(false);
  });

  test("keys are independent, and a new window opens after the previous one was sent", async () => {
    using viewer = await userSocket(server.url, "keys-viewer");
    const v = record(viewer);
    await call(server.url, "/api/emit", { body: likes("keys", 1, 50, { event: "a" }) });
    await call(server.url, "/api/emit", { body: { ...likes("keys", 1, 50), event: "b", throttle: { key: "keys-b", ms: 50 } } });
    await Promise.all([v.until("a"), v.until("b")]);
    await call(server.url, "/api/emit", { body: likes("keys", 2, 50, { event: "a" }) });
    await v.until("a", 2);
    expect(v.named("a")).toEqual([[{ post_id: "keys", like_count: 1 }], [{ post_id: "keys", like_count: 2 }]]);
  });

  test("POST /api/events/flush sends what is pending now, and the pending list empties", async () => {
    using viewer = await userSocket(server.url, "flush-viewer");
    const v = record(viewer);
    await call(server.url, "/api/emit", { body: likes("flush", 1, 600_000) });
    await call(server.url, "/api/emit", { body: likes("flush", 2, 600_000) });
    const pending = await call(server.url, "/api/events/pending");
    expect(pending.body.events.find((e: { key: string }) => e.key === "flush")).toMatchObject({ coalescedCount: 2, data: { like_count: 2 } });
    expect(pending.body.count).toBe(pending.body.events.length);

    const flushed = await call(server.url, "/api/events/flush", { method: "POST" });
    expect(flushed.status).toBe(200);
    expect(flushed.body.flushed).toBeGreaterThanOrEqual(1);
    await v.until("post_liked");
    expect(v.named("post_liked")).toEqual([[{ post_id: "flush", like_count: 2 }]]);
    expect((await call(server.url, "/api/events/pending")).body).toEqual({ count: 0, events: [] });
  });

  test("force: true sends at once and supersedes the event pending under its key", async () => {
    using viewer = await userSocket(server.url, "force-viewer");
    const v = record(viewer);
    await call(server.url, "/api/emit", { body: likes("force", 1, 600_000) });
    const forced = await call(server.url, "/api/emit", { body: likes("force", 2, 600_000, { force: true }) });
    expect(forced).toMatchObject({ status: 202, body: { recipients: 1 } });
    await v.until("post_liked");
    expect(v.named("post_liked")).toEqual([[{ post_id: "force", like_count: 2 }]]);
    expect((await call(server.url, "/api/events/pending")).body.events.some((e: { key: string }) => e.key === "force")).toBe(false);
  });

  test("the management routes need the key too", async () => {
    expect((await call(server.url, "/api/events/pending", { auth: null })).status).toBe(401);
    expect((await call(server.url, "/api/events/flush", { method: "POST", auth: "Bearer wrong" })).status).toBe(401);
  });
});
