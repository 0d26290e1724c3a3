// The server the official Engine.IO v4 test suite (engine.io-protocol/test-suite) expects: an echo
// on the standalone Engine, path /engine.io/, localhost:3000 (or PORT), pingInterval 300,
// pingTimeout 200, written as a user of the `Engine` export would write it.
// Run: bun test/conformance/engine-app.ts, then the suite (see test/conformance/README.md).
import { Engine } from "../../src/index.ts";

const engine = new Engine({ pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1_000_000, cors: { origin: "*" } });

engine.on("connection", (socket) => {
  socket.on("message", (data: string | Buffer) => socket.send(data));
});

const server = engine.listen({ port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? "localhost" });
console.log(`engine.io conformance app on ${server.url}`);
process.on("SIGTERM", () => void engine.close().then(() => process.exit(0)));
