// python-socketio's message queue: workers that emit through socketio.RedisManager /
// AsyncRedisManager(url, write_only=True) PUBLISH on one channel (`socketio` by default) a dict
// {method, ...}: emit, enter_room, leave_room, close_room, disconnect, callback. Before
// python-socketio 5.14 the dict is pickled (read by the strict decoder in pickle.ts, which runs
// nothing); from 5.14 it is JSON, with `binary: true` and base64 `attachments` referenced by
// `{_placeholder: true, num}` in `data`. Every node subscribes and acts on its own sockets only
// (`local`), so a room emit reaches each socket once across the cluster.
import type { Redis, Cluster } from "ioredis";
import { log } from "../log.ts";
import type { Namespace, Socket } from "../index.ts";
import type { ModuleContext } from "./context.ts";
import { asTuple, decodePickle, isTuple, PickleError } from "./pickle.ts";
import { encodePickle } from "./pickle.ts";

export interface PythonQueueOptions {
  /** A connection of its own, put in subscriber mode. */
  sub: Redis | Cluster;
  /** Publishes callback answers. */
  pub: Redis | Cluster;
  channel: string;
}

/** Largest message read (python-socketio messages are small; a bigger one is dropped). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

type Message = Record<string, unknown>;

export function registerPythonQueue(ctx: ModuleContext, options: PythonQueueOptions): () => Promise<void> {
  const { sub, pub, channel } = options;
  const onMessage = (ch: Buffer, raw: Buffer) => {
    if (ch.toString() !== channel) return;
    try {
      handle(ctx, raw, pub, channel);
    } catch (err) {
      log.warn?.("python-socketio queue: message not carried out", { channel, err: err instanceof Error ? err.message : String(err) });
    }
  };
  sub.on("messageBuffer", onMessage);
  sub.subscribe(channel).catch((err: unknown) => log.warn?.("python-socketio queue: subscribe failed", { channel, err }));
  log.info?.("python-socketio message queue subscribed", { channel });
  return async () => {
    sub.off("messageBuffer", onMessage);
    await sub.quit().catch(() => {});
  };
}

/** Decodes one published message: JSON (python-socketio ≥ 5.14) or pickle (older). */
export function decodeQueueMessage(raw: Buffer): { message: Message; encoding: "json" | "pickle" } | { error: string } {
  if (raw.length > MAX_MESSAGE_BYTES) return { error: `message of ${raw.length} bytes exceeds ${MAX_MESSAGE_BYTES}` };
  let value: unknown;
  let encoding: "json" | "pickle";
  if (raw[0] === 0x80) {
    encoding = "pickle";
    try {
      value = decodePickle(raw);
    } catch (err) {
      return { error: err instanceof PickleError ? `pickle refused: ${err.message}` : "pickle refused" };
    }
  } else {
    encoding = "json";
    try {
      value = JSON.parse(raw.toString("utf8"));
    } catch {
      return { error: "neither JSON nor a pickle" };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || typeof (value as Message).method !== "string")
    return { error: "not a python-socketio queue message (no method)" };
  return { message: value as Message, encoding };
}

function handle(ctx: ModuleContext, raw: Buffer, pub: Redis | Cluster, channel: string): void {
  const decoded = decodeQueueMessage(raw);
  if ("error" in decoded) {
    log.warn?.("python-socketio queue: message dropped", { channel, bytes: raw.length, reason: decoded.error });
    return;
  }
  const { message, encoding } = decoded;
  const nsp = namespaceOf(ctx, message.namespace);
  switch (message.method) {
    case "emit": return emit(nsp, message, encoding, pub, channel);
    case "enter_room": {
      const socket = localSocket(nsp, message.sid);
      if (socket !== undefined && isRoom(message.room)) socket.join(String(message.room));
      return;
    }
    case "leave_room": {
      const socket = localSocket(nsp, message.sid);
      if (socket !== undefined && isRoom(message.room)) socket.leave(String(message.room));
      return;
    }
    case "close_room":
      if (isRoom(message.room)) nsp.local.in(String(message.room)).socketsLeave(String(message.room));
      return;
    case "disconnect":
      localSocket(nsp, message.sid)?.disconnect();
      return;
    case "callback": // answers for python servers' own emits: not ours
      return;
    default:
      log.debug?.("python-socketio queue: unknown method", { method: String(message.method).slice(0, 40) });
  }
}

function namespaceOf(ctx: ModuleContext, name: unknown): Namespace {
  return ctx.io.of(typeof name === "string" && name !== "" ? name : "/");
}

function isRoom(room: unknown): boolean {
  return typeof room === "string" || typeof room === "number";
}

function localSocket(nsp: Namespace, sid: unknown): Socket | undefined {
  return typeof sid === "string" ? nsp.sockets.get(sid) : undefined;
}

/** python-socketio's arguments: a tuple is several, else one value (JSON: a list is the arguments). */
function argsOf(message: Message, encoding: "json" | "pickle"): unknown[] {
  let data = message.data;
  if (encoding === "json" && message.binary === true) data = withAttachments(data, message.attachments);
  if (data === null || data === undefined) return [];
  if (isTuple(data)) return [...data];
  if (encoding === "json" && Array.isArray(data)) return data;
  return [data];
}

function withAttachments(data: unknown, attachments: unknown): unknown {
  const buffers = Array.isArray(attachments)
    ? attachments.map((a) => (typeof a === "string" ? Buffer.from(a, "base64") : undefined))
    : [];
  const fill = (v: unknown, depth: number): unknown => {
    if (depth > 100 || typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) return v.map((x) => fill(x, depth + 1));
    const o = v as Record<string, unknown>;
    if (o._placeholder === true && typeof o.num === "number") {
      const b = buffers[o.num];
      if (b === undefined) throw new Error(`attachment ${o.num} missing`);
      return b;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = fill(x, depth + 1);
    return out;
  };
  return fill(data, 0);
}

function emit(nsp: Namespace, message: Message, encoding: "json" | "pickle", pub: Redis | Cluster, channel: string): void {
  if (typeof message.event !== "string" || message.event === "") throw new Error("emit without an event name");
  const event = message.event;
  const args = argsOf(message, encoding);
  const room = isRoom(message.room) ? String(message.room) : undefined;
  const skip = message.skip_sid;
  const except = typeof skip === "string" ? [skip] : Array.isArray(skip) ? skip.filter((s): s is string => typeof s === "string") : [];
  const callback = message.callback;
  if (Array.isArray(callback) && callback.length === 3 && room !== undefined) {
    // The worker's server waits for each client's answer: published back as {method: "callback"}.
    const [cbRoom, cbNamespace, cbId] = callback;
    const skipped = new Set(except);
    for (const socket of nsp.sockets.values()) {
      if (skipped.has(socket.id) || (socket.id !== room && !socket.rooms.has(room))) continue;
      socket.emit(event, ...args, (...answer: unknown[]) => {
        const reply = { method: "callback", host_id: message.host_id, sid: cbRoom, namespace: cbNamespace, id: cbId, args: answer };
        const body = encoding === "pickle" ? encodePickle({ ...reply, args: asTuple(answer) }) : JSON.stringify(reply);
        pub.publish(channel, body).catch((err: unknown) => log.warn?.("python-socketio queue: callback publish failed", { err }));
      });
    }
    return;
  }
  let target = nsp.local;
  if (room !== undefined) target = target.to(room);
  if (except.length > 0) target = target.except(except);
  target.emit(event, ...args);
}
