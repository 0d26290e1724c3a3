// The servers the runner benchmarks, all implementing the same events (echo, join, broadcast).
// Each starts with its port as argv[2] and prints "listening <port>" once it accepts connections.

export type ServerSpec = {
  name: string;
  label: string;
  /** argv to start the server; `bun` is the Bun running the runner. */
  command(port: number, bun: string): string[];
  hasPolling: boolean;
  /**
   * The chat scenario's server, when this server has one (Bunsen: the ready server, src/main.ts; PORT,
   * DATABASE_URL, DATA_DIR, JWT_SECRET come in env from bench/lib/chat-runner.ts).
   */
  chatCommand?(port: number, bun: string): string[];
  /** The chat scenario's "persistence off" baseline: the same optimistic emit with no database. */
  chatBaselineCommand?(port: number, bun: string): string[];
  note?: string;
};

export const SERVERS: ServerSpec[] = [
  {
    name: "floor",
    label: "Floor (raw Bun.serve)",
    command: (port, bun) => [bun, "bench/servers/floor.ts", String(port)],
    hasPolling: false,
    note: "WebSocket only, default namespace only: the least work a Bun-native server can do.",
  },
  {
    name: "socketio-bun",
    label: "Socket.IO 4.8 on Bun",
    command: (port, bun) => [bun, "bench/servers/socketio-bun.ts", String(port)],
    hasPolling: true,
  },
  {
    name: "socketio-node",
    label: "Socket.IO 4.8 on Node",
    command: (port) => ["node", "bench/servers/socketio-node.mjs", String(port)],
    hasPolling: true,
  },
  {
    name: "bunsen",
    label: "Bunsen",
    command: (port, bun) => [bun, "bench/servers/bunsen.ts", String(port)],
    chatCommand: (_port, bun) => [bun, "src/main.ts"],
    chatBaselineCommand: (port, bun) => [bun, "bench/servers/bunsen-chat-nopersist.ts", String(port)],
    hasPolling: true,
  },
];
