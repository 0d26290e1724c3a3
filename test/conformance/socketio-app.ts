// The server the official Socket.IO v5 test suite (socket.io-protocol/test-suite) expects, on
// Bunsen's Server: localhost:3000 (or PORT), pingInterval 300, pingTimeout 200, connectTimeout 1000.
// Run: bun test/conformance/socketio-app.ts, then the suite (see test/conformance/README.md).
import { Server, type Socket } from "../../src/index.ts";

const io = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1_000_000,
  connectTimeout: 1000,
  cors: { origin: "*" },
});

io.on("connection", (socket: Socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args: unknown[]) => {
    socket.emit("message-back", ...args);
  });
  socket.on("message-with-ack", (...args: unknown[]) => {
    const ack = args.pop() as (...args: unknown[]) => void;
    ack(...args);
  });
});

io.of("/custom").on("connection", (socket: Socket) => {
  socket.emit("auth", socket.handshake.auth);
});

const server = io.listen({ port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? "localhost" });
console.log(`socket.io conformance app on ${server.url}`);
process.on("SIGTERM", () => void io.close().then(() => process.exit(0)));
