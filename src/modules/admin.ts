// The admin feed: while anyone is connected to /admin (admin role only, enforced by auth.ts), every
// admin socket receives `stats` once a second. No timer runs while nobody watches. The same
// snapshot answers GET /api/stats.
import type { Socket } from "../index.ts";
import type { WriterStats } from "../persistence/writer.ts";
import type { ModuleContext } from "./context.ts";
import { getStats, type NamespaceStats } from "./stats.ts";

export interface AdminOptions {
  /** How often the feed is pushed. @default 1000 */
  intervalMs?: number;
}

const DEFAULTS = { intervalMs: 1_000 } as const;

/** What the dashboard draws and GET /api/stats returns; counts are this node's. */
export interface AdminStats {
  at: string;
  sockets: number;
  users: number;
  rooms: number;
  namespaces: Record<string, NamespaceStats>;
  eventsPerSecond: { in: number; out: number };
  events: { in: number; out: number };
  messages: { confirmed: number; failed: number };
  persistence: WriterStats;
  confirmLatencyMs: { count: number; p50: number | null; p99: number | null };
  uptimeS: number;
}

export function adminStats(ctx: ModuleContext): AdminStats {
  const stats = getStats(ctx);
  const { metrics } = ctx;
  return {
    at: new Date().toISOString(),
    sockets: stats.totalSockets,
    users: stats.totalUsers,
    rooms: stats.totalRooms,
    namespaces: stats.namespaces,
    eventsPerSecond: metrics.rates(),
    events: { in: metrics.eventsIn, out: metrics.eventsOut },
    messages: { confirmed: metrics.messagesConfirmed, failed: metrics.messagesFailed },
    persistence: ctx.writer.stats(),
    confirmLatencyMs: metrics.confirmLatency.percentiles(),
    uptimeS: Math.round((Date.now() - metrics.startedAt) / 1000),
  };
}

export function registerAdmin(ctx: ModuleContext, options: AdminOptions = {}): void {
  const nsp = ctx.namespaces.find((n) => n.name === "/admin");
  if (nsp === undefined) return;
  const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs;
  let timer: Timer | undefined;
  nsp.on("connection", (socket: Socket) => {
    socket.emit("stats", adminStats(ctx));
    // local: each node feeds the admins connected to it (its own counts), never via Redis.
    timer ??= setInterval(() => nsp.local.emit("stats", adminStats(ctx)), intervalMs);
    socket.on("disconnect", () => {
      // MUST check after the socket left: the namespace no longer counts it when `disconnect` fires.
      if (nsp.sockets.size > 0 || timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
    });
  });
  ctx.io.onShutdown(() => clearInterval(timer));
}
