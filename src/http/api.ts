// The backend-facing API (issue 4): emit to users, tenants and rooms (seeds 000, 001), notifications
// (seeds 001, 004), throttled events and their management (seed 000), stats. Every route here is
// protected: API key or admin JWT (auth.ts).
import type { ModuleContext } from "../modules/context.ts";
import { log } from "../log.ts";
import { adminStats } from "../modules/admin.ts";
import { createNotification } from "../modules/notifications.ts";
import { idString, onlyFields, optionalString, readJson, type Fields } from "./body.ts";
import { deliver, namespaceOf, parseEmit, type EmitRequest, type TargetKind } from "./emit.ts";
import { HttpError } from "./errors.ts";
import type { Params, Route } from "./routes.ts";
import type { EventThrottle } from "./throttle.ts";

export function apiRoutes(ctx: ModuleContext, throttle: EventThrottle): Route[] {
  const maxBytes = ctx.config.maxPayloadBytes;
  const emit = (kind?: TargetKind) => async (req: Request, params: Params) => {
    const request = parseEmit(await readJson(req, maxBytes), kind && { kind, id: params.id! });
    return Response.json(await emitOrQueue(ctx, throttle, request), { status: 202 });
  };
  return [
    { method: "POST", path: "/api/emit", isProtected: true, handler: emit() },
    { method: "POST", path: "/api/users/:id/emit", isProtected: true, handler: emit("users") },
    { method: "POST", path: "/api/tenants/:id/emit", isProtected: true, handler: emit("tenants") },
    { method: "POST", path: "/api/rooms/:id/emit", isProtected: true, handler: emit("rooms") },
    {
      method: "POST", path: "/api/notifications", isProtected: true,
      handler: async (req) => {
        const input = notificationOf(await readJson(req, maxBytes));
        let notification;
        try {
          notification = await createNotification(ctx, input);
        } catch (err) {
          // A database that fails or does not answer in time is a 503 the backend can retry, not a 500.
          log.warn?.("notification store unavailable", { err: String(err) });
          throw new HttpError(503, "database: unavailable; retry later");
        }
        return Response.json({ notification }, { status: 201 });
      },
    },
    { method: "GET", path: "/api/stats", isProtected: true, handler: async () => Response.json(await adminStats(ctx)) },
    {
      method: "GET", path: "/api/events/pending", isProtected: true,
      handler: async () => {
        const events = await throttled(() => throttle.list());
        return Response.json({ count: events.length, events });
      },
    },
    {
      method: "POST", path: "/api/events/flush", isProtected: true,
      handler: async () => Response.json({ flushed: await throttled(() => throttle.flush()) }),
    },
  ];
}

type EmitResult =
  | { recipients: number }
  | { recipients: null; throttled: { key: string; dueAt: string; isReplaced: boolean } };

async function emitOrQueue(ctx: ModuleContext, throttle: EventThrottle, request: EmitRequest): Promise<EmitResult> {
  // An unknown namespace is a 404 now, not when a throttled event is sent.
  if (request.namespace !== null) namespaceOf(ctx, request.namespace);
  if (request.throttle === undefined || request.isForced) {
    // A forced event supersedes the one waiting under its key: sending the older one later would
    // overwrite the newer state on the clients.
    if (request.throttle) await throttled(() => throttle.cancel(request.throttle!.key));
    const recipients = await deliver(ctx, request);
    log.debug?.("api emit", { nsp: request.namespace, event: request.event, recipients, isForced: request.isForced });
    return { recipients };
  }
  const queued = await throttled(() => throttle.submit(request.throttle!.key, request.throttle!.ms, {
    namespace: request.namespace,
    event: request.event,
    to: request.to,
    except: request.except,
    data: request.data,
    send: () => deliver(ctx, request),
    request,
  }));
  if (queued === null) throw new HttpError(429, "throttle: too many pending keys; flush or retry later");
  return { recipients: null, throttled: { key: request.throttle.key, dueAt: new Date(queued.dueAtMs).toISOString(), isReplaced: queued.isReplaced } };
}

// In a cluster the throttle lives in Redis (redis-throttle.ts): Redis unreachable is a 503, not a 500.
async function throttled<T>(operation: () => T | Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    log.warn?.("throttle unavailable", { err: String(err) });
    throw new HttpError(503, "throttle: the cluster's Redis is unavailable; retry later");
  }
}

// Seed 001's emit_notification(user_id, notification_id, title, message, type): `message` is
// accepted as another name for `body`.
function notificationOf(body: Fields) {
  onlyFields(body, ["userId", "tenantId", "type", "title", "body", "message", "data"]);
  if (body.body !== undefined && body.message !== undefined) throw new HttpError(400, "message: give body or message, not both");
  return {
    userId: idString(body.userId, "userId"),
    tenantId: optionalString(body.tenantId, "tenantId") ?? null,
    type: idString(body.type, "type", 64),
    title: optionalString(body.title, "title", 500) ?? null,
    body: optionalString(body.body ?? body.message, body.body !== undefined ? "body" : "message", 10_000) ?? null,
    data: body.data ?? null,
  };
}
