import { Server, type Socket } from "../src/index.ts";

export function chatServer(): Server {
  const io = new Server({ cors: { origin: "*" } });
  io.use((socket, next) => (socket.handshake.auth.name ? next() : next(new Error("name required"))));
  io.on("connection", (socket: Socket) => {
    const name = String(socket.handshake.auth.name);
    socket.on("join", (room: string, ack: (reply: unknown) => void) => { socket.join(room); ack({ ok: true }); });
    socket.on("say", (room: string, text: string) => io.to(room).emit("said", { from: name, text, at: Date.now() }));
    socket.on("typing", (room: string) => socket.to(room).volatile.emit("typing", name));
    socket.on("disconnecting", () => { for (const room of socket.rooms) socket.to(room).emit("left", name); });
  });
  return io;
}

if (import.meta.main) chatServer().listen(3000);
