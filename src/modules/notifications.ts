// Notifications (seeds 000, 001, 003, 004): stored in the notifications table, delivered to the
// user's personal room in `/notifications` and its alias `/notification`, and the unread count
// pushed after every change. Not the chat hot path: the database is awaited here.
import type { Namespace, Socket } from "../index.ts";
import {
  createNotification as insertNotification,
  isUuid,
  listNotifications,
  markAllRead,
  markNotificationRead,
  deleteNotification,
  unreadCount,
} from "../persistence/queries.ts";
import type { Notification } from "../persistence/schema.ts";
import { userOf, userRoom } from "./auth.ts";
import { ackOf, fail, ok, payloadOf, stringField, type AckFn, type ModuleContext, type Reply } from "./context.ts";
import { log } from "../log.ts";

/** Where notifications are delivered: seed 003/004's `/notifications`, seed 000's `/notification`. */
export const NOTIFICATION_NAMESPACES: readonly string[] = ["/notifications", "/notification", "/ws/notifications"];

const DEFAULT_LIST_LIMIT = 20;

export interface NotificationInput {
  userId: string;
  tenantId?: string | null;
  type: string;
  title?: string | null;
  body?: string | null;
  data?: unknown;
}

/** A notification as clients receive it: dates as ISO strings. */
export interface NotificationView {
  id: string;
  userId: string;
  tenantId: string | null;
  type: string;
  title: string | null;
  body: string | null;
  data: unknown;
  readAt: string | null;
  createdAt: string;
}

function viewOf(row: Notification): NotificationView {
  return {
    id: row.id, userId: row.userId, tenantId: row.tenantId, type: row.type, title: row.title, body: row.body,
    data: row.data ?? null, readAt: row.readAt?.toISOString() ?? null, createdAt: row.createdAt.toISOString(),
  };
}

function targets(ctx: Pick<ModuleContext, "namespaces">, userId: string): ReturnType<Namespace["to"]>[] {
  return ctx.namespaces.filter((nsp) => NOTIFICATION_NAMESPACES.includes(nsp.name)).map((nsp) => nsp.to(userRoom(userId)));
}

/**
 * Stores a notification and delivers it to every device of the user: `notification:new`
 * {notification, …seed 001's flat fields} and `notification` (seed 004), then the unread count.
 * Throws when the database refuses (the HTTP API maps it to a 5xx).
 */
export async function createNotification(ctx: ModuleContext, input: NotificationInput): Promise<NotificationView> {
  const row = await ctx.database.query((db) => insertNotification(db, {
    userId: input.userId, tenantId: input.tenantId ?? null, type: input.type,
    title: input.title ?? null, body: input.body ?? null, data: input.data ?? null,
  }));
  const notification = viewOf(row);
  const seed001 = { id: notification.id, title: notification.title, message: notification.body, type: notification.type, created_at: notification.createdAt };
  for (const to of targets(ctx, input.userId)) {
    to.emit("notification:new", { notification: { ...notification, recipient: notification.userId }, ...seed001 });
    to.emit("notification", notification);
  }
  ctx.metrics.eventsOut++;
  await pushUnreadCount(ctx, input.userId);
  return notification;
}

/** Sends the user's unread count to all their devices: `notification:count` {count} and `unreadCount` count. */
export async function pushUnreadCount(ctx: ModuleContext, userId: string): Promise<number> {
  const count = await ctx.database.query((db) => unreadCount(db, userId));
  for (const to of targets(ctx, userId)) {
    to.emit("notification:count", { count });
    to.emit("unreadCount", count);
  }
  return count;
}

export function registerNotifications(ctx: ModuleContext): void {
  for (const nsp of ctx.namespaces) {
    if (!NOTIFICATION_NAMESPACES.includes(nsp.name)) continue;
    nsp.on("connection", (socket: Socket) => attach(ctx, socket));
  }
}

function attach(ctx: ModuleContext, socket: Socket): void {
  const handle = (event: string, fn: (payload: Record<string, unknown>) => Promise<Reply>) => {
    socket.on(event, (...args: unknown[]) => void run(socket, event, ackOf(args), () => fn(payloadOf(args[0]))));
  };
  handle("notification:get-count", () => getCount(ctx, socket));
  handle("notification:read", (payload) => read(ctx, socket, payload));
  handle("notification_read", (payload) => read(ctx, socket, payload));
  handle("markAsRead", (payload) => read(ctx, socket, payload));
  handle("notification:read-all", () => readAll(ctx, socket));
  handle("notification:list", (payload) => list(ctx, socket, payload));
  handle("notification:delete", (payload) => remove(ctx, socket, payload));
}

// One place where a database failure becomes a reply: an ack when asked for, else seed 003's `error`.
async function run(socket: Socket, event: string, ack: AckFn | undefined, fn: () => Promise<Reply>): Promise<void> {
  let reply: Reply;
  try {
    reply = await fn();
  } catch (err) {
    log.warn?.("notification event failed", { event, err });
    reply = fail("unavailable", "notifications could not be read or saved; try again");
  }
  if (ack !== undefined) ack(reply);
  else if (!reply.ok && socket.connected) socket.emit("error", { ...reply.error, event });
}

async function getCount(ctx: ModuleContext, socket: Socket): Promise<Reply> {
  const count = await ctx.database.query((db) => unreadCount(db, userOf(socket).id));
  socket.emit("notification:count", { count });
  socket.emit("unreadCount", count);
  return ok({ count });
}

// Seed 003 sends notificationId, seed 001 notification_id.
function notificationIdOf(payload: Record<string, unknown>): string | undefined {
  return stringField(payload, "notificationId") ?? stringField(payload, "notification_id") ?? stringField(payload, "id");
}

async function read(ctx: ModuleContext, socket: Socket, payload: Record<string, unknown>): Promise<Reply> {
  const notificationId = notificationIdOf(payload);
  if (notificationId === undefined) return fail("bad_request", "notificationId is required");
  const userId = userOf(socket).id;
  const outcome = await ctx.database.query((db) => markNotificationRead(db, notificationId, userId));
  if (outcome === "not_found") return fail("not_found", "no such notification");
  const readAt = outcome.readAt.toISOString();
  socket.emit("notification_read_confirmed", { notificationId, notification_id: notificationId, readAt });
  for (const to of targets(ctx, userId)) to.emit("notification:read", { notificationId, readAt });
  const count = await pushUnreadCount(ctx, userId);
  return ok({ notificationId, readAt, count });
}

/** Seed 003's `notification:delete`: every device of the user hears of it, then the new count. */
async function remove(ctx: ModuleContext, socket: Socket, payload: Record<string, unknown>): Promise<Reply> {
  const notificationId = notificationIdOf(payload);
  if (notificationId === undefined) return fail("bad_request", "notificationId is required");
  const userId = userOf(socket).id;
  if ((await ctx.database.query((db) => deleteNotification(db, notificationId, userId))) === "not_found") return fail("not_found", "no such notification");
  for (const to of targets(ctx, userId)) to.emit("notification:delete", { notificationId, deletedBy: userId });
  const count = await pushUnreadCount(ctx, userId);
  return ok({ notificationId, count });
}

async function readAll(ctx: ModuleContext, socket: Socket): Promise<Reply> {
  const userId = userOf(socket).id;
  const updated = await ctx.database.query((db) => markAllRead(db, userId));
  const readAt = new Date().toISOString();
  for (const to of targets(ctx, userId)) to.emit("notification:read-all", { userId, readAt, updated });
  const count = await pushUnreadCount(ctx, userId);
  return ok({ updated, count });
}

async function list(ctx: ModuleContext, socket: Socket, payload: Record<string, unknown>): Promise<Reply> {
  const maxLimit = ctx.config.limits.historyMaxLimit;
  const limit = typeof payload.limit === "number" && Number.isInteger(payload.limit) && payload.limit > 0 ? Math.min(payload.limit, maxLimit) : Math.min(DEFAULT_LIST_LIMIT, maxLimit);
  const before = payload.before === undefined || payload.before === null ? undefined : stringField(payload, "before");
  if (payload.before !== undefined && payload.before !== null && (before === undefined || !isUuid(before))) return fail("invalid_cursor", "before must be a notification id from a previous page");
  const rows = await ctx.database.query((db) => listNotifications(db, userOf(socket).id, { limit: limit + 1, before, unreadOnly: payload.unreadOnly === true }));
  const page = rows.slice(0, limit).map(viewOf);
  return ok({ notifications: page, nextCursor: rows.length > limit ? page.at(-1)!.id : null });
}
