// Socket.IO v5 on the wire, from the spec (socket.io-protocol v5): CONNECT and its answers, and every
// malformed input we could think of. Each gets the protocol's answer (the connection is closed, or an
// error packet), the server never crashes, and a well-behaved client on the same server keeps working.
import { afterAll, describe, expect, test } from "bun:test";
import { startServer, type TestServer } from "../support/server.ts";
import { connect } from "../support/client.ts";
import { connectSocketIO, openWebSocket, parseOpen, type Frame, type RawWebSocket } from "../support/raw.ts";
import type { Server, Socket } from "../../src/index.ts";

// Any rejection or exception escaping the server fails the file, not just the test that caused it.
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);
process.on("unhandledRejection", onEscape);
process.on("uncaughtException", onEscape);
afterAll(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
  expect(escaped).toEqual([]);
});

function setup(io: Server): void {
  io.on("connection", (socket: Socket) => {
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
  });
  io.of("/chat").on("connection", () => {});
}

/** A server with a well-behaved socket.io-client connected, checked once the test is done. */
async function withBystander(run: (server: TestServer) => Promise<void>): Promise<void> {
  await using server = await startServer({}, setup);
  using bystander = await connect(server.url, { transports: ["websocket"] });
  await run(server);
  expect(await bystander.timeout(2000).emitWithAck("echo", "still here")).toBe("still here");
  expect(escaped).toEqual([]);
}

/** Sends `frames` on a connected raw socket and expects the server to close the connection. */
async function expectClosedAfter(frames: Frame[], nsp?: string): Promise<void> {
  await withBystander(async (server) => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    server.io.of(nsp ?? "/").once("connection", (socket: Socket) => socket.on("disconnect", resolve));
    const { socket } = await connectSocketIO(server.url, { nsp });
    for (const frame of frames) socket.send(frame);
    await socket.closed;
    expect(await reason).toBe("parse error");
  });
}

/** An echo round trip on a raw socket: the connection still works. */
async function expectEcho(socket: RawWebSocket, nsp = ""): Promise<void> {
  socket.send(`42${nsp}7["echo","ok"]`);
  expect(await socket.next()).toBe(`43${nsp}7["ok"]`);
}

describe("CONNECT", () => {
  test.concurrent("answers CONNECT with the socket id", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("40");
    const reply = await ws.nextText();
    expect(reply).toMatch(/^40\{"sid":"[\w-]{20}"\}$/);
    const sid = JSON.parse(reply.slice(2)).sid;
    expect([...server.io.sockets.sockets.keys()]).toEqual([sid]);
  });

  test.concurrent("passes the CONNECT payload to the server as handshake.auth", async () => {
    const { promise: auth, resolve } = Promise.withResolvers<unknown>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => resolve(socket.handshake.auth)));
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send('40{"token":"abc","n":1}');
    expect(await ws.nextText()).toStartWith('40{"sid":');
    expect(await auth).toEqual({ token: "abc", n: 1 });
  });

  test.concurrent("connects a custom namespace with its prefix", async () => {
    await withBystander(async (server) => {
      using socket = (await connectSocketIO(server.url, { nsp: "/chat" })).socket;
      expect([...server.io.of("/chat").sockets.keys()]).toHaveLength(1);
      socket.send('40{"x":1}');
      // Joining "/" too on the same connection (multiplexing).
      expect(await socket.nextText()).toMatch(/^40\{"sid":/);
    });
  });

  test.concurrent("answers an unknown namespace with CONNECT_ERROR \"Invalid namespace\" and keeps the connection", async () => {
    await withBystander(async (server) => {
      using ws = await openWebSocket(server.url);
      parseOpen(await ws.next());
      ws.send("40/x,");
      expect(await ws.next()).toBe('44/x,{"message":"Invalid namespace"}');
      ws.send("40");
      expect(await ws.nextText()).toStartWith('40{"sid":');
      await expectEcho(ws);
    });
  });

  test.concurrent("answers a middleware refusal with CONNECT_ERROR {message, data}", async () => {
    await using server = await startServer({}, (io) => io.use((_socket, next) => next(Object.assign(new Error("unauthorized"), { data: { code: 401 } }))));
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("40");
    expect(await ws.next()).toBe('44{"message":"unauthorized","data":{"code":401}}');
  });

  test.concurrent("ignores an EVENT sent before CONNECT", async () => {
    await withBystander(async (server) => {
      using ws = await openWebSocket(server.url);
      parseOpen(await ws.next());
      ws.send('421["echo","too early"]');
      ws.send("40");
      // Frames are handled in order: had the early event been answered, its ack would come first.
      expect(await ws.nextText()).toStartWith('40{"sid":');
      await expectEcho(ws);
      expect(server.io.sockets.sockets.size).toBe(2);
    });
  });

  test.concurrent("ignores a duplicate CONNECT for a namespace already joined", async () => {
    await withBystander(async (server) => {
      const { socket, sid } = await connectSocketIO(server.url);
      using _ = socket;
      socket.send("40");
      await expectEcho(socket);
      expect(server.io.sockets.sockets.has(sid)).toBe(true);
    });
  });

  test.concurrent("DISCONNECT leaves the namespace and keeps the connection", async () => {
    await withBystander(async (server) => {
      const { socket, sid } = await connectSocketIO(server.url);
      using _ = socket;
      socket.send("41");
      socket.send("40");
      expect(await socket.nextText()).toStartWith('40{"sid":');
      expect(server.io.sockets.sockets.has(sid)).toBe(false);
      await expectEcho(socket);
    });
  });
});

describe("malformed input closes the connection and spares everyone else", () => {
  const cases: [string, Frame[]][] = [
    ["unknown Socket.IO packet type 9", ["49"]],
    ["a non-digit Socket.IO packet type", ["4x"]],
    ["bad JSON", ["42["]],
    ["an event that is not an array", ['42{"a":1}']],
    ["an event with an empty array", ["42[]"]],
    ["an event name that is neither string nor number", ['42[{"a":1}]']],
    ["a reserved event name (disconnect)", ['42["disconnect"]']],
    ["a reserved event name (connect_error)", ['42["connect_error",{}]']],
    ["a non-numeric ack id", ["43abc[]"]],
    // socket.io-parser would read these as 2^53 (rounded) and Infinity: the ack could not come back under its id.
    ["an ack id past 2^53 - 1", ['429007199254740993000["echo","x"]']],
    ["an ack id of 10^400", ["42" + "1" + "0".repeat(400) + '["echo","x"]']],
    ["an ack whose payload is not an array", ['431{"a":1}']],
    ["a namespace without its leading slash", ['42nope,["x"]']],
    ["a CONNECT payload that is not an object", ['40"token"']],
    ["a CONNECT_ERROR from the client", ['44{"message":"x"}']],
    ["a binary event with a bad attachment count", ['45x-["bin",{"_placeholder":true,"num":0}]']],
    ["a binary event with zero attachments", ['450-["bin"]']],
    ["too many attachments", ['4511-["bin",{"_placeholder":true,"num":0}]']],
    ["a text frame while attachments are expected", ['451-["bin",{"_placeholder":true,"num":0}]', '42["echo"]']],
    ["an attachment nobody announced", [new Uint8Array([1, 2, 3])]],
    ["an extra attachment after the announced ones", ['451-["bin",{"_placeholder":true,"num":0}]', new Uint8Array([1]), new Uint8Array([2])]],
    ["a placeholder pointing past the attachments", ['451-["bin",{"_placeholder":true,"num":3}]', new Uint8Array([1])]],
    ["an Engine.IO packet type out of range", ["9"]],
    ["a non-digit Engine.IO packet type", ["x"]],
    ["an empty text frame", [""]],
    ["an empty binary frame", [new Uint8Array(0)]],
    ["an open packet from the client", ['0{"sid":"x"}']],
    ["an upgrade packet outside a probe", ["5"]],
  ];
  for (const [name, frames] of cases) {
    test.concurrent(name, () => expectClosedAfter(frames));
  }

  test.concurrent("malformed input on a custom namespace", () => expectClosedAfter(['42/chat,{"a":1}'], "/chat"));

  test.concurrent("an event without a payload", () => expectClosedAfter(["42"]));
  test.concurrent("an event without a payload but with an ack id", () => expectClosedAfter(["421"]));
});

describe("tolerated input", () => {
  test.concurrent("ignores an ACK for an id the server never used", async () => {
    await withBystander(async (server) => {
      const { socket } = await connectSocketIO(server.url);
      using _ = socket;
      socket.send('43999["late"]');
      socket.send("4312[]");
      await expectEcho(socket);
    });
  });

  test.concurrent("ignores packets for a namespace the client has not joined", async () => {
    await withBystander(async (server) => {
      const { socket } = await connectSocketIO(server.url);
      using _ = socket;
      socket.send('42/chat,1["echo","x"]');
      socket.send('42/nowhere,["x"]');
      socket.send("41/chat,");
      await expectEcho(socket);
    });
  });

  test.concurrent("reads an empty Socket.IO packet as CONNECT to \"/\" (socket.io-parser: Number(\"\") is 0)", async () => {
    await withBystander(async (server) => {
      using ws = await openWebSocket(server.url);
      parseOpen(await ws.next());
      ws.send("4");
      expect(await ws.nextText()).toStartWith('40{"sid":');
      ws.send("4"); // a duplicate CONNECT now: ignored
      await expectEcho(ws);
    });
  });

  test.concurrent("accepts a numeric event name", async () => {
    const { promise, resolve } = Promise.withResolvers<unknown[]>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.on("42", (...args) => resolve(args))));
    const { socket } = await connectSocketIO(server.url);
    using _ = socket;
    socket.send('42[42,"answer"]');
    expect(await promise).toEqual(["answer"]);
  });

  test.concurrent("reassembles a binary event and acks it", async () => {
    await withBystander(async (server) => {
      const { socket } = await connectSocketIO(server.url);
      using _ = socket;
      socket.send('451-3["echo",{"_placeholder":true,"num":0}]');
      socket.send(new Uint8Array([5, 6]));
      expect(await socket.next()).toBe('461-3[{"_placeholder":true,"num":0}]');
      expect(await socket.next()).toEqual(new Uint8Array([5, 6]));
    });
  });

  test.concurrent("a malformed packet from one client never touches another raw client", async () => {
    await withBystander(async (server) => {
      const good = await connectSocketIO(server.url);
      using _good = good.socket;
      const bad = await connectSocketIO(server.url);
      bad.socket.send("42[");
      await bad.socket.closed;
      await expectEcho(good.socket);
    });
  });
});
