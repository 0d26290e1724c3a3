// Conversations the backend owns (seed 004's ChatService, seed 003's conversations): created and
// their participants changed through the HTTP API, stored in conversations/conversation_participants.
// In /chat a socket joins the rooms of its user's conversations as it connects (seed 004's
// ChatGateway.handleConnection → joinUserConversations), so `message` needs no prior `join`.
// Participants changed later join or leave the room at once, on every node (socketsJoin and
// socketsLeave travel through the adapter).
import type { Socket } from "../index.ts";
import {
  changeParticipants as updateParticipants,
  conversationIdsOf,
  findConversation,
  insertConversation,
  type ConversationRecord,
  type ParticipantChange,
} from "../persistence/queries.ts";
import { userOf, userRoom } from "./auth.ts";
import type { ModuleContext } from "./context.ts";
import { log } from "../log.ts";

/** Namespaces whose sockets join their user's conversations on connect (seed 004's gateway). */
export const JOIN_ON_CONNECT_NAMESPACES: readonly string[] = ["/chat"];

export interface ConversationOptions {
  /**
   * How long a CONNECT waits for the user's conversations. Past it the socket connects without them
   * and joins them when the database answers: a slow database never holds a connection forever.
   * @default 2_000
   */
  lookupTimeoutMs?: number;
}

const DEFAULT_LOOKUP_TIMEOUT_MS = 2_000;

// Between the middleware (which may wait) and the connection handler (which MUST join synchronously,
// before the client can send anything): module-private, not socket.data, which fetchSockets shares.
const lookedUp = new WeakMap<Socket, string[]>();

export function registerConversations(ctx: ModuleContext, options: ConversationOptions = {}): void {
  const timeoutMs = options.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  for (const nsp of ctx.namespaces) {
    if (!JOIN_ON_CONNECT_NAMESPACES.includes(nsp.name)) continue;
    // Registered after registerAuth: socket.data.user is set when this runs.
    nsp.use((socket, next) => lookUp(ctx, socket, timeoutMs, next));
    nsp.on("connection", (socket: Socket) => {
      const ids = lookedUp.get(socket);
      lookedUp.delete(socket);
      if (ids !== undefined) joinConversations(ctx, socket, ids);
    });
  }
}

/**
 * One query per connection, never per message; a failure or a timeout connects the socket anyway.
 * Known window: a participant change committed while this query runs moves the user's connected
 * sockets but not this one (not in the namespace yet, and its answer predates the change); it is
 * right again from its next connection.
 */
function lookUp(ctx: ModuleContext, socket: Socket, timeoutMs: number, next: () => void): void {
  const userId = userOf(socket).id;
  let isSettled = false;
  const timer = setTimeout(() => {
    isSettled = true;
    log.warn?.("conversation lookup is slow: connecting without the rooms for now", { userId, timeoutMs });
    next();
  }, timeoutMs);
  conversationIdsOf(ctx.database.db, userId, ctx.config.limits.maxRoomsPerSocket).then((ids) => {
    if (!isSettled) {
      isSettled = true;
      clearTimeout(timer);
      lookedUp.set(socket, ids);
      return next();
    }
    // The answer came after the socket was let in: join now, or at connection if it is not in yet.
    if (socket.connected) joinConversations(ctx, socket, ids);
    else lookedUp.set(socket, ids);
  }, (err: unknown) => {
    log.warn?.("conversation lookup failed: connecting without the rooms", { userId, err: String(err) });
    if (isSettled) return;
    isSettled = true;
    clearTimeout(timer);
    next();
  });
}

function joinConversations(ctx: ModuleContext, socket: Socket, ids: string[]): void {
  if (ids.length === 0) return;
  // Own room excluded; the limit counts every other room the socket is in (user, tenant, joined).
  const room = Math.max(0, ctx.config.limits.maxRoomsPerSocket - (socket.rooms.size - 1));
  if (ids.length > room) log.warn?.("room limit reached: some conversations not joined", { userId: userOf(socket).id, conversations: ids.length, joined: room });
  socket.join(ids.length > room ? ids.slice(0, room) : ids);
}

/** A conversation as the HTTP API answers it. */
export interface ConversationView {
  id: string;
  name: string | null;
  tenantId: string | null;
  participants: string[];
  createdAt: string;
}

function viewOf(record: ConversationRecord): ConversationView {
  return { id: record.id, name: record.title, tenantId: record.tenantId, participants: record.participantIds, createdAt: record.createdAt.toISOString() };
}

export interface ConversationInput {
  /** Absent: a UUIDv7 is chosen. */
  id?: string;
  name?: string | null;
  tenantId?: string | null;
  participants: readonly string[];
}

/**
 * Registers a conversation. From then on its room is for its participants only: their connected
 * /chat sockets join it now, and sockets of anyone else that joined the room by name before leave it.
 */
export async function createConversation(ctx: ModuleContext, input: ConversationInput): Promise<ConversationView | "exists"> {
  const id = input.id ?? Bun.randomUUIDv7();
  const created = await ctx.database.query((db) => insertConversation(db, { id, tenantId: input.tenantId, title: input.name, participantIds: input.participants }));
  if (created === "exists") return "exists";
  const members = created.participantIds.map(userRoom);
  for (const nsp of ctx.namespaces) {
    const outsiders = members.length > 0 ? nsp.in(id).except(members) : nsp.in(id);
    outsiders.socketsLeave(id);
    if (members.length > 0 && JOIN_ON_CONNECT_NAMESPACES.includes(nsp.name)) nsp.in(members).socketsJoin(id);
  }
  log.info?.("conversation created", { conversationId: id, participants: created.participantIds.length });
  return viewOf(created);
}

export async function getConversation(ctx: ModuleContext, id: string): Promise<ConversationView | undefined> {
  const found = await ctx.database.query((db) => findConversation(db, id));
  return found && viewOf(found);
}

export interface ParticipantsView {
  conversation: ConversationView;
  added: string[];
  removed: string[];
}

/**
 * Replaces, adds or removes participants. Who was added joins the room in /chat now; who was
 * removed leaves it in every namespace (a conversation room is for participants only).
 */
export async function changeParticipants(ctx: ModuleContext, id: string, change: ParticipantChange): Promise<ParticipantsView | "not_found"> {
  const changed = await ctx.database.query((db) => updateParticipants(db, id, change));
  if (changed === "not_found") return "not_found";
  const { added, removed } = changed;
  for (const nsp of ctx.namespaces) {
    if (removed.length > 0) nsp.in(removed.map(userRoom)).socketsLeave(id);
    if (added.length > 0 && JOIN_ON_CONNECT_NAMESPACES.includes(nsp.name)) nsp.in(added.map(userRoom)).socketsJoin(id);
  }
  log.info?.("conversation participants changed", { conversationId: id, added: added.length, removed: removed.length });
  return { conversation: viewOf(changed.conversation), added, removed };
}
