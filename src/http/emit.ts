// POST /api/emit and its shortcuts: the request parsed into an EmitRequest (every field checked,
// errors naming it), then one broadcast through the library API: io.of(nsp).to(rooms).except(...).
// Seeds 000 (emit_to_post / emit_to_order) and 001 (emit_to_user / emit_to_tenant).
import type { BroadcastOperator, Namespace } from "../index.ts";
import { tenantRoom, userRoom } from "../modules/auth.ts";
import type { ModuleContext } from "../modules/context.ts";
import { RESERVED_EVENTS } from "../socketio/packets.ts";
import { idList, idString, integerIn, onlyFields, optionalBoolean, optionalObject, optionalString, type Fields } from "./body.ts";
import { HttpError } from "./errors.ts";

export type TargetKind = "users" | "tenants" | "rooms";

export interface EmitRequest {
  /**
   * null: the request named no namespace and targets rooms only; it then reaches those rooms in `/`
   * and in every other served namespace where they have members (seed 000's workers emit to
   * `post_123` and mean the `/social` sockets in it).
   */
  namespace: string | null;
  event: string;
  /** Absent: the event is emitted without arguments. */
  data?: unknown;
  to: { users: string[]; tenants: string[]; rooms: string[] };
  except: { users: string[]; rooms: string[] };
  isVolatile: boolean;
  throttle?: { key: string; ms: number };
  isForced: boolean;
}

const EMIT_FIELDS = ["namespace", "event", "data", "to", "except", "volatile", "throttle", "force"];
const MAX_THROTTLE_MS = 3_600_000;

/** `fixed`: the shortcut routes' target from the path; the body then MUST NOT carry `to`. */
export function parseEmit(body: Fields, fixed?: { kind: TargetKind; id: string }): EmitRequest {
  onlyFields(body, EMIT_FIELDS);
  const event = idString(body.event, "event", 128);
  if (RESERVED_EVENTS.has(event)) throw new HttpError(400, `event: "${event}" is reserved by Socket.IO clients`);
  const request: EmitRequest = {
    namespace: null,
    event,
    to: fixed ? fixedTarget(body, fixed) : target(body.to),
    except: exceptOf(body.except),
    isVolatile: optionalBoolean(body.volatile, "volatile"),
    isForced: optionalBoolean(body.force, "force"),
  };
  const isRoomsOnly = request.to.users.length + request.to.tenants.length === 0;
  request.namespace = body.namespace === undefined && isRoomsOnly ? null : namespaceName(body.namespace);
  if ("data" in body) request.data = body.data;
  const throttle = optionalObject(body.throttle, "throttle");
  if (throttle) {
    onlyFields(throttle, ["key", "ms"], "throttle.");
    request.throttle = { key: idString(throttle.key, "throttle.key"), ms: integerIn(throttle.ms, "throttle.ms", 1, MAX_THROTTLE_MS) };
  }
  return request;
}

function namespaceName(value: unknown): string {
  const name = optionalString(value, "namespace") ?? "/";
  return name.startsWith("/") ? name : "/" + name;
}

function target(value: unknown): EmitRequest["to"] {
  const to = optionalObject(value, "to");
  if (to === undefined) throw new HttpError(400, "to: required, with users, tenants or rooms");
  onlyFields(to, ["users", "tenants", "rooms"], "to.");
  const parsed = { users: idList(to.users, "to.users"), tenants: idList(to.tenants, "to.tenants"), rooms: idList(to.rooms, "to.rooms") };
  // An empty target would mean "everyone in the namespace": too easy to do by accident.
  if (parsed.users.length + parsed.tenants.length + parsed.rooms.length === 0)
    throw new HttpError(400, "to: name at least one user, tenant or room");
  return parsed;
}

function fixedTarget(body: Fields, fixed: { kind: TargetKind; id: string }): EmitRequest["to"] {
  if (body.to !== undefined) throw new HttpError(400, "to: not accepted here, the target is in the path");
  const to: EmitRequest["to"] = { users: [], tenants: [], rooms: [] };
  to[fixed.kind].push(fixed.id);
  return to;
}

function exceptOf(value: unknown): EmitRequest["except"] {
  const except = optionalObject(value, "except");
  if (except === undefined) return { users: [], rooms: [] };
  onlyFields(except, ["users", "rooms"], "except.");
  return { users: idList(except.users, "except.users"), rooms: idList(except.rooms, "except.rooms") };
}

/** The namespace, which MUST already exist: the API never creates one (404 otherwise). */
export function namespaceOf(ctx: ModuleContext, name: string): Namespace {
  const nsp = ctx.io.namespaces.get(name);
  if (nsp === undefined) throw new HttpError(404, `namespace: "${name}" does not exist`);
  return nsp;
}

function operatorOf(nsp: Namespace, request: EmitRequest): BroadcastOperator {
  const rooms = [...request.to.users.map(userRoom), ...request.to.tenants.map(tenantRoom), ...request.to.rooms];
  const except = [...request.except.users.map(userRoom), ...request.except.rooms];
  let op = nsp.to(rooms);
  if (except.length > 0) op = op.except(except);
  return request.isVolatile ? op.volatile : op;
}

/**
 * Emits now; resolves with the number of sockets that matched (on every node, through the adapter).
 * A request that named no namespace goes to `/` and to each other served namespace where its rooms
 * have members (counted across the cluster first, so namespaces without them get nothing).
 */
export async function deliver(ctx: ModuleContext, request: EmitRequest): Promise<number> {
  if (request.namespace !== null) return deliverIn(ctx, namespaceOf(ctx, request.namespace), request, true);
  const counts = await Promise.all(ctx.namespaces.map((nsp) => deliverIn(ctx, nsp, request, nsp.name === "/")));
  return counts.reduce((sum, n) => sum + n, 0);
}

async function deliverIn(ctx: ModuleContext, nsp: Namespace, request: EmitRequest, isAlways: boolean): Promise<number> {
  const op = operatorOf(nsp, request);
  const recipients = (await op.fetchSockets()).length;
  if (recipients === 0 && !isAlways) return 0;
  if ("data" in request) op.emit(request.event, request.data);
  else op.emit(request.event);
  ctx.metrics.eventsOut++;
  return recipients;
}
