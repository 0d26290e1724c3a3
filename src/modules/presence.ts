// Presence: a user is online while any of their sockets (any namespace, any tab or device) is
// connected. The last disconnect starts a grace period, so a reconnect (page reload, network blip)
// does not flap; past it the user is offline, `lastSeen` is persisted through the write-behind queue,
// and the rooms the user was in are told. Seeds 003 (`user:online`/`user:offline`) and 004 (`/chat`:
// `online`/`offline`). Several nodes: each counts its own sockets, and asks the cluster
// (fetchSockets) before declaring a user offline or answering presence:get for users it does not hold.
import type { Namespace, Server, Socket } from "../index.ts";
import { lastSeen as storedLastSeen } from "../persistence/queries.ts";
import { tenantRoom, userOf, userRoom } from "./auth.ts";
import { ackOf, fail, ok, payloadOf, type ModuleContext } from "./context.ts";
import { log } from "../log.ts";

export interface PresenceOptions {
  /** How long a user with no socket left stays online, waiting for a reconnect. @default 3000 */
  graceMs?: number;
}

const DEFAULTS = { graceMs: 3_000 } as const;
const MAX_USER_IDS_PER_QUERY = 500;

/** What `presence:get` answers per user; `lastSeen` is now for an online user, null if never seen. */
export interface PresenceState {
  online: boolean;
  lastSeen: string | null;
}

/** Event names per namespace; namespaces not listed speak seed 003's. */
export const PRESENCE_EVENTS: Record<string, { online: string; offline: string }> = {
  "/chat": { online: "online", offline: "offline" },
};
const SEED_003 = { online: "user:online", offline: "user:offline" } as const;

interface UserPresence {
  socketCount: number;
  name: string | null;
  avatar: string | null;
  tenantId: string | undefined;
  /** Rooms (per namespace) the user's sockets left while online: where the offline event goes. */
  rooms: Map<Namespace, Set<string>>;
  /** Set while the user has no socket and waits out the grace period. */
  grace: Timer | undefined;
  disconnectedAt: Date | undefined;
}

class PresenceTracker {
  readonly #ctx: ModuleContext;
  readonly #graceMs: number;
  readonly #users = new Map<string, UserPresence>();
  // lastSeen written to the queue but not yet confirmed: presence:get must not read an older row.
  readonly #unsaved = new Map<string, Date>();

  constructor(ctx: ModuleContext, graceMs: number) {
    this.#ctx = ctx;
    this.#graceMs = graceMs;
  }

  onConnection(nsp: Namespace, socket: Socket): void {
    const user = userOf(socket);
    let entry = this.#users.get(user.id);
    if (entry === undefined) {
      entry = { socketCount: 0, name: user.name ?? null, avatar: user.avatar ?? null, tenantId: user.tenantId, rooms: new Map(), grace: undefined, disconnectedAt: undefined };
      this.#users.set(user.id, entry);
    }
    entry.socketCount++;
    socket.on("disconnecting", () => this.#remember(entry, nsp, socket));
    socket.on("disconnect", () => this.#onDisconnect(user.id, entry));
    if (entry.grace !== undefined) {
      // Back within the grace period: the others never saw the user leave.
      clearTimeout(entry.grace);
      entry.grace = undefined;
      entry.disconnectedAt = undefined;
      return;
    }
    if (entry.socketCount > 1) return;
    const payload = { userId: user.id, name: entry.name, username: entry.name, avatar: entry.avatar, lastSeen: new Date().toISOString() };
    for (const target of this.#ctx.namespaces) {
      const rooms = this.#audience(entry, target === nsp ? socket.rooms : undefined, socket.id, user.id);
      if (rooms.length > 0) target.to(rooms).except(userRoom(user.id)).emit(eventsOf(target).online, payload);
    }
  }

  isOnline(userId: string): boolean {
    return this.#users.has(userId);
  }

  async stateOf(userIds: readonly string[]): Promise<Record<string, PresenceState>> {
    const now = new Date().toISOString();
    const result: Record<string, PresenceState> = {};
    const elsewhere = userIds.filter((userId) => !this.#users.has(userId));
    const remote = elsewhere.length === 0 ? new Set<string>() : await this.#connectedInCluster(elsewhere);
    const unknown: string[] = [];
    for (const userId of userIds) {
      const unsaved = this.#unsaved.get(userId);
      if (this.#users.has(userId) || remote.has(userId)) result[userId] = { online: true, lastSeen: now };
      else if (unsaved !== undefined) result[userId] = { online: false, lastSeen: unsaved.toISOString() };
      else unknown.push(userId);
    }
    if (unknown.length === 0) return result;
    const stored = await this.#ctx.database.query((db) => storedLastSeen(db, unknown));
    for (const userId of unknown) result[userId] = { online: false, lastSeen: stored.get(userId)?.toISOString() ?? null };
    return result;
  }

  /** Shutdown: users waiting out their grace period are offline now; their lastSeen is queued. */
  close(): void {
    for (const [userId, entry] of this.#users) {
      if (entry.grace === undefined) continue;
      clearTimeout(entry.grace);
      this.#persist(userId, entry.disconnectedAt ?? new Date());
    }
    this.#users.clear();
  }

  // "disconnecting": the socket is still in its rooms; after "disconnect" it is in none.
  #remember(entry: UserPresence, nsp: Namespace, socket: Socket): void {
    let rooms = entry.rooms.get(nsp);
    if (rooms === undefined) entry.rooms.set(nsp, (rooms = new Set()));
    for (const room of socket.rooms) if (room !== socket.id) rooms.add(room);
  }

  #onDisconnect(userId: string, entry: UserPresence): void {
    if (--entry.socketCount > 0) return;
    entry.disconnectedAt = new Date();
    entry.grace = setTimeout(() => void this.#goOffline(userId, entry), this.#graceMs);
  }

  // Users with a socket in any namespace on any node: one fetchSockets per namespace, not per user.
  async #connectedInCluster(userIds: readonly string[]): Promise<Set<string>> {
    const rooms = userIds.map(userRoom);
    const lists = await Promise.all(this.#ctx.namespaces.map((nsp) => nsp.in(rooms).fetchSockets()));
    const found = new Set<string>();
    for (const list of lists) {
      for (const socket of list) {
        const id = (socket.data as { user?: { id?: unknown } } | undefined)?.user?.id;
        if (typeof id === "string") found.add(id);
      }
    }
    return found;
  }

  async #goOffline(userId: string, entry: UserPresence): Promise<void> {
    if (entry.socketCount > 0 || this.#users.get(userId) !== entry) return;
    let isElsewhere = false;
    try {
      isElsewhere = (await this.#connectedInCluster([userId])).has(userId);
    } catch (err) {
      log.warn?.("presence: the cluster did not answer; reporting offline", { userId, err });
    }
    // MUST re-check: a socket may have come back here while the cluster answered (entry.grace is
    // still set, so onConnection treated it as a reconnect within the grace period).
    if (entry.socketCount > 0 || this.#users.get(userId) !== entry) return;
    this.#users.delete(userId);
    // The node holding the user's other socket reports the offline when that one closes.
    if (isElsewhere) return;
    const at = entry.disconnectedAt ?? new Date();
    this.#persist(userId, at);
    const payload = { userId, name: entry.name, username: entry.name, lastSeen: at.toISOString() };
    for (const target of this.#ctx.namespaces) {
      const rooms = this.#audience(entry, entry.rooms.get(target), undefined, userId);
      if (rooms.length > 0) target.to(rooms).emit(eventsOf(target).offline, payload);
    }
  }

  // The user's tenant room in every namespace, plus the rooms their sockets were in there
  // (never a socket's own room, never the user's personal room).
  #audience(entry: UserPresence, joined: Iterable<string> | undefined, socketId: string | undefined, userId: string): string[] {
    const rooms = new Set<string>();
    if (entry.tenantId !== undefined) rooms.add(tenantRoom(entry.tenantId));
    for (const room of joined ?? []) if (room !== socketId && room !== userRoom(userId)) rooms.add(room);
    return [...rooms];
  }

  #persist(userId: string, at: Date): void {
    this.#unsaved.set(userId, at);
    this.#ctx.writer.enqueue({ kind: "presence", row: { userId, lastSeen: at } }, (result) => {
      if (result.ok) {
        if (this.#unsaved.get(userId) === at) this.#unsaved.delete(userId);
        return;
      }
      log.warn?.("lastSeen not persisted", { userId, code: result.error.code });
    });
  }
}

function eventsOf(nsp: Namespace): { online: string; offline: string } {
  return PRESENCE_EVENTS[nsp.name] ?? SEED_003;
}

const trackers = new WeakMap<Server, PresenceTracker>();

export function registerPresence(ctx: ModuleContext, options: PresenceOptions = {}): void {
  const tracker = new PresenceTracker(ctx, options.graceMs ?? DEFAULTS.graceMs);
  trackers.set(ctx.io, tracker);
  for (const nsp of ctx.namespaces) {
    nsp.on("connection", (socket: Socket) => {
      tracker.onConnection(nsp, socket);
      socket.on("presence:get", (...args: unknown[]) => void get(tracker, args));
    });
  }
  // MUST run before the writer's own shutdown hook (registered after the modules in app.ts).
  ctx.io.onShutdown(() => tracker.close());
}

/** Online state and lastSeen of users, as `presence:get` answers it (for the HTTP API). */
export async function presenceOf(ctx: Pick<ModuleContext, "io">, userIds: readonly string[]): Promise<Record<string, PresenceState>> {
  const tracker = trackers.get(ctx.io);
  if (tracker === undefined) throw new Error("registerPresence() was not called for this server");
  return tracker.stateOf(userIds);
}

/** Whether the user has a socket on this node (or is within the grace period of its last one). */
export function isOnline(ctx: Pick<ModuleContext, "io">, userId: string): boolean {
  return trackers.get(ctx.io)?.isOnline(userId) ?? false;
}

async function get(tracker: PresenceTracker, args: unknown[]): Promise<void> {
  const ack = ackOf(args);
  if (ack === undefined) return;
  const userIds = payloadOf(args[0]).userIds;
  if (!Array.isArray(userIds) || userIds.length > MAX_USER_IDS_PER_QUERY || !userIds.every((id) => typeof id === "string" && id.length > 0 && id.length <= 256)) {
    return ack(fail("bad_request", `userIds must be an array of at most ${MAX_USER_IDS_PER_QUERY} user ids`));
  }
  try {
    ack(ok(await tracker.stateOf(userIds as string[])));
  } catch (err) {
    log.warn?.("presence lookup failed", { err });
    ack(fail("unavailable", "presence could not be read; try again"));
  }
}
