// Connection state recovery: on one node in memory, and across nodes (sessions in Redis, every node
// logging every broadcast), including after the client's node was killed.
import { describe, expect, test } from "bun:test";
import type { Server } from "../../src/index.ts";
import { connect, nextEvent, type ClientSocket } from "../support/client.ts";
import { redisUrl } from "../support/services.ts";
import { startServer } from "../support/server.ts";
import { startNode, stopNode, uniqueKey } from "./cluster.ts";

const recovery = { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } };
const fastReconnect = { reconnection: true, reconnectionDelay: 20, reconnectionDelayMax: 50, randomizationFactor: 0 };

function handlers(io: Server): void {
  io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
  });
}

/** Collects the first argument of every "m" event (the offset follows it). */
function collect(socket: ClientSocket): unknown[] {
  const values: unknown[] = [];
  socket.on("m", (value: unknown) => values.push(value));
  return values;
}

describe("connection state recovery on one node", () => {
  test.concurrent("restores id, rooms, data and missed broadcasts and private emits after a transport close", async () => {
    await using server = await startServer(recovery, (io) => {
      handlers(io);
      io.on("connection", (socket) => {
        if (!socket.recovered) socket.data.n = 1;
        socket.on("whoami", (ack: (r: unknown) => void) => ack({ recovered: socket.recovered, data: socket.data, rooms: [...socket.rooms] }));
      });
    });
    using client = await connect(server.url, { ...fastReconnect, transports: ["websocket"] });
    const values = collect(client);
    await client.emitWithAck("join", "r");
    const first = nextEvent(client, "m");
    server.io.to("r").emit("m", 0);
    const [, offset] = await first;
    expect(typeof offset).toBe("string");
    const id = client.id;

    const gone = nextEvent(client, "disconnect");
    client.io.engine.close(); // the transport closes: a recoverable reason on the server
    await gone;
    server.io.to("r").emit("m", 1);
    server.io.to(id!).emit("m", 2);
    server.io.volatile.to("r").emit("m", "volatile is not replayed");
    const back = nextEvent(client, "connect");
    await back;
    expect({ recovered: client.recovered, id: client.id, values }).toEqual({ recovered: true, id, values: [0, 1, 2] });
    expect(await client.emitWithAck("whoami")).toEqual({ recovered: true, data: { n: 1 }, rooms: [id, "r"] });
  });

  test.concurrent("an explicit disconnect is not recoverable, and recovery off sends no offset", async () => {
    await using server = await startServer(recovery, handlers);
    using client = await connect(server.url, fastReconnect);
    const first = nextEvent(client, "m");
    server.io.emit("m", 0);
    await first;
    const id = client.id;
    client.disconnect();
    client.connect();
    await nextEvent(client, "connect");
    expect({ recovered: client.recovered, sameId: client.id === id }).toEqual({ recovered: false, sameId: false });

    await using plain = await startServer({}, handlers);
    using other = await connect(plain.url);
    const got = nextEvent(other, "m");
    plain.io.emit("m", 0);
    expect(await got).toEqual([0]);
  });
});

describe("connection state recovery across nodes", () => {
  test.concurrent("a client whose node shut down recovers on another node", async () => {
    const key = uniqueKey();
    const [a, b] = await Promise.all([startNode(key, recovery, handlers), startNode(key, recovery, handlers)]);
    try {
      using client = await connect(a.url, { ...fastReconnect, transports: ["websocket"] });
      const values = collect(client);
      await client.emitWithAck("join", "r");
      const first = nextEvent(client, "m");
      b.io.to("r").emit("m", 0);
      await first;
      const id = client.id;
      client.on("disconnect", () => reconnectTo(client, b.url));
      const gone = nextEvent(client, "disconnect");
      await a.io.close(); // "server shutting down" is recoverable
      await gone;
      b.io.to("r").emit("m", 1);
      b.io.to("elsewhere").emit("m", "not for this client");
      await nextEvent(client, "connect");
      b.io.to("r").emit("m", 2);
      await nextEvent(client, "m");
      expect({ recovered: client.recovered, id: client.id, values }).toEqual({ recovered: true, id, values: [0, 1, 2] });
    } finally {
      await Promise.all([stopNode(a), stopNode(b)]);
    }
  });

  test("clients of a killed node (SIGKILL) reconnect to another node and get every message sent to their rooms meanwhile", async () => {
    const key = uniqueKey();
    const child = Bun.spawn([process.execPath, import.meta.dir + "/fixtures/bunsen-node.ts", redisUrl, key], { stdout: "pipe", stderr: "inherit" });
    try {
      const port = Number((await firstLine(child.stdout)).split(" ")[1]);
      const b = await startNode(key, recovery, handlers);
      try {
        const clients = await Promise.all([1, 2, 3].map(() => connect(`http://127.0.0.1:${port}`, { ...fastReconnect, transports: ["websocket"] })));
        const values = clients.map(collect);
        await Promise.all(clients.map((c) => c.emitWithAck("join", "r")));
        const ids = clients.map((c) => c.id);
        const firsts = Promise.all(clients.map((c) => nextEvent(c, "m")));
        b.io.to("r").emit("m", 0); // every client now holds an offset
        await firsts;
        for (const c of clients) c.on("disconnect", () => reconnectTo(c, b.url));
        const gone = Promise.all(clients.map((c) => nextEvent(c, "disconnect")));
        child.kill("SIGKILL");
        await gone;
        for (let i = 1; i <= 5; i++) b.io.to("r").emit("m", i);
        await Promise.all(clients.map((c) => nextEvent(c, "connect")));
        expect(clients.map((c) => ({ recovered: c.recovered, id: c.id, values: values[clients.indexOf(c)] }))).toEqual(
          ids.map((id) => ({ recovered: true, id, values: [0, 1, 2, 3, 4, 5] })),
        );
        for (const c of clients) c.disconnect();
      } finally {
        await stopNode(b);
      }
    } finally {
      child.kill("SIGKILL");
    }
  });
});

/** The Manager re-reads its uri on every reconnection attempt: the client's next node. */
function reconnectTo(socket: ClientSocket, url: string): void {
  (socket.io as unknown as { uri: string }).uri = url;
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    const index = buffer.indexOf("\n");
    if (index !== -1) return buffer.slice(0, index);
  }
  throw new Error("process exited before printing its port");
}
