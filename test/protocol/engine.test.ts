// Engine.IO v4 on the wire, from the spec (engine.io-protocol v4): handshake, heartbeat, long-polling
// payloads, upgrade, close, limits, CORS and the HTTP error answers. Raw WebSocket and fetch only.
import { describe, expect, test } from "bun:test";
import { startServer } from "../support/server.ts";
import { decodePayload, encodePayload, engineUrl, handshake, openWebSocket, parseOpen, poll, post } from "../support/raw.ts";
import type { Socket } from "../../src/index.ts";

const echo = (io: { on: (event: string, fn: (socket: Socket) => void) => unknown }) => {
  io.on("connection", (socket: Socket) => {
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("shout", (...args: unknown[]) => socket.emit("shouted", ...args));
  });
};

async function errorOf(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

describe("handshake", () => {
  test.concurrent("answers a polling handshake with an open packet carrying every field", async () => {
    await using server = await startServer({ pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 5000 });
    const { open, packets, headers } = await handshake(server.url);
    expect(packets).toHaveLength(1);
    expect(open).toEqual({ sid: expect.any(String), upgrades: ["websocket"], pingInterval: 300, pingTimeout: 200, maxPayload: 5000 });
    expect(open.sid).toHaveLength(20);
    expect(headers.get("content-type")).toStartWith("text/plain");
  });

  test.concurrent("opens a WebSocket session directly, with no upgrades offered", async () => {
    await using server = await startServer();
    using ws = await openWebSocket(server.url);
    const open = parseOpen(await ws.next());
    expect(open).toEqual({ sid: expect.any(String), upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
  });

  test.concurrent("gives each session its own sid", async () => {
    await using server = await startServer();
    const sids = await Promise.all([1, 2, 3].map(async () => (await handshake(server.url)).sid));
    expect(new Set(sids).size).toBe(3);
  });
});

describe("heartbeat", () => {
  test.concurrent("pings every pingInterval and keeps a session that answers pong", async () => {
    await using server = await startServer({ pingInterval: 40, pingTimeout: 2000 });
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    for (let i = 0; i < 3; i++) {
      expect(await ws.next()).toBe("2");
      ws.send("3");
    }
    expect(ws.isClosed).toBe(false);
  });

  test.concurrent("closes the session upon ping timeout", async () => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    // pingInterval leaves the CONNECT time to arrive first even on a loaded machine.
    await using server = await startServer({ pingInterval: 200, pingTimeout: 30 }, (io) => {
      io.on("connection", (socket: Socket) => socket.on("disconnect", resolve));
    });
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("40");
    await ws.closed;
    expect(await reason).toBe("ping timeout");
    // The ping may come before or after the CONNECT reply on a loaded machine; neither was answered.
    const frames: unknown[] = [];
    for (;;) {
      const frame = await ws.next().catch(() => null);
      if (frame === null) break;
      frames.push(frame);
    }
    expect(frames).toContain("2");
    expect(frames).toContainEqual(expect.stringMatching(/^40\{/));
  });

  test.concurrent("closes a long-polling session upon ping timeout", async () => {
    await using server = await startServer({ pingInterval: 30, pingTimeout: 30 });
    const { sid } = await handshake(server.url);
    // Never answering the ping `2`: within a few polls the session ends, with a close packet or by
    // being gone (how far the timers got before each poll arrived depends on the machine's load).
    const seen: string[] = [];
    let last = await poll(server.url, sid);
    for (let i = 0; i < 5 && last.status === 200 && !last.packets.includes("1"); i++) {
      seen.push(...last.packets);
      last = await poll(server.url, sid);
    }
    if (last.status === 200) expect(last.packets).toContain("1");
    else expect(JSON.parse(last.body)).toEqual({ code: 1, message: "Session ID unknown" });
    expect(seen.every((packet) => packet === "2")).toBe(true);
  });

  test.concurrent("treats a ping from a v4 client as a protocol error", async () => {
    await using server = await startServer();
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("2");
    await ws.closed;
  });
});

describe("long-polling", () => {
  test.concurrent("reads several packets joined by \\x1e from a POST and answers them in one GET", async () => {
    await using server = await startServer({}, echo);
    const { sid } = await handshake(server.url);
    const posted = await post(server.url, sid, encodePayload(["40", '42["shout","a"]', '42["shout","b"]']));
    expect({ status: posted.status, body: await posted.text() }).toEqual({ status: 200, body: "ok" });
    const { packets, body } = await poll(server.url, sid);
    expect(packets).toEqual([expect.stringMatching(/^40\{"sid":"[\w-]{20}"\}$/), '42["shouted","a"]', '42["shouted","b"]']);
    expect(body.split("\x1e")).toHaveLength(3);
  });

  test.concurrent("holds a GET until there is something to send", async () => {
    await using server = await startServer({}, echo);
    const { sid } = await handshake(server.url);
    await post(server.url, sid, "40");
    expect((await poll(server.url, sid)).packets[0]).toStartWith("40{");
    const pending = poll(server.url, sid);
    await post(server.url, sid, '42["shout",1]');
    expect((await pending).packets).toEqual(['42["shouted",1]']);
  });

  test.concurrent("sends binary as b<base64> and reads it back the same way", async () => {
    const { promise: received, resolve } = Promise.withResolvers<unknown>();
    await using server = await startServer({}, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.emit("bin", Buffer.from([1, 2, 3]));
        socket.on("up", resolve);
      });
    });
    const { sid } = await handshake(server.url);
    await post(server.url, sid, "40");
    const { packets } = await poll(server.url, sid);
    expect(packets.slice(1)).toEqual(['451-["bin",{"_placeholder":true,"num":0}]', "bAQID"]);
    const posted = await post(server.url, sid, encodePayload(['451-["up",{"_placeholder":true,"num":0}]', "b" + Buffer.from([9, 8, 7]).toString("base64")]));
    expect(posted.status).toBe(200);
    expect(new Uint8Array(await received as Uint8Array)).toEqual(new Uint8Array([9, 8, 7]));
  });

  test.concurrent("answers a second concurrent GET with 400 and ends the session", async () => {
    await using server = await startServer();
    const { sid } = await handshake(server.url);
    // Whichever GET arrives second overlaps the first, which is held (nothing to send for 25 s).
    const results = await Promise.all([poll(server.url, sid), poll(server.url, sid)]);
    results.sort((a, b) => a.status - b.status);
    expect(results.map(({ status, packets }) => ({ status, packets }))).toEqual([{ status: 200, packets: ["1"] }, { status: 400, packets: [] }]);
    expect(JSON.parse(results[1]!.body)).toEqual({ code: 3, message: expect.any(String) });
    const after = await poll(server.url, sid);
    expect(JSON.parse(after.body)).toEqual({ code: 1, message: "Session ID unknown" });
  });

  test.concurrent("ends the session on a close packet and answers the pending GET with a noop `6`", async () => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.on("disconnect", resolve)));
    const { sid } = await handshake(server.url);
    await post(server.url, sid, "40");
    await poll(server.url, sid);
    const pending = poll(server.url, sid);
    await post(server.url, sid, "1");
    expect((await pending).packets).toEqual(["6"]);
    expect(await reason).toBe("transport close");
    expect((await poll(server.url, sid)).status).toBe(400);
  });
});

describe("upgrade", () => {
  test.concurrent("upgrades polling to WebSocket: 2probe → 3probe, the pending GET gets a noop, then 5", async () => {
    const { promise: transport, resolve } = Promise.withResolvers<string>();
    await using server = await startServer({}, (io) => {
      echo(io);
      io.on("connection", (socket: Socket) => socket.on("upgraded?", () => resolve(socket.conn.transport.name)));
    });
    const { sid } = await handshake(server.url);
    await post(server.url, sid, "40");
    expect((await poll(server.url, sid)).packets[0]).toStartWith("40{");
    const pending = poll(server.url, sid);
    using ws = await openWebSocket(server.url, { sid });
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    expect((await pending).packets).toEqual(["6"]);
    ws.send("5");
    ws.send('42["shout","over ws"]');
    expect(await ws.next()).toBe('42["shouted","over ws"]');
    ws.send('42["upgraded?"]');
    expect(await transport).toBe("websocket");
    // Polling is over for this session.
    expect((await poll(server.url, sid)).status).toBe(400);
  });

  test.concurrent("accepts then closes a second WebSocket for a session already on WebSocket", async () => {
    await using server = await startServer();
    using first = await openWebSocket(server.url);
    const { sid } = parseOpen(await first.next());
    using second = await openWebSocket(server.url, { sid });
    expect((await second.closed).code).toBe(1000);
    first.send("40");
    expect(await first.nextText()).toStartWith("40{");
  });
});

describe("HTTP errors: 400 with a JSON {code, message}", () => {
  test.concurrent("bad EIO → code 5", async () => {
    await using server = await startServer();
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=5&transport=polling`)))
      .toEqual({ status: 400, body: { code: 5, message: "Unsupported protocol version" } });
    expect(await errorOf(await fetch(`${server.url}/socket.io/?transport=polling`)))
      .toEqual({ status: 400, body: { code: 5, message: "Unsupported protocol version" } });
  });

  test.concurrent("EIO=3 is refused with code 5 when allowEIO3 is off", async () => {
    await using server = await startServer({ allowEIO3: false });
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`)))
      .toEqual({ status: 400, body: { code: 5, message: "Unsupported protocol version" } });
  });

  test.concurrent("unknown transport → code 0", async () => {
    await using server = await startServer();
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=4&transport=carrier-pigeon`)))
      .toEqual({ status: 400, body: { code: 0, message: "Transport unknown" } });
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=4`)))
      .toEqual({ status: 400, body: { code: 0, message: "Transport unknown" } });
  });

  test.concurrent("unknown sid → code 1, for GET and POST", async () => {
    await using server = await startServer();
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=nope`)))
      .toEqual({ status: 400, body: { code: 1, message: "Session ID unknown" } });
    expect(await errorOf(await post(server.url, "nope", "40")))
      .toEqual({ status: 400, body: { code: 1, message: "Session ID unknown" } });
  });

  test.concurrent("POST handshake → code 2", async () => {
    await using server = await startServer();
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { method: "POST", body: "40" })))
      .toEqual({ status: 400, body: { code: 2, message: "Bad handshake method" } });
  });

  test.concurrent("transport=websocket without an Upgrade → code 3", async () => {
    await using server = await startServer();
    expect(await errorOf(await fetch(`${server.url}/socket.io/?EIO=4&transport=websocket`)))
      .toEqual({ status: 400, body: { code: 3, message: expect.any(String) } });
  });

  test.concurrent("PUT on a session → code 3, and the session survives", async () => {
    await using server = await startServer();
    const { sid } = await handshake(server.url);
    const put = await fetch(engineUrl(server.url, { sid }, false, "polling"), { method: "PUT", body: "40" });
    expect(await errorOf(put)).toEqual({ status: 400, body: { code: 3, message: expect.any(String) } });
    expect((await post(server.url, sid, "6")).status).toBe(200);
  });

  test.concurrent("a polling request on a WebSocket session → 400", async () => {
    await using server = await startServer();
    using ws = await openWebSocket(server.url);
    const { sid } = parseOpen(await ws.next());
    const result = await poll(server.url, sid);
    expect(result.status).toBe(400);
    expect(JSON.parse(result.body)).toEqual({ code: 3, message: expect.any(String) });
  });

  test.concurrent("a malformed POST payload → 400 and the session ends", async () => {
    await using server = await startServer();
    const { sid } = await handshake(server.url);
    const bad = await post(server.url, sid, "9oops");
    expect(await errorOf(bad)).toEqual({ status: 400, body: { code: 3, message: expect.any(String) } });
    expect((await poll(server.url, sid)).status).toBe(400);
  });
});

describe("limits", () => {
  test.concurrent("answers an oversized POST with 413 and a JSON body, and ends the session", async () => {
    await using server = await startServer({ maxHttpBufferSize: 100 });
    const { sid } = await handshake(server.url);
    const response = await post(server.url, sid, '42["big","' + "x".repeat(200) + '"]');
    expect(await errorOf(response)).toEqual({ status: 413, body: { code: 3, message: "Payload too large" } });
    expect((await poll(server.url, sid)).status).toBe(400);
  });

  test.concurrent("answers a chunked POST far over the limit (no Content-Length) with a JSON 413 too", async () => {
    await using server = await startServer({ maxHttpBufferSize: 100 });
    const { sid } = await handshake(server.url);
    const chunk = new TextEncoder().encode("x".repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 2048) return controller.close(); // 2 MiB in 1 KiB chunks, far past 4 × the limit
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body });
    expect(await errorOf(response)).toEqual({ status: 413, body: { code: 3, message: "Payload too large" } });
    expect((await poll(server.url, sid)).status).toBe(400);
  });

  test.concurrent("closes a WebSocket that sends a frame over maxHttpBufferSize", async () => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    await using server = await startServer({ maxHttpBufferSize: 100 }, (io) => io.on("connection", (socket: Socket) => socket.on("disconnect", resolve)));
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("40");
    expect(await ws.next()).toStartWith("40{");
    ws.send('42["big","' + "x".repeat(200) + '"]');
    const { code } = await ws.closed;
    expect(code).not.toBe(1000);
    expect(await reason).toBe("transport close");
  });

  test.concurrent("closes a connection that never sends CONNECT after connectTimeout", async () => {
    await using server = await startServer({ connectTimeout: 30 });
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    await ws.closed;
    const { sid } = await handshake(server.url);
    const result = await poll(server.url, sid);
    if (result.status === 200) expect(result.packets).toEqual(["1"]);
    else expect(result.status).toBe(400);
  });
});

describe("CORS", () => {
  const cors = { origin: ["http://a.test"], credentials: true };

  test.concurrent("answers a preflight for an allowed origin", async () => {
    await using server = await startServer({ cors });
    const response = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: { Origin: "http://a.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    expect({
      status: response.status,
      origin: response.headers.get("access-control-allow-origin"),
      credentials: response.headers.get("access-control-allow-credentials"),
      methods: response.headers.get("access-control-allow-methods"),
      headers: response.headers.get("access-control-allow-headers"),
    }).toEqual({ status: 204, origin: "http://a.test", credentials: "true", methods: expect.stringContaining("POST"), headers: "content-type" });
  });

  test.concurrent("adds CORS headers to polling responses for an allowed origin", async () => {
    await using server = await startServer({ cors });
    const { headers, sid } = await handshake(server.url, { headers: { Origin: "http://a.test" } });
    expect(headers.get("access-control-allow-origin")).toBe("http://a.test");
    const posted = await post(server.url, sid, "6", { headers: { Origin: "http://a.test" } });
    expect(posted.headers.get("access-control-allow-origin")).toBe("http://a.test");
  });

  test.concurrent("refuses a disallowed Origin with 403 and code 4", async () => {
    await using server = await startServer({ cors });
    const response = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: "http://b.test" } });
    expect(await errorOf(response)).toEqual({ status: 403, body: { code: 4, message: "Forbidden" } });
    const preflight = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { method: "OPTIONS", headers: { Origin: "http://b.test" } });
    expect(preflight.status).toBe(403);
  });

  test.concurrent("accepts requests without an Origin header (non-browser clients)", async () => {
    await using server = await startServer({ cors });
    expect((await handshake(server.url)).sid).toHaveLength(20);
  });
});

describe("close", () => {
  test.concurrent("closes the WebSocket and the session on a close packet `1`", async () => {
    const { promise: reason, resolve } = Promise.withResolvers<string>();
    await using server = await startServer({}, (io) => io.on("connection", (socket: Socket) => socket.on("disconnect", resolve)));
    using ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    ws.send("40");
    expect(await ws.next()).toStartWith("40{");
    ws.send("1");
    expect(await reason).toBe("transport close");
    await ws.closed;
    expect(server.io.engine.sessions.size).toBe(0);
  });

  test.concurrent("forgets a WebSocket session when the client closes the socket", async () => {
    await using server = await startServer();
    const ws = await openWebSocket(server.url);
    parseOpen(await ws.next());
    expect(server.io.engine.sessions.size).toBe(1);
    ws.close();
    await ws.closed;
    for (let i = 0; i < 200 && server.io.engine.sessions.size > 0; i++) await Bun.sleep(1);
    expect(server.io.engine.sessions.size).toBe(0);
  });
});

test("decodePayload splits v4 and v3 payloads", () => {
  expect(decodePayload("4a\x1e4b")).toEqual(["4a", "4b"]);
  expect(decodePayload("2:4a3:4bc", 3)).toEqual(["4a", "4bc"]);
});
