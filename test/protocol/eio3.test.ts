// Engine.IO v3 / Socket.IO v4 on the wire (socket.io-client v2, older Flutter/Java/Swift clients):
// the client pings and the server answers, `<length>:<packet>` polling payloads, 0x04-prefixed
// binary WebSocket frames, and the automatic connection to "/". Raw WebSocket and fetch only.
import { describe, expect, test } from "bun:test";
import { startServer } from "../support/server.ts";
import { decodePayload, encodePayload, handshake, openWebSocket, parseOpen, poll, post } from "../support/raw.ts";
import type { Server, Socket } from "../../src/index.ts";

function setup(io: Server): void {
  io.on("connection", (socket: Socket) => {
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("bin", () => socket.emit("bin", Buffer.from([1, 2, 3])));
  });
  io.of("/chat").on("connection", (socket: Socket) => socket.emit("query", socket.handshake.query));
}

describe("WebSocket", () => {
  test.concurrent("opens with an open packet and connects \"/\" without a CONNECT from the client", async () => {
    await using server = await startServer({ pingInterval: 300, pingTimeout: 200 }, setup);
    using ws = await openWebSocket(server.url, { eio: 3 });
    expect(parseOpen(await ws.next())).toEqual({ sid: expect.any(String), upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 1000000 });
    // v4 protocol: the CONNECT reply carries no payload.
    expect(await ws.next()).toBe("40");
    ws.send('421["echo","hi"]');
    expect(await ws.next()).toBe('431["hi"]');
  });

  test.concurrent("answers a client ping `2` with a pong `3`, echoing its data", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send("2");
    expect(await ws.next()).toBe("3");
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
  });

  test.concurrent("never pings from the server, and keeps a session whose client pings", async () => {
    await using server = await startServer({ pingInterval: 20, pingTimeout: 2000 }, (io) => {
      // Fires well after several pingIntervals: a v4 server would have pinged by then.
      io.on("connection", (socket: Socket) => setTimeout(() => socket.emit("later"), 100));
    });
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    const frames: unknown[] = [];
    for (let frame = await ws.next(); frame !== '42["later"]'; frame = await ws.next()) frames.push(frame);
    expect(frames).toEqual(["40"]);
  });

  test.concurrent("closes a session whose client stops pinging after pingInterval + pingTimeout", async () => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    await using server = await startServer({ pingInterval: 20, pingTimeout: 20 }, (io) => io.on("connection", (socket: Socket) => socket.on("disconnect", resolve)));
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    await ws.closed;
    expect(await reason).toBe("ping timeout");
  });

  test.concurrent("frames binary with a leading 0x04 both ways", async () => {
    const { promise: received, resolve } = Promise.withResolvers<unknown>();
    await using server = await startServer({}, (io) => {
      setup(io);
      io.on("connection", (socket: Socket) => socket.on("up", resolve));
    });
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send('42["bin"]');
    expect(await ws.next()).toBe('451-["bin",{"_placeholder":true,"num":0}]');
    expect(await ws.next()).toEqual(new Uint8Array([4, 1, 2, 3]));
    ws.send('451-["up",{"_placeholder":true,"num":0}]');
    ws.send(new Uint8Array([4, 9, 9]));
    expect(new Uint8Array(await received as Uint8Array)).toEqual(new Uint8Array([9, 9]));
  });

  test.concurrent("closes on a binary frame without the 0x04 prefix", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send('451-["up",{"_placeholder":true,"num":0}]');
    ws.send(new Uint8Array([9, 9]));
    await ws.closed;
  });

  test.concurrent("connects a namespace with a query in its CONNECT packet", async () => {
    await using server = await startServer({}, setup);
    using ws = await openWebSocket(server.url, { eio: 3, query: { base: "1" } });
    parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send("40/chat?token=abc&x=y,");
    expect(await ws.next()).toBe("40/chat,");
    expect(await ws.next()).toBe('42/chat,["query",{"EIO":"3","transport":"websocket","base":"1","token":"abc","x":"y"}]');
  });

  test.concurrent("answers a refused CONNECT with the error's data or message as the payload, as socket.io does for v3", async () => {
    await using server = await startServer({}, (io) => {
      io.of("/private").use((_socket, next) => next(new Error("unauthorized")));
      io.of("/rich").use((_socket, next) => next(Object.assign(new Error("nope"), { data: { code: 42 } })));
    });
    using ws = await openWebSocket(server.url, { eio: 3 });
    parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send("40/private,");
    expect(await ws.next()).toBe('44/private,"unauthorized"');
    ws.send("40/rich,");
    expect(await ws.next()).toBe('44/rich,{"code":42}');
  });

  test.concurrent("names a v3 socket after the engine sid, as socket.io-client v2 computes it", async () => {
    const ids: string[] = [];
    await using server = await startServer({}, (io) => {
      io.on("connection", (socket: Socket) => ids.push(socket.id));
      io.of("/chat").on("connection", (socket: Socket) => ids.push(socket.id));
    });
    using ws = await openWebSocket(server.url, { eio: 3 });
    const { sid } = parseOpen(await ws.next());
    expect(await ws.next()).toBe("40");
    ws.send("40/chat,");
    expect(await ws.next()).toBe("40/chat,");
    expect(ids).toEqual([sid, "/chat#" + sid]);
  });
});

describe("long-polling", () => {
  test.concurrent("answers the handshake with `<length>:<packet>` payloads: open, then CONNECT", async () => {
    await using server = await startServer({}, setup);
    const { body, packets, open } = await handshake(server.url, { eio: 3 });
    expect(packets).toEqual([expect.stringMatching(/^0\{/), "40"]);
    expect(body).toBe(`${packets[0]!.length}:${packets[0]}2:40`);
    expect(open.upgrades).toEqual(["websocket"]);
  });

  test.concurrent("reads several length-prefixed packets from a POST, lengths counted in UTF-16 units", async () => {
    await using server = await startServer({}, setup);
    const { sid } = await handshake(server.url, { eio: 3 });
    const text = "héllo 😀";
    const posted = await post(server.url, sid, encodePayload(['421["echo","a"]', `422["echo","${text}"]`], 3), { eio: 3 });
    expect(posted.status).toBe(200);
    const { body } = await poll(server.url, sid, { eio: 3 });
    expect(decodePayload(body, 3)).toEqual(['431["a"]', `432["${text}"]`]);
    expect(body).toStartWith("8:431[\"a\"]");
  });

  test.concurrent("sends binary as b4<base64> and reads it back the same way", async () => {
    const { promise: received, resolve } = Promise.withResolvers<unknown>();
    await using server = await startServer({}, (io) => {
      setup(io);
      io.on("connection", (socket: Socket) => socket.on("up", resolve));
    });
    const { sid } = await handshake(server.url, { eio: 3 });
    await post(server.url, sid, encodePayload(['42["bin"]'], 3), { eio: 3 });
    expect((await poll(server.url, sid, { eio: 3 })).packets).toEqual(['451-["bin",{"_placeholder":true,"num":0}]', "b4AQID"]);
    await post(server.url, sid, encodePayload(['451-["up",{"_placeholder":true,"num":0}]', "b4" + Buffer.from([7, 7]).toString("base64")], 3), { eio: 3 });
    expect(new Uint8Array(await received as Uint8Array)).toEqual(new Uint8Array([7, 7]));
  });

  test.concurrent("reads a v3 binary payload (application/octet-stream)", async () => {
    const { promise: received, resolve } = Promise.withResolvers<unknown[]>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.on("up", (...args) => resolve(args))));
    const { sid } = await handshake(server.url, { eio: 3 });
    const text = new TextEncoder().encode('451-["up","x",{"_placeholder":true,"num":0}]');
    const lengthDigits = (n: number) => String(n).split("").map(Number);
    const body = new Uint8Array([
      0, ...lengthDigits(text.length), 255, ...text,
      1, ...lengthDigits(3), 255, 4, 5, 6,
    ]);
    expect((await post(server.url, sid, body, { eio: 3 })).status).toBe(200);
    const [label, bytes] = await received;
    expect({ label, bytes: new Uint8Array(bytes as Uint8Array) }).toEqual({ label: "x", bytes: new Uint8Array([5, 6]) });
  });

  test.concurrent("answers a client ping over polling with a pong", async () => {
    await using server = await startServer({}, setup);
    const { sid } = await handshake(server.url, { eio: 3 });
    await post(server.url, sid, encodePayload(["2"], 3), { eio: 3 });
    expect((await poll(server.url, sid, { eio: 3 })).packets).toEqual(["3"]);
  });

  test.concurrent("refuses a malformed v3 payload with 400 and ends the session", async () => {
    await using server = await startServer({}, setup);
    for (const bad of ["5:4", "x:40", "0:", "2:9x"]) {
      const { sid } = await handshake(server.url, { eio: 3 });
      const response = await post(server.url, sid, bad, { eio: 3 });
      expect({ bad, status: response.status }).toEqual({ bad, status: 400 });
      expect((await poll(server.url, sid, { eio: 3 })).status).toBe(400);
    }
  });

  test.concurrent("upgrades to WebSocket with 2probe/3probe/5", async () => {
    await using server = await startServer({}, setup);
    const { sid } = await handshake(server.url, { eio: 3 });
    const pending = poll(server.url, sid, { eio: 3 });
    using ws = await openWebSocket(server.url, { eio: 3, sid });
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    expect((await pending).packets).toEqual(["6"]);
    ws.send("5");
    ws.send('42["bin"]');
    expect(await ws.next()).toBe('451-["bin",{"_placeholder":true,"num":0}]');
    expect(await ws.next()).toEqual(new Uint8Array([4, 1, 2, 3]));
  });
});
