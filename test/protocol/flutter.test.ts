// The Flutter `socket_io_client` (3.x, EIO=4) as it really behaves on mobile and desktop, replayed
// with a raw WebSocket since no Dart runtime is on the machine (research §3): a WebSocket opened on a
// `transport=polling` URL, auth in CONNECT, tokens in the query and headers, acks with several
// values, binary both ways, and permessage-deflate offered by the client.
import { describe, expect, test } from "bun:test";
import { startServer } from "../support/server.ts";
import { openWebSocket, parseOpen, type OpenOptions } from "../support/raw.ts";
import type { Handshake, Server, Socket } from "../../src/index.ts";

// What the Dart client puts in its URL: the first name of its default transport list, and a timestamp.
const flutterQuery: OpenOptions = { transport: "polling", query: { t: "PzXk1a2" } };

function setup(io: Server): void {
  io.on("connection", (socket: Socket) => {
    socket.on("multi", (ack: (...args: unknown[]) => void) => ack("a", 2, { b: true }));
    socket.on("bin", (label: string, bytes: Uint8Array) => socket.emit("bin", label, Buffer.from(bytes).reverse()));
  });
}

describe("Flutter socket_io_client wire behaviour", () => {
  test.concurrent("accepts a WebSocket opened on transport=polling (Node engine.io refuses it)", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, flutterQuery);
    const open = parseOpen(await ws.next());
    expect(open).toEqual({ sid: expect.any(String), upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
    expect(server.io.engine.sessions.get(open.sid)?.transport).toBe("websocket");
  });

  test.concurrent("takes the token from the CONNECT payload (setAuth) and replies with sid", async () => {
    const { promise: handshake, resolve } = Promise.withResolvers<Handshake>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => resolve(socket.handshake)));
    using ws = await openWebSocket(server.url, flutterQuery);
    parseOpen(await ws.next());
    ws.send('40{"token":"jwt.abc.def"}');
    const reply = await ws.nextText();
    // socket_io_client 3.x emits connect_error ("…a v2.x server…") when the reply has no sid.
    expect(reply).toMatch(/^40\{"sid":"[\w-]{20}"\}$/);
    expect((await handshake).auth).toEqual({ token: "jwt.abc.def" });
  });

  test.concurrent("sees tokens sent in the query (setQuery) and the headers (extraHeaders)", async () => {
    const { promise: handshake, resolve } = Promise.withResolvers<Handshake>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => resolve(socket.handshake)));
    using ws = await openWebSocket(server.url, {
      ...flutterQuery,
      query: { ...flutterQuery.query, token: "from-query" },
      headers: { Authorization: "Bearer from-header", "X-Tenant": "acme" },
    });
    parseOpen(await ws.next());
    ws.send("40");
    expect(await ws.nextText()).toStartWith('40{"sid":');
    const { query, headers, auth } = await handshake;
    expect({ query, authorization: headers.authorization, tenant: headers["x-tenant"], auth }).toEqual({
      query: { EIO: "4", transport: "polling", t: "PzXk1a2", token: "from-query" },
      authorization: "Bearer from-header",
      tenant: "acme",
      auth: {},
    });
  });

  test.concurrent("answers an ack with several values as one ACK packet", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, flutterQuery);
    parseOpen(await ws.next());
    ws.send('40{"token":"t"}');
    await ws.nextText();
    ws.send('4217["multi"]');
    expect(await ws.next()).toBe('4317["a",2,{"b":true}]');
  });

  test.concurrent("delivers the client's multi-value ack to the server's callback", async () => {
    const { promise: answer, resolve } = Promise.withResolvers<unknown[]>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.emit("question", "q", (...args: unknown[]) => resolve(args))));
    using ws = await openWebSocket(server.url, flutterQuery);
    parseOpen(await ws.next());
    ws.send("40");
    await ws.nextText();
    const question = await ws.nextText();
    const [, id] = /^42(\d+)\["question","q"\]$/.exec(question) ?? [];
    expect(id).toBeDefined();
    // Dart's ack id is a string on the wire, written back as digits (#42).
    ws.send(`43${id}["x",1,[true]]`);
    expect(await answer).toEqual(["x", 1, [true]]);
  });

  test.concurrent("carries binary both ways: 451-[…placeholder…] then a raw binary frame", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, flutterQuery);
    parseOpen(await ws.next());
    ws.send("40");
    await ws.nextText();
    ws.send('451-["bin","label",{"_placeholder":true,"num":0}]');
    ws.send(new Uint8Array([1, 2, 3, 4]));
    expect(await ws.next()).toBe('451-["bin","label",{"_placeholder":true,"num":0}]');
    expect(await ws.next()).toEqual(new Uint8Array([4, 3, 2, 1]));
  });

  test.concurrent("joins a custom namespace with auth on the same WebSocket", async () => {
    const { promise: auth, resolve } = Promise.withResolvers<unknown>();
    await using server = await startServer({}, (io) => io.of("/admin").on("connection", (socket: Socket) => resolve(socket.handshake.auth)));
    using ws = await openWebSocket(server.url, flutterQuery);
    parseOpen(await ws.next());
    ws.send('40/admin,{"token":"t2"}');
    expect(await ws.nextText()).toMatch(/^40\/admin,\{"sid":"[\w-]{20}"\}$/);
    expect(await auth).toEqual({ token: "t2" });
  });

  test.concurrent("refuses a WebSocket on transport=polling when WebSocket is disabled", async () => {
    await using server = await startServer({ transports: ["polling"] });
    await expect(openWebSocket(server.url, flutterQuery)).rejects.toThrow();
  });
});

describe("permessage-deflate", () => {
  test.concurrent("negotiates deflate with a client that offers it and delivers every message intact", async () => {
    const big = "chat message ".repeat(500);
    const { promise: upload, resolve } = Promise.withResolvers<unknown[]>();
    await using server = await startServer({ perMessageDeflate: { threshold: 0 } }, (io) => io.on("connection", (socket: Socket) => {
      socket.on("echo", (value: unknown, ack: (v: unknown) => void) => ack(value));
      socket.on("up", (...args) => resolve(args));
      socket.emit("small", "x");
      socket.emit("big", big, Buffer.from([1, 2, 3]));
    }));
    using ws = await openWebSocket(server.url, flutterQuery);
    // Bun's WebSocket client offers permessage-deflate, as Dart's does by default.
    expect(ws.ws.extensions).toContain("permessage-deflate");
    parseOpen(await ws.next());
    ws.send("40");
    expect(await ws.nextText()).toStartWith('40{"sid":');
    expect(await ws.next()).toBe('42["small","x"]');
    expect(await ws.next()).toBe(`451-["big","${big}",{"_placeholder":true,"num":0}]`);
    expect(await ws.next()).toEqual(new Uint8Array([1, 2, 3]));
    ws.send(`421["echo","${big}"]`);
    expect(await ws.next()).toBe(`431["${big}"]`);
    ws.send(`451-["up","${big}",{"_placeholder":true,"num":0}]`);
    ws.send(new Uint8Array(4096).fill(7));
    const [text, bytes] = await upload;
    expect({ text, bytes: new Uint8Array(bytes as Uint8Array) }).toEqual({ text: big, bytes: new Uint8Array(4096).fill(7) });
  });

  test.concurrent("declines deflate when the server has it off", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, flutterQuery);
    expect(ws.ws.extensions).not.toContain("permessage-deflate");
    parseOpen(await ws.next());
  });
});
