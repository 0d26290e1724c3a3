// A typed Server (socket.io's four type arguments) with real, typed socket.io-client sockets:
// emits, acks, emitWithAck both ways, a room broadcast, broadcast acks, fetchSockets' typed data.
// The types themselves are checked by tsc (test/types); this proves the typed code runs as written.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { Server, type Socket } from "../../src/index.ts";

setDefaultTimeout(10_000);

interface ClientToServer {
  join: (room: string, ack: (reply: { ok: boolean; members: number }) => void) => void;
  say: (room: string, text: string) => void;
  add: (a: number, b: number, ack: (sum: number) => void) => void;
}

interface ServerToClient {
  said: (message: { from: string; text: string }) => void;
  ask: (question: string, ack: (answer: string) => void) => void;
}

interface InterServer {
  hello: (from: string) => void;
}

interface Data {
  name: string;
}

type TypedClient = ClientSocket<ServerToClient, ClientToServer>;

async function start() {
  const io = new Server<ClientToServer, ServerToClient, InterServer, Data>();
  const connected: Socket<ClientToServer, ServerToClient, InterServer, Data>[] = [];
  io.use((socket, next) => {
    socket.data.name = String(socket.handshake.auth.name);
    next();
  });
  io.on("connection", (socket) => {
    connected.push(socket);
    socket.on("join", async (room, ack) => {
      socket.join(room);
      ack({ ok: true, members: (await io.in(room).fetchSockets()).length });
    });
    socket.on("say", (room, text) => io.to(room).emit("said", { from: socket.data.name, text }));
    socket.on("add", (a, b, ack) => ack(a + b));
  });
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${bun.port}`;
  const clients: TypedClient[] = [];
  const connect = async (name: string, answer: string): Promise<TypedClient> => {
    const client: TypedClient = ioc(url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { name } });
    client.on("ask", (_question, ack) => ack(answer));
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    return client;
  };
  return {
    io, connected, connect,
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.disconnect();
      await io.close();
    },
  };
}

describe("typed events", () => {
  test("client emits with acks and emitWithAck reach typed listeners, and a room broadcast reaches the room", async () => {
    await using server = await start();
    const ada = await server.connect("ada", "A");
    const bob = await server.connect("bob", "B");

    const joined = new Promise<{ ok: boolean; members: number }>((resolve) => ada.emit("join", "lobby", resolve));
    expect(await joined).toEqual({ ok: true, members: 1 });
    expect(await bob.timeout(5000).emitWithAck("join", "lobby")).toEqual({ ok: true, members: 2 });
    expect(await ada.emitWithAck("add", 40, 2)).toBe(42);

    const adaHears = new Promise((resolve) => ada.once("said", resolve));
    const bobHears = new Promise((resolve) => bob.once("said", resolve));
    ada.emit("say", "lobby", "hello");
    expect(await Promise.all([adaHears, bobHears])).toEqual([{ from: "ada", text: "hello" }, { from: "ada", text: "hello" }]);
  });

  test("server acks: socket.timeout().emitWithAck, emit with a callback, and a broadcast collecting every answer", async () => {
    await using server = await start();
    await server.connect("ada", "A");
    await server.connect("bob", "B");
    const [adaSocket, bobSocket] = server.connected;

    expect(await adaSocket!.timeout(5000).emitWithAck("ask", "letter?")).toBe("A");
    const answered = new Promise<string>((resolve) => bobSocket!.emit("ask", "letter?", resolve));
    expect(await answered).toBe("B");
    const timed = new Promise<[Error | null, string]>((resolve) => {
      bobSocket!.timeout(5000).emit("ask", "letter?", (err, answer) => resolve([err, answer]));
    });
    expect(await timed).toEqual([null, "B"]);

    const answers = await server.io.timeout(5000).emitWithAck("ask", "everyone?");
    expect(answers.sort()).toEqual(["A", "B"]);
    const callbackAnswers = await new Promise<string[]>((resolve, reject) => {
      server.io.timeout(5000).emit("ask", "everyone?", (err, responses) => (err ? reject(err) : resolve(responses)));
    });
    expect(callbackAnswers.sort()).toEqual(["A", "B"]);

    // socket.data (set by the middleware) is typed on what fetchSockets returns.
    const names = (await server.io.fetchSockets()).map((socket) => socket.data.name);
    expect(names.sort()).toEqual(["ada", "bob"]);
  });
});
