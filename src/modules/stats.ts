// Live statistics like seed 002's socketManager.getStats(): users, rooms and sockets on this node,
// in total and per namespace. Read by /api/stats and by admins through the `stats` event on /admin.
import type { Namespace, Socket } from "../index.ts";
import { userOf } from "./auth.ts";
import { ackOf, ok, type ModuleContext } from "./context.ts";

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

export function registerStats(ctx: ModuleContext): void {
  const admin = ctx.namespaces.find((nsp) => nsp.name === "/admin");
  admin?.on("connection", (socket: Socket) => {
    socket.on("stats", (...args: unknown[]) => ackOf(args)?.(ok(getStats(ctx))));
  });
}
