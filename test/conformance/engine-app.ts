// The server the official Engine.IO v4 test suite (engine.io-protocol/test-suite) expects: an echo
// on the Engine.IO layer alone, path /engine.io/, localhost:3000 (or PORT), pingInterval 300,
// pingTimeout 200. Until the engine has a public face of its own, this app sits on Server's engine
// and replaces its session handler (no Socket.IO packets are read).
// Run: bun test/conformance/engine-app.ts, then the suite (see test/conformance/README.md).
import { Server } from "../../src/index.ts";
import type { Session } from "../../src/engine/session.ts";

const io = new Server({ path: "/engine.io/", pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1_000_000, cors: { origin: "*" } });

io.engine.onSession = (session: Session) => {
  session.handler = {
    onMessage(data) {
      // A text message goes back as an Engine.IO message packet, a binary one as it came.
      session.send(typeof data === "string" ? "4" + data : data);
    },
    onClose() {},
    onTransportChange() {},
  };
};

const server = io.listen({ port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? "localhost" });
console.log(`engine.io conformance app on ${server.url}`);
process.on("SIGTERM", () => void io.close().then(() => process.exit(0)));
