// Connecting with socket.io-client 4.8: handshake data, namespaces (static and dynamic),
// connection middlewares. Each test runs over websocket, polling and polling→websocket.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ConnectError, Socket } from "../../src/index.ts";
import { client, connect, nextEvent } from "../support/client.ts";
import { startServer } from "../support/server.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

describe.each(TRANSPORTS)("connect over %s", (_mode, transport) => {
  test.concurrent("gives the server the handshake: auth, query, headers, address", async () => {
    await using server = await startServer();
    const seen = Promise.withResolvers<Socket>();
    server.io.on("connection", (socket: Socket) => seen.resolve(socket));
    using socket = await connect(server.url, {
      ...transport,
      auth: { token: "abc", n: 1 },
      query: { room: "lobby" },
      extraHeaders: { "x-tenant": "acme" },
    });
    const s = await seen.promise;
    expect(s.id).toBe(socket.id!);
    expect({
      auth: s.handshake.auth,
      room: s.handshake.query.room,
      eio: s.handshake.query.EIO,
      tenant: s.handshake.headers["x-tenant"],
      address: s.handshake.address,
    }).toEqual({ auth: { token: "abc", n: 1 }, room: "lobby", eio: "4", tenant: "acme", address: "127.0.0.1" });
  });

  test.concurrent("connects to a custom namespace, separate from the main one", async () => {
    await using server = await startServer();
    const main: string[] = [];
    const chat = Promise.withResolvers<Socket>();
    server.io.on("connection", (s: Socket) => main.push(s.id));
    server.io.of("/chat").on("connection", (s: Socket) => chat.resolve(s));
    using socket = await connect(server.url + "/chat", transport);
    const s = await chat.promise;
    expect({ nsp: s.nsp.name, id: s.id, main }).toEqual({ nsp: "/chat", id: socket.id!, main: [] });
    // Events stay in their namespace.
    s.on("ping", (n: number, ack: (v: number) => void) => ack(n + 1));
    expect(await socket.emitWithAck("ping", 1)).toBe(2);
  });

  test.concurrent("multiplexes two namespaces over one connection", async () => {
    await using server = await startServer();
    server.io.on("connection", (s: Socket) => s.on("who", (ack: (v: string) => void) => ack("/")));
    server.io.of("/admin").on("connection", (s: Socket) => s.on("who", (ack: (v: string) => void) => ack("/admin")));
    using main = await connect(server.url, transport);
    // A second socket on the same Manager: one Engine.IO connection carries both namespaces.
    const admin = main.io.socket("/admin");
    admin.connect();
    await nextEvent(admin, "connect");
    expect([await main.emitWithAck("who"), await admin.emitWithAck("who")]).toEqual(["/", "/admin"]);
    const [[a], [b]] = [await server.io.fetchSockets(), await server.io.of("/admin").fetchSockets()] as Socket[][];
    expect(a!.conn).toBe(b!.conn);
    admin.disconnect();
  });

  test.concurrent("creates a dynamic namespace from a regex", async () => {
    await using server = await startServer();
    const parent = server.io.of(/^\/dyn-\w+$/);
    const seen = Promise.withResolvers<Socket>();
    parent.on("connection", (s: Socket) => seen.resolve(s));
    using socket = await connect(server.url + "/dyn-42", transport);
    const s = await seen.promise;
    expect({ nsp: s.nsp.name, id: s.id, known: server.io.namespaces.has("/dyn-42") })
      .toEqual({ nsp: "/dyn-42", id: socket.id!, known: true });
    using refused = client(server.url + "/dyn-", transport);
    const [err] = await nextEvent(refused, "connect_error");
    expect(err.message).toBe("Invalid namespace");
  });

  test.concurrent("creates a dynamic namespace when a function allows it, seeing the auth", async () => {
    await using server = await startServer();
    const parent = server.io.of((name, auth, next) => next(null, name.startsWith("/org-") && auth.key === "k"));
    parent.use((socket, next) => {
      socket.data.org = socket.nsp.name.slice(5);
      next();
    });
    const seen = Promise.withResolvers<Socket>();
    parent.on("connection", (s: Socket) => seen.resolve(s));
    using socket = await connect(server.url + "/org-acme", { ...transport, auth: { key: "k" } });
    const s = await seen.promise;
    expect({ nsp: s.nsp.name, data: s.data, connected: socket.connected }).toEqual({ nsp: "/org-acme", data: { org: "acme" }, connected: true });
    // As in socket.io, the function decides only while the child does not exist yet.
    using refused = client(server.url + "/org-other", { ...transport, auth: { key: "wrong" } });
    const [err] = await nextEvent(refused, "connect_error");
    expect(err.message).toBe("Invalid namespace");
  });

  test.concurrent("refuses an unknown namespace with connect_error \"Invalid namespace\"", async () => {
    await using server = await startServer();
    using socket = client(server.url + "/nowhere", transport);
    const [err] = await nextEvent(socket, "connect_error");
    expect({ message: err.message, connected: socket.connected }).toEqual({ message: "Invalid namespace", connected: false });
  });

  test.concurrent("shows a server middleware's error as connect_error with its message and data", async () => {
    await using server = await startServer();
    server.io.use((socket, next) => {
      if (socket.handshake.auth.token === "good") return next();
      const err: ConnectError = new Error("unauthorized");
      err.data = { code: 401, hint: "send a token" };
      next(err);
    });
    const connections: string[] = [];
    server.io.on("connection", (s: Socket) => connections.push(s.id));
    using refused = client(server.url, { ...transport, auth: { token: "bad" } });
    const [err] = await nextEvent(refused, "connect_error");
    expect({ message: err.message, data: err.data, connections })
      .toEqual({ message: "unauthorized", data: { code: 401, hint: "send a token" }, connections: [] });
    using accepted = await connect(server.url, { ...transport, auth: { token: "good" } });
    expect(connections).toEqual([accepted.id!]);
  });

  test.concurrent("shows a namespace middleware's error as connect_error, in order after earlier ones", async () => {
    await using server = await startServer();
    const order: string[] = [];
    const nsp = server.io.of("/private");
    nsp.use((_socket, next) => { order.push("first"); next(); });
    nsp.use((_socket, next) => {
      order.push("second");
      next(Object.assign(new Error("not allowed"), { data: ["a", 1] }));
    });
    nsp.use((_socket, next) => { order.push("third"); next(); });
    using socket = client(server.url + "/private", transport);
    const [err] = await nextEvent(socket, "connect_error");
    expect({ message: err.message, data: err.data, order }).toEqual({ message: "not allowed", data: ["a", 1], order: ["first", "second"] });
  });

  test.concurrent("lets a middleware set socket.data that connection handlers and fetchSockets see", async () => {
    await using server = await startServer();
    server.io.use((socket, next) => {
      socket.data.user = socket.handshake.auth.user;
      next();
    });
    const seen = Promise.withResolvers<unknown>();
    server.io.on("connection", (s: Socket) => seen.resolve(s.data));
    using _socket = await connect(server.url, { ...transport, auth: { user: "ada" } });
    expect(await seen.promise).toEqual({ user: "ada" });
    const sockets = await server.io.fetchSockets();
    expect(sockets.map((s) => s.data)).toEqual([{ user: "ada" }]);
  });
});

describe.each(TRANSPORTS)("dynamic namespace broadcasts over %s", (_mode, transport) => {
  test.concurrent("the parent's emit and to(room).emit reach every child namespace, as socket.io ≥ 4.6", async () => {
    await using server = await startServer();
    const parent = server.io.of(/^\/team-\d+$/);
    parent.on("connection", (s: Socket) => { if (s.handshake.auth.lead) s.join("leads"); });
    using a = await connect(server.url + "/team-1", { ...transport, auth: { lead: true } });
    using b = await connect(server.url + "/team-2", transport);
    using c = await connect(server.url + "/team-2", { ...transport, auth: { lead: true } });
    const all = [a, b, c].map((x) => nextEvent(x, "all"));
    parent.emit("all", 1);
    expect(await Promise.all(all)).toEqual([[1], [1], [1]]);
    const leads = [a, c].map((x) => nextEvent(x, "leads"));
    const notLead = Promise.withResolvers<string>();
    b.on("leads", () => notLead.resolve("b got it"));
    parent.to("leads").emit("leads", 2);
    expect(await Promise.all(leads)).toEqual([[2], [2]]);
    // Ordered after "leads" on b's connection: had b received it, it would have come first.
    const marker = nextEvent(b, "marker");
    server.io.of("/team-2").emit("marker");
    await marker;
    notLead.resolve("b did not");
    expect(await notLead.promise).toBe("b did not");
  });
});
