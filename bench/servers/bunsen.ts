// Bunsen through its library API, exactly as a user's app would use it.
// Same events as every server in bench/servers/: echo, join, broadcast.
// Usage: bun bench/servers/bunsen.ts [port]   (or PORT=…)
// The runner records "failed to start" if src/index.ts does not exist yet or this script throws.
// With REDIS_URL (bench/cluster.ts) it is one node of a cluster on the classic Redis adapter, keyed
// by BENCH_REDIS_KEY.
import Redis from "ioredis";
import { createRedisAdapter, Server } from "../../src/index.ts";

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const redisUrl = process.env.REDIS_URL;
const adapter = redisUrl === undefined ? undefined
  : createRedisAdapter({ pub: new Redis(redisUrl), sub: new Redis(redisUrl), key: process.env.BENCH_REDIS_KEY ?? "socket.io" });
const io = new Server({ path: "/socket.io/", adapter });

io.on("connection", (socket) => {
  socket.on("echo", (payload: unknown, ack?: (p: unknown) => void) => ack?.(payload));
  socket.on("join", (room: string, ack?: (ok: boolean) => void) => {
    socket.join(room);
    ack?.(true);
  });
  socket.on("broadcast", ({ room, payload }: { room: string; payload: unknown }) =>
    io.to(room).emit("msg", payload),
  );
});

io.listen({ port, hostname: "127.0.0.1" });
console.log(`listening ${port}`);
process.on("SIGTERM", () => process.exit(0));
