// The admin feed: while anyone is connected to /admin (admin role only, enforced by auth.ts), every
// admin socket receives `stats` once a second. No timer runs while nobody watches. The same
// snapshot answers GET /api/stats. Counts are this node's; `cluster` adds every node's totals.
import type { Socket } from "../index.ts";
import type { WriterStats } from "../persistence/writer.ts";
import type { ModuleContext } from "./context.ts";
import { clusterStats, getStats, type ClusterStats, type NamespaceStats } from "./stats.ts";

export interface AdminOptions {
  /** How often the feed is pushed. @default 1000 */
  intervalMs?: number;
}

const DEFAULTS = { intervalMs: 1_000 } as const;

/** What the dashboard draws and GET /api/stats returns; counts are this node's, `cluster` is every node's. */
export interface AdminStats {
  at: string;
  nodeId: string;
  sockets: number;
  users: number;
  rooms: number;
  namespaces: Record<string, NamespaceStats>;
  eventsPerSecond: { in: number; out: number };
  events: { in: number; out: number };
  messages: { confirmed: number; failed: number; refused: number };
  persistence: WriterStats;
  confirmLatencyMs: { count: number; p50: number | null; p99: number | null };
  uptimeS: number;
  cluster: ClusterStats;
}

export async function adminStats(ctx: ModuleContext): Promise<AdminStats> {
  const cluster = await clusterStats(ctx);
  const stats = getStats(ctx);
  const { metrics } = ctx;
  return {
    at: new Date().toISOString(),
    nodeId: ctx.config.nodeId,
    sockets: stats.totalSockets,
    users: stats.totalUsers,
    rooms: stats.totalRooms,
    namespaces: stats.namespaces,
    eventsPerSecond: metrics.rates(),
    events: { in: metrics.eventsIn, out: metrics.eventsOut },
    messages: { confirmed: metrics.messagesConfirmed, failed: metrics.messagesFailed, refused: metrics.messagesRefused.total() },
    persistence: ctx.writer.stats(),
    confirmLatencyMs: metrics.confirmLatency.percentiles(),
    uptimeS: Math.round((Date.now() - metrics.startedAt) / 1000),
    cluster,
  };
}

export function registerAdmin(ctx: ModuleContext, options: AdminOptions = {}): void {
  const nsp = ctx.namespaces.find((n) => n.name === "/admin");
  if (nsp === undefined) return;
  const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs;
  let timer: Timer | undefined;
  // The cluster part waits on the other nodes (up to the adapter's request timeout): never two at once.
  let isPushing = false;
  const push = async () => {
    if (isPushing) return;
    isPushing = true;
    try {
      // local: each node feeds the admins connected to it, never via Redis.
      nsp.local.emit("stats", await adminStats(ctx));
    } finally {
      isPushing = false;
    }
  };
  nsp.on("connection", (socket: Socket) => {
    void adminStats(ctx).then((stats) => socket.emit("stats", stats));
    timer ??= setInterval(() => void push(), intervalMs);
    socket.on("disconnect", () => {
      // MUST check after the socket left: the namespace no longer counts it when `disconnect` fires.
      if (nsp.sockets.size > 0 || timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
    });
  });
  ctx.io.onShutdown(() => clearInterval(timer));
}
