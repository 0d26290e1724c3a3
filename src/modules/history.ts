// Message history (seeds 002, 003): `history {roomId, before?, limit?}` from a member of the room
// acks stored messages newest first, with a cursor for the next (older) page. Bridges the gaps that
// connection state recovery does not (long disconnections, a fresh device).
import type { Socket } from "../index.ts";
import { history as readHistory, type HistoryMessage } from "../persistence/queries.ts";
import { ackOf, fail, ok, payloadOf, stringField, type ModuleContext } from "./context.ts";
import { log } from "../log.ts";

const DEFAULT_LIMIT = 50;
const MAX_CURSOR_CHARS = 512;

export interface HistoryEntry {
  id: string;
  roomId: string;
  senderId: string;
  tenantId: string | null;
  /** null once deleted: the message keeps its place in the history. */
  body: string | null;
  type: string;
  metadata: unknown;
  tempId: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

function entryOf(message: HistoryMessage): HistoryEntry {
  return {
    id: message.id, roomId: message.roomId, senderId: message.senderId, tenantId: message.tenantId, body: message.body,
    type: message.type, metadata: message.metadata ?? null, tempId: message.tempId,
    createdAt: message.createdAt.toISOString(), editedAt: message.editedAt?.toISOString() ?? null, deletedAt: message.deletedAt?.toISOString() ?? null,
  };
}

export function registerHistory(ctx: ModuleContext): void {
  for (const nsp of ctx.namespaces) {
    nsp.on("connection", (socket: Socket) => {
      socket.on("history", (...args: unknown[]) => void onHistory(ctx, socket, args));
    });
  }
}

async function onHistory(ctx: ModuleContext, socket: Socket, args: unknown[]): Promise<void> {
  const ack = ackOf(args);
  if (ack === undefined) return;
  const payload = payloadOf(args[0]);
  // Seeds 003 and 004 name their rooms conversationId.
  const roomId = stringField(payload, "roomId") ?? stringField(payload, "conversationId");
  if (roomId === undefined) return ack(fail("bad_request", "roomId is required"));
  if (!socket.rooms.has(roomId)) return ack(fail("not_a_member", "join the room before reading its history"));
  const maxLimit = ctx.config.limits.historyMaxLimit;
  const { limit: requested, before: rawBefore } = payload;
  if (requested !== undefined && (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1)) {
    return ack(fail("bad_request", "limit must be a positive integer"));
  }
  const limit = Math.min(requested ?? DEFAULT_LIMIT, maxLimit);
  const before = rawBefore === undefined || rawBefore === null ? undefined : stringField(payload, "before", MAX_CURSOR_CHARS);
  if (rawBefore !== undefined && rawBefore !== null && before === undefined) return ack(fail("invalid_cursor", "before must be a nextCursor from a previous page"));
  try {
    const page = await ctx.database.query((db) => readHistory(db, roomId, { before, limit }));
    if ("code" in page) return ack(fail(page.code, "before must be a nextCursor from a previous page"));
    ack(ok({ roomId, messages: page.messages.map(entryOf), nextCursor: page.nextCursor ?? null }));
  } catch (err) {
    log.warn?.("history failed", { roomId, err });
    ack(fail("unavailable", "history could not be read; try again"));
  }
}
