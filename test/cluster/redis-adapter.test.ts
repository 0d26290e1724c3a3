// Three Bunsen nodes in one process sharing a real Redis through the Redis adapter.
import { describe, expect, test } from "bun:test";
import type { Server } from "../../src/index.ts";
import { connect, nextEvent } from "../support/client.ts";
import { startCluster } from "./cluster.ts";

function handlers(io: Server): void {
  for (const nsp of [io.of("/"), io.of("/chat")]) {
    nsp.on("connection", (socket) => {
      socket.on("join", (room: string, ack: () => void) => {
        socket.join(room);
        ack();
      });
      socket.on("say", (room: string, ...args: unknown[]) => socket.to(room).emit("msg", ...args));
    });
  }
}

describe("Redis adapter across three nodes", () => {
  test.concurrent("delivers room broadcasts to members on every node, and only to them", async () => {
    await using cluster = await startCluster(3, {}, handlers);
    const [a, b, c] = cluster.nodes;
    using alice = await connect(a!.url);
    using bob = await connect(b!.url);
    using carol = await connect(c!.url);
    using dave = await connect(c!.url);
    await Promise.all([alice, bob, carol].map((s) => s.emitWithAck("join", "r1")));
    let daveGot = false;
    dave.on("msg", () => (daveGot = true));
    const got = Promise.all([nextEvent(bob, "msg"), nextEvent(carol, "msg")]);
    alice.emit("say", "r1", "hi", { n: 1 });
    expect(await got).toEqual([["hi", { n: 1 }], ["hi", { n: 1 }]]);
    // A namespace broadcast sent after reaches dave: had the room message reached him, it came first.
    const all = nextEvent(dave, "all");
    a!.io.emit("all", 1);
    expect(await all).toEqual([1]);
    expect(daveGot).toBe(false);
  });

  test.concurrent("to(room).except(room) and namespaces stay separate across nodes", async () => {
    await using cluster = await startCluster(3, {}, handlers);
    const [a, b, c] = cluster.nodes;
    using bob = await connect(b!.url);
    using carol = await connect(c!.url);
    using carolChat = await connect(c!.url + "/chat");
    await Promise.all([bob.emitWithAck("join", "r"), carol.emitWithAck("join", "r"), carol.emitWithAck("join", "muted")]);
    await carolChat.emitWithAck("join", "r");
    const seen: string[] = [];
    carol.on("m", (v: string) => seen.push("carol:" + v));
    const bobGot = nextEvent(bob, "m");
    a!.io.to("r").except("muted").emit("m", "x");
    expect(await bobGot).toEqual(["x"]);
    const chatGot = nextEvent(carolChat, "m");
    a!.io.of("/chat").to("r").emit("m", "y");
    expect(await chatGot).toEqual(["y"]);
    // The /chat broadcast went after the except one through the same channel order: carol's "/" socket had its chance.
    expect(seen).toEqual([]);
  });

  test.concurrent("carries binary arguments between nodes", async () => {
    await using cluster = await startCluster(2, {}, handlers);
    const [a, b] = cluster.nodes;
    using alice = await connect(a!.url);
    using bob = await connect(b!.url);
    await Promise.all([alice, bob].map((s) => s.emitWithAck("join", "bin")));
    const got = nextEvent(bob, "msg");
    alice.emit("say", "bin", new Uint8Array([1, 2, 3]), "text");
    const [bytes, text] = await got;
    expect({ bytes: [...new Uint8Array(bytes)], text }).toEqual({ bytes: [1, 2, 3], text: "text" });
  });

  test.concurrent("fetchSockets, socketsJoin and disconnectSockets reach sockets on other nodes", async () => {
    await using cluster = await startCluster(3, {}, (io) => {
      handlers(io);
      io.on("connection", (socket) => (socket.data = { name: socket.handshake.auth.name }));
    });
    const [a, b, c] = cluster.nodes;
    using alice = await connect(a!.url, { auth: { name: "alice" } });
    using bob = await connect(b!.url, { auth: { name: "bob" } });
    using carol = await connect(c!.url, { auth: { name: "carol" } });
    await Promise.all([bob, carol].map((s) => s.emitWithAck("join", "team")));

    const team = await a!.io.in("team").fetchSockets();
    expect(team.map((s) => (s.data as { name: string }).name).sort()).toEqual(["bob", "carol"]);
    expect(team.every((s) => s.rooms.has("team"))).toBe(true);

    a!.io.in("team").socketsJoin("vip");
    // The join request and the broadcast travel in order on the same connection.
    const got = nextEvent(carol, "vip");
    a!.io.to("vip").emit("vip", "welcome");
    expect(await got).toEqual(["welcome"]);

    const gone = Promise.all([nextEvent(bob, "disconnect"), nextEvent(carol, "disconnect")]);
    a!.io.in("vip").except("x").disconnectSockets();
    expect(await gone).toEqual([["io server disconnect"], ["io server disconnect"]]);
    expect((await c!.io.fetchSockets()).map((s) => s.id)).toEqual([alice.id!]);
  });

  test.concurrent("serverSideEmit reaches the other nodes, with acks", async () => {
    await using cluster = await startCluster(3);
    const [a, b, c] = cluster.nodes;
    const heard = Promise.all([b, c].map((n) => nextEvent(n!.io.sockets, "ping")));
    a!.io.serverSideEmit("ping", 1);
    expect(await heard).toEqual([[1], [1]]);
    for (const n of [b, c]) n!.io.sockets.on("ask", (q: number, ack: (r: number) => void) => ack(q * 2));
    const { promise, resolve } = Promise.withResolvers<[Error | null, unknown[]]>();
    a!.io.serverSideEmit("ask", 21, (err: Error | null, responses: unknown[]) => resolve([err, responses]));
    expect(await promise).toEqual([null, [42, 42]]);
  });

  test.concurrent("a broadcast with acks collects the answers of clients on every node", async () => {
    await using cluster = await startCluster(3, {}, handlers);
    const [a, b, c] = cluster.nodes;
    const clients = await Promise.all([connect(a!.url), connect(b!.url), connect(c!.url), connect(c!.url)]);
    try {
      clients.forEach((client, i) => client.on("question", (q: string, ack: (answer: string) => void) => ack(`${q}:${i}`)));
      const { promise, resolve } = Promise.withResolvers<[Error | null, unknown[]]>();
      a!.io.timeout(3_000).emit("question", "q", (err: Error | null, responses: unknown[]) => resolve([err, responses]));
      const [err, responses] = await promise;
      expect({ err, responses: [...responses].sort() }).toEqual({ err: null, responses: ["q:0", "q:1", "q:2", "q:3"] });
      // emitWithAck resolves with every answer too, here only from the node-c room members.
      await Promise.all([clients[2]!, clients[3]!].map((client) => client.emitWithAck("join", "c-room")));
      expect(((await a!.io.to("c-room").timeout(3_000).emitWithAck("question", "r")) as string[]).sort()).toEqual(["r:2", "r:3"]);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });
});
