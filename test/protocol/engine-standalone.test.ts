// The standalone Engine.IO server, used the way a user of the `engine.io` package would: imported
// from the library's entry point, spoken to by engine.io-client from npm (no Socket.IO on top),
// over long-polling, WebSocket and the upgrade between them. Also io.engine on a Socket.IO Server.
import { describe, expect, test } from "bun:test";
import { connect as tcpConnect } from "node:net";
import { Socket as EioClient, type SocketOptions } from "engine.io-client";
import { Engine, Server, type EngineConnectionError, type EngineSocket } from "../../src/index.ts";
import { io as ioClient } from "socket.io-client";

async function startEngine(options: ConstructorParameters<typeof Engine>[0] = {}) {
  const engine = new Engine(options);
  const server = engine.listen({ port: 0, hostname: "127.0.0.1" });
  return { engine, url: `http://127.0.0.1:${server.port}`, port: server.port!, [Symbol.asyncDispose]: () => engine.close() };
}

function echo(engine: Engine): void {
  engine.on("connection", (socket: EngineSocket) => socket.on("message", (data: string | Buffer) => socket.send(data)));
}

function openClient(url: string, options: Partial<SocketOptions>): Promise<EioClient> {
  const client = new EioClient(url, options);
  return new Promise((resolve, reject) => {
    client.once("open", () => resolve(client));
    client.once("error", reject);
  });
}

function nextMessage(client: EioClient): Promise<unknown> {
  return new Promise((resolve) => client.once("message", resolve));
}

function waitFor<T>(check: () => T | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const timer = setInterval(() => {
      const value = check();
      if (value !== undefined) {
        clearInterval(timer);
        resolve(value);
      } else if (++tries > 200) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

describe("Engine with engine.io-client", () => {
  for (const transports of [["polling"], ["websocket"]] as const) {
    test.concurrent(`echoes text and binary over ${transports[0]} only`, async () => {
      await using server = await startEngine();
      const seen = Promise.withResolvers<EngineSocket>();
      server.engine.on("connection", (socket: EngineSocket) => seen.resolve(socket));
      echo(server.engine);
      const client = await openClient(server.url, { transports: [...transports] });
      const socket = await seen.promise;
      expect(socket.id).toBe(client.id!);
      expect(socket.transport.name).toBe(transports[0]);
      expect(socket.protocol).toBe(4);
      expect(socket.readyState).toBe("open");
      expect(socket.remoteAddress).toBe("127.0.0.1");
      expect(server.engine.clientsCount).toBe(1);

      const text = nextMessage(client);
      client.send("héllo ☃");
      expect(await text).toBe("héllo ☃");
      const binary = nextMessage(client);
      client.send(new Uint8Array([1, 2, 3, 255]));
      const echoed = await binary;
      expect(new Uint8Array(echoed instanceof ArrayBuffer ? echoed : (echoed as Uint8Array))).toEqual(new Uint8Array([1, 2, 3, 255]));
      client.close();
    });
  }

  test.concurrent("upgrades from long-polling to WebSocket, with an upgrade event, and echoes on the new transport", async () => {
    await using server = await startEngine();
    const upgraded = Promise.withResolvers<{ name: string }>();
    const seen = Promise.withResolvers<EngineSocket>();
    server.engine.on("connection", (socket: EngineSocket) => {
      socket.on("upgrade", (transport: { name: string }) => upgraded.resolve(transport));
      seen.resolve(socket);
    });
    echo(server.engine);
    const client = new EioClient(server.url, {});
    const clientUpgraded = new Promise((resolve) => client.once("upgrade", resolve));
    const socket = await seen.promise;
    expect(socket.transport.name).toBe("polling");
    expect((await upgraded.promise).name).toBe("websocket");
    await clientUpgraded;
    expect(socket.transport.name).toBe("websocket");
    expect(socket.upgraded).toBe(true);
    const text = nextMessage(client);
    client.send("after upgrade");
    expect(await text).toBe("after upgrade");
    client.close();
  });

  test.concurrent("socket.close() ends the session on the client; the client's close ends it on the server", async () => {
    await using server = await startEngine();
    const sockets: EngineSocket[] = [];
    const reasons: string[] = [];
    server.engine.on("connection", (socket: EngineSocket) => {
      sockets.push(socket);
      socket.on("close", (reason: string) => reasons.push(reason));
    });
    for (const transports of [["polling"], ["websocket"]]) {
      const client = await openClient(server.url, { transports });
      const closed = new Promise<string>((resolve) => client.once("close", (reason: string) => resolve(reason)));
      sockets.at(-1)!.close();
      expect(await closed).toBeString();
      expect(sockets.at(-1)!.readyState).toBe("closed");
    }
    expect(reasons).toEqual(["forced close", "forced close"]);
    for (const transports of [["polling"], ["websocket"]]) {
      const client = await openClient(server.url, { transports });
      client.close();
      await waitFor(() => reasons.length === sockets.length ? true : undefined, "the server-side close");
    }
    expect(reasons.slice(2)).toEqual(["transport close", "transport close"]);
    expect(await waitFor(() => server.engine.clientsCount === 0 ? 0 : undefined, "clientsCount 0")).toBe(0);
  });

  test.concurrent("send() with a callback, text from the server unprompted, and binary views of any kind", async () => {
    await using server = await startEngine();
    server.engine.on("connection", (socket: EngineSocket) => {
      socket.send("welcome", () => socket.send(new Uint16Array([1, 2]).subarray(1)));
    });
    const client = new EioClient(server.url, { transports: ["websocket"] });
    const messages: unknown[] = [];
    client.on("message", (data: unknown) => messages.push(data));
    await waitFor(() => (messages.length >= 2 ? true : undefined), "two messages");
    expect(messages[0]).toBe("welcome");
    expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([2, 0]);
    client.close();
  });
});

describe("Engine events", () => {
  test.concurrent("initial_headers on the handshake, headers on every polling response and on the WebSocket upgrade", async () => {
    await using server = await startEngine();
    server.engine.on("initial_headers", (headers: Record<string, string>, req: Request) => {
      headers["X-Initial"] = new URL(req.url).searchParams.get("transport")!;
    });
    server.engine.on("headers", (headers: Record<string, string>) => {
      headers["X-Every"] = "yes";
    });
    const open = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
    expect([open.headers.get("x-initial"), open.headers.get("x-every")]).toEqual(["polling", "yes"]);
    const sid = JSON.parse((await open.text()).slice(1)).sid;
    const post = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "4hi" });
    expect([post.headers.get("x-initial"), post.headers.get("x-every")]).toEqual([null, "yes"]);

    // The 101 response, read off the socket as a WebSocket client sees it.
    const head = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(server.port, "127.0.0.1", () => {
        socket.write("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
        if (text.includes("\r\n\r\n")) {
          socket.destroy();
          resolve(text.slice(0, text.indexOf("\r\n\r\n")));
        }
      });
      socket.on("error", reject);
    });
    expect(head).toStartWith("HTTP/1.1 101");
    expect(head.toLowerCase()).toContain("x-initial: websocket");
    expect(head.toLowerCase()).toContain("x-every: yes");
  });

  test.concurrent("connection_error names each refused request: bad protocol version, unknown sid, bad handshake method", async () => {
    await using server = await startEngine();
    const errors: EngineConnectionError[] = [];
    server.engine.on("connection_error", (err: EngineConnectionError) => errors.push(err));
    const answers = [
      await fetch(`${server.url}/engine.io/?EIO=5&transport=polling`),
      await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&sid=nope`),
      await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`, { method: "PUT" }),
    ];
    expect(await Promise.all(answers.map((r) => r.json()))).toEqual([
      { code: 5, message: "Unsupported protocol version" },
      { code: 1, message: "Session ID unknown" },
      { code: 2, message: "Bad handshake method" },
    ]);
    expect(errors.map((e) => [e.code, e.message, new URL(e.req.url).searchParams.get("EIO")])).toEqual([
      [5, "Unsupported protocol version", "5"],
      [1, "Session ID unknown", "4"],
      [2, "Bad handshake method", "4"],
    ]);
    expect(errors[1]!.context).toEqual({ sid: "nope" });
  });

  test.concurrent("handler(fallback) in the user's own Bun.serve: the engine on its path, the rest to the fallback", async () => {
    const engine = new Engine({ path: "/realtime" });
    echo(engine);
    const bun = Bun.serve({ port: 0, hostname: "127.0.0.1", ...engine.handler(() => new Response("app")) });
    try {
      const url = `http://127.0.0.1:${bun.port}`;
      expect(await (await fetch(`${url}/other`)).text()).toBe("app");
      const client = await openClient(url, { path: "/realtime", transports: ["websocket"] });
      const text = nextMessage(client);
      client.send("through your server");
      expect(await text).toBe("through your server");
      client.close();
    } finally {
      await engine.close();
      await bun.stop(true);
    }
  });
});

describe("io.engine on a Socket.IO Server", () => {
  test.concurrent("its connection event gives the same object as socket.conn, whose upgrade event fires", async () => {
    const io = new Server();
    const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
    try {
      const fromEngine = Promise.withResolvers<EngineSocket>();
      const upgraded = Promise.withResolvers<string>();
      io.engine.on("connection", (conn: EngineSocket) => {
        conn.on("upgrade", (transport: { name: string }) => upgraded.resolve(transport.name));
        fromEngine.resolve(conn);
      });
      const fromSocket = Promise.withResolvers<EngineSocket>();
      io.on("connection", (socket) => {
        fromSocket.resolve(socket.conn);
        socket.on("ping?", (ack: (answer: string) => void) => ack("pong!"));
      });
      const client = ioClient(`http://127.0.0.1:${bun.port}`, { reconnection: false });
      const conn = await fromEngine.promise;
      expect(await fromSocket.promise).toBe(conn);
      expect(await upgraded.promise).toBe("websocket");
      // Listening on conn does not take the session away from Socket.IO.
      expect(await client.timeout(2000).emitWithAck("ping?")).toBe("pong!");
      expect(io.engine.clientsCount).toBe(1);
      const reason = new Promise<string>((resolve) => client.once("disconnect", (r) => resolve(r)));
      conn.close();
      expect(await reason).toBe("transport close");
      client.close();
    } finally {
      await io.close();
    }
  });
});
