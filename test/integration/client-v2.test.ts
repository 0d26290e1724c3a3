// socket.io-client 2.x (EIO=3, Socket.IO protocol v4) against Bunsen: connect, events, acks both
// ways, binary both ways, namespaces with a query, middleware errors, over each transport.
import { describe, expect, test } from "bun:test";
import io2 from "socket.io-client-v2";
import { startServer } from "../support/server.ts";
import { nextEvent } from "../support/client.ts";
import type { Server, Socket } from "../../src/index.ts";

type V2Socket = ReturnType<typeof io2>;

function v2(url: string, transports: string[], options: Record<string, unknown> = {}): V2Socket & Disposable {
  const socket = io2(url, { transports, forceNew: true, reconnection: false, ...options }) as V2Socket & Disposable;
  socket[Symbol.dispose] = () => { socket.close(); };
  return socket;
}

/** Resolves on `connect`; rejects on the v2 client's `error` / `connect_error`. */
function connected(socket: V2Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", (err: unknown) => reject(new Error(`error: ${JSON.stringify(err)}`)));
    socket.once("connect_error", (err: Error) => reject(err));
  });
}

function setup(io: Server): void {
  io.on("connection", (socket: Socket) => {
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
  });
}

const transportSets: [string, string[]][] = [
  ["websocket", ["websocket"]],
  ["polling", ["polling"]],
  ["polling → websocket", ["polling", "websocket"]],
];

for (const [name, transports] of transportSets) {
  describe(`socket.io-client v2 over ${name}`, () => {
    test.concurrent("connects to \"/\" on its own, with the socket id the client computes", async () => {
      const { promise: serverId, resolve } = Promise.withResolvers<string>();
      await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => resolve(socket.id)));
      using client = v2(server.url, transports);
      await connected(client);
      expect(await serverId).toBe(client.id);
    });

    test.concurrent("delivers events both ways", async () => {
      const { promise: received, resolve } = Promise.withResolvers<unknown[]>();
      await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => {
        socket.emit("welcome", { n: 1 }, "two");
        socket.on("hello", (...args) => resolve(args));
      }));
      using client = v2(server.url, transports);
      const welcome = nextEvent(client, "welcome");
      await connected(client);
      expect(await welcome).toEqual([{ n: 1 }, "two"]);
      client.emit("hello", "world", [1, 2]);
      expect(await received).toEqual(["world", [1, 2]]);
    });

    test.concurrent("acks both ways", async () => {
      const { promise: clientAnswer, resolve } = Promise.withResolvers<unknown[]>();
      await using server = await startServer({}, (io) => {
        setup(io);
        io.on("connection", (socket: Socket) => socket.on("ask me", () => socket.emit("question", 6, (...args: unknown[]) => resolve(args))));
      });
      using client = v2(server.url, transports);
      client.on("question", (n: number, ack: (...args: unknown[]) => void) => ack(n * 7, "done"));
      await connected(client);
      const serverAnswer = await new Promise((r) => client.emit("echo", "a", { b: 2 }, (...args: unknown[]) => r(args)));
      expect(serverAnswer).toEqual(["a", { b: 2 }]);
      client.emit("ask me");
      expect(await clientAnswer).toEqual([42, "done"]);
    });

    test.concurrent("carries binary both ways, nested in objects and in acks", async () => {
      const { promise: received, resolve } = Promise.withResolvers<unknown[]>();
      await using server = await startServer({}, (io) => {
        setup(io);
        io.on("connection", (socket: Socket) => {
          socket.on("upload", (...args) => resolve(args));
          socket.on("download", () => socket.emit("file", { name: "f", bytes: Buffer.from([1, 2, 3]) }, Buffer.from([4])));
        });
      });
      using client = v2(server.url, transports);
      await connected(client);
      client.emit("upload", { meta: "m", data: Buffer.from([9, 8]) });
      const [upload] = await received as [{ meta: string; data: Uint8Array }];
      expect({ meta: upload.meta, data: new Uint8Array(upload.data) }).toEqual({ meta: "m", data: new Uint8Array([9, 8]) });
      const file = nextEvent(client, "file");
      client.emit("download");
      const [obj, extra] = await file as [{ name: string; bytes: Uint8Array }, Uint8Array];
      expect({ name: obj.name, bytes: new Uint8Array(obj.bytes), extra: new Uint8Array(extra) })
        .toEqual({ name: "f", bytes: new Uint8Array([1, 2, 3]), extra: new Uint8Array([4]) });
      const echoed = await new Promise<unknown[]>((r) => client.emit("echo", Buffer.from([7]), (...args: unknown[]) => r(args)));
      expect(new Uint8Array(echoed[0] as Uint8Array)).toEqual(new Uint8Array([7]));
    });

    test.concurrent("joins a namespace with a query the server sees in handshake.query", async () => {
      const { promise: query, resolve } = Promise.withResolvers<Record<string, string>>();
      await using server = await startServer({}, (io) => io.of("/chat").on("connection", (socket: Socket) => {
        resolve(socket.handshake.query);
        socket.on("echo", (value: unknown, ack: (v: unknown) => void) => ack(value));
      }));
      using client = v2(server.url + "/chat?token=abc", transports);
      await connected(client);
      expect(await query).toMatchObject({ token: "abc", EIO: "3" });
      expect(client.id).toStartWith("/chat#");
      expect(await new Promise((r) => client.emit("echo", "in chat", r))).toBe("in chat");
    });

    test.concurrent("sees a middleware refusal as its `error` event", async () => {
      await using server = await startServer({}, (io) => {
        io.of("/private").use((_socket, next) => next(new Error("unauthorized")));
        io.of("/rich").use((_socket, next) => next(Object.assign(new Error("nope"), { data: { code: 401 } })));
      });
      using plain = v2(server.url + "/private", transports);
      expect(await nextEvent(plain, "error")).toEqual(["unauthorized"]);
      using rich = v2(server.url + "/rich", transports);
      expect(await nextEvent(rich, "error")).toEqual([{ code: 401 }]);
    });

    test.concurrent("receives room broadcasts with binary", async () => {
      await using server = await startServer({}, setup);
      using a = v2(server.url, transports);
      using b = v2(server.url, transports);
      await Promise.all([connected(a), connected(b)]);
      await Promise.all([a, b].map((c) => new Promise((r) => c.emit("join", "r1", r))));
      const got = Promise.all([a, b].map((c) => nextEvent(c, "news")));
      server.io.to("r1").emit("news", "hi", Buffer.from([5]));
      for (const [text, bytes] of await got) expect({ text, bytes: new Uint8Array(bytes) }).toEqual({ text: "hi", bytes: new Uint8Array([5]) });
    });

    test.concurrent("sees a server-side disconnect as \"io server disconnect\"", async () => {
      await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.on("kick me", () => socket.disconnect())));
      using client = v2(server.url, transports);
      await connected(client);
      const reason = nextEvent(client, "disconnect");
      client.emit("kick me");
      expect(await reason).toEqual(["io server disconnect"]);
    });
  });
}

test.concurrent("socket.io-client v2 and v4 share rooms on one server", async () => {
  const { connect } = await import("../support/client.ts");
  await using server = await startServer({}, setup);
  using old = v2(server.url, ["websocket"]);
  await connected(old);
  using modern = await connect(server.url, { transports: ["websocket"] });
  await new Promise((r) => old.emit("join", "mixed", r));
  await modern.emitWithAck("join", "mixed");
  const got = Promise.all([nextEvent(old, "both"), nextEvent(modern, "both")]);
  server.io.to("mixed").emit("both", Buffer.from([1, 2]));
  const [[fromOld], [fromModern]] = await got;
  expect([new Uint8Array(fromOld), new Uint8Array(fromModern)]).toEqual([new Uint8Array([1, 2]), new Uint8Array([1, 2])]);
});

// The upgrade race: the client's GET answered by the probe's noop is followed by another GET
// before `3probe` arrives; the client pauses until that GET returns, so the server MUST answer it
// (a noop) instead of holding it until the next ping. Before that, one connect in four stalled.
describe("socket.io-client v2 with its default transports (polling, then the upgrade)", () => {
  test.concurrent("connects, upgrades and acks: 8 rounds of 10 clients at once, each within 5 s", async () => {
    await using server = await startServer({}, setup);
    const stalled: number[] = [];
    // Clients side by side vary which of `3probe` and the noop's GET answer each reads first.
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        const i = round * 10 + j;
        using client = v2(server.url, ["polling", "websocket"]);
        // v2's typings omit `io`; the Manager and its engine.io-client socket are there at run time.
        const engine = (client as unknown as { io: { engine: { once(e: string, f: () => void): void; transport: { name: string } } } }).io.engine;
        const upgraded = new Promise<void>((resolve) => engine.once("upgrade", () => resolve()));
        const outcome = await Promise.race([
          Promise.all([connected(client), upgraded]).then(() => "ok"),
          Bun.sleep(5000).then(() => "stalled"),
        ]);
        if (outcome !== "ok") return void stalled.push(i);
        const reply = await new Promise<unknown>((resolve) => client.emit("echo", i, resolve));
        expect(reply).toBe(i);
        expect(engine.transport.name).toBe("websocket");
      }));
    }
    expect(stalled).toEqual([]);
  }, 120_000);

  test.concurrent("reconnects on its own after its polling transport is dropped, 10 times in a row", async () => {
    const sockets: Socket[] = [];
    await using server = await startServer({}, (io) => {
      setup(io);
      io.on("connection", (socket: Socket) => sockets.push(socket));
    });
    using client = v2(server.url, ["polling"], { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    await connected(client);
    for (let i = 0; i < 10; i++) {
      const back = new Promise<void>((resolve) => client.once("reconnect", () => resolve()));
      sockets.at(-1)!.client.session.close("transport error");
      const outcome = await Promise.race([back.then(() => "ok"), Bun.sleep(5000).then(() => "timeout")]);
      expect(outcome).toBe("ok");
      const reply = await new Promise<unknown>((resolve) => client.emit("echo", i, resolve));
      expect(reply).toBe(i);
    }
  }, 90_000);
});
