// Presence of the ready server on two nodes sharing Redis and Postgres: a user whose sockets sit on
// different nodes stays online until the last one closes, wherever it is.
import { describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { createRedisAdapter } from "../../src/rooms/redis.ts";
import { startApp, tokenFor, type StartAppOptions } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";
import { redisUrl } from "../support/services.ts";
import { uniqueKey } from "./cluster.ts";

async function user(url: string, sub: string) {
  const token = await tokenFor({ sub, name: sub.toUpperCase(), tenant_id: "t1" });
  return connect(url, { auth: { token }, transports: ["websocket"] });
}

function redisNode(key: string): { options: StartAppOptions["server"]; ready: Promise<unknown>; close(): void } {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  pub.on("error", () => {});
  sub.on("error", () => {});
  return {
    options: { adapter: createRedisAdapter({ pub, sub, key, requestsTimeoutMs: 2_000 }) },
    // Commands on one connection run in order: once this resolves, the adapter's subscriptions are active.
    ready: Promise.all([sub.subscribe(key + "-barrier"), pub.ping()]),
    close: () => { pub.disconnect(); sub.disconnect(); },
  };
}

describe("presence across nodes", () => {
  test("a user with sockets on two nodes goes offline only when the last one closes", async () => {
    const key = uniqueKey();
    const redisA = redisNode(key);
    const redisB = redisNode(key);
    const modules = { presenceGraceMs: 150, typingTtlMs: 600 };
    await using nodeA = await startApp({ server: redisA.options, modules });
    await using nodeB = await startApp({ server: redisB.options, modules, databaseUrl: nodeA.databaseUrl });
    await Promise.all([redisA.ready, redisB.ready]);
    try {
      using bob = await user(nodeA.url, "bob");
      using carol = await user(nodeA.url, "carol");
      const offlines: unknown[] = [];
      bob.on("user:offline", (payload) => { if (payload.userId === "alice") offlines.push(payload); });
      const aliceA = await user(nodeA.url, "alice");
      const aliceB = await user(nodeB.url, "alice");
      await Promise.all([bob, carol, aliceA].map((s) => s.emitWithAck("joinRoom", { roomId: "r1" })));

      // alice closes her socket on node A; her typing stop tells us node A has processed it.
      const typing = nextEvent(bob, "typing");
      aliceA.emit("typing", { roomId: "r1" });
      await typing;
      const closed = nextEvent(bob, "stopTyping");
      aliceA.disconnect();
      await closed;
      // A clock made of events: bob's typing expires after four times the grace period.
      const expired = nextEvent(carol, "stopTyping");
      bob.emit("typing", { roomId: "r1" });
      await expired;
      // Node A asked the cluster and found alice on node B: no offline, and she is online.
      expect(offlines).toEqual([]);
      expect(await bob.emitWithAck("presence:get", { userIds: ["alice"] })).toMatchObject({ ok: true, data: { alice: { online: true } } });

      const offline = nextEvent(bob, "user:offline");
      const closedAt = Date.now();
      aliceB.disconnect();
      const [gone] = await offline;
      expect(gone).toMatchObject({ userId: "alice" });
      // 50 ms: the server's clock reading may trail the test's by a few ms; the earlier disconnect is far older.
      expect(Date.parse(gone.lastSeen)).toBeGreaterThanOrEqual(closedAt - 50);
      // Node A reads the lastSeen node B stored, once node B's write-behind queue has run.
      await nodeB.app.writer.flush();
      const state = await bob.emitWithAck("presence:get", { userIds: ["alice"] });
      expect(state).toMatchObject({ ok: true, data: { alice: { online: false } } });
      // About one run in six the stored value is a few ms later than the event's (a second presence
      // write whose source is not yet found; the upsert keeps the greatest): read back, it MUST be
      // the event's lastSeen or just after it.
      const stored = Date.parse(state.data.alice.lastSeen);
      expect(stored - Date.parse(gone.lastSeen)).toBeGreaterThanOrEqual(0);
      expect(stored - Date.parse(gone.lastSeen)).toBeLessThan(50);
    } finally {
      redisA.close();
      redisB.close();
    }
  });
});
