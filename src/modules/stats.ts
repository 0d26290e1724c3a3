// Live statistics like seed 002's socketManager.getStats(): users, rooms and sockets on this node,
// in total and per namespace. Read by /api/stats and by admins through the `stats` event on /admin.
// Several nodes: clusterStats() asks every node for its totals (serverSideEmit with an ack) and sums
// them; only counts cross Redis, never socket lists.
import type { Namespace, Socket } from "../index.ts";
import { userOf } from "./auth.ts";
import { ackOf, ok, type ModuleContext } from "./context.ts";
import { log } from "../log.ts";

export interface NamespaceStats {
  sockets: number;
  /** Distinct authenticated users with a socket in the namespace. */
  users: number;
  /** Rooms with at least one member, sockets' own-id rooms excluded (user: and tenant: rooms count). */
  rooms: number;
}

export interface Stats {
  totalUsers: number;
  totalRooms: number;
  totalSockets: number;
  namespaces: Record<string, NamespaceStats>;
}

/** One node's totals, as it answers a cluster stats request. */
export interface NodeStats {
  nodeId: string;
  sockets: number;
  users: number;
  rooms: number;
}

/**
 * The cluster's totals. `sockets` is exact; `users` and `rooms` are sums of the nodes' distinct counts,
 * so a user with sockets on two nodes (or a room with members on two) counts once per node.
 */
export interface ClusterStats {
  nodes: NodeStats[];
  sockets: number;
  users: number;
  rooms: number;
  /** false when a node did not answer in time (Redis down, a node dying): the totals miss it. */
  isComplete: boolean;
}

// The serverSideEmit event every node answers with its NodeStats (on the main namespace).
const STATS_REQUEST = "bunsen:stats";

/** O(sockets + rooms) of this node: for dashboards and the API, not for the message path. */
export function getStats(ctx: Pick<ModuleContext, "namespaces">): Stats {
  const users = new Set<string>();
  const namespaces: Record<string, NamespaceStats> = {};
  let totalRooms = 0;
  let totalSockets = 0;
  for (const nsp of ctx.namespaces) {
    const stats = statsOf(nsp, users);
    namespaces[nsp.name] = stats;
    totalRooms += stats.rooms;
    totalSockets += stats.sockets;
  }
  return { totalUsers: users.size, totalRooms, totalSockets, namespaces };
}

function statsOf(nsp: Namespace, allUsers: Set<string>): NamespaceStats {
  const users = new Set<string>();
  for (const socket of nsp.sockets.values()) {
    const id = userOf(socket)?.id;
    if (id === undefined) continue;
    users.add(id);
    allUsers.add(id);
  }
  let rooms = 0;
  // A room named after a socket is that socket's own room (socket.io-adapter's rule).
  for (const [room, members] of nsp.adapter.rooms) if (members.size > 0 && !nsp.adapter.sids.has(room)) rooms++;
  return { sockets: nsp.sockets.size, users: users.size, rooms };
}

export function nodeStats(ctx: Pick<ModuleContext, "namespaces" | "config">): NodeStats {
  const stats = getStats(ctx);
  return { nodeId: ctx.config.nodeId, sockets: stats.totalSockets, users: stats.totalUsers, rooms: stats.totalRooms };
}

/** This node's totals plus every other node's (a single node: its own). */
export async function clusterStats(ctx: Pick<ModuleContext, "io" | "namespaces" | "config" | "isRedisReady">): Promise<ClusterStats> {
  const own = nodeStats(ctx);
  // No Redis: nobody else to ask (and the in-memory adapter never answers a serverSideEmit ack).
  const { responses, isComplete } = ctx.isRedisReady === undefined ? { responses: [], isComplete: true } : await askOthers(ctx);
  const nodes = [own, ...responses.filter(isNodeStats)];
  const sum = (field: "sockets" | "users" | "rooms") => nodes.reduce((total, node) => total + node[field], 0);
  return { nodes, sockets: sum("sockets"), users: sum("users"), rooms: sum("rooms"), isComplete };
}

function askOthers(ctx: Pick<ModuleContext, "io" | "isRedisReady">): Promise<{ responses: unknown[]; isComplete: boolean }> {
  if (ctx.isRedisReady?.() === false) return Promise.resolve({ responses: [], isComplete: false });
  return new Promise((resolve) => {
    ctx.io.serverSideEmit(STATS_REQUEST, (err: Error | null, responses: unknown[]) => {
      if (err) log.debug?.("cluster stats incomplete", { err: err.message, responses: responses.length });
      resolve({ responses: responses ?? [], isComplete: err === null });
    });
  });
}

function isNodeStats(value: unknown): value is NodeStats {
  const v = value as NodeStats | null;
  return typeof v === "object" && v !== null && typeof v.nodeId === "string" && [v.sockets, v.users, v.rooms].every(Number.isFinite);
}

export function registerStats(ctx: ModuleContext): void {
  // Another node's clusterStats(): answered with this node's totals.
  ctx.io.sockets.on(STATS_REQUEST, (...args: unknown[]) => ackOf(args)?.(nodeStats(ctx)));
  const admin = ctx.namespaces.find((nsp) => nsp.name === "/admin");
  admin?.on("connection", (socket: Socket) => {
    socket.on("stats", async (...args: unknown[]) => ackOf(args)?.(ok({ ...getStats(ctx), nodeId: ctx.config.nodeId, cluster: await clusterStats(ctx) })));
  });
}
