// Typing indicators: start/stop relayed to the room, the sender excluded, as volatile events (they
// may be dropped under backpressure; the next refresh repairs it). A state not refreshed within
// `ttlMs` expires by itself and the stop is sent for the client. One table of event names per namespace.
import type { Namespace, Socket } from "../index.ts";
import { userOf } from "./auth.ts";
import { ackOf, fail, ok, payloadOf, stringField, type ModuleContext } from "./context.ts";

export interface TypingOptions {
  /** A typing state not refreshed for this long ends with an automatic stop. @default 5000 */
  ttlMs?: number;
}

const DEFAULTS = { ttlMs: 5_000 } as const;

type Action = "start" | "stop";

export interface TypingVocabulary {
  /** Client event → action; `undefined` means the action is in the payload's `action` field. */
  readonly inbound: Readonly<Record<string, Action | undefined>>;
  /** Where the room id is in the client's payload. */
  readonly roomKey: string;
  /** What the room receives for each action. */
  readonly outbound: Readonly<Record<Action, string>>;
  /** The relayed payload: the room id under the seed's key, the sender from the token. */
  relayed(roomId: string, user: { id: string; name: string | null }, action: Action): Record<string, unknown>;
  /**
   * The rooms an id may name, in order: typing goes to the first one the sender is in. Absent: the
   * id is the room.
   */
  roomsOf?(id: string): string[];
}

// Seed 002 (`/`, and namespaces not listed): typing / stopTyping {roomId}.
const SEED_002: TypingVocabulary = {
  inbound: { typing: "start", stopTyping: "stop" },
  roomKey: "roomId",
  outbound: { start: "typing", stop: "stopTyping" },
  relayed: (roomId, user, action) => ({ roomId, userId: user.id, name: user.name, isTyping: action === "start" }),
};

// Seed 004 (`/chat`): the same names, keyed by conversationId.
const SEED_004: TypingVocabulary = {
  inbound: { typing: "start", stopTyping: "stop" },
  roomKey: "conversationId",
  outbound: { start: "typing", stop: "stopTyping" },
  relayed: (conversationId, user, action) => ({ conversationId, userId: user.id, name: user.name, isTyping: action === "start" }),
};

// Seed 003 (`/messaging`): one event, `message:typing` {conversationId, action}, both ways.
const SEED_003_MESSAGING: TypingVocabulary = {
  inbound: { "message:typing": undefined },
  roomKey: "conversationId",
  outbound: { start: "message:typing", stop: "message:typing" },
  relayed: (conversationId, user, action) => ({ conversationId, userId: user.id, username: user.name, name: user.name, action }),
};

// Seeds 000 and 003 (`/social`): typing_start / typing_stop {post_id} (seed 000) or user:typing
// {postId, action} (seed 003), relayed as user:typing to the post's room: `post_123` (seed 000's
// join_post and workers), `post:123` (seed 003's room names) or the bare id.
const SOCIAL: TypingVocabulary = {
  inbound: { typing_start: "start", typing_stop: "stop", "user:typing": undefined },
  roomKey: "post_id",
  outbound: { start: "user:typing", stop: "user:typing" },
  relayed: (postId, user, action) => ({ postId, post_id: postId, userId: user.id, username: user.name, name: user.name, action }),
  roomsOf: (id) => [`post_${id}`, `post:${id}`, id],
};

/** Which vocabulary each namespace speaks; namespaces not listed speak seed 002's. */
export const TYPING_VOCABULARIES: Record<string, TypingVocabulary> = {
  "/chat": SEED_004,
  "/messaging": SEED_003_MESSAGING,
  "/social": SOCIAL,
};

// Per socket: room → the expiry timer and when the start was last relayed. Created on first use.
interface TypingState {
  /** The id as the client sent it, which the relayed payload carries. */
  id: string;
  timer: Timer;
  relayedAt: number;
}
const states = new WeakMap<Socket, Map<string, TypingState>>();

export function registerTyping(ctx: ModuleContext, options: TypingOptions = {}): void {
  const ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
  for (const nsp of ctx.namespaces) {
    const vocabulary = TYPING_VOCABULARIES[nsp.name] ?? SEED_002;
    nsp.on("connection", (socket: Socket) => attach(nsp, socket, vocabulary, ttlMs));
  }
}

function attach(nsp: Namespace, socket: Socket, v: TypingVocabulary, ttlMs: number): void {
  for (const [event, fixed] of Object.entries(v.inbound)) {
    socket.on(event, (...args: unknown[]) => {
      const ack = ackOf(args);
      const payload = payloadOf(args[0]);
      // Seed 003 spells the social room `postId`; every vocabulary also takes `roomId`.
      const id = stringField(payload, v.roomKey) ?? stringField(payload, "postId") ?? stringField(payload, "roomId");
      const action = fixed ?? (payload.action === "start" || payload.action === "stop" ? payload.action : undefined);
      if (id === undefined || action === undefined) return ack?.(fail("bad_request", `${v.roomKey} and a start/stop action are required`));
      const roomId = (v.roomsOf?.(id) ?? [id]).find((room) => socket.rooms.has(room));
      if (roomId === undefined) return ack?.(fail("not_a_member", "join the room before typing into it"));
      if (action === "start") start(nsp, socket, v, id, roomId, ttlMs);
      else stop(nsp, socket, v, roomId);
      ack?.(ok({ [v.roomKey]: id, action }));
    });
  }
  socket.on("disconnect", () => {
    const rooms = states.get(socket);
    if (rooms === undefined) return;
    for (const roomId of [...rooms.keys()]) stop(nsp, socket, v, roomId);
  });
}

// Clients send a start per keystroke: relay it again only when half the TTL has passed, so
// observers whose copy was dropped (volatile) catch up while the room is not flooded.
function start(nsp: Namespace, socket: Socket, v: TypingVocabulary, id: string, roomId: string, ttlMs: number): void {
  let rooms = states.get(socket);
  if (rooms === undefined) states.set(socket, (rooms = new Map()));
  const now = Date.now();
  const state = rooms.get(roomId);
  if (state !== undefined) {
    state.timer.refresh();
    if (now - state.relayedAt < ttlMs / 2) return;
    state.relayedAt = now;
  } else {
    rooms.set(roomId, { id, timer: setTimeout(() => stop(nsp, socket, v, roomId), ttlMs), relayedAt: now });
  }
  relay(nsp, socket, v, id, roomId, "start");
}

function stop(nsp: Namespace, socket: Socket, v: TypingVocabulary, roomId: string): void {
  const rooms = states.get(socket);
  const state = rooms?.get(roomId);
  if (rooms === undefined || state === undefined) return;
  clearTimeout(state.timer);
  rooms.delete(roomId);
  relay(nsp, socket, v, state.id, roomId, "stop");
}

function relay(nsp: Namespace, socket: Socket, v: TypingVocabulary, id: string, roomId: string, action: Action): void {
  const user = userOf(socket);
  const payload = v.relayed(id, { id: user.id, name: user.name ?? null }, action);
  // After a disconnect the socket is no longer in the room: the namespace broadcast then reaches
  // exactly the others; before it, socket.to() excludes the sender.
  const target = socket.connected ? socket.to(roomId) : nsp.to(roomId);
  target.volatile.emit(v.outbound[action], payload);
}
