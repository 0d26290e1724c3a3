// Room membership with a policy the server enforces (seeds 002, 003): `user:{id}` only for that
// user, `tenant:{id}` only for its members, a conversation only for its participants when it
// exists in the database; other rooms are open to authenticated users.
import type { Socket } from "../index.ts";
import { isParticipant } from "../persistence/queries.ts";
import { userOf } from "./auth.ts";
import { fail, type ModuleContext, type Reply } from "./context.ts";
import { log } from "../log.ts";

export type RoomRefusal = "forbidden" | "too_many_rooms" | "unavailable";

/** Decides whether `socket` may join `roomId`; the database is asked only for conversation rooms. */
export async function mayJoin(ctx: ModuleContext, socket: Socket, roomId: string): Promise<Reply<never> | null> {
  const user = userOf(socket);
  if (roomId.startsWith("user:")) return roomId === `user:${user.id}` ? null : fail("forbidden", "not your user room");
  if (roomId.startsWith("tenant:")) return roomId === `tenant:${user.tenantId}` ? null : fail("forbidden", "not your tenant");
  if (socket.rooms.size >= ctx.config.limits.maxRoomsPerSocket + 1) return fail("too_many_rooms", "room limit reached");
  try {
    const answer = await ctx.database.query((db) => isParticipant(db, roomId, user.id));
    if (answer === false) return fail("forbidden", "not a participant of this conversation");
    return null;
  } catch (err) {
    log.warn?.("room policy lookup failed", { roomId, err });
    return fail("unavailable", "membership could not be checked; try again");
  }
}

/** Members currently connected in a room of this namespace (this node and, with Redis, all). */
export async function connectedUsers(socket: Socket, roomId: string): Promise<number> {
  const sockets = await socket.nsp.in(roomId).fetchSockets();
  const users = new Set<string>();
  for (const member of sockets) users.add((member.data as { user?: { id: string } })?.user?.id ?? member.id);
  return users.size;
}
