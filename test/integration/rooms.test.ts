// Rooms and every broadcast operator with socket.io-client 4.8, over every transport, then rooms
// whose members ride different transports (polling members, and one upgrading mid-stream).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { connect, nextEvent, type ClientOptions, type ClientSocket } from "../support/client.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

/** Every event `socket` receives until the "end" marker, as [event, ...args]. */
function collect(socket: ClientSocket): Promise<unknown[][]> {
  const events: unknown[][] = [];
  const { promise, resolve } = Promise.withResolvers<unknown[][]>();
  socket.onAny((event: string, ...args: unknown[]) => {
    if (event === "end") {
      socket.offAny();
      resolve(events);
    } else events.push([event, ...args]);
  });
  return promise;
}

/**
 * A server whose clients join rooms with `emitWithAck("join", rooms)`, and `n` connected clients
 * with their server-side sockets (same order).
 */
async function room(n: number, transport: ClientOptions | ClientOptions[]) {
  const server = await startServer({}, (io) => io.on("connection", (s: Socket) => {
    s.on("join", (rooms: string | string[], ack: () => void) => { s.join(rooms); ack(); });
    s.on("leave", (room: string, ack: () => void) => { s.leave(room); ack(); });
  }));
  const clients: (ClientSocket & Disposable)[] = [];
  for (let i = 0; i < n; i++) clients.push(await connect(server.url, Array.isArray(transport) ? transport[i]! : transport));
  const sockets = clients.map((c) => server.io.sockets.sockets.get(c.id!)!);
  return { server, clients, sockets, [Symbol.asyncDispose]: () => disposeAll(server, clients) };
}

async function disposeAll(server: TestServer, clients: Disposable[]) {
  for (const c of clients) c[Symbol.dispose]();
  await server[Symbol.asyncDispose]();
}

/** Runs `broadcast`, then a namespace-wide "end"; resolves with what each client received. */
async function received(server: TestServer, clients: ClientSocket[], broadcast: () => void): Promise<unknown[][][]> {
  const all = clients.map(collect);
  broadcast();
  server.io.emit("end");
  return Promise.all(all);
}

describe.each(TRANSPORTS)("rooms over %s", (mode, transport) => {
  test.concurrent("io.to and io.in reach the room's members only", async () => {
    await using r = await room(3, transport);
    const [a, b, c] = r.clients;
    await Promise.all([a!, b!].map((x) => x.emitWithAck("join", "r1")));
    expect(await received(r.server, r.clients, () => {
      r.server.io.to("r1").emit("m", 1);
      r.server.io.in("r1").emit("m", 2);
    })).toEqual([[["m", 1], ["m", 2]], [["m", 1], ["m", 2]], []]);
    expect(c!.connected).toBe(true);
  });

  test.concurrent("io.except skips the room's members; to().except() combines", async () => {
    await using r = await room(3, transport);
    const [a, b] = r.clients;
    await a!.emitWithAck("join", ["r1", "vip"]);
    await b!.emitWithAck("join", "r1");
    expect(await received(r.server, r.clients, () => {
      r.server.io.except("r1").emit("m", "outside");
      r.server.io.to("r1").except("vip").emit("m", "plain");
    })).toEqual([[], [["m", "plain"]], [["m", "outside"]]]);
  });

  test.concurrent("to([a, b]) delivers once to a socket in both rooms", async () => {
    await using r = await room(3, transport);
    const [a, b, c] = r.clients;
    await a!.emitWithAck("join", ["a", "b"]);
    await b!.emitWithAck("join", "b");
    await c!.emitWithAck("join", "z");
    expect(await received(r.server, r.clients, () => {
      r.server.io.to(["a", "b"]).emit("m", 1);
      r.server.io.to("a").to("b").emit("m", 2);
    })).toEqual([[["m", 1], ["m", 2]], [["m", 1], ["m", 2]], []]);
  });

  test.concurrent("socket.to(room) and socket.broadcast exclude the sender", async () => {
    await using r = await room(3, transport);
    const [a, b] = r.clients;
    await Promise.all([a!, b!].map((x) => x.emitWithAck("join", "r1")));
    const [sa] = r.sockets;
    expect(await received(r.server, r.clients, () => {
      sa!.to("r1").emit("m", "room");
      sa!.broadcast.emit("m", "all");
      sa!.except("r1").emit("m", "not r1");
    })).toEqual([[], [["m", "room"], ["m", "all"]], [["m", "all"], ["m", "not r1"]]]);
  });

  test.concurrent("io.emit, io.local and volatile reach the whole namespace", async () => {
    await using r = await room(2, transport);
    const got = await received(r.server, r.clients, () => {
      r.server.io.emit("m", "all");
      r.server.io.local.emit("m", "local");
      r.server.io.volatile.emit("m", "volatile");
    });
    for (const events of got) {
      // Volatile packets may be dropped when the transport cannot take them at once (a poll
      // between two GETs); over WebSocket and without pressure they arrive.
      if (mode === "websocket") expect(events).toEqual([["m", "all"], ["m", "local"], ["m", "volatile"]]);
      else expect(events.filter(([, v]) => v !== "volatile")).toEqual([["m", "all"], ["m", "local"]]);
      expect(events.filter(([, v]) => v === "volatile").length).toBeLessThanOrEqual(1);
    }
  });

  test.concurrent("io.to(socketId) reaches that socket only", async () => {
    await using r = await room(3, transport);
    expect(await received(r.server, r.clients, () => {
      r.server.io.to(r.clients[1]!.id!).emit("m", "private");
      r.sockets[0]!.to(r.clients[2]!.id!).emit("m", "dm");
    })).toEqual([[], [["m", "private"]], [["m", "dm"]]]);
  });

  test.concurrent("io.of(nsp).to(room) stays in its namespace", async () => {
    await using server = await startServer({}, (io) => {
      io.on("connection", (s: Socket) => s.join("same"));
      io.of("/x").on("connection", (s: Socket) => s.join("same"));
    });
    using main = await connect(server.url, transport);
    using x = await connect(server.url + "/x", transport);
    const [gotMain, gotX] = [collect(main), collect(x)];
    server.io.of("/x").to("same").emit("m", "x only");
    server.io.of("/x").emit("m", "x all");
    server.io.emit("end");
    server.io.of("/x").emit("end");
    expect({ main: await gotMain, x: await gotX }).toEqual({ main: [], x: [["m", "x only"], ["m", "x all"]] });
  });

  test.concurrent("io.timeout().emit collects every client's ack; a silent client makes it time out", async () => {
    await using r = await room(3, transport);
    r.clients.forEach((c, i) => c.on("q", (n: number, ack: (v: number) => void) => ack(n * 10 + i)));
    const done = Promise.withResolvers<[Error | null, unknown[]]>();
    r.server.io.timeout(1_000).emit("q", 1, (err: Error | null, responses: unknown[]) => done.resolve([err, responses]));
    const [err, responses] = await done.promise;
    expect({ err, responses: responses.toSorted() }).toEqual({ err: null, responses: [10, 11, 12] });

    expect(await r.server.io.timeout(1_000).emitWithAck("q", 2).then((v) => v.toSorted())).toEqual([20, 21, 22]);

    r.clients[2]!.off("q");
    r.clients[2]!.on("q", () => {}); // never acks
    const partial = Promise.withResolvers<[Error | null, unknown[]]>();
    r.server.io.timeout(500).emit("q", 3, (e: Error | null, responses: unknown[]) => partial.resolve([e, responses]));
    const [timeoutErr, some] = await partial.promise;
    expect({ message: timeoutErr?.message, some: some.toSorted() }).toEqual({ message: "operation has timed out", some: [30, 31] });
  });

  test.concurrent("a broadcast with acks to an empty room answers at once with no responses", async () => {
    await using r = await room(1, transport);
    expect(await r.server.io.to("nobody").timeout(1_000).emitWithAck("q")).toEqual([]);
  });

  test.concurrent("fetchSockets returns ids, rooms and data, filtered by room", async () => {
    await using r = await room(3, transport);
    const [a, b, c] = r.clients;
    await a!.emitWithAck("join", ["r1", "r2"]);
    await b!.emitWithAck("join", "r1");
    r.sockets.forEach((s, i) => { s.data = { i }; });
    const all = await r.server.io.fetchSockets();
    expect(all.map((s) => s.id).toSorted()).toEqual([a!.id!, b!.id!, c!.id!].toSorted());
    const inR1 = (await r.server.io.in("r1").fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms].toSorted(), data: s.data }));
    expect(inR1.toSorted((x, y) => x.data.i - y.data.i)).toEqual([
      { id: a!.id!, rooms: [a!.id!, "r1", "r2"].toSorted(), data: { i: 0 } },
      { id: b!.id!, rooms: [b!.id!, "r1"].toSorted(), data: { i: 1 } },
    ]);
    expect((await r.server.io.in("r1").except("r2").fetchSockets()).map((s) => s.id)).toEqual([b!.id!]);
  });

  test.concurrent("socketsJoin and socketsLeave change who a room broadcast reaches", async () => {
    await using r = await room(3, transport);
    const [a, b] = r.clients;
    await a!.emitWithAck("join", "src");
    r.server.io.in("src").socketsJoin(["dst", "other"]);
    r.server.io.in(b!.id!).socketsJoin("dst");
    expect([...r.sockets[0]!.rooms].toSorted()).toEqual([a!.id!, "dst", "other", "src"].toSorted());
    expect(await received(r.server, r.clients, () => r.server.io.to("dst").emit("m", 1)))
      .toEqual([[["m", 1]], [["m", 1]], []]);
    r.server.io.in("src").socketsLeave("dst");
    r.server.io.socketsLeave("other");
    expect({ rooms: [...r.sockets[0]!.rooms].toSorted() }).toEqual({ rooms: [a!.id!, "src"].toSorted() });
    expect(await received(r.server, r.clients, () => {
      r.server.io.to("dst").emit("m", 2);
      r.server.io.to("other").emit("m", 3);
    })).toEqual([[], [["m", 2]], []]);
  });

  test.concurrent("socket.rooms and socket.leave: a socket that left no longer gets the room's broadcasts", async () => {
    await using r = await room(2, transport);
    const [a, b] = r.clients;
    await Promise.all([a!, b!].map((x) => x.emitWithAck("join", ["r1", "r2"])));
    expect([...r.sockets[0]!.rooms].toSorted()).toEqual([a!.id!, "r1", "r2"].toSorted());
    await a!.emitWithAck("leave", "r1");
    expect([...r.sockets[0]!.rooms].toSorted()).toEqual([a!.id!, "r2"].toSorted());
    expect(await received(r.server, r.clients, () => {
      r.server.io.to("r1").emit("m", 1);
      r.server.io.to("r2").emit("m", 2);
    })).toEqual([[["m", 2]], [["m", 1], ["m", 2]]]);
    expect(r.server.io.sockets.adapter.rooms.get("r1")).toEqual(new Set([b!.id!]));
  });

  test.concurrent("disconnectSockets disconnects the matching sockets; (true) closes their connection", async () => {
    await using r = await room(3, transport);
    const [a, b, c] = r.clients;
    await a!.emitWithAck("join", "kick");
    await b!.emitWithAck("join", "close");
    const reasons = [nextEvent(a!, "disconnect"), nextEvent(b!, "disconnect")];
    const serverReasons = [nextEvent(r.sockets[0]!, "disconnect"), nextEvent(r.sockets[1]!, "disconnect")];
    r.server.io.in("kick").disconnectSockets();
    r.server.io.in("close").disconnectSockets(true);
    expect({
      client: (await Promise.all(reasons)).map(([reason]) => reason),
      server: (await Promise.all(serverReasons)).map(([reason]) => reason),
    }).toEqual({
      client: ["io server disconnect", "io server disconnect"],
      server: ["server namespace disconnect", "server namespace disconnect"],
    });
    expect((await r.server.io.fetchSockets()).map((s) => s.id)).toEqual([c!.id!]);
    const rest = nextEvent(c!, "disconnect");
    r.server.io.disconnectSockets();
    expect(await rest).toEqual(["io server disconnect", undefined]);
    expect(r.server.io.sockets.adapter.rooms.size).toBe(0);
  });
});
