// The three ways socket.io-client v4 reaches a server, for `describe.each(TRANSPORTS)`.
import type { ClientOptions } from "./client.ts";

export type TransportMode = "websocket" | "polling" | "upgrade";

export const TRANSPORTS: [TransportMode, ClientOptions][] = [
  ["websocket", { transports: ["websocket"] }],
  ["polling", { transports: ["polling"] }],
  // The client's default: long-polling first, then an upgrade to WebSocket.
  ["upgrade", {}],
];
