// The floor: the least work any Bun-native Socket.IO server must do for the benchmark's events.
// Engine.IO v4 over WebSocket only (no polling, no upgrade), default namespace only, text packets only.
// Spec: engine.io-protocol v4 ("Handshake", "Heartbeat"), socket.io-protocol v5 (CONNECT, EVENT, ACK).
// Usage: bun bench/servers/floor.ts [port]   (or PORT=…)
import type { ServerWebSocket } from "bun";

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const PING_INTERVAL_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;
const MAX_PAYLOAD_BYTES = 1_000_000;
// Every socket subscribes to this topic so one native publish pings them all.
const HEARTBEAT_TOPIC = "\0eio";

type Conn = { sid: string; isConnected: boolean; hasPonged: boolean };

// Sockets are tracked only for the heartbeat check; Bun has no "all sockets" iterator.
const sockets = new Set<ServerWebSocket<Conn>>();
let sidCount = 0;
const sidPrefix = Math.random().toString(36).slice(2, 10);
const nextSid = () => `${sidPrefix}${(sidCount++).toString(36)}`;

const server = Bun.serve<Conn, never>({
  port,
  hostname: "127.0.0.1",
  fetch(req, server) {
    const url = new URL(req.url);
    if (url.pathname !== "/socket.io/") return new Response(null, { status: 404 });
    const q = url.searchParams;
    if (q.get("EIO") !== "4" || q.get("transport") !== "websocket")
      return Response.json({ code: 0, message: "Transport unknown" }, { status: 400 });
    // MUST return undefined once upgrade() succeeds: Bun has already answered with 101.
    if (server.upgrade(req, { data: { sid: nextSid(), isConnected: false, hasPonged: true } })) return;
    return new Response(null, { status: 400 });
  },
  websocket: {
    maxPayloadLength: MAX_PAYLOAD_BYTES,
    idleTimeout: 0, // the Engine.IO heartbeat decides liveness, not Bun's idle timer
    open(ws) {
      sockets.add(ws);
      ws.subscribe(HEARTBEAT_TOPIC);
      ws.send(
        `0{"sid":"${ws.data.sid}","upgrades":[],"pingInterval":${PING_INTERVAL_MS},` +
          `"pingTimeout":${PING_TIMEOUT_MS},"maxPayload":${MAX_PAYLOAD_BYTES}}`,
      );
    },
    message(ws, data) {
      if (typeof data !== "string") return ws.close(1003, "binary not supported");
      switch (data.charCodeAt(0)) {
        case 0x33 /* "3" pong */:
          ws.data.hasPonged = true;
          return;
        case 0x34 /* "4" message: a Socket.IO packet follows */:
          return onSocketIoPacket(ws, data);
        case 0x31 /* "1" close */:
          return ws.close();
        default:
          return ws.close(1002, "parse error");
      }
    },
    close(ws) {
      sockets.delete(ws);
    },
  },
});

function onSocketIoPacket(ws: ServerWebSocket<Conn>, data: string) {
  const type = data.charCodeAt(1);
  if (type === 0x30 /* "0" CONNECT */) {
    if (data.length > 2 && data[2] === "/") return ws.close(1002, "namespace not supported");
    ws.data.isConnected = true;
    ws.send(`40{"sid":"${ws.data.sid}"}`);
    return;
  }
  if (type === 0x31 /* "1" DISCONNECT */) return ws.close();
  if (type !== 0x32 /* "2" EVENT */ || !ws.data.isConnected) return ws.close(1002, "parse error");

  // 42[<ack id>]["event", ...args]
  let i = 2;
  while (i < data.length && data.charCodeAt(i) >= 0x30 && data.charCodeAt(i) <= 0x39) i++;
  const ackId = i > 2 ? data.slice(2, i) : undefined;
  let args: unknown;
  try {
    args = JSON.parse(data.slice(i));
  } catch {
    return ws.close(1002, "parse error");
  }
  if (!Array.isArray(args)) return ws.close(1002, "parse error");

  switch (args[0]) {
    case "echo":
      if (ackId !== undefined) ws.send(`43${ackId}${JSON.stringify([args[1]])}`);
      return;
    case "join":
      ws.subscribe(String(args[1]));
      if (ackId !== undefined) ws.send(`43${ackId}[true]`);
      return;
    case "broadcast": {
      const { room, payload } = args[1] as { room: string; payload: unknown };
      // Encoded once; Bun writes the same frame to every subscriber natively.
      server.publish(room, `42["msg",${JSON.stringify(payload)}]`);
      return;
    }
  }
}

// Heartbeat: one timer for all sockets. v4: the server pings, the client answers "3".
setInterval(() => {
  server.publish(HEARTBEAT_TOPIC, "2");
  markPingSent();
  setTimeout(closeSilentSockets, PING_TIMEOUT_MS);
}, PING_INTERVAL_MS);

function markPingSent() {
  for (const ws of sockets) ws.data.hasPonged = false;
}
function closeSilentSockets() {
  for (const ws of sockets) if (!ws.data.hasPonged) ws.close(1000, "ping timeout");
}

console.log(`listening ${server.port}`);
process.on("SIGTERM", () => process.exit(0));
