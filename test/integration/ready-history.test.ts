// Message history and live stats of the ready server: history pages (newest first, cursor, capped
// limit, members only) over messages sent through the chat module; getStats and /admin `stats`.
import { describe, expect, test } from "bun:test";
import { getStats } from "../../src/modules/stats.ts";
import { startApp, tokenFor } from "../support/app.ts";
import { connect, nextEvent, type ClientSocket } from "../support/client.ts";

async function user(url: string, sub: string, nsp = "/", extra: Record<string, unknown> = {}) {
  const token = await tokenFor({ sub, name: sub.toUpperCase(), ...extra });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

async function send(socket: ClientSocket, roomId: string, body: string): Promise<string> {
  const confirmed = new Promise<string>((resolve) => {
    const onConfirmed = (message: any) => {
      if (message.body !== body) return;
      socket.off("roomMessageConfirmed", onConfirmed);
      resolve(message.id);
    };
    socket.on("roomMessageConfirmed", onConfirmed);
  });
  socket.emit("roomMessage", { roomId, body });
  return confirmed;
}

describe("history", () => {
  test.concurrent("pages stored messages newest first with a cursor, for members only", async () => {
    await using server = await startApp({ env: { HISTORY_MAX_LIMIT: "3" } });
    using alice = await user(server.url, "alice");
    using carol = await user(server.url, "carol");
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    const ids: string[] = [];
    for (const body of ["m1", "m2", "m3", "m4", "m5"]) ids.push(await send(alice, "r1", body));

    const first = (await alice.emitWithAck("history", { roomId: "r1", limit: 2 })) as any;
    expect(first.ok).toBe(true);
    expect(first.data.messages.map((m: any) => [m.id, m.body, m.senderId])).toEqual([[ids[4], "m5", "alice"], [ids[3], "m4", "alice"]]);
    expect(typeof first.data.nextCursor).toBe("string");
    const second = (await alice.emitWithAck("history", { roomId: "r1", limit: 2, before: first.data.nextCursor })) as any;
    expect(second.data.messages.map((m: any) => m.body)).toEqual(["m3", "m2"]);
    const last = (await alice.emitWithAck("history", { roomId: "r1", limit: 2, before: second.data.nextCursor })) as any;
    expect(last.data).toMatchObject({ messages: [{ body: "m1", roomId: "r1" }], nextCursor: null });

    // The limit is capped by HISTORY_MAX_LIMIT.
    const capped = (await alice.emitWithAck("history", { roomId: "r1", limit: 1_000 })) as any;
    expect(capped.data.messages.map((m: any) => m.body)).toEqual(["m5", "m4", "m3"]);

    expect(await carol.emitWithAck("history", { roomId: "r1" })).toMatchObject({ ok: false, error: { code: "not_a_member" } });
    expect(await alice.emitWithAck("history", { roomId: "r1", before: "garbage" })).toMatchObject({ ok: false, error: { code: "invalid_cursor" } });
    expect(await alice.emitWithAck("history", { roomId: "r1", limit: -1 })).toMatchObject({ ok: false, error: { code: "bad_request" } });
  });
});

describe("stats", () => {
  test.concurrent("count users, sockets and rooms per namespace, and answer admins on /admin", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    using aliceChat = await user(server.url, "alice", "/chat");
    using bob = await user(server.url, "bob");
    using admin = await user(server.url, "root", "/admin", { roles: ["admin"] });
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    await bob.emitWithAck("joinRoom", { roomId: "r1" });

    const stats = getStats(server.app);
    // Rooms: "/" has user:alice, user:bob and r1; "/chat" user:alice; "/admin" user:root. Sockets' own rooms do not count.
    expect(stats).toMatchObject({
      totalUsers: 3,
      totalSockets: 4,
      totalRooms: 5,
      namespaces: {
        "/": { sockets: 2, users: 2, rooms: 3 },
        "/chat": { sockets: 1, users: 1, rooms: 1 },
        "/admin": { sockets: 1, users: 1, rooms: 1 },
        "/messaging": { sockets: 0, users: 0, rooms: 0 },
      },
    });
    // One node (no REDIS_URL): the cluster is this node.
    expect(await admin.emitWithAck("stats")).toEqual({
      ok: true,
      data: { ...stats, nodeId: server.app.config.nodeId, cluster: { nodes: [{ nodeId: server.app.config.nodeId, sockets: 4, users: 3, rooms: 5 }], sockets: 4, users: 3, rooms: 5, isComplete: true } },
    });

    // bob's typing stop, relayed on his disconnect, tells us the server has processed it.
    const typing = nextEvent(alice, "typing");
    bob.emit("typing", { roomId: "r1" });
    await typing;
    const left = nextEvent(alice, "stopTyping");
    bob.disconnect();
    await left;
    expect(await admin.emitWithAck("stats")).toMatchObject({ ok: true, data: { totalUsers: 2, totalSockets: 3 } });
  });
});
