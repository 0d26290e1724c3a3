// Reference server: Socket.IO 4.8 on Bun through @socket.io/bun-engine (Bun.serve instead of http + ws).
// Same events as every server in bench/servers/: echo, join, broadcast.
// Usage: bun bench/servers/socketio-bun.ts [port]   (or PORT=…)
import { Server as Engine } from "@socket.io/bun-engine";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const io = new Server();
const engine = new Engine({ path: "/socket.io/" });
io.bind(engine);

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

Bun.serve({ port, hostname: "127.0.0.1", ...engine.handler() });
console.log(`listening ${port}`);
process.on("SIGTERM", () => process.exit(0));
