// Engine.IO v4 behaviours the official test suite (engine.io-protocol/test-suite) holds servers to,
// written from the spec and the reference server's answers: a second WebSocket on an upgraded
// session, an invalid polling payload, a close packet while a GET waits, and an empty binary
// attachment between two others sent by socket.io-client 4.8 over WebSocket.
import { describe, expect, test } from "bun:test";
import { startServer } from "../support/server.ts";
import { connect } from "../support/client.ts";
import { engineUrl, handshake, openWebSocket, poll, post, RawWebSocket } from "../support/raw.ts";
import type { Socket } from "../../src/index.ts";

const echo = (io: { on: (event: string, fn: (socket: Socket) => void) => unknown }) => {
  io.on("connection", (socket: Socket) => {
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
  });
};

describe("a second WebSocket on an upgraded session", () => {
  test.concurrent("is accepted and closed, and the upgraded WebSocket goes on working", async () => {
    await using server = await startServer({}, echo);
    const { sid } = await handshake(server.url);
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    ws.send("5");
    // A second upgrade with the same sid opens (101) and is then closed by the server, as the
    // reference does; a 400 makes the ws package raise an unhandled "Unexpected server response".
    const second = new RawWebSocket(new WebSocket(engineUrl(server.url, { sid }, true, "websocket")));
    const opened = await new Promise<boolean>((resolve) => {
      second.ws.addEventListener("open", () => resolve(true), { once: true });
      second.ws.addEventListener("error", () => resolve(false), { once: true });
    });
    expect(opened).toBe(true);
    await second.closed;
    ws.send("40");
    let reply = await ws.next();
    if (reply === "6") reply = await ws.next(); // the probe's noop, written while no GET was waiting
    expect(reply).toStartWith("40{");
    ws.send('421["echo","still here"]');
    expect(await ws.next()).toBe('431["still here"]');
  });
});

describe("an invalid polling payload", () => {
  test.concurrent("answers 400 and closes the session", async () => {
    await using server = await startServer();
    const { sid } = await handshake(server.url);
    const response = await post(server.url, sid, "abc");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 3 });
    expect((await poll(server.url, sid)).status).toBe(400);
  });
});

describe("a close packet POSTed while a GET waits", () => {
  test.concurrent("answers the waiting GET with a noop, and the session is gone", async () => {
    await using server = await startServer();
    const { sid } = await handshake(server.url);
    const pending = poll(server.url, sid);
    await Bun.sleep(20); // the GET is waiting on the server
    const closing = await post(server.url, sid, "1");
    expect(closing.status).toBe(200);
    expect((await pending).body).toBe("6");
    expect((await poll(server.url, sid)).status).toBe(400);
  });

  test.concurrent("a GET sent beside the close POST but read after it still gets the noop; the next GET 400; the limits count it gone at once", async () => {
    await using server = await startServer({ maxConnections: 1 });
    const { sid } = await handshake(server.url);
    // The suite's "forcefully closes the session" fires both at once; here the POST is read first.
    const closing = await post(server.url, sid, "1");
    expect(closing.status).toBe(200);
    expect(server.io.engine.connectionCount()).toBe(0);
    const late = await poll(server.url, sid);
    expect([late.status, late.body]).toEqual([200, "6"]);
    expect((await poll(server.url, sid)).status).toBe(400);
    expect((await handshake(server.url)).status).toBe(200);
  });
});

describe("an empty binary attachment between two others", () => {
  for (const transport of ["websocket", "polling"] as const) {
    test.concurrent(`arrives intact from socket.io-client 4.8 over ${transport}`, async () => {
      await using server = await startServer({}, echo);
      using socket = await connect(server.url, { transports: [transport] });
      const reply = await socket.timeout(5000).emitWithAck("echo", [Buffer.from([7]), Buffer.alloc(0), Buffer.from([8])], "after");
      expect(socket.connected).toBe(true);
      expect(reply.map((b: ArrayBuffer | Buffer) => [...new Uint8Array(b)])).toEqual([[7], [], [8]]);
      expect(await socket.timeout(5000).emitWithAck("echo", "next")).toBe("next");
    });
  }
});

describe("long-polling GETs around an upgrade", () => {
  test.concurrent("a GET sent right behind `2probe` and `5` is refused with 400, whichever the server reads first (20 times)", async () => {
    await using server = await startServer();
    for (let i = 0; i < 20; i++) {
      const { sid } = await handshake(server.url);
      using ws = await openWebSocket(server.url, { sid });
      ws.send("2probe");
      ws.send("5");
      const response = await poll(server.url, sid);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({ code: 3 });
    }
  });

  test.concurrent("a GET waiting when `5` completes the upgrade gets 400, not a payload, and the WebSocket carries on", async () => {
    await using server = await startServer({}, echo);
    const { sid } = await handshake(server.url);
    const pending = poll(server.url, sid);
    await Bun.sleep(30); // the GET waits on the server
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    ws.send("5");
    expect(await ws.next()).toBe("3probe");
    const answer = await pending;
    // Either the `5` came first (400), or the noop that lets a client pause came first (200 "6").
    if (answer.status === 200) expect(answer.body).toBe("6");
    else expect(JSON.parse(answer.body)).toMatchObject({ code: 3, message: "Transport upgraded" });
    ws.send("40");
    expect(await ws.nextNonPing()).toStartWith("40{");
  });

  test.concurrent("a GET mid-upgrade with nothing to carry gets a noop at once, so the client can pause and send `5`", async () => {
    await using server = await startServer({ pingInterval: 25_000 }, echo);
    const { sid } = await handshake(server.url);
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    const started = performance.now();
    const answer = await poll(server.url, sid);
    expect(answer).toMatchObject({ status: 200, body: "6" });
    expect(performance.now() - started).toBeLessThan(5_000); // not the next ping, 25 s away
    ws.send("5");
    ws.send("40");
    expect(await ws.next()).toStartWith("40{");
  });

  test.concurrent("the client's sequence that stalled socket.io-client v2: GET answered by the probe's noop, then one more GET before `3probe` is read", async () => {
    await using server = await startServer({ pingInterval: 25_000 }, echo);
    const { sid } = await handshake(server.url);
    const first = poll(server.url, sid);
    await Bun.sleep(30); // the GET waits on the server
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    expect(await first).toMatchObject({ status: 200, body: "6" });
    // The client had not read `3probe` yet, so it polled again; then it pauses and waits for this
    // GET to return before it sends `5`. Held until the next ping (25 s), the upgrade stalls.
    const second = poll(server.url, sid);
    expect(await ws.next()).toBe("3probe");
    const started = performance.now();
    expect(await second).toMatchObject({ status: 200, body: "6" });
    expect(performance.now() - started).toBeLessThan(5_000);
    ws.send("5");
    ws.send("40");
    expect(await ws.next()).toStartWith("40{");
  });

  test.concurrent("a second WebSocket while a first one is probing is accepted and closed; the first upgrades", async () => {
    await using server = await startServer({}, echo);
    const { sid } = await handshake(server.url);
    using first = await openWebSocket(server.url, { sid });
    const second = new RawWebSocket(new WebSocket(engineUrl(server.url, { sid }, true, "websocket")));
    expect((await second.closed).code).not.toBe(0);
    first.send("2probe");
    expect(await first.next()).toBe("3probe");
    first.send("5");
    first.send('40');
    expect(await first.next()).toStartWith("40{");
  });

  test.concurrent("a probe that never upgrades is closed after the upgrade timeout, and another may then upgrade", async () => {
    await using server = await startServer({ pingInterval: 5_000, pingTimeout: 20_000 }, echo);
    const { sid } = await handshake(server.url);
    const stale = await openWebSocket(server.url, { sid });
    const closed = await stale.closed;
    expect(closed.code).not.toBe(0);
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    expect(await ws.nextNonPing()).toBe("3probe");
    ws.send("5");
    ws.send("40");
    expect(await ws.nextNonPing()).toStartWith("40{");
  }, 30_000);
});
