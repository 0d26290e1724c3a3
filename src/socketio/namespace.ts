// A namespace: its sockets, connection middlewares, adapter, and broadcast entry points.
// Dynamic namespaces (a regex or a function decides) create children through ParentNamespace.
// API as socket.io 4.x lib/namespace.ts and lib/parent-namespace.ts.
import type { Adapter, AdapterHost, EncodedPacket, RestoredSession, Room } from "../rooms/adapter.ts";
import { randomId } from "../engine/engine.ts";
import { ParentAdapter } from "../rooms/parent.ts";
import { BroadcastOperator } from "./broadcast.ts";
import type { Client } from "./client.ts";
import { Listeners } from "../listeners.ts";
import { encodePacket, PacketType, type Packet } from "./packets.ts";
import type { RemoteSocket } from "./remote-socket.ts";
import type { Server } from "./server.ts";
import { Socket } from "./socket.ts";
import type { BroadcastFlags } from "../rooms/adapter.ts";
import { log } from "../log.ts";
import type {
  AllButLast, DecorateAcknowledgementsWithMultipleResponses, DefaultEventsMap, EventNames, EventNamesWithAck,
  EventParams, EventsMap, FirstNonErrorArg, Last, NamespaceReservedEventsMap,
} from "./typed-events.ts";

/** An error a middleware passes to `next`: the client's connect_error gets `message` and `data`. */
export interface ConnectError extends Error {
  data?: unknown;
}
export type Middleware<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> = (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, next: (err?: ConnectError) => void) => void;

/** The type arguments are the Server's (see Server); its `on` takes "connection" and `ServerSideEvents`. */
export class Namespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Listeners<ServerSideEvents, NamespaceReservedEventsMap<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>> implements AdapterHost {
  readonly name: string;
  readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly sockets = new Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>();
  readonly adapter: Adapter;
  readonly recovery: { readonly maxDisconnectionDurationMs: number } | null;
  #middlewares: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[] = [];
  #nextAckId = 0;

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, name: string) {
    super();
    this.server = server;
    this.name = name;
    // Recovery is opt-in per namespace: it appends an offset argument that clients unaware of it
    // (Flutter's) pass to their handlers.
    const recovery = server.options.connectionStateRecovery;
    const isRecovering = recovery !== null && (recovery.namespaces === null || recovery.namespaces.includes(name));
    this.recovery = isRecovering ? { maxDisconnectionDurationMs: recovery.maxDisconnectionDuration } : null;
    this.adapter = this.createAdapter();
  }

  protected createAdapter(): Adapter {
    return this.server.createAdapter(this);
  }

  /** Connection middleware: runs for every CONNECT to this namespace, in order. */
  use(fn: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): this {
    this.#middlewares.push(fn);
    return this;
  }

  /** A child of a dynamic namespace starts with its parent's middlewares and connection listeners. */
  inheritFrom(parent: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    this.#middlewares = parent.#middlewares.slice();
    for (const event of ["connect", "connection"] as const) for (const fn of parent.listeners(event)) this.on(event, fn);
  }

  nextAckId(): number {
    return this.#nextAckId++;
  }

  // --- connection ------------------------------------------------------------------------------

  add(client: Client, auth: Record<string, unknown>, query?: Record<string, string>): void {
    const { pid, offset } = auth;
    if (this.recovery === null || typeof pid !== "string" || typeof offset !== "string" || this.adapter.restoreSession === undefined) {
      return this.#create(client, auth, query, null);
    }
    // Connection state recovery (socket.io namespace.ts `_createSocket`): a failed restore is a fresh session.
    const restored = this.adapter.restoreSession(pid, offset);
    if (!(restored instanceof Promise)) return this.#create(client, auth, query, restored);
    restored.then(
      (session) => this.#create(client, auth, query, session),
      (err) => {
        log.warn?.("session restore failed", { nsp: this.name, err });
        this.#create(client, auth, query, null);
      },
    );
  }

  #create(client: Client, auth: Record<string, unknown>, query: Record<string, string> | undefined, session: RestoredSession | null): void {
    // A session whose socket is still connected here is not restored twice.
    if (session !== null && this.sockets.has(session.sid)) session = null;
    const socket = new Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(this, client, auth, session?.sid ?? socketId(client, this.name), query);
    if (this.recovery === null) return this.#runMiddlewares(socket, 0, null);
    socket.pid = session?.pid ?? randomId();
    if (session === null) return this.#runMiddlewares(socket, 0, null);
    socket.data = session.data as SocketData;
    socket.recovered = true;
    if (this.server.options.connectionStateRecovery!.skipMiddlewares) return this.#accept(socket, session);
    this.#runMiddlewares(socket, 0, session);
  }

  #runMiddlewares(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, index: number, session: RestoredSession | null): void {
    if (index === this.#middlewares.length) return this.#accept(socket, session);
    let isCalled = false;
    const next = (err?: ConnectError) => {
      if (isCalled) return;
      isCalled = true;
      if (err) return this.#refuse(socket, err);
      this.#runMiddlewares(socket, index + 1, session);
    };
    try {
      this.#middlewares[index]!(socket, next);
    } catch (err) {
      next(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #refuse(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, err: ConnectError): void {
    socket.client.connectSettled(this.name, null);
    log.debug?.("connection refused by middleware", { nsp: this.name, message: err.message });
    if (socket.client.session.isOpen) socket.client.sendConnectError(this.name, err.message, err.data);
  }

  #accept(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, session: RestoredSession | null): void {
    const client = socket.client;
    if (!client.session.isOpen) return client.connectSettled(this.name, null);
    socket.holdOutput();
    this.sockets.set(socket.id, socket);
    socket.onConnect();
    client.connectSettled(this.name, socket);
    if (session !== null) {
      this.adapter.addAll(socket, session.rooms);
      // Missed packets go before the CONNECT reply: the client buffers them and emits them just
      // before "connect" (socket.io socket.ts constructor, client socket.ts `receiveBuffer`).
      for (const data of session.missedPackets) this.emitToSocket(socket, { type: PacketType.EVENT, nsp: this.name, data }, {});
      socket.writeHeld();
    }
    // v5 answers CONNECT with the socket id (Flutter's client refuses a reply without it);
    // v4 (EIO3) clients expect no payload.
    const data = client.session.protocol === 3 ? undefined : socket.pid === undefined ? { sid: socket.id } : { sid: socket.id, pid: socket.pid };
    client.writePacket({ type: PacketType.CONNECT, nsp: this.name, data });
    socket.releaseOutputSoon();
    this.emitReserved("connect", socket);
    this.emitReserved("connection", socket);
  }

  remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    this.sockets.delete(socket.id);
    if (this.sockets.size === 0) this.server.onNamespaceEmpty(this);
  }

  // --- writing ---------------------------------------------------------------------------------

  /** A packet for one socket (emit, ack, disconnect). */
  emitToSocket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(socket: Socket, packet: Packet, flags: BroadcastFlags): void {
    socket.writeEncoded(encodePacket(packet), flags.volatile === true, flags.compress !== false);
  }

  encode(packet: Packet): EncodedPacket {
    return encodePacket(packet);
  }

  publish(topic: string, packet: EncodedPacket, compress: boolean): void {
    const { engine } = this.server;
    const server = engine.bunServer;
    if (server === null) return;
    const threshold = this.server.options.compressionThreshold;
    engine.countPublished(topic, server.publish(topic, packet.text, compress && threshold >= 0 && packet.text.length >= threshold), 0);
    if (packet.attachments !== null) for (const attachment of packet.attachments) engine.countPublished(topic, server.publish(topic, attachment), 0);
  }

  // --- broadcasting ----------------------------------------------------------------------------

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.to(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).except(room);
  }

  emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, Ev>): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    return (new BroadcastOperator(this) as BroadcastOperator<any>).emit(event, ...args);
  }

  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    event: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>[]>;
  emitWithAck(event: string, ...args: unknown[]): Promise<unknown[]> {
    return (new BroadcastOperator(this) as BroadcastOperator<any>).emitWithAck(event, ...args);
  }

  send(...args: unknown[]): this {
    (this as Namespace<any, any>).emit("message", ...args);
    return this;
  }

  write(...args: unknown[]): this {
    return this.send(...args);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).compress(compress);
  }

  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).volatile;
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).local;
  }

  timeout(ms: number): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).timeout(ms);
  }

  fetchSockets(): Promise<(Socket<DefaultEventsMap, EmitEvents, DefaultEventsMap, SocketData> | RemoteSocket<EmitEvents, SocketData>)[]> {
    return new BroadcastOperator<EmitEvents, SocketData>(this).fetchSockets();
  }

  socketsJoin(room: Room | Room[]): void {
    new BroadcastOperator<EmitEvents, SocketData>(this).socketsJoin(room);
  }

  socketsLeave(room: Room | Room[]): void {
    new BroadcastOperator<EmitEvents, SocketData>(this).socketsLeave(room);
  }

  disconnectSockets(close = false): void {
    new BroadcastOperator<EmitEvents, SocketData>(this).disconnectSockets(close);
  }

  /** Emits to the other nodes' instances of this namespace (their "serverSideEmit" listeners... as socket.io: plain listeners). */
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(event: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean;
  serverSideEmit(event: string, ...args: unknown[]): boolean {
    this.adapter.serverSideEmit([event, ...args]);
    return true;
  }

  /** Delivers a serverSideEmit from another node to this namespace's listeners. */
  onServerSideEmit(args: unknown[]): void {
    this.dispatch(String(args[0]), args.slice(1));
  }
}

/** A dynamic namespace: children are created when a CONNECT matches, and share its setup. */
export class ParentNamespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  readonly children = new Set<Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>();

  // Runs from Namespace's constructor, before `children` exists: read it lazily.
  protected override createAdapter(): Adapter {
    return new ParentAdapter(() => this.children);
  }

  createChild(name: string): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    const child = new Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(this.server, name);
    child.inheritFrom(this);
    this.children.add(child);
    return child;
  }

  override emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, Ev>): boolean;
  override emit(event: string, ...args: unknown[]): boolean {
    for (const child of this.children) (child as Namespace<any, any>).emit(event, ...args);
    return true;
  }
}

// v4 protocol (EIO3) clients compute their socket id from the engine sid (socket.io-client v2
// `generateId`), so the server MUST use the same (socket.io lib/socket.ts). v5 ids never reuse the
// sid: knowing it is enough to hijack a long-polling session.
function socketId(client: Client, nsp: string): string {
  if (client.session.protocol === 4) return randomId();
  return nsp === "/" ? client.session.sid : nsp + "#" + client.session.sid;
}
