// The Socket.IO server: options, namespaces (static and dynamic), the Bun.serve handler, shutdown.
// API as socket.io 4.x lib/index.ts, on Bun.serve instead of Node's http + ws.
import type { Server as BunServer } from "bun";
import { Engine, type CorsOptions, type EngineServeOptions, type Fallback } from "../engine/engine.ts";
import type { TransportName } from "../engine/handshake.ts";
import type { Session, WsData } from "../engine/session.ts";
import type { Adapter, AdapterFactory, AdapterHost, Room } from "../rooms/adapter.ts";
import { LocalAdapter } from "../rooms/local.ts";
import type { BroadcastOperator } from "./broadcast.ts";
import { Client } from "./client.ts";
import { Listeners, type Listener } from "../listeners.ts";
import { Namespace, ParentNamespace, type Middleware } from "./namespace.ts";
import type { RemoteSocket } from "./remote-socket.ts";
import type { Socket } from "./socket.ts";
import type { EngineError } from "../engine/handshake.ts";
import { log } from "../log.ts";
import type {
  AllButLast, DecorateAcknowledgementsWithMultipleResponses, DefaultEventsMap, EventNames, EventNamesWithAck,
  EventParams, EventsMap, FirstNonErrorArg, Last, ReservedOrUserEventNames, ReservedOrUserListener, ServerReservedEventsMap,
} from "./typed-events.ts";

export interface ServerOptions {
  /** @default "/socket.io/" */
  path?: string;
  /** More paths the same server answers on, e.g. a proxy's prefixed `/ws/socket.io/`. @default [] */
  extraPaths?: readonly string[];
  /** @default 25000 */
  pingInterval?: number;
  /** @default 20000 */
  pingTimeout?: number;
  /** Close a connection that joins no namespace within this time. @default 45000 */
  connectTimeout?: number;
  /** Largest message or polling body, in bytes. @default 1000000 */
  maxHttpBufferSize?: number;
  /** @default ["polling", "websocket"] */
  transports?: TransportName[];
  /** @default true */
  allowUpgrades?: boolean;
  /** Accept Engine.IO v3 clients (socket.io-client v2, old Flutter/Java/Swift clients). @default true */
  allowEIO3?: boolean;
  /** @default null (no CORS headers) */
  cors?: CorsOptions | null;
  /** permessage-deflate; frames shorter than `threshold` bytes are never compressed. @default false */
  perMessageDeflate?: boolean | { threshold?: number };
  /** Binary attachments allowed in one packet. @default 10 */
  maxAttachments?: number;
  /**
   * A binary packet (header plus attachments) MUST arrive whole within this time, or the connection
   * ends with "policy violation". Its bytes are bounded by `maxHttpBufferSize` on one connection.
   * @default 10000
   */
  partialPacketTimeout?: number;
  /**
   * Bytes held in half-received binary packets across the whole server; a frame past it ends its
   * connection with "policy violation". @default 67108864 (64 MiB)
   */
  maxPartialPacketBytes?: number;
  /**
   * CONNECTs refused (middleware error, unknown namespace) one connection may send; the last one's
   * CONNECT_ERROR is written, then the connection ends with "policy violation". @default 10
   */
  maxRefusedConnects?: number;
  /** Builds each namespace's adapter. @default the local (Bun topics) adapter */
  adapter?: AdapterFactory;
  /** Refuse a handshake (checked before a session exists), e.g. connection limits. */
  allowRequest?: (req: Request, address: string) => EngineError | undefined;
  /** Remove a dynamic namespace's child once its last socket leaves. @default false */
  cleanupEmptyChildNamespaces?: boolean;
  /** Live connections in all; a handshake past it is refused with 503 `{code: 4, message: "Server full"}`. @default 0 (unlimited) */
  maxConnections?: number;
  /** Live connections from one remote address; past it a handshake is refused with 503. @default 0 (unlimited) */
  maxConnectionsPerIp?: number;
  /**
   * Children that dynamic namespaces (`io.of(regex | fn)`) may create in all; past it a CONNECT to
   * a new name gets connect_error "Too many namespaces". @default 1000
   */
  maxDynamicNamespaces?: number;
  /** Rooms one socket may be in besides its own; `socket.join()` past it joins nothing and returns false. @default 0 (unlimited) */
  maxRoomsPerSocket?: number;
  /**
   * Per-socket event rate limit, a token bucket refilled at `events` per `windowMs`. An event over
   * it is not processed: its ack, if it has one, is answered `{ok: false, error: {code: "rate_limited",
   * message, retryAfterMs}}`, otherwise the client gets `"error"` with that `error`; once refused events
   * exceed `disconnectAfter` × `events` (net of refill) the transport is closed (the client reconnects).
   * Each enforcement is logged at info with the socket id and the limit.
   * @default undefined (no limit)
   */
  rateLimit?: {
    events: number;
    windowMs: number;
    /** @default 2 (a client sending three times the limit is disconnected) */
    disconnectAfter?: number;
  };
  /**
   * Unsent bytes one connection may hold: Bun's WebSocket `backpressureLimit` (frames past it are
   * dropped, and counted) and the long-polling write buffer (past it the session ends with "slow consumer").
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** A WebSocket that stays backpressured this long while written to ends with "slow consumer". @default 30000 */
  maxBackpressureMs?: number;
  /**
   * Frames Bun may drop on one WebSocket before it ends with "slow consumer". At 0 a room broadcast
   * that finds a member past maxBufferedBytes also cuts it (Bun's closeOnBackpressureLimit); above 0
   * such broadcast frames are dropped without being counted. @default 0 (the first dropped frame)
   */
  maxDroppedFrames?: number;
  /**
   * Connection state recovery (socket.io >= 4.6): a client back within `maxDisconnectionDuration`
   * gets its id, rooms, data and missed packets. Events then carry their offset as an extra last
   * argument (clients that don't know recovery, e.g. Flutter's, see it as one more argument).
   * @default undefined (off)
   */
  connectionStateRecovery?: {
    /** @default 120000 */
    maxDisconnectionDuration?: number;
    /** Skip `use()` middlewares when a session is restored. @default true */
    skipMiddlewares?: boolean;
    /**
     * Only these namespaces recover (and append offsets); the others behave as without recovery.
     * @default undefined (every namespace)
     */
    namespaces?: readonly string[];
  };
}

export interface ResolvedOptions {
  readonly path: string;
  readonly extraPaths: readonly string[];
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly connectTimeout: number;
  readonly maxHttpBufferSize: number;
  readonly maxAttachments: number;
  readonly partialPacketTimeout: number;
  readonly maxPartialPacketBytes: number;
  readonly maxRefusedConnects: number;
  /** -1 when permessage-deflate is off. */
  readonly compressionThreshold: number;
  readonly cleanupEmptyChildNamespaces: boolean;
  readonly maxDynamicNamespaces: number;
  readonly maxRoomsPerSocket: number;
  /** null when there is no rate limit. */
  readonly rateLimit: { readonly events: number; readonly windowMs: number; readonly disconnectAfter: number } | null;
  /** null when connection state recovery is off. */
  readonly connectionStateRecovery: {
    readonly maxDisconnectionDuration: number;
    readonly skipMiddlewares: boolean;
    readonly namespaces: readonly string[] | null;
  } | null;
}

// The engine's own defaults (engine/engine.ts) apply to the Engine.IO options not listed here.
const DEFAULTS = {
  path: "/socket.io/",
  connectTimeout: 45_000,
  allowEIO3: true,
  maxAttachments: 10,
  partialPacketTimeout: 10_000,
  maxPartialPacketBytes: 64 * 1024 * 1024,
  maxRefusedConnects: 10,
  cleanupEmptyChildNamespaces: false,
  maxDisconnectionDuration: 120_000,
  skipMiddlewares: true, // socket.io's code default (its docs example shows false)
  maxDynamicNamespaces: 1000,
  maxRoomsPerSocket: 0,
  rateLimitDisconnectAfter: 2,
};

type NamespaceMatcher = (name: string, auth: Record<string, unknown>, next: (err: Error | null, allow: boolean) => void) => void;
type ShutdownHook = () => void | Promise<void>;

export type ServeOptions = EngineServeOptions;

type ServerReserved<L extends EventsMap, E extends EventsMap, S extends EventsMap, D> =
  ServerReservedEventsMap<Socket<L, E, S, D>, Namespace<L, E, S, D>>;

/**
 * Typed as socket.io's Server: `ListenEvents` are the events clients send (socket.on),
 * `EmitEvents` those the server sends (emit, broadcasts, acks), `ServerSideEvents` those between
 * servers (serverSideEmit), `SocketData` the type of socket.data. Without them anything goes.
 */
export class Server<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Listeners<ServerSideEvents, ServerReserved<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
  readonly engine: Engine;
  readonly options: ResolvedOptions;
  /** Plain numbers bumped on the data path, for metrics to read (engine.counters has the transport's). */
  readonly counters = { eventsRateLimited: 0 };
  /** When set, called with the seconds between a client's event and the server's ack of it (metrics). */
  onAckSent: ((seconds: number) => void) | null = null;
  /** The main namespace "/". */
  readonly sockets: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  #namespaces = new Map<string, Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>();
  #parents = new Map<ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, NamespaceMatcher>();
  #adapterFactory: AdapterFactory;
  #bunServer: BunServer<WsData> | null = null;
  #shutdownHooks: ShutdownHook[] = [];
  #isClosing = false;
  /** Children of dynamic namespaces alive now, bounded by maxDynamicNamespaces. */
  #dynamicCount = 0;

  constructor(options: ServerOptions = {}) {
    super();
    this.engine = new Engine({ ...options, path: options.path ?? DEFAULTS.path, allowEIO3: options.allowEIO3 ?? DEFAULTS.allowEIO3 });
    const deflate = this.engine.options.perMessageDeflate;
    const [path, ...extraPaths] = this.engine.options.paths;
    this.options = Object.freeze({
      path: path!,
      extraPaths: Object.freeze(extraPaths),
      pingInterval: this.engine.options.pingIntervalMs,
      pingTimeout: this.engine.options.pingTimeoutMs,
      connectTimeout: options.connectTimeout ?? DEFAULTS.connectTimeout,
      maxHttpBufferSize: this.engine.options.maxHttpBufferSize,
      maxAttachments: options.maxAttachments ?? DEFAULTS.maxAttachments,
      partialPacketTimeout: options.partialPacketTimeout ?? DEFAULTS.partialPacketTimeout,
      maxPartialPacketBytes: options.maxPartialPacketBytes ?? DEFAULTS.maxPartialPacketBytes,
      maxRefusedConnects: options.maxRefusedConnects ?? DEFAULTS.maxRefusedConnects,
      compressionThreshold: deflate === false ? -1 : deflate.threshold,
      cleanupEmptyChildNamespaces: options.cleanupEmptyChildNamespaces ?? DEFAULTS.cleanupEmptyChildNamespaces,
      maxDynamicNamespaces: options.maxDynamicNamespaces ?? DEFAULTS.maxDynamicNamespaces,
      maxRoomsPerSocket: options.maxRoomsPerSocket ?? DEFAULTS.maxRoomsPerSocket,
      rateLimit: options.rateLimit === undefined || options.rateLimit.events <= 0 ? null : Object.freeze({
        events: options.rateLimit.events,
        windowMs: options.rateLimit.windowMs,
        disconnectAfter: options.rateLimit.disconnectAfter ?? DEFAULTS.rateLimitDisconnectAfter,
      }),
      connectionStateRecovery: options.connectionStateRecovery === undefined ? null : Object.freeze({
        maxDisconnectionDuration: options.connectionStateRecovery.maxDisconnectionDuration ?? DEFAULTS.maxDisconnectionDuration,
        skipMiddlewares: options.connectionStateRecovery.skipMiddlewares ?? DEFAULTS.skipMiddlewares,
        namespaces: options.connectionStateRecovery.namespaces ?? null,
      }),
    });
    this.#adapterFactory = options.adapter ?? ((host) => new LocalAdapter(host));
    this.engine.onSession = (session: Session) => {
      new Client(this as Server<any, any, any, any>, session);
    };
    this.sockets = this.of("/");
  }

  createAdapter(host: AdapterHost): Adapter {
    return this.#adapterFactory(host);
  }

  /** Replaces the adapter factory; namespaces created from now on use it (call before connections). */
  adapter(factory: AdapterFactory): this {
    this.#adapterFactory = factory;
    return this;
  }

  /** A namespace by name, or a dynamic one: a RegExp or a function decides which names exist. */
  of(
    name: string | RegExp | NamespaceMatcher,
    onConnection?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    if (typeof name === "string") {
      const normalised = name.startsWith("/") ? name : "/" + name;
      let nsp = this.#namespaces.get(normalised);
      if (nsp === undefined) {
        nsp = new Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(this, normalised);
        this.#namespaces.set(normalised, nsp);
        this.emitReserved("new_namespace", nsp);
      }
      if (onConnection) nsp.on("connection", onConnection);
      return nsp;
    }
    const parent = new ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(this, typeof name === "function" ? "/_dynamic" : "/_" + name.source);
    const matcher: NamespaceMatcher = typeof name === "function"
      ? name
      : (candidate, _auth, next) => next(null, name.test(candidate));
    this.#parents.set(parent, matcher);
    if (onConnection) parent.on("connection", onConnection);
    return parent;
  }

  get namespaces(): ReadonlyMap<string, Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    return this.#namespaces;
  }

  /**
   * socket.io's name for `namespaces`: tools written for socket.io read it (the official Admin UI's
   * `instrument()` lists namespaces and their socket counts through `io._nsps`).
   */
  get _nsps(): ReadonlyMap<string, Namespace> {
    return this.#namespaces;
  }

  /** Called by a Client for each CONNECT: an existing namespace, a dynamic match, or an error. */
  connectClient(client: Client, name: string, auth: Record<string, unknown>, query?: Record<string, string>): void {
    const nsp = this.#namespaces.get(name);
    if (nsp !== undefined) return nsp.add(client, auth, query);
    this.#matchParent([...this.#parents], 0, name, auth, (parent) => {
      if (parent === null || !client.session.isOpen) {
        client.connectSettled(name, null);
        return client.sendConnectError(name, "Invalid namespace");
      }
      let child = this.#namespaces.get(name); // another CONNECT may have created it meanwhile
      if (child === undefined) {
        // Each child holds an adapter and its maps for good (unless cleaned up): a client MUST NOT
        // be able to create them without bound by CONNECTing to made-up names.
        if (this.#dynamicCount >= this.options.maxDynamicNamespaces) {
          log.warn?.("dynamic namespace limit reached", { name, limit: this.options.maxDynamicNamespaces });
          client.connectSettled(name, null);
          return client.sendConnectError(name, "Too many namespaces");
        }
        this.#dynamicCount++;
        child = parent.createChild(name);
        this.#namespaces.set(name, child);
        this.emitReserved("new_namespace", child);
      }
      child.add(client, auth, query);
    });
  }

  #matchParent(
    parents: [ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, NamespaceMatcher][],
    index: number,
    name: string,
    auth: Record<string, unknown>,
    done: (parent: ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | null) => void,
  ): void {
    if (index === parents.length) return done(null);
    const [parent, matcher] = parents[index]!;
    let isCalled = false;
    try {
      matcher(name, auth, (err, allow) => {
        if (isCalled) return;
        isCalled = true;
        if (!err && allow) return done(parent);
        this.#matchParent(parents, index + 1, name, auth, done);
      });
    } catch (err) {
      log.warn?.("namespace matcher threw", { name, err });
      if (!isCalled) this.#matchParent(parents, index + 1, name, auth, done);
    }
  }

  onNamespaceEmpty(nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    if (!this.options.cleanupEmptyChildNamespaces) return;
    for (const parent of this.#parents.keys()) {
      if (parent.children.delete(nsp)) {
        this.#dynamicCount--;
        this.#namespaces.delete(nsp.name);
        void nsp.adapter.close();
      }
    }
  }

  // --- the main namespace's API on the server, as socket.io offers it -------------------------

  override on<Ev extends ReservedOrUserEventNames<ServerReserved<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents>>(
    event: Ev,
    listener: ReservedOrUserListener<ServerReserved<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents, Ev>,
  ): this;
  override on(event: string, listener: Listener): this {
    if (event === "connection" || event === "connect") this.sockets.on(event, listener);
    else super.on(event, listener as any);
    return this;
  }

  use(fn: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): this {
    this.sockets.use(fn);
    return this;
  }

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.in(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.except(room);
  }

  emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, Ev>): boolean {
    return this.sockets.emit(event, ...args);
  }

  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    event: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>[]> {
    return this.sockets.emitWithAck(event, ...args);
  }

  send(...args: unknown[]): this {
    this.sockets.send(...args);
    return this;
  }

  write(...args: unknown[]): this {
    return this.send(...args);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.compress(compress);
  }

  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.volatile;
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.local;
  }

  timeout(ms: number): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.timeout(ms);
  }

  fetchSockets(): Promise<(Socket<DefaultEventsMap, EmitEvents, DefaultEventsMap, SocketData> | RemoteSocket<EmitEvents, SocketData>)[]> {
    return this.sockets.fetchSockets();
  }

  socketsJoin(room: Room | Room[]): void {
    this.sockets.socketsJoin(room);
  }

  socketsLeave(room: Room | Room[]): void {
    this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false): void {
    this.sockets.disconnectSockets(close);
  }

  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(event: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean {
    return this.sockets.serverSideEmit(event, ...args);
  }

  // --- serving ---------------------------------------------------------------------------------

  /**
   * Options to spread into your own `Bun.serve`. Requests outside `path` go to `fallback`
   * (404 with a JSON body when there is none).
   */
  handler(fallback?: Fallback): ServeOptions {
    return this.engine.handler(fallback);
  }

  /** Starts a Bun server on `port` (0 picks a free one) and returns it. */
  listen(port: number | { port?: number; hostname?: string } = 3000, fallback?: Fallback): BunServer<WsData> {
    const options = typeof port === "number" ? { port } : port;
    this.#bunServer = Bun.serve<WsData>({ ...options, ...this.handler(fallback) });
    return this.#bunServer;
  }

  /** Registers work to run on close(), after sockets are disconnected (e.g. flushing queues). */
  onShutdown(hook: ShutdownHook): this {
    this.#shutdownHooks.push(hook);
    return this;
  }

  /**
   * Graceful shutdown: stop accepting, disconnect every socket with "server shutting down"
   * (clients reconnect elsewhere), run the shutdown hooks, then stop the Bun server.
   */
  async close(): Promise<void> {
    if (this.#isClosing) return;
    this.#isClosing = true;
    const server = this.#bunServer;
    void server?.stop(false);
    this.engine.closeAll("server shutting down");
    for (const hook of this.#shutdownHooks) {
      try {
        await hook();
      } catch (err) {
        log.error?.("shutdown hook failed", { err });
      }
    }
    for (const nsp of this.#namespaces.values()) await nsp.adapter.close();
    await server?.stop(true);
  }
}
