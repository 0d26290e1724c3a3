// The official Socket.IO Admin UI server part (@socket.io/admin-ui `instrument()`), unchanged, on a
// Bunsen Server: what the UI receives over its namespace and the commands it sends.
import { describe, expect, test } from "bun:test";
import { instrument } from "@socket.io/admin-ui";
import type { Socket } from "../../src/index.ts";
import { client, connect, nextEvent, type ClientSocket } from "../support/client.ts";
import { startServer } from "../support/server.ts";

const PASSWORD = "s3cret-admin";

/** Every event the admin client received, and a way to wait for one that matches. */
function recorder(socket: ClientSocket) {
  const seen: unknown[][] = [];
  const waiters: { match: (e: unknown[]) => boolean; resolve: (e: unknown[]) => void }[] = [];
  socket.onAny((...event: unknown[]) => {
    seen.push(event);
    for (const w of waiters.splice(0)) (w.match(event) ? w.resolve(event) : waiters.push(w));
  });
  return (name: string, match: (args: any[]) => boolean = () => true): Promise<any[]> => {
    const test = (e: unknown[]) => e[0] === name && match(e.slice(1));
    const found = seen.find(test);
    if (found) return Promise.resolve(found.slice(1));
    return new Promise((resolve) => waiters.push({ match: test, resolve: (e) => resolve(e.slice(1)) }));
  };
}

async function instrumented() {
  const hash = await Bun.password.hash(PASSWORD, { algorithm: "bcrypt" });
  const serverSockets = new Map<string, Socket>();
  const server = await startServer({}, (io) => {
    io.on("connection", (socket: Socket) => { serverSockets.set(socket.id, socket); });
    instrument(io as never, { namespaceName: "/admin-ui", auth: { type: "basic", username: "admin", password: hash }, mode: "development" });
  });
  return { server, serverSockets };
}

describe("@socket.io/admin-ui instrument() on a Bunsen Server", () => {
  test("the UI gets config, all_sockets, server_stats and live events; its join/emit/leave/_disconnect commands act on sockets", async () => {
    const { server, serverSockets } = await instrumented();
    await using _ = server;
    using alice = await connect(server.url);
    const aliceId = alice.id!; // the client forgets its id once disconnected
    using admin = client(`${server.url}/admin-ui`, { auth: { username: "admin", password: PASSWORD } });
    const next = recorder(admin);
    await nextEvent(admin, "connect");

    const [config] = await next("config");
    expect(config.supportedFeatures).toEqual(expect.arrayContaining(["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "ALL_EVENTS"]));
    const [sockets] = await next("all_sockets");
    expect(sockets.find((s: any) => s.id === alice.id)).toMatchObject({ nsp: "/", transport: "websocket", rooms: [alice.id], handshake: { address: "127.0.0.1" } });
    const [session] = await next("session");
    expect(typeof session).toBe("string");

    // server_stats every 2 s: namespaces with their socket counts, engine clients.
    const [stats] = await next("server_stats", ([s]) => s.namespaces.some((n: any) => n.name === "/admin-ui" && n.socketsCount === 1));
    expect(stats.namespaces).toContainEqual({ name: "/", socketsCount: 1 });
    expect(stats.clientsCount).toBe(2);

    // join: the adapter's join-room event reaches the UI as room_joined.
    admin.emit("join", "/", "r1", alice.id);
    expect((await next("room_joined", ([nsp, room]) => nsp === "/" && room === "r1")).slice(0, 3)).toEqual(["/", "r1", alice.id]);
    expect([...serverSockets.get(aliceId)!.rooms]).toEqual([aliceId, "r1"]);

    // emit to the room.
    const got = nextEvent(alice, "announce");
    admin.emit("emit", "/", "r1", "announce", { text: "hi" });
    expect(await got).toEqual([{ text: "hi" }]);

    // An event the app receives shows in the UI's event list.
    alice.emit("chat", "hello");
    expect((await next("event_received", ([, id]) => id === alice.id)).slice(0, 3)).toEqual(["/", alice.id, ["chat", "hello"]]);

    // leave.
    admin.emit("leave", "/", "r1", alice.id);
    expect((await next("room_left", ([, room]) => room === "r1")).slice(0, 3)).toEqual(["/", "r1", alice.id]);
    expect([...serverSockets.get(aliceId)!.rooms]).toEqual([aliceId]);

    // _disconnect: the client is disconnected by the server, the UI hears socket_disconnected.
    const gone = nextEvent(alice, "disconnect");
    admin.emit("_disconnect", "/", false, alice.id);
    expect(await gone).toEqual(["io server disconnect", undefined]);
    expect((await next("socket_disconnected", ([, id]) => id === aliceId)).slice(0, 3)).toEqual(["/", aliceId, "server namespace disconnect"]);

    // A socket connecting later is announced.
    using bob = await connect(server.url);
    expect((await next("socket_connected", ([s]) => s.id === bob.id))[0]).toMatchObject({ nsp: "/", rooms: [bob.id] });
  });

  test("a wrong password gets connect_error invalid credentials", async () => {
    const { server } = await instrumented();
    await using _ = server;
    using admin = client(`${server.url}/admin-ui`, { auth: { username: "admin", password: "wrong" } });
    const [err] = await nextEvent(admin, "connect_error");
    expect(err.message).toBe("invalid credentials");
  });
});

describe("adapter room events", () => {
  test("create-room, join-room, leave-room and delete-room fire in socket.io-adapter's order", async () => {
    const events: unknown[][] = [];
    await using server = await startServer({}, (io) => {
      const adapter = io.of("/").adapter;
      for (const name of ["create-room", "join-room", "leave-room", "delete-room"] as const) adapter.on(name, (...args) => events.push([name, ...args]));
      io.on("connection", (socket: Socket) => {
        socket.on("enter", (room: string, ack: () => void) => { socket.join(room); ack(); });
        socket.on("exit", (room: string, ack: () => void) => { socket.leave(room); ack(); });
      });
    });
    using alice = await connect(server.url);
    await alice.emitWithAck("enter", "r1");
    await alice.emitWithAck("exit", "r1");
    expect(events).toEqual([
      ["create-room", alice.id], ["join-room", alice.id, alice.id],
      ["create-room", "r1"], ["join-room", "r1", alice.id],
      ["leave-room", "r1", alice.id], ["delete-room", "r1"],
    ]);
  });
});
