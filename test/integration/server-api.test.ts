// The Server API around serving: io.listen returns the Bun server, io.handler() spreads into your
// own Bun.serve beside other routes, a custom path. socket.io-client 4.8 over every transport.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Server, type Socket } from "../../src/index.ts";
import { client, connect, nextEvent } from "../support/client.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

/** A Server answering "whoami" with its socket id, closed on dispose. */
function echoServer(options = {}): Server & AsyncDisposable {
  const io = new Server(options) as Server & AsyncDisposable;
  io.on("connection", (s: Socket) => s.on("whoami", (ack: (id: string) => void) => ack(s.id)));
  io[Symbol.asyncDispose] = () => io.close();
  return io;
}

describe.each(TRANSPORTS)("server API over %s", (_mode, transport) => {
  test.concurrent("io.listen returns the Bun server, on the port it picked", async () => {
    await using io = echoServer();
    const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
    expect(bun.port).toBeGreaterThan(0);
    using socket = await connect(`http://127.0.0.1:${bun.port}`, transport);
    expect(await socket.emitWithAck("whoami")).toBe(socket.id!);
  });

  test.concurrent("io.listen(port) takes a plain number and a fallback for other paths", async () => {
    await using io = echoServer();
    const bun = io.listen(0, (req) => new Response(`fallback ${new URL(req.url).pathname}`));
    const url = `http://localhost:${bun.port}`;
    expect(await (await fetch(url + "/anything")).text()).toBe("fallback /anything");
    using socket = await connect(url, transport);
    expect(await socket.emitWithAck("whoami")).toBe(socket.id!);
  });

  test.concurrent("io.handler(fallback) spreads into your own Bun.serve, which answers other paths", async () => {
    await using io = echoServer();
    const bun = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      ...io.handler((req) => {
        const { pathname } = new URL(req.url);
        if (pathname === "/health") return Response.json({ ok: true, sockets: io.sockets.sockets.size });
        return new Response("nope", { status: 404 });
      }),
    });
    await using _bun = { [Symbol.asyncDispose]: () => bun.stop(true) };
    const url = `http://127.0.0.1:${bun.port}`;
    using socket = await connect(url, transport);
    expect(await socket.emitWithAck("whoami")).toBe(socket.id!);
    const health = await fetch(url + "/health");
    const missing = await fetch(url + "/missing");
    expect({ health: await health.json(), missing: [missing.status, await missing.text()] })
      .toEqual({ health: { ok: true, sockets: 1 }, missing: [404, "nope"] });
  });

  test.concurrent("io.handler() without a fallback answers other paths with a JSON 404", async () => {
    await using io = echoServer();
    const bun = Bun.serve({ port: 0, hostname: "127.0.0.1", ...io.handler() });
    await using _bun = { [Symbol.asyncDispose]: () => bun.stop(true) };
    const url = `http://127.0.0.1:${bun.port}`;
    const res = await fetch(url + "/elsewhere");
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body: { error: { code: "not_found", message: "Not found" } } });
    using socket = await connect(url, transport);
    expect(socket.connected).toBe(true);
  });

  test.concurrent("serves Socket.IO on a custom path, and not on the default one", async () => {
    await using io = echoServer({ path: "/realtime" });
    const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
    const url = `http://127.0.0.1:${bun.port}`;
    using socket = await connect(url, { ...transport, path: "/realtime" });
    expect(await socket.emitWithAck("whoami")).toBe(socket.id!);
    using wrongPath = client(url, transport);
    expect((await nextEvent(wrongPath, "connect_error"))[0]).toBeInstanceOf(Error);
  });

  test.concurrent("io.close() stops the Bun server it listened on", async () => {
    const io = echoServer();
    const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
    const url = `http://127.0.0.1:${bun.port}`;
    using socket = await connect(url, transport);
    const disconnected = nextEvent(socket, "disconnect");
    await io.close();
    await disconnected;
    expect(await fetch(url + "/socket.io/?EIO=4&transport=polling").then(() => "answered", () => "refused")).toBe("refused");
  });

  test.concurrent("namespace and server entry points are the same objects socket.io users expect", async () => {
    await using io = echoServer();
    const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
    const chat = io.of("chat");
    expect({ same: io.of("/chat") === chat, main: io.of("/") === io.sockets, names: [...io.namespaces.keys()].toSorted() })
      .toEqual({ same: true, main: true, names: ["/", "/chat"] });
    const got = Promise.withResolvers<string>();
    chat.on("connection", (s: Socket) => got.resolve(s.nsp.name));
    using _socket = await connect(`http://127.0.0.1:${bun.port}/chat`, transport);
    expect(await got.promise).toBe("/chat");
  });
});
