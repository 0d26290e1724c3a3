// Presence of the ready server: online while any socket of the user is connected (any namespace),
// offline after a grace period with lastSeen persisted, no flap on a quick reconnect, presence:get.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { startApp, tokenFor } from "../support/app.ts";
import { connect, nextEvent, type ClientSocket } from "../support/client.ts";

async function user(url: string, sub: string, nsp = "/", tenant: string | undefined = "t1") {
  const token = await tokenFor({ sub, name: sub.toUpperCase(), ...(tenant ? { tenant_id: tenant } : {}) });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

/** The names of the presence events about `userId` that `socket` receives, in order. */
function record(socket: ClientSocket, userId: string, events: readonly string[]): string[] {
  const seen: string[] = [];
  for (const name of events) socket.on(name, (payload) => { if (payload?.userId === userId) seen.push(name); });
  return seen;
}

describe("presence", () => {
  test.concurrent("a user stays online while any socket is connected and goes offline after the grace, with lastSeen", async () => {
    await using server = await startApp({ modules: { presenceGraceMs: 200, typingTtlMs: 400 } });
    using bob = await user(server.url, "bob");
    using bobChat = await user(server.url, "bob", "/chat");
    const seen = record(bob, "alice", ["user:online", "user:offline"]);

    const online = nextEvent(bob, "user:online");
    const onlineInChat = nextEvent(bobChat, "online");
    const aliceRoot = await user(server.url, "alice");
    const aliceChat = await user(server.url, "alice", "/chat");
    expect((await online)[0]).toMatchObject({ userId: "alice", name: "ALICE" });
    // Seed 004's /chat vocabulary: online / offline.
    expect((await onlineInChat)[0]).toMatchObject({ userId: "alice" });

    // Alice closes one socket. Her typing stop tells us the server has processed the disconnect.
    using carol = await user(server.url, "carol");
    await Promise.all([bob, carol, aliceRoot].map((s) => s.emitWithAck("joinRoom", { roomId: "r1" })));
    const typing = nextEvent(bob, "typing");
    aliceRoot.emit("typing", { roomId: "r1" });
    await typing;
    const closed = nextEvent(bob, "stopTyping");
    aliceRoot.disconnect();
    await closed;
    // A clock made of events: bob's typing expires after the TTL, twice the grace period.
    const expired = nextEvent(carol, "stopTyping");
    bob.emit("typing", { roomId: "r1" });
    await expired;
    // The grace period is long over, and the other socket kept alice online.
    expect(seen).toEqual(["user:online"]);
    const state = await bob.emitWithAck("presence:get", { userIds: ["alice", "bob", "nobody"] });
    expect(state).toMatchObject({ ok: true, data: { alice: { online: true }, bob: { online: true }, nobody: { online: false, lastSeen: null } } });

    const offline = nextEvent(bob, "user:offline");
    const offlineInChat = nextEvent(bobChat, "offline");
    const closedAt = Date.now();
    aliceChat.disconnect();
    const [gone] = await offline;
    expect(gone).toMatchObject({ userId: "alice", name: "ALICE" });
    // 50 ms: the server's clock reading may trail the test's by a few ms; the earlier disconnect is far older.
    expect(Date.parse(gone.lastSeen)).toBeGreaterThanOrEqual(closedAt - 50);
    expect((await offlineInChat)[0]).toMatchObject({ userId: "alice", lastSeen: gone.lastSeen });
    expect(seen).toEqual(["user:online", "user:offline"]);

    expect(await bob.emitWithAck("presence:get", { userIds: ["alice"] })).toEqual({ ok: true, data: { alice: { online: false, lastSeen: gone.lastSeen } } });
    await server.app.writer.flush();
    const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const [row] = await sql`select last_seen from presence where user_id = 'alice'`;
    await sql.end();
    expect(row!.last_seen.toISOString()).toBe(gone.lastSeen);
  });

  test.concurrent("a reconnect within the grace period does not flap", async () => {
    await using server = await startApp({ modules: { presenceGraceMs: 500, typingTtlMs: 1_500 } });
    using bob = await user(server.url, "bob");
    using carol = await user(server.url, "carol");
    const seen = record(bob, "alice", ["user:online", "user:offline"]);
    const online = nextEvent(bob, "user:online");
    const first = await user(server.url, "alice");
    await online;
    await Promise.all([bob, carol, first].map((s) => s.emitWithAck("joinRoom", { roomId: "r1" })));

    // Her typing stop tells us the server has processed the disconnect: the grace period runs.
    const typing = nextEvent(bob, "typing");
    first.emit("typing", { roomId: "r1" });
    await typing;
    const closed = nextEvent(bob, "stopTyping");
    first.disconnect();
    await closed;
    const again = await user(server.url, "alice");
    // A clock made of events: bob's typing expires after three times the grace period.
    const expired = nextEvent(carol, "stopTyping");
    bob.emit("typing", { roomId: "r1" });
    await expired;
    expect(seen).toEqual(["user:online"]);

    const offline = nextEvent(bob, "user:offline");
    again.disconnect();
    await offline;
    expect(seen).toEqual(["user:online", "user:offline"]);
  });

  test.concurrent("user:offline goes to the rooms the user was in", async () => {
    await using server = await startApp({ modules: { presenceGraceMs: 50 } });
    // No tenant: the shared room is the only way bob hears about alice.
    using bob = await user(server.url, "bob", "/", undefined);
    const alice = await user(server.url, "alice", "/", undefined);
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    await bob.emitWithAck("joinRoom", { roomId: "r1" });
    const offline = nextEvent(bob, "user:offline");
    alice.disconnect();
    expect((await offline)[0]).toMatchObject({ userId: "alice" });
    // The lastSeen is answered before and after the write-behind queue persisted it.
    const before = await bob.emitWithAck("presence:get", { userIds: ["alice"] });
    await server.app.writer.flush();
    expect(await bob.emitWithAck("presence:get", { userIds: ["alice"] })).toEqual(before);
  });

  test.concurrent("presence:get refuses a malformed request", async () => {
    await using server = await startApp();
    using bob = await user(server.url, "bob");
    expect(await bob.emitWithAck("presence:get", { userIds: "alice" })).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await bob.emitWithAck("presence:get", {})).toMatchObject({ ok: false, error: { code: "bad_request" } });
  });
});
