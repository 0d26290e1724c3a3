// One room, members on different transports: WebSocket members ride Bun topics, polling members
// are written to one by one, and a member that upgrades mid-stream moves from one to the other
// without losing or repeating a packet. socket.io-client 4.8 against a real server.
import { expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { client as newClient, connect, nextEvent, type ClientSocket } from "../support/client.ts";
import { startServer } from "../support/server.ts";

setDefaultTimeout(10_000);

/** Every "m"/"n" payload `socket` receives until "end". */
function collect(socket: ClientSocket, event = "m"): Promise<unknown[]> {
  const got: unknown[] = [];
  const { promise, resolve } = Promise.withResolvers<unknown[]>();
  socket.on(event, (value: unknown) => got.push(value));
  socket.once("end", () => resolve(got));
  return promise;
}

test.concurrent("a room broadcast reaches WebSocket, polling and upgrading members alike", async () => {
  await using server = await startServer({}, (io) => {
    io.on("connection", (s: Socket) => s.join("mixed"));
    io.of("/other").on("connection", (s: Socket) => s.join("mixed"));
  });
  using ws = await connect(server.url, { transports: ["websocket"] });
  using polling = await connect(server.url, { transports: ["polling"] });
  using upgrading = await connect(server.url);
  using outsider = await connect(server.url + "/other", { transports: ["polling"] });
  const sockets = server.io.sockets.sockets;
  const [sWs, sPolling] = [sockets.get(ws.id!)!, sockets.get(polling.id!)!];
  const got = [ws, polling, upgrading].map((c) => collect(c));
  server.io.to("mixed").emit("m", "room");
  sWs.to("mixed").emit("m", "from ws");
  sPolling.to("mixed").emit("m", "from polling");
  server.io.to("mixed").except(ws.id!).emit("m", "not ws");
  server.io.except(polling.id!).emit("m", "not polling");
  server.io.emit("end");
  expect(await Promise.all(got)).toEqual([
    ["room", "from polling", "not polling"],
    ["room", "from ws", "not ws"],
    ["room", "from ws", "from polling", "not ws", "not polling"],
  ]);
  expect(outsider.connected).toBe(true);
});

test.concurrent("a polling member that upgrades keeps receiving room broadcasts, none lost, none twice", async () => {
  const seen = Promise.withResolvers<Socket>();
  await using server = await startServer({}, (io) => io.on("connection", (s: Socket) => {
    s.join("seq");
    if (s.handshake.query.role === "upgrading") seen.resolve(s);
  }));
  using ws = await connect(server.url, { transports: ["websocket"] });
  using polling = await connect(server.url, { transports: ["polling"] });
  using client = newClient(server.url, { query: { role: "upgrading" } });
  // Listening before it connects: the first packets may arrive with the CONNECT reply.
  const got = [ws, polling, client].map((c) => collect(c, "n"));
  const socket = await seen.promise;
  // The sequence starts while the new member is still on long-polling (it has only just sent
  // CONNECT) and goes on until 100 packets after the server saw the upgrade.
  expect(socket.conn.transport.name).toBe("polling");
  let n = 0;
  let upgradedAt = -1;
  const sent = Promise.withResolvers<void>();
  const tick = () => {
    server.io.to("seq").emit("n", n++);
    if (upgradedAt === -1 && socket.conn.transport.name === "websocket") upgradedAt = n;
    if ((upgradedAt !== -1 && n >= upgradedAt + 100) || n >= 20_000) return sent.resolve();
    setImmediate(tick);
  };
  tick();
  await sent.promise;
  server.io.emit("end");
  const expected = Array.from({ length: n }, (_, i) => i);
  const [gotWs, gotPolling, gotUpgrading] = await Promise.all(got);
  expect({ upgradedDuringSequence: upgradedAt > 1, transport: client.io.engine.transport.name }).toEqual({ upgradedDuringSequence: true, transport: "websocket" });
  expect(gotUpgrading).toEqual(expected);
  expect(gotWs).toEqual(expected);
  expect(gotPolling).toEqual(expected);
});

test.concurrent("after an upgrade, socket.to(room) still excludes the sender and reaches polling members", async () => {
  await using server = await startServer({}, (io) => io.on("connection", (s: Socket) => {
    s.join("r");
    s.on("say", (text: string, ack: () => void) => {
      s.to("r").emit("m", text);
      ack();
    });
  }));
  using upgraded = await connect(server.url);
  if (upgraded.io.engine.transport.name !== "websocket") await nextEvent(upgraded.io.engine, "upgrade");
  using polling = await connect(server.url, { transports: ["polling"] });
  using ws = await connect(server.url, { transports: ["websocket"] });
  const got = [upgraded, polling, ws].map((c) => collect(c));
  await upgraded.emitWithAck("say", "from upgraded");
  await polling.emitWithAck("say", "from polling");
  server.io.emit("end");
  expect(await Promise.all(got)).toEqual([
    ["from polling"],
    ["from upgraded"],
    ["from upgraded", "from polling"],
  ]);
  const [s] = (await server.io.in(upgraded.id!).fetchSockets()) as Socket[];
  expect(s!.conn.transport.name).toBe("websocket");
});

test.concurrent("an upgraded member's rooms left and joined afterwards behave like any WebSocket member's", async () => {
  await using server = await startServer({}, (io) => io.on("connection", (s: Socket) => {
    s.join(["before", "kept"]);
    s.on("move", (ack: () => void) => { s.leave("before"); s.join("after"); ack(); });
  }));
  using client = await connect(server.url);
  if (client.io.engine.transport.name !== "websocket") await nextEvent(client.io.engine, "upgrade");
  await client.emitWithAck("move");
  const got = collect(client);
  server.io.to("before").emit("m", "before");
  server.io.to("kept").emit("m", "kept");
  server.io.to("after").emit("m", "after");
  server.io.emit("end");
  expect(await got).toEqual(["kept", "after"]);
});
