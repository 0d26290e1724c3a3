// Limits, each hit and answered: connections (total, per address) → 503 with a JSON reason, dynamic
// namespaces → connect_error, per-socket event rate → "error" {code: "rate_limited"} then disconnect,
// rooms per socket, binary packets (only once CONNECTed; bounded in bytes, time and server-wide),
// unsafe ack ids → "parse error", refused CONNECTs per connection, and slow consumers (WebSocket and long-polling) → "slow consumer".
import { describe, expect, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { startApp, tokenFor } from "../support/app.ts";
import { client, connect, nextEvent } from "../support/client.ts";
import { connectSocketIO, engineUrl, handshake, openWebSocket, parseOpen, PausableWebSocket, poll, post, type RawWebSocket } from "../support/raw.ts";
import { startServer } from "../support/server.ts";

async function handshakeStatus(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(engineUrl(url, {}, false, "polling"));
  const text = await response.text();
  return { status: response.status, body: response.status === 200 ? text : JSON.parse(text) };
}

describe("connection limits", () => {
  test.concurrent("refuses a handshake past maxConnections with 503 and a JSON reason, and accepts again once one closed", async () => {
    await using server = await startServer({ maxConnections: 2 });
    const first = await handshake(server.url);
    using second = await connect(server.url, { transports: ["websocket"] });
    expect(await handshakeStatus(server.url)).toEqual({ status: 503, body: { code: 4, message: "Server full" } });
    // A socket.io-client sees the refusal as connect_error.
    using refused = client(server.url, { transports: ["polling"] });
    expect((await nextEvent(refused, "connect_error"))[0]).toBeInstanceOf(Error);

    const closed = await post(server.url, first.sid, "1");
    expect(closed.status).toBe(200);
    expect(server.io.engine.connectionCount()).toBe(1);
    expect((await handshakeStatus(server.url)).status).toBe(200);
    second.disconnect();
  });

  test.concurrent("refuses a handshake past maxConnectionsPerIp, over WebSocket and long-polling", async () => {
    await using server = await startServer({ maxConnectionsPerIp: 1 });
    using first = await connect(server.url, { transports: ["websocket"] });
    expect(await handshakeStatus(server.url)).toEqual({ status: 503, body: { code: 4, message: "Too many connections from this address" } });
    const ws = await fetch(engineUrl(server.url, {}, false, "websocket"), { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(ws.status).toBe(503);
    expect(server.io.engine.connectionCount("127.0.0.1")).toBe(1);
    const gone = nextEvent(first, "disconnect");
    server.io.sockets.sockets.values().next().value!.disconnect(true); // ends the session at once
    expect(server.io.engine.connectionCount("127.0.0.1")).toBe(0);
    await gone;
    using again = await connect(server.url, { transports: ["polling"] });
    expect(again.connected).toBe(true);
  });
});

test.concurrent("refuses a dynamic namespace past maxDynamicNamespaces with connect_error, and still serves existing ones", async () => {
  await using server = await startServer({ maxDynamicNamespaces: 2 });
  server.io.of(/^\/dyn-\d+$/);
  using a = await connect(server.url + "/dyn-1");
  using b = await connect(server.url + "/dyn-2");
  using c = client(server.url + "/dyn-3");
  const [err] = await nextEvent(c, "connect_error");
  expect(err.message).toBe("Too many namespaces");
  using d = await connect(server.url + "/dyn-1");
  expect([a.connected, b.connected, d.connected, server.io.namespaces.has("/dyn-3")]).toEqual([true, true, true, false]);
});

describe("per-socket event rate limit", () => {
  test.concurrent("answers an over-limit event's ack with rate_limited, one without an ack with error, and closes the transport at three times the limit (the client reconnects)", async () => {
    let handled = 0;
    const reasons: string[] = [];
    await using server = await startServer({ rateLimit: { events: 5, windowMs: 60_000 } }, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.on("ping!", (ack?: (reply: unknown) => void) => { handled++; ack?.({ ok: true }); });
        socket.on("disconnect", (reason: string) => reasons.push(reason));
      });
    });
    using socket = await connect(server.url, { transports: ["websocket"], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    for (let i = 0; i < 5; i++) expect(await socket.emitWithAck("ping!")).toEqual({ ok: true });
    const refused = await socket.timeout(2_000).emitWithAck("ping!");
    expect(refused).toMatchObject({ ok: false, error: { code: "rate_limited" } });
    expect(refused.error.retryAfterMs).toBeGreaterThan(0);
    const refusal = nextEvent(socket, "error");
    socket.emit("ping!");
    expect((await refusal)[0]).toMatchObject({ code: "rate_limited" });
    const clientGone = nextEvent(socket, "disconnect");
    const back = new Promise<void>((resolve) => socket.io.once("reconnect", () => resolve()));
    for (let i = 0; i < 20; i++) socket.emit("ping!");
    expect((await clientGone)[0]).toBe("transport close");
    await back; // socket.io-client reconnects by itself, with a fresh bucket
    expect(await socket.emitWithAck("ping!")).toEqual({ ok: true });
    expect(reasons).toEqual(["rate limited"]);
    expect(handled).toBe(6);
  });

  test.concurrent("the ready server applies RATE_LIMIT_EVENTS per socket", async () => {
    await using app = await startApp({ embedded: true, env: { RATE_LIMIT_EVENTS: "3", RATE_LIMIT_WINDOW_MS: "60000" } });
    using socket = await connect(app.url, { auth: { token: await tokenFor({ sub: "u1" }) }, transports: ["websocket"] });
    for (let i = 0; i < 3; i++) await socket.emitWithAck("get_rooms");
    expect(await socket.emitWithAck("get_rooms")).toMatchObject({ ok: false, error: { code: "rate_limited" } });
  });

  test.concurrent("the ready server has no rate limit by default: 330 quick get_rooms are all answered", async () => {
    await using app = await startApp({ embedded: true });
    using socket = await connect(app.url, { auth: { token: await tokenFor({ sub: "u1" }) }, transports: ["websocket"] });
    const replies = await Promise.all(Array.from({ length: 330 }, () => socket.timeout(10_000).emitWithAck("get_rooms")));
    expect(replies.filter((reply) => reply.ok === true)).toHaveLength(330);
    expect(socket.connected).toBe(true);
  });
});

test.concurrent("server-side join past maxRoomsPerSocket joins nothing and returns false", async () => {
  const joined = Promise.withResolvers<boolean[]>();
  await using server = await startServer({ maxRoomsPerSocket: 3 }, (io) => {
    io.on("connection", (socket: Socket) => {
      joined.resolve([socket.join(["a", "b"]), socket.join("b"), socket.join(["c", "d"]), socket.join("c"), socket.join("d"), socket.rooms.has("d")]);
    });
  });
  using _socket = await connect(server.url);
  expect(await joined.promise).toEqual([true, true, false, true, false, false]);
});

describe("slow consumers", () => {
  test.concurrent("a WebSocket past maxBufferedBytes drops volatile packets first, then is disconnected as a slow consumer", async () => {
    const reason = Promise.withResolvers<string>();
    let dropped = 0;
    await using server = await startServer({ maxBufferedBytes: 256 * 1024 }, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.on("disconnect", (why: string) => reason.resolve(why));
        socket.on("flood", () => {
          const chunk = "x".repeat(64 * 1024);
          for (let i = 0; i < 200 && socket.connected; i++) socket.emit("chunk", chunk);
          dropped = socket.client.session.droppedCount;
        });
      });
    });
    using socket = await connect(server.url, { transports: ["websocket"] });
    const gone = nextEvent(socket, "disconnect");
    socket.emit("flood");
    expect(await reason.promise).toBe("slow consumer");
    expect(dropped).toBe(1); // the first dropped frame ends it (maxDroppedFrames: 0)
    expect((await gone)[0]).toBe("transport close");
  });

  test.concurrent("a WebSocket that stays backpressured longer than maxBackpressureMs is disconnected", async () => {
    const reason = Promise.withResolvers<string>();
    await using server = await startServer({ maxBufferedBytes: 64 * 1024 * 1024, maxBackpressureMs: 1 }, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.on("disconnect", (why: string) => reason.resolve(why));
        socket.on("flood", () => {
          const chunk = "y".repeat(64 * 1024);
          for (let i = 0; i < 2000 && socket.connected; i++) socket.emit("chunk", chunk);
        });
      });
    });
    using socket = await connect(server.url, { transports: ["websocket"] });
    socket.emit("flood");
    expect(await reason.promise).toBe("slow consumer");
  });

  test.concurrent("a room member that stops reading gets every room broadcast in order or is disconnected, never a gap and then newer events", async () => {
    const reason = Promise.withResolvers<string>();
    await using server = await startServer({ maxBufferedBytes: 256 * 1024 }, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.join("feed");
        socket.on("disconnect", (why: string) => reason.resolve(why));
      });
    });
    const reader = await PausableWebSocket.open(server.url);
    parseOpen((await reader.next())!);
    reader.send("40");
    expect(String(await reader.next())).toStartWith("40{");
    reader.pause();
    const first = 2_000;
    const pad = "p".repeat(4_096);
    let n = 0;
    // 8 MB while the reader does not read, in steps so Bun writes (and drops) between them.
    while (n < first) {
      for (let i = 0; i < 100; i++) server.io.to("feed").emit("n", n++, pad);
      await new Promise((resolve) => setImmediate(resolve));
    }
    reader.resume();
    // Newer events keep coming until the reader has one of them or is gone.
    const later = setInterval(() => server.io.to("feed").emit("n", n++, "late"), 20);
    const received: number[] = [];
    try {
      for (;;) {
        const frame = await reader.next();
        if (frame === null) break;
        if (frame === "2") { reader.send("3"); continue; }
        const seq = JSON.parse(String(frame).slice(2))[1] as number;
        received.push(seq);
        if (seq >= first) break;
      }
    } finally {
      clearInterval(later);
      reader.destroy();
    }
    const gapAt = received.findIndex((seq, i) => seq !== i);
    const isAll = received.length > first;
    expect({ gapAt, outcome: isAll ? "all" : "disconnected" }).toEqual({ gapAt: -1, outcome: isAll ? "all" : "disconnected" });
    // Bun cuts the member itself and reports a plain close: the server cannot tell it from a lost client.
    if (!isAll) expect(await reason.promise).toBe("transport close");
  });

  test.concurrent("a room member cut for not reading gets what it missed, in order, when it comes back with connection state recovery", async () => {
    await using server = await startServer({ maxBufferedBytes: 256 * 1024, connectionStateRecovery: {} }, (io) => {
      io.on("connection", (socket: Socket) => {
        if (!socket.recovered) socket.join("feed");
        socket.on("disconnect", () => { isCut = true; });
      });
    });
    let isCut = false;
    const reader = await PausableWebSocket.open(server.url);
    parseOpen((await reader.next())!);
    reader.send("40");
    const { pid } = JSON.parse(String(await reader.next()).slice(2)) as { pid: string };
    reader.pause();
    const pad = "p".repeat(4_096);
    let n = 0;
    // Small steps until the cut, then a few more: what it missed fits one replay (under maxBufferedBytes).
    while (!isCut && n < 20_000) {
      for (let i = 0; i < 10; i++) server.io.to("feed").emit("n", n++, pad);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 20; i++) server.io.to("feed").emit("n", n++, pad);
    const total = n;
    reader.resume();
    const before: number[] = [];
    let offset = "";
    for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
      if (frame === "2") continue;
      const args = JSON.parse(String(frame).slice(2)) as [string, number, string, string];
      before.push(args[1]);
      offset = args[3];
    }
    expect(before.length).toBeLessThan(total); // it was cut
    using back = await openWebSocket(server.url);
    parseOpen(await back.next());
    back.send("40" + JSON.stringify({ pid, offset }));
    const after: number[] = [];
    let reply = "";
    while (reply === "" || after.at(-1) !== total - 1) {
      const frame = String(await back.nextNonPing());
      if (frame.startsWith("40")) reply = frame;
      else after.push(JSON.parse(frame.slice(2))[1]);
    }
    const received = [...before, ...after];
    expect({ reply: JSON.parse(reply.slice(2)).pid, gapAt: received.findIndex((seq, i) => seq !== i), count: received.length }).toEqual({ reply: pid, gapAt: -1, count: total });
  });

  test.concurrent("a long-polling session whose buffer grows past maxBufferedBytes is closed as a slow consumer", async () => {
    const reason = Promise.withResolvers<string>();
    await using server = await startServer({ maxBufferedBytes: 100_000 }, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.on("disconnect", (why: string) => reason.resolve(why));
        // The client does not poll while these are written.
        setTimeout(() => { for (let i = 0; i < 20 && socket.connected; i++) socket.emit("chunk", "z".repeat(10_000)); }, 10);
      });
    });
    const { sid } = await handshake(server.url);
    expect((await post(server.url, sid, "40")).status).toBe(200);
    expect(await reason.promise).toBe("slow consumer");
    expect((await poll(server.url, sid)).status).toBe(400); // the session is gone
    expect(server.io.engine.connectionCount()).toBe(0);
  });
});

/** The frames a raw socket gets until it closes, and its close code and reason. */
async function framesUntilClose(socket: RawWebSocket): Promise<{ frames: string[]; code: number; reason: string }> {
  const frames: string[] = [];
  for (;;) {
    try {
      const frame = await socket.nextNonPing();
      frames.push(typeof frame === "string" ? frame : `<${frame.length} bytes>`);
    } catch {
      const { code, reason } = await socket.closed;
      return { frames, code, reason };
    }
  }
}

const header = (count: number, nsp = "") => `45${count}-${nsp}["upload",${Array.from({ length: count }, (_, num) => `{"_placeholder":true,"num":${num}}`).join(",")}]`;

describe("binary packets", () => {
  test.concurrent("refuses binary attachments before the namespace CONNECT: the connection closes (1008) at the header, attachments unread", async () => {
    await using server = await startServer();
    using socket = await openWebSocket(server.url);
    parseOpen(await socket.next());
    socket.send(header(10));
    for (let i = 0; i < 9; i++) socket.send(new Uint8Array(1_000_000));
    expect(await framesUntilClose(socket)).toEqual({ frames: [], code: 1008, reason: "binary attachments before CONNECT" });
    expect(server.io.engine.connectionCount()).toBe(0);
  });

  test.concurrent("refuses binary attachments for a namespace the connection has not joined", async () => {
    await using server = await startServer();
    server.io.of("/admin");
    const { socket } = await connectSocketIO(server.url);
    socket.send(header(1, "/admin,"));
    expect(await framesUntilClose(socket)).toEqual({ frames: [], code: 1008, reason: "binary attachments before CONNECT" });
  });

  test.concurrent("ends a connection whose half-received packet grows past maxHttpBufferSize, and accepts one just under it", async () => {
    const got = Promise.withResolvers<number[]>();
    await using server = await startServer({ maxHttpBufferSize: 10_000 }, (io) => {
      io.on("connection", (s: Socket) => s.on("upload", (...parts: Uint8Array[]) => got.resolve(parts.map((p) => p.byteLength))));
    });
    const ok = await connectSocketIO(server.url);
    ok.socket.send(header(2));
    ok.socket.send(new Uint8Array(4_000));
    ok.socket.send(new Uint8Array(5_000));
    expect(await got.promise).toEqual([4_000, 5_000]);
    const { socket } = await connectSocketIO(server.url);
    socket.send(header(3));
    for (let i = 0; i < 3; i++) socket.send(new Uint8Array(6_000)); // each frame fits, the packet does not
    expect(await framesUntilClose(socket)).toEqual({ frames: [], code: 1008, reason: "binary packet over maxHttpBufferSize" });
    expect(ok.socket.isClosed).toBe(false);
    ok.socket.close();
  });

  test.concurrent("ends a connection whose binary packet is not completed within partialPacketTimeout", async () => {
    const reason = Promise.withResolvers<string>();
    await using server = await startServer({ partialPacketTimeout: 200 }, (io) => {
      io.on("connection", (s: Socket) => s.on("disconnect", (why: string) => reason.resolve(why)));
    });
    const { socket } = await connectSocketIO(server.url);
    socket.send(header(10));
    for (let i = 0; i < 9; i++) socket.send(new Uint8Array(1_000));
    expect(await framesUntilClose(socket)).toEqual({ frames: [], code: 1008, reason: "binary packet not completed in time" });
    expect(await reason.promise).toBe("policy violation");
  });

  test.concurrent("bounds the bytes held in half-received packets across the server: the connection that goes past maxPartialPacketBytes ends, the others go on", async () => {
    const got = Promise.withResolvers<number[]>();
    await using server = await startServer({ maxHttpBufferSize: 50_000, maxPartialPacketBytes: 60_000 }, (io) => {
      io.on("connection", (s: Socket) => s.on("upload", (...parts: Uint8Array[]) => got.resolve(parts.map((p) => p.byteLength))));
    });
    const sockets = [(await connectSocketIO(server.url)).socket, (await connectSocketIO(server.url)).socket];
    for (const socket of sockets) {
      socket.send(header(2));
      socket.send(new Uint8Array(35_000)); // 35 000 held by each: the second one to arrive is past the budget
    }
    const closed = await Promise.race(sockets.map((socket, i) => framesUntilClose(socket).then((result) => ({ i, ...result }))));
    expect(closed).toMatchObject({ frames: [], code: 1008, reason: "server busy with partial packets" });
    const survivor = sockets[1 - closed.i]!;
    survivor.send(new Uint8Array(10));
    expect(await got.promise).toEqual([35_000, 10]);
    // The budget was given back: another connection's packet fits again.
    const again = Promise.withResolvers<number[]>();
    server.io.on("connection", (s: Socket) => s.on("upload", (...parts: Uint8Array[]) => again.resolve(parts.map((p) => p.byteLength))));
    const third = await connectSocketIO(server.url);
    third.socket.send(header(1));
    third.socket.send(new Uint8Array(45_000));
    expect(await again.promise).toEqual([45_000]);
    survivor.close();
    third.socket.close();
  });
});

describe("ack ids", () => {
  test.concurrent("answers an ack id up to 2^53 - 1 under the same id, and closes the connection on one that is not a safe integer (as a malformed packet)", async () => {
    await using server = await startServer({}, (io) => {
      io.on("connection", (s: Socket) => s.on("echo", (value: unknown, ack: (v: unknown) => void) => ack(value)));
    });
    const max = await connectSocketIO(server.url);
    max.socket.send(`42${Number.MAX_SAFE_INTEGER}["echo",1]`);
    expect(await max.socket.nextNonPing()).toBe(`43${Number.MAX_SAFE_INTEGER}[1]`);
    max.socket.close();
    for (const id of ["9007199254740993", "1" + "0".repeat(400)]) {
      const { socket } = await connectSocketIO(server.url);
      socket.send(`42${id}["echo",1]`);
      expect(await framesUntilClose(socket)).toMatchObject({ frames: [] });
      // Binary acks carry ids too.
      const binary = await connectSocketIO(server.url);
      binary.socket.send(`451-${id}["echo",{"_placeholder":true,"num":0}]`);
      binary.socket.send(new Uint8Array(3));
      expect(await framesUntilClose(binary.socket)).toMatchObject({ frames: [] });
    }
  });
});

test.concurrent("closes a connection after maxRefusedConnects refused CONNECTs, each answered with its CONNECT_ERROR first", async () => {
  await using server = await startServer({ maxRefusedConnects: 5 }, (io) => {
    io.use((_socket, next) => next(new Error("unauthorized")));
  });
  using socket = await openWebSocket(server.url);
  parseOpen(await socket.next());
  for (let i = 0; i < 8; i++) socket.send('40{"token":"bad"}');
  expect(await framesUntilClose(socket)).toEqual({
    frames: Array.from({ length: 5 }, () => '44{"message":"unauthorized"}'), code: 1008, reason: "too many refused CONNECTs",
  });
});
