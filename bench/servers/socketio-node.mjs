// Reference server: Socket.IO 4.8 on Node with its default `ws` transport.
// Same events as every server in bench/servers/ (see bench/README.md): echo, join, broadcast.
// Usage: node bench/servers/socketio-node.mjs [port]   (or PORT=…)
import { createServer } from "node:http";
// With REDIS_URL (bench/cluster.ts) it is one node of a cluster on @socket.io/redis-adapter, keyed
// by BENCH_REDIS_KEY.
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const httpServer = createServer();
const redisUrl = process.env.REDIS_URL;
const adapter = redisUrl === undefined ? undefined
  : createAdapter(new Redis(redisUrl), new Redis(redisUrl), { key: process.env.BENCH_REDIS_KEY ?? "socket.io" });
// Defaults otherwise (pingInterval 25 s, perMessageDeflate off): what users get out of the box.
const io = new Server(httpServer, { path: "/socket.io/", transports: ["polling", "websocket"], adapter });

io.on("connection", (socket) => {
  socket.on("echo", (payload, ack) => ack?.(payload));
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack?.(true);
  });
  socket.on("broadcast", ({ room, payload }) => io.to(room).emit("msg", payload));
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
process.on("SIGTERM", () => process.exit(0));
