// Checked by `tsc --noEmit -p .` (npm test), never run: typed events as socket.io users write them.
// Every `@ts-expect-error` line MUST fail to compile (tsc reports an unused one), every other line
// MUST compile.
import {
  Server, type BroadcastOperator, type DefaultEventsMap, type EventNames, type EventParams, type Namespace,
  type RemoteSocket, type Socket,
} from "../../src/index.ts";

interface ClientToServer {
  hello: () => void;
  chat: (room: string, text: string) => void;
  join: (room: string, ack: (reply: { ok: boolean }) => void) => void;
}

interface ServerToClient {
  said: (message: { from: string; text: string }) => void;
  ping: (n: number, ack: (pong: number) => void) => void;
  count: (n: number) => void;
}

interface InterServer {
  rebalance: (nodes: number) => void;
}

interface Data {
  name: string;
  age: number;
}

declare function check<T>(value: T): void;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
declare function assertType<T extends true>(): void;

// --- typed ----------------------------------------------------------------------------------------

const io = new Server<ClientToServer, ServerToClient, InterServer, Data>();

io.on("connection", (socket) => {
  assertType<Equal<typeof socket, Socket<ClientToServer, ServerToClient, InterServer, Data>>>();

  // Listen events: each listener's parameters come from ClientToServer.
  socket.on("chat", (room, text) => {
    check<string>(room);
    check<string>(text);
    // @ts-expect-error room is a string
    check<number>(room);
  });
  socket.on("join", (room, ack) => ack({ ok: room.length > 0 }));
  // @ts-expect-error the ack takes { ok: boolean }
  socket.on("join", (_room, ack) => ack("yes"));
  // @ts-expect-error not a ClientToServer event
  socket.on("unknown", () => {});
  // @ts-expect-error the listener's parameter types do not match
  socket.on("chat", (_room: number) => {});

  // Reserved events are typed as socket.io's.
  socket.on("disconnect", (reason) => check<string>(reason));
  socket.on("disconnecting", (reason, description) => check<[string, unknown]>([reason, description]));
  socket.on("error", (err) => check<Error>(err));
  socket.once("disconnect", () => {});

  // Emit events: payloads from ServerToClient.
  socket.emit("said", { from: "ada", text: "hi" });
  socket.emit("count", 1);
  // @ts-expect-error the payload is { from, text }
  socket.emit("said", "hi");
  // @ts-expect-error not a ServerToClient event
  socket.emit("saidd", { from: "ada", text: "hi" });
  // @ts-expect-error a missing argument
  socket.emit("count");
  // Acks: the callback's parameters come from the event's last function parameter.
  socket.emit("ping", 1, (pong) => check<number>(pong));
  // @ts-expect-error the ack receives a number
  socket.emit("ping", 1, (pong: string) => check<string>(pong));
  // With timeout(), the ack receives an Error first.
  socket.timeout(1000).emit("ping", 1, (err, pong) => check<[Error, number]>([err, pong]));
  // @ts-expect-error without timeout() there is no error argument
  socket.emit("ping", 1, (err: Error, pong: number) => check([err, pong]));

  // emitWithAck: only events with an ack; resolves with the ack's value.
  const pong = socket.emitWithAck("ping", 1);
  assertType<Equal<typeof pong, Promise<number>>>();
  const timedPong = socket.timeout(1000).emitWithAck("ping", 2);
  assertType<Equal<typeof timedPong, Promise<number>>>();
  // @ts-expect-error "count" has no ack
  void socket.emitWithAck("count", 1);
  // @ts-expect-error n is a number
  void socket.emitWithAck("ping", "1");

  // Broadcasts from the socket.
  socket.to("room").emit("said", { from: "ada", text: "hi" });
  socket.broadcast.volatile.compress(false).emit("count", 2);
  socket.except("x").local.emit("count", 3);
  // @ts-expect-error wrong payload
  socket.to("room").emit("count", "3");

  // socket.data is SocketData.
  socket.data.name = "ada";
  check<number>(socket.data.age);
  // @ts-expect-error not a field of Data
  socket.data.nickname = "ada";
  // @ts-expect-error age is a number
  socket.data.age = "old";
});

// @ts-expect-error not a reserved event nor an InterServer event
io.on("conection", () => {});
io.on("new_namespace", (nsp) => assertType<Equal<typeof nsp, Namespace<ClientToServer, ServerToClient, InterServer, Data>>>());
io.on("rebalance", (nodes) => check<number>(nodes));

// Middlewares get the typed socket.
io.use((socket, next) => {
  socket.data.age = 3;
  next();
});

// Broadcasts from the server.
io.emit("said", { from: "server", text: "hi" });
io.to("room").except("other").emit("count", 1);
io.in(["a", "b"]).volatile.compress(true).emit("count", 1);
// @ts-expect-error wrong payload
io.to("room").emit("said", 1);
// @ts-expect-error not a ServerToClient event
io.emit("hello");
// A broadcast ack gets every client's response.
io.timeout(1000).emit("ping", 1, (err, pongs) => check<[Error, number[]]>([err, pongs]));
// @ts-expect-error the responses are numbers
io.timeout(1000).emit("ping", 1, (_err: Error, _pongs: string[]) => {});
const pongs = io.timeout(1000).emitWithAck("ping", 1);
assertType<Equal<typeof pongs, Promise<number[]>>>();
const roomPongs = io.to("room").timeout(1000).emitWithAck("ping", 1);
assertType<Equal<typeof roomPongs, Promise<number[]>>>();
// @ts-expect-error "count" has no ack
void io.timeout(1000).emitWithAck("count", 1);

// serverSideEmit: InterServer events.
io.serverSideEmit("rebalance", 3);
// @ts-expect-error nodes is a number
io.serverSideEmit("rebalance", "3");
// @ts-expect-error not an InterServer event
io.serverSideEmit("said", { from: "a", text: "b" });

// Namespaces share the server's types.
const admin = io.of("/admin", (socket) => socket.emit("count", 1));
admin.on("connection", (socket) => socket.on("hello", () => socket.emit("count", 0)));
admin.to("room").emit("count", 1);
// @ts-expect-error wrong payload
admin.emit("count", "1");
admin.serverSideEmit("rebalance", 1);
io.of(/^\/dyn-\d+$/).on("connection", (socket) => check<string>(socket.data.name));

// fetchSockets: socket.data and emit are typed on local and remote sockets alike.
async function fetched(): Promise<void> {
  const sockets = await io.in("room").fetchSockets();
  for (const socket of sockets) {
    check<Data>(socket.data);
    socket.emit("count", 1);
    // @ts-expect-error wrong payload
    socket.emit("count", "1");
    if (!("nsp" in socket)) check<RemoteSocket<ServerToClient, Data>>(socket);
  }
}
void fetched;

// EmitEvents defaults to ListenEvents, as in socket.io.
const same = new Server<ServerToClient>();
same.emit("count", 1);
// @ts-expect-error same map for both ways
same.emit("chat", "a", "b");

// Helpers exported for users' own types.
check<EventNames<ClientToServer>>("chat");
check<EventParams<ClientToServer, "chat">>(["room", "text"]);

// --- untyped: as loose as before --------------------------------------------------------------

const loose = new Server();
loose.on("connection", (socket) => {
  assertType<Equal<typeof socket, Socket>>();
  socket.on("anything", (a, b, ack) => ack(a, b));
  socket.on("disconnect", (reason) => check<string>(reason));
  socket.emit("whatever", 1, "two", { three: 3 });
  socket.emit("ack-me", (answer: unknown) => check(answer));
  socket.timeout(10).emit("ack-me", (err: Error | null, answer: unknown) => check([err, answer]));
  void socket.emitWithAck("question", 1).then((answer) => check<any>(answer));
  socket.data.anything = 1;
  socket.to("room").emit("x", 1, 2, 3);
});
loose.on("custom-server-side", (...args) => check<any[]>(args));
loose.emit("x", 1);
loose.serverSideEmit("anything", 1, 2);
void loose.timeout(10).emitWithAck("q").then((answers) => check<any[]>(answers));
const op: BroadcastOperator = loose.to("r");
op.emit("x");
const defaultMap: DefaultEventsMap = { x: () => {} };
void defaultMap;
