// Disconnection with socket.io-client 4.8, from either side, with Socket.IO's reason strings;
// reconnection after the server drops a transport; heartbeat; shutdown. Over every transport.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { connect, nextEvent } from "../support/client.ts";
import { startPair, startServer } from "../support/server.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

describe.each(TRANSPORTS)("disconnect over %s", (mode, transport) => {
  test.concurrent("a client's disconnect() reaches the server as \"client namespace disconnect\"", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    const reason = nextEvent(serverSocket, "disconnect");
    socket.disconnect();
    expect(await reason).toEqual(["client namespace disconnect", undefined]);
    expect({ connected: serverSocket.connected, sockets: server.io.sockets.sockets.size }).toEqual({ connected: false, sockets: 0 });
  });

  test.concurrent("the server's socket.disconnect() reaches the client as \"io server disconnect\"", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    const [clientReason, serverReason] = [nextEvent(socket, "disconnect"), nextEvent(serverSocket, "disconnect")];
    serverSocket.disconnect();
    expect({ client: (await clientReason)[0], server: (await serverReason)[0], active: socket.active })
      .toEqual({ client: "io server disconnect", server: "server namespace disconnect", active: false });
  });

  test.concurrent("disconnect(true) ends every namespace of the connection and the connection itself", async () => {
    await using server = await startServer({}, (io) => io.of("/chat"));
    using main = await connect(server.url, transport);
    const chat = main.io.socket("/chat");
    chat.connect();
    await nextEvent(chat, "connect");
    const reasons = [nextEvent(main, "disconnect"), nextEvent(chat, "disconnect")];
    const closed = nextEvent(main.io.engine, "close");
    const [serverSocket] = await server.io.fetchSockets() as Socket[];
    serverSocket!.disconnect(true);
    expect((await Promise.all(reasons)).map(([r]) => r)).toEqual(["io server disconnect", "io server disconnect"]);
    await closed;
    expect({ main: server.io.sockets.sockets.size, chat: server.io.of("/chat").sockets.size }).toEqual({ main: 0, chat: 0 });
  });

  test.concurrent("\"disconnecting\" still sees the socket's rooms; \"disconnect\" sees them gone", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    serverSocket.join(["a", "b"]);
    const seen = Promise.withResolvers<{ disconnecting: string[]; disconnect: string[] }>();
    let atDisconnecting: string[] = [];
    serverSocket.on("disconnecting", () => { atDisconnecting = [...serverSocket.rooms].toSorted(); });
    serverSocket.on("disconnect", () => seen.resolve({ disconnecting: atDisconnecting, disconnect: [...serverSocket.rooms] }));
    socket.disconnect();
    expect(await seen.promise).toEqual({ disconnecting: [serverSocket.id, "a", "b"].toSorted(), disconnect: [] });
    expect(server.io.sockets.adapter.rooms.size).toBe(0);
  });

  test.concurrent("a client reconnects after the server drops its transport (socket.conn.close)", async () => {
    const { server, socket, serverSocket } = await startPair({ ...transport, reconnection: true, reconnectionDelay: 10, reconnectionDelayMax: 20 });
    await using _server = server;
    using _socket = socket;
    const firstId = socket.id;
    const [clientReason, serverReason] = [nextEvent(socket, "disconnect"), nextEvent(serverSocket, "disconnect")];
    const reconnected = nextEvent(socket, "connect");
    serverSocket.conn.close();
    expect({ client: (await clientReason)[0], server: (await serverReason)[0] }).toEqual({ client: "transport close", server: "forced close" });
    await reconnected;
    expect({ connected: socket.connected, isNewId: socket.id !== firstId, sockets: [...server.io.sockets.sockets.keys()] })
      .toEqual({ connected: true, isNewId: true, sockets: [socket.id!] });
    // The new connection works.
    server.io.sockets.sockets.get(socket.id!)!.on("ping", (ack: (v: string) => void) => ack("pong"));
    expect(await socket.emitWithAck("ping")).toBe("pong");
  });

  test.concurrent("a client reconnects after socket.client.session.close() as well", async () => {
    const { server, socket, serverSocket } = await startPair({ ...transport, reconnection: true, reconnectionDelay: 10, reconnectionDelayMax: 20 });
    await using _server = server;
    using _socket = socket;
    const reconnected = Promise.withResolvers<number>();
    socket.io.once("reconnect", (attempt: number) => reconnected.resolve(attempt));
    const connected = nextEvent(socket, "connect");
    serverSocket.client.session.close("transport error");
    expect(await reconnected.promise).toBeGreaterThanOrEqual(1);
    await connected;
    expect({ connected: socket.connected, sockets: [...server.io.sockets.sockets.keys()] }).toEqual({ connected: true, sockets: [socket.id!] });
  });

  // Not concurrent: client and server share this process, and a 50 ms pingTimeout leaves no room
  // for a busy event loop.
  test("the heartbeat keeps an idle connection up across many short intervals", async () => {
    const { server, socket, serverSocket } = await startPair(transport, undefined, { pingInterval: 50, pingTimeout: 50 });
    await using _server = server;
    using _socket = socket;
    const disconnects: unknown[] = [];
    const eightPings = Promise.withResolvers<void>();
    const onDisconnect = (reason: string) => {
      disconnects.push(reason);
      eightPings.resolve();
    };
    socket.on("disconnect", onDisconnect);
    serverSocket.on("disconnect", onDisconnect);
    let pingCount = 0;
    socket.io.engine.on("ping", () => { if (++pingCount === 8) eightPings.resolve(); });
    await eightPings.promise;
    expect({ disconnects, pingCount }).toEqual({ disconnects: [], pingCount: 8 });
    // Still usable after 8 × 50 ms with a 50 ms timeout.
    serverSocket.on("echo", (v: number, ack: (v: number) => void) => ack(v));
    expect(await socket.emitWithAck("echo", 8)).toBe(8);
  });

  test.concurrent("io.close() disconnects clients; server sockets see \"server shutting down\"", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    using _socket = socket;
    using other = await connect(server.url, transport);
    const [clientReasons, serverReason] = [Promise.all([nextEvent(socket, "disconnect"), nextEvent(other, "disconnect")]), nextEvent(serverSocket, "disconnect")];
    let hookRan = false;
    server.io.onShutdown(() => { hookRan = true; });
    await server.io.close();
    // A polling client between two GETs finds the port closed: "transport error", as with socket.io.
    const clients = (await clientReasons).map(([r]) => (r === "transport error" && mode !== "websocket" ? "transport close" : r));
    expect({ clients, server: (await serverReason)[0], hookRan, sockets: server.io.sockets.sockets.size })
      .toEqual({ clients: ["transport close", "transport close"], server: "server shutting down", hookRan: true, sockets: 0 });
  });
});
