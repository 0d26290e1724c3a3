// Chat with optimistic emit (seed 002 is the core; 003 and 004 use other event names): the
// message is emitted to the room at once, queued for persistence, then confirmed to the room or
// failed to the sender. One module, one table of event names per namespace.
import type { Namespace, Socket } from "../index.ts";
import { deleteMessage, editMessage } from "../persistence/queries.ts";
import type { WriteResult } from "../persistence/writer.ts";
import { userOf, userRoom } from "./auth.ts";
import { ackOf, fail, ok, payloadOf, stringField, type ModuleContext } from "./context.ts";
import { connectedUsers, mayJoin } from "./rooms.ts";
import { log } from "../log.ts";

export interface ChatVocabulary {
  join: string;
  leave: string;
  /** Sent to the joining socket after a join, when the seed's clients expect it. */
  joined?: string;
  send: string;
  /** Optimistic delivery, confirmation (to the room) and failure (to the sender). */
  received: string;
  confirmed: string;
  failed: string;
  /** Where the room id and the text are in the client's payload. */
  roomKey: string;
  bodyOf(payload: Record<string, unknown>): unknown;
  /** false: the optimistic event skips the sender (seed 003 renders its own message locally). */
  includeSender: boolean;
  edit?: string;
  delete?: string;
  delivered?: string;
  read?: string;
  /** Where a media attachment's URL is in the payload; carried to the room and stored with the message. */
  mediaUrlOf?(payload: Record<string, unknown>): unknown;
  /**
   * A refusal also reaches the sender as NestJS gateways send it (seed 004): `exception {status:
   * "error", message}` (what a thrown WsException becomes) and `error {code, message}` (the gateway's
   * catch block), besides the ack and the failed event.
   */
  isNestGateway?: boolean;
  /**
   * More join events, each naming the payload key of its id and the room it joins (seed 000's
   * `join_post {post_id: "123"}` joins `post_123`, the room its workers emit to).
   */
  roomJoins?: Readonly<Record<string, { key: string; room: (id: string) => string }>>;
  /** How `get_rooms` answers: the usual `{ok, data}` reply, or the plain list (seed 000's client). */
  roomsAck?: "reply" | "plain";
}

const SEED_002: ChatVocabulary = {
  join: "joinRoom", leave: "leaveRoom", send: "roomMessage",
  // "Recieved" is the seed's spelling, which its clients listen for.
  received: "roomMessageRecieved", confirmed: "roomMessageConfirmed", failed: "roomMessageFailed",
  roomKey: "roomId", bodyOf: (p) => p.body, includeSender: true,
};

const SEED_003: ChatVocabulary = {
  join: "message:join", leave: "message:leave", joined: "message:joined", send: "message:send",
  received: "message:send", confirmed: "message:confirmed", failed: "message:failed",
  roomKey: "conversationId", bodyOf: (p) => payloadOf(p.message).content ?? p.content, includeSender: false,
  edit: "message:edit", delete: "message:delete", delivered: "message:delivered", read: "message:read",
};

const SEED_004: ChatVocabulary = {
  join: "join", leave: "leave", send: "message",
  received: "message", confirmed: "message:confirmed", failed: "message:failed",
  roomKey: "conversationId", bodyOf: (p) => p.content, includeSender: true,
  mediaUrlOf: (p) => p.mediaUrl, isNestGateway: true,
};

// Seed 000's module sockets on `/social`: seed 002's chat events plus `join_post`, and `get_rooms`
// answered with the plain list of rooms.
const SOCIAL: ChatVocabulary = {
  ...SEED_002,
  roomJoins: { join_post: { key: "post_id", room: (id) => `post_${id}` } },
  roomsAck: "plain",
};

// Seed 000's `/orders`: `join_order {order_id}` joins `order_789`, where emit_to_order sends.
const ORDERS: ChatVocabulary = {
  ...SEED_002,
  roomJoins: { join_order: { key: "order_id", room: (id) => `order_${id}` } },
  roomsAck: "plain",
};

/** Which vocabulary each namespace speaks; namespaces not listed speak seed 002's. */
export const VOCABULARIES: Record<string, ChatVocabulary> = {
  "/messaging": SEED_003,
  "/chat": SEED_004,
  "/social": SOCIAL,
  "/orders": ORDERS,
};

const MAX_BODY_CHARS = 10_000;
const MAX_MEDIA_URL_CHARS = 2_048;
// http(s) URLs and same-origin paths only: other clients render it (no javascript:, data:, //host).
const MEDIA_URL = /^(https?:\/\/[^\s]+|\/(?!\/)[^\s]*)$/i;

export function registerChat(ctx: ModuleContext): void {
  for (const nsp of ctx.namespaces) {
    const vocabulary = VOCABULARIES[nsp.name] ?? SEED_002;
    nsp.on("connection", (socket: Socket) => attach(ctx, nsp, socket, vocabulary));
  }
}

function attach(ctx: ModuleContext, nsp: Namespace, socket: Socket, v: ChatVocabulary): void {
  const roomOf = (payload: Record<string, unknown>) => stringField(payload, v.roomKey) ?? stringField(payload, "roomId");
  socket.on(v.join, (...args: unknown[]) => void join(ctx, socket, v, args, v.roomKey, roomOf));
  for (const [event, { key, room }] of Object.entries(v.roomJoins ?? {})) {
    socket.on(event, (...args: unknown[]) => {
      const id = stringField(payloadOf(args[0]), key);
      void join(ctx, socket, v, args, key, () => (id === undefined ? undefined : room(id)));
    });
  }
  socket.on(v.leave, (...args: unknown[]) => {
    const roomId = stringField(payloadOf(args[0]), v.roomKey) ?? stringField(payloadOf(args[0]), "roomId");
    if (roomId === undefined) return ackOf(args)?.(fail("bad_request", `${v.roomKey} is required`));
    socket.leave(roomId);
    ackOf(args)?.(ok({ roomId }));
  });
  socket.on("get_rooms", (...args: unknown[]) => {
    const rooms = [...socket.rooms].filter((room) => room !== socket.id);
    ackOf(args)?.(v.roomsAck === "plain" ? rooms : ok(rooms));
  });
  socket.on(v.send, (...args: unknown[]) => send(ctx, nsp, socket, v, args));
  if (v.edit) socket.on(v.edit, (...args: unknown[]) => void edit(ctx, nsp, socket, v, args));
  if (v.delete) socket.on(v.delete, (...args: unknown[]) => void remove(ctx, nsp, socket, v, args));
  if (v.delivered) socket.on(v.delivered, (...args: unknown[]) => receipt(ctx, nsp, socket, v, args, "delivered"));
  if (v.read) socket.on(v.read, (...args: unknown[]) => receipt(ctx, nsp, socket, v, args, "read"));
}

/** `key` names the id in error messages; `roomOf` finds the room in the payload. */
async function join(
  ctx: ModuleContext, socket: Socket, v: ChatVocabulary, args: unknown[],
  key: string, roomOf: (payload: Record<string, unknown>) => string | undefined,
): Promise<void> {
  const ack = ackOf(args);
  const roomId = roomOf(payloadOf(args[0]));
  if (roomId === undefined) return ack?.(fail("bad_request", `${key} is required`));
  const refusal = await mayJoin(ctx, socket, roomId);
  if (refusal !== null) {
    ack?.(refusal);
    if (refusal.ok) return;
    if (v.isNestGateway) emitNestException(socket, refusal.error.message);
    if (ack === undefined || v.isNestGateway) socket.emit("error", refusal.error);
    return;
  }
  if (!socket.connected) return;
  // The library enforces maxRoomsPerSocket on every join; mayJoin's early check can be raced.
  if (!socket.join(roomId)) return ack?.(fail("too_many_rooms", "room limit reached"));
  if (v.joined) socket.emit(v.joined, { [v.roomKey]: roomId });
  ack?.(ok({ roomId, connectedUsers: await connectedUsers(socket, roomId) }));
}

/** The hot path: build, emit, enqueue. No database or network call before the emit. */
function send(ctx: ModuleContext, nsp: Namespace, socket: Socket, v: ChatVocabulary, args: unknown[]): void {
  const ack = ackOf(args);
  const payload = payloadOf(args[0]);
  const started = performance.now();
  const tempId = stringField(payload, "tempId") ?? `tmp-${Bun.randomUUIDv7()}`;
  const roomId = stringField(payload, v.roomKey) ?? stringField(payload, "roomId");
  const mediaUrl = v.mediaUrlOf?.(payload) ?? undefined;
  // A media message may come without text (an image alone).
  const body = v.bodyOf(payload) ?? (mediaUrl === undefined ? undefined : "");
  const refuse = (code: string, message: string) => {
    ctx.metrics.messagesRefused.inc(code);
    socket.emit(v.failed, { tempId, [v.roomKey]: roomId ?? null, error: { code, message } });
    if (v.isNestGateway) {
      emitNestException(socket, message);
      socket.emit("error", { code, message });
    }
    ack?.(fail(code, message));
  };
  if (roomId === undefined) return refuse("bad_request", `${v.roomKey} is required`);
  if (typeof body !== "string" || (body.length === 0 && mediaUrl === undefined) || body.length > MAX_BODY_CHARS) {
    return refuse("bad_request", `the message text is required (at most ${MAX_BODY_CHARS} characters)`);
  }
  if (mediaUrl !== undefined && (typeof mediaUrl !== "string" || mediaUrl.length > MAX_MEDIA_URL_CHARS || !MEDIA_URL.test(mediaUrl))) {
    return refuse("bad_request", `mediaUrl: expected an http(s) URL or a path (at most ${MAX_MEDIA_URL_CHARS} characters)`);
  }
  if (!socket.rooms.has(roomId)) return refuse("not_a_member", "join the room before posting to it");

  const user = userOf(socket);
  const id = Bun.randomUUIDv7();
  const createdAt = new Date();
  // The sender comes from the token, never from the payload; the time from the server.
  const message: Record<string, unknown> = {
    tempId, [v.roomKey]: roomId, roomId, body, content: body,
    sender: { id: user.id, name: user.name ?? null, avatar: user.avatar ?? null }, senderId: user.id,
    tenantId: user.tenantId ?? null, createdAt: createdAt.toISOString(), status: "pending",
  };
  if (v.mediaUrlOf) message.mediaUrl = mediaUrl ?? null;
  if (v.includeSender) nsp.to(roomId).emit(v.received, message);
  else socket.to(roomId).emit(v.received, message);
  ctx.metrics.eventsOut++;
  const emittedMs = performance.now() - started;
  ack?.(ok({ tempId, id }));

  ctx.writer.enqueue(
    {
      kind: "message",
      row: { id, roomId, senderId: user.id, tenantId: user.tenantId ?? null, body, tempId, createdAt, metadata: mediaUrl === undefined ? undefined : { mediaUrl } },
    },
    (result: WriteResult) => {
      const savedMs = performance.now() - started;
      log.debug?.("roomMessage", { roomId, emittedMs, savedMs, ok: result.ok });
      if (result.ok) {
        ctx.metrics.recordConfirm(savedMs);
        nsp.to(roomId).emit(v.confirmed, { ...message, id, status: "confirmed" });
        return;
      }
      // Shutting down in a database outage: the spool keeps it and the next start stores it, so the
      // sender (reconnected to another node, perhaps) must not hear "failed" and send it again.
      if (result.error.code === "persist_deferred") return;
      ctx.metrics.messagesFailed++;
      const failure = { tempId, [v.roomKey]: roomId, error: result.error };
      // The sender may have reconnected meanwhile: its user room reaches every device it has.
      if (socket.connected) socket.emit(v.failed, failure);
      else nsp.to(userRoom(user.id)).emit(v.failed, failure);
      log.warn?.("message not persisted", { roomId, tempId, code: result.error.code });
    },
  );
}

/** What NestJS's BaseWsExceptionFilter emits for `throw new WsException(message)`. */
function emitNestException(socket: Socket, message: string): void {
  socket.emit("exception", { status: "error", message });
}

async function edit(ctx: ModuleContext, nsp: Namespace, socket: Socket, v: ChatVocabulary, args: unknown[]): Promise<void> {
  const ack = ackOf(args);
  const payload = payloadOf(args[0]);
  const messageId = stringField(payload, "messageId");
  const content = payload.content;
  if (messageId === undefined || typeof content !== "string" || content.length === 0 || content.length > MAX_BODY_CHARS) {
    return ack?.(fail("bad_request", "messageId and content are required"));
  }
  try {
    const outcome = await ctx.database.query((db) => editMessage(db, { id: messageId, senderId: userOf(socket).id, body: content }));
    if (outcome === "not_found" || outcome === "forbidden") return ack?.(fail(outcome, `cannot edit this message: ${outcome}`));
    const event = { messageId, [v.roomKey]: outcome.roomId, content, editedAt: outcome.editedAt?.toISOString() ?? null };
    nsp.to(outcome.roomId).emit(v.edit!, event);
    ack?.(ok(event));
  } catch (err) {
    log.warn?.("edit failed", { messageId, err });
    ack?.(fail("unavailable", "the edit could not be saved"));
  }
}

async function remove(ctx: ModuleContext, nsp: Namespace, socket: Socket, v: ChatVocabulary, args: unknown[]): Promise<void> {
  const ack = ackOf(args);
  const messageId = stringField(payloadOf(args[0]), "messageId");
  if (messageId === undefined) return ack?.(fail("bad_request", "messageId is required"));
  try {
    const outcome = await ctx.database.query((db) => deleteMessage(db, { id: messageId, senderId: userOf(socket).id }));
    if (outcome === "not_found" || outcome === "forbidden") return ack?.(fail(outcome, `cannot delete this message: ${outcome}`));
    const event = { messageId, [v.roomKey]: outcome.roomId, deletedBy: userOf(socket).id };
    nsp.to(outcome.roomId).emit(v.delete!, event);
    ack?.(ok(event));
  } catch (err) {
    log.warn?.("delete failed", { messageId, err });
    ack?.(fail("unavailable", "the deletion could not be saved"));
  }
}

/** Delivered/read receipts: relayed to the room at once, persisted through the write-behind queue. */
function receipt(ctx: ModuleContext, nsp: Namespace, socket: Socket, v: ChatVocabulary, args: unknown[], kind: "delivered" | "read"): void {
  const ack = ackOf(args);
  const payload = payloadOf(args[0]);
  const messageId = stringField(payload, "messageId");
  const roomId = stringField(payload, v.roomKey);
  if (messageId === undefined || roomId === undefined) return ack?.(fail("bad_request", `messageId and ${v.roomKey} are required`));
  if (!socket.rooms.has(roomId)) return ack?.(fail("not_a_member", "join the room first"));
  const userId = userOf(socket).id;
  const at = new Date();
  const event = kind === "delivered"
    ? { messageId, [v.roomKey]: roomId, deliveredTo: userId, deliveredAt: at.toISOString() }
    : { messageId, [v.roomKey]: roomId, readBy: userId, readAt: at.toISOString() };
  socket.to(roomId).emit(kind === "delivered" ? v.delivered! : v.read!, event);
  const row = kind === "delivered" ? { messageId, userId, deliveredAt: at } : { messageId, userId, readAt: at };
  ctx.writer.enqueue({ kind: "receipt", row }, (result) => {
    if (result.ok) ack?.(ok(event));
    else ack?.(fail(result.error.code, result.error.message));
  });
}
