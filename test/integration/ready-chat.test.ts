// The ready server's chat flow (seed 002): optimistic emit, background persistence, confirmation or
// failure — against a real Postgres, a slowed one, an unreachable one, and the embedded default.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { startApp, tokenFor } from "../support/app.ts";
import { client, connect, nextEvent } from "../support/client.ts";
import { databaseUrl } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

async function user(url: string, sub: string, extra: Record<string, unknown> = {}, nsp = "/") {
  const token = await tokenFor({ sub, name: sub.toUpperCase(), ...extra });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

describe("chat with optimistic emit", () => {
  test("two users chat: the other receives the message at once, both receive the stored id, the row is in the database", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    const joinedA = await alice.emitWithAck("joinRoom", { roomId: "r1" });
    const joinedB = await bob.emitWithAck("joinRoom", { roomId: "r1" });
    expect(joinedA).toEqual({ ok: true, data: { roomId: "r1", connectedUsers: 1 } });
    expect(joinedB).toEqual({ ok: true, data: { roomId: "r1", connectedUsers: 2 } });

    const optimistic = nextEvent(bob, "roomMessageRecieved");
    const confirmedA = nextEvent(alice, "roomMessageConfirmed");
    const confirmedB = nextEvent(bob, "roomMessageConfirmed");
    // senderId in the payload is ignored: the sender comes from the token.
    alice.emit("roomMessage", { roomId: "r1", body: "hello", tempId: "t-1", senderId: "mallory" });
    const [message] = await optimistic;
    expect(message).toMatchObject({ tempId: "t-1", roomId: "r1", body: "hello", senderId: "alice", status: "pending" });
    const [[confirmed], [confirmedForBob]] = await Promise.all([confirmedA, confirmedB]);
    expect(confirmed).toMatchObject({ tempId: "t-1", roomId: "r1", senderId: "alice", status: "confirmed" });
    expect(confirmed.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(confirmedForBob.id).toBe(confirmed.id);

    const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const rows = await sql`select id, room_id, sender_id, body, temp_id from messages`;
    await sql.end();
    expect(rows.map((r) => ({ ...r }))).toEqual([{ id: confirmed.id, room_id: "r1", sender_id: "alice", body: "hello", temp_id: "t-1" }]);
  });

  test("a slow database delays the confirmation but not the optimistic message", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "slow" });
    await bob.emitWithAck("joinRoom", { roomId: "slow" });
    const locker = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    const { promise: locked, resolve: onLocked } = Promise.withResolvers<void>();
    const holding = locker.begin(async (tx) => {
      await tx`lock table messages in access exclusive mode`;
      onLocked();
      await released;
    });
    await locked;
    let isConfirmed = false;
    const confirmation = nextEvent(alice, "roomMessageConfirmed").then((args) => { isConfirmed = true; return args; });
    const optimistic = nextEvent(bob, "roomMessageRecieved");
    alice.emit("roomMessage", { roomId: "slow", body: "while locked", tempId: "t-slow" });
    const [message] = await optimistic;
    expect(message.tempId).toBe("t-slow");
    // The table is still locked: the optimistic message arrived without waiting for the database.
    expect(isConfirmed).toBe(false);
    release();
    await holding;
    const [confirmed] = await confirmation;
    expect(confirmed).toMatchObject({ tempId: "t-slow", status: "confirmed" });
    await locker.end();
  });

  test("an unreachable database fails the message to its sender, the server keeps serving, and persistence resumes", async () => {
    const target = new URL(databaseUrl);
    await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    const { createTestDatabase } = await import("../support/services.ts");
    await using db = await createTestDatabase();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    await using server = await startApp({ databaseUrl: viaProxy.toString(), env: { PERSIST_MAX_RETRIES: "1", PERSIST_FLUSH_MS: "5" } });
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "down" });
    await bob.emitWithAck("joinRoom", { roomId: "down" });

    proxy.setMode("reset");
    const failed = nextEvent(alice, "roomMessageFailed");
    const optimistic = nextEvent(bob, "roomMessageRecieved");
    alice.emit("roomMessage", { roomId: "down", body: "lost?", tempId: "t-down" });
    expect((await optimistic)[0].tempId).toBe("t-down");
    const [failure] = await failed;
    expect(failure).toMatchObject({ tempId: "t-down", roomId: "down", error: { code: "persist_failed" } });

    // Still serving while the database is down.
    const stillThere = nextEvent(bob, "roomMessageRecieved");
    const secondFailure = nextEvent(alice, "roomMessageFailed");
    alice.emit("roomMessage", { roomId: "down", body: "still here", tempId: "t-down-2" });
    expect((await stillThere)[0].body).toBe("still here");
    await secondFailure;

    proxy.setMode("up");
    const confirmed = nextEvent(alice, "roomMessageConfirmed");
    alice.emit("roomMessage", { roomId: "down", body: "back", tempId: "t-back" });
    expect((await confirmed)[0]).toMatchObject({ tempId: "t-back", status: "confirmed" });
  });

  test("the embedded database (no DATABASE_URL) serves the whole flow", async () => {
    await using server = await startApp({ embedded: true });
    expect(server.app.database.kind).toBe("pglite");
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "e1" });
    await bob.emitWithAck("joinRoom", { roomId: "e1" });
    const confirmed = nextEvent(bob, "roomMessageConfirmed");
    alice.emit("roomMessage", { roomId: "e1", body: "embedded", tempId: "t-e" });
    expect((await confirmed)[0]).toMatchObject({ tempId: "t-e", body: "embedded", senderId: "alice", status: "confirmed" });
  }, 60_000); // PGlite boots and migrates in a few seconds
});

describe("who may connect, join and post", () => {
  test("missing, invalid and expired tokens are refused with their codes", async () => {
    await using server = await startApp();
    const refusal = async (options: Parameters<typeof client>[1]) => {
      using socket = client(server.url, { transports: ["websocket"], ...options });
      const [err] = await nextEvent(socket, "connect_error");
      return { message: err.message, data: err.data };
    };
    expect(await refusal({})).toEqual({ message: "unauthorized", data: { code: "token_missing" } });
    expect(await refusal({ auth: { token: "not-a-jwt" } })).toEqual({ message: "unauthorized", data: { code: "token_invalid" } });
    const forged = await tokenFor({ sub: "alice" }, "1h", "another-secret-of-sufficient-length!!");
    expect(await refusal({ auth: { token: forged } })).toEqual({ message: "unauthorized", data: { code: "token_invalid" } });
    const expired = await tokenFor({ sub: "alice" }, Math.floor(Date.now() / 1000) - 3600);
    expect(await refusal({ auth: { token: expired } })).toEqual({ message: "unauthorized", data: { code: "token_expired" } });
    const notAdmin = await tokenFor({ sub: "alice", roles: ["user"] });
    using admin = client(server.url + "/admin", { transports: ["websocket"], auth: { token: notAdmin } });
    expect((await nextEvent(admin, "connect_error"))[0].data).toEqual({ code: "forbidden" });
  });

  test("the token is also read from the query and the Authorization header; connected names the user", async () => {
    await using server = await startApp();
    const token = await tokenFor({ sub: "u-query", tenant_id: "t1" });
    using viaQuery = client(server.url, { transports: ["websocket"], query: { token } });
    expect((await nextEvent(viaQuery, "connected"))[0]).toEqual({ message: "connected", user_id: "u-query", tenant_id: "t1" });
    using viaHeader = client(server.url, { transports: ["polling"], extraHeaders: { Authorization: `Bearer ${token}` } });
    expect((await nextEvent(viaHeader, "connected"))[0]).toMatchObject({ user_id: "u-query" });
  });

  test("a non-member cannot join a conversation room, another user's room, or post to a room it has not joined", async () => {
    await using server = await startApp();
    const { createConversation } = await import("../../src/persistence/queries.ts");
    await createConversation(server.app.database.db, { id: "conv-1", participantIds: ["alice", "bob"] });
    using alice = await user(server.url, "alice", { tenant_id: "t1" });
    using mallory = await user(server.url, "mallory", { tenant_id: "t2" });
    expect(await alice.emitWithAck("joinRoom", { roomId: "conv-1" })).toMatchObject({ ok: true });
    expect(await mallory.emitWithAck("joinRoom", { roomId: "conv-1" })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await mallory.emitWithAck("joinRoom", { roomId: "user:alice" })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await mallory.emitWithAck("joinRoom", { roomId: "tenant:t1" })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await mallory.emitWithAck("joinRoom", { roomId: "tenant:t2" })).toMatchObject({ ok: true });

    const seenByAlice: string[] = [];
    alice.on("roomMessageRecieved", (message: { tempId: string }) => seenByAlice.push(message.tempId));
    const failed = nextEvent(mallory, "roomMessageFailed");
    mallory.emit("roomMessage", { roomId: "conv-1", body: "let me in", tempId: "t-m" });
    expect((await failed)[0]).toEqual({ tempId: "t-m", roomId: "conv-1", error: { code: "not_a_member", message: "join the room before posting to it" } });
    // Alice's next own message arrives first: mallory's never reached the room.
    const own = nextEvent(alice, "roomMessageRecieved");
    alice.emit("roomMessage", { roomId: "conv-1", body: "mine", tempId: "t-a" });
    expect((await own)[0].tempId).toBe("t-a");
    expect(seenByAlice).toEqual(["t-a"]);
  });

  test("auth:refresh replaces the token for the same user and refuses another user's", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    const fresh = await tokenFor({ sub: "alice" }, "2h");
    const reply = await alice.emitWithAck("auth:refresh", { token: fresh });
    expect(reply.ok).toBe(true);
    expect(typeof reply.data.exp).toBe("number");
    const other = await tokenFor({ sub: "bob" });
    expect(await alice.emitWithAck("auth:refresh", { token: other })).toMatchObject({ ok: false, error: { code: "user_mismatch" } });
    expect(await alice.emitWithAck("auth:refresh", { token: "junk" })).toMatchObject({ ok: false, error: { code: "token_invalid" } });
  });

  test("a socket whose token expires while connected is disconnected", async () => {
    await using server = await startApp();
    const token = await tokenFor({ sub: "alice" }, Math.floor(Date.now() / 1000) + 2);
    using alice = await connect(server.url, { auth: { token }, transports: ["websocket"] });
    const [notice] = await nextEvent(alice, "error");
    expect(notice).toEqual({ code: "token_expired", message: "token expired" });
    expect((await nextEvent(alice, "disconnect"))[0]).toBe("io server disconnect");
  });

  test("the seed 003 (/messaging) and seed 004 (/chat) vocabularies run the same flow", async () => {
    await using server = await startApp();
    using a3 = await user(server.url, "alice", {}, "/messaging");
    using b3 = await user(server.url, "bob", {}, "/messaging");
    await a3.emitWithAck("message:join", { conversationId: "c3" });
    await b3.emitWithAck("message:join", { conversationId: "c3" });
    const got3 = nextEvent(b3, "message:send");
    const confirmed3 = nextEvent(a3, "message:confirmed");
    a3.emit("message:send", { conversationId: "c3", message: { content: "hi from 003" }, tempId: "t3" });
    expect((await got3)[0]).toMatchObject({ conversationId: "c3", body: "hi from 003", senderId: "alice" });
    expect((await confirmed3)[0]).toMatchObject({ tempId: "t3", status: "confirmed" });

    using a4 = await user(server.url, "alice", {}, "/chat");
    using b4 = await user(server.url, "bob", {}, "/chat");
    await a4.emitWithAck("join", { conversationId: "c4" });
    await b4.emitWithAck("join", { conversationId: "c4" });
    const got4 = nextEvent(b4, "message");
    a4.emit("message", { conversationId: "c4", content: "hi from 004" });
    expect((await got4)[0]).toMatchObject({ conversationId: "c4", content: "hi from 004", senderId: "alice" });
  });
});
