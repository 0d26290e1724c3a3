// Socket.IO socket: one client's connection to one namespace. Events and acks both ways, per-packet
// middlewares, catch-all listeners, rooms, and the broadcast operators seen from this socket.
// Spec: socket.io-protocol v5 "EVENT", "ACK", "DISCONNECT"; API as socket.io 4.x lib/socket.ts.
import type { BroadcastFlags, EncodedPacket, Room, RoomMember } from "../rooms/adapter.ts";
import { BroadcastOperator } from "./broadcast.ts";
import type { Client } from "./client.ts";
import type { EngineSocket } from "../engine/socket.ts";
import { invoke, Listeners, type Listener } from "../listeners.ts";
import type { Namespace } from "./namespace.ts";
import { assertEmittable, encodePacket, PacketType, type Packet } from "./packets.ts";
import { RECOVERABLE_REASONS, type DisconnectReason } from "./reasons.ts";
import { log } from "../log.ts";
import type {
  AllButLast, DecorateAcknowledgements, DefaultEventsMap, EventNames, EventNamesWithAck, EventParams, EventsMap,
  FirstNonErrorArg, Last, SocketReservedEventsMap,
} from "./typed-events.ts";

export interface Handshake {
  headers: Record<string, string>;
  time: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: Record<string, string>;
  auth: Record<string, unknown>;
}

export type EventArgs = [event: string, ...args: unknown[]];
export type PacketMiddleware = (packet: EventArgs, next: (err?: Error) => void) => void;
type Ack = (...args: unknown[]) => void;
/** A type-only view for Bunsen's own emits ("error", "message"), which are outside the user's EmitEvents. */
type AnySocket = Socket<any, any, any, any>;

/**
 * How long a new socket's own output waits after its CONNECT reply (Socket.holdOutput). Bun writes
 * everything sent in one turn as one TCP chunk, and readers that take one message per event turn
 * (the official protocol suite's `ws` client, any `await`-per-message reader) then miss the frames
 * behind the reply; the reference server sends its next packet only once the previous write is
 * done. Measured with the suite's reader, 600 connects each: 1 ms lost the frame behind the reply
 * in 3 %, 10 ms in 0.2 %, 20 ms never. The hold ends early when the client sends this socket a
 * packet (it has read the reply then), and only this socket waits, not the connection.
 */
const CONNECT_REPLY_GAP_MS = 20;

/**
 * The type arguments are the Server's (see Server): `ListenEvents` types `socket.on`, `EmitEvents`
 * `socket.emit` and its acks, `SocketData` `socket.data`.
 */
export class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Listeners<ListenEvents, SocketReservedEventsMap> implements RoomMember {
  readonly id: string;
  readonly nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly client: Client;
  /** Application data: anything, shared with fetchSockets() across nodes. */
  #data: SocketData | undefined = undefined;
  #handshake: Handshake | undefined = undefined;
  readonly #auth: Record<string, unknown>;
  readonly #extraQuery: Record<string, string> | undefined;
  connected = false;
  /** true when this connection restored a previous session (connection state recovery). */
  recovered = false;
  /** Private id used by connection state recovery; set when recovery is on. */
  pid: string | undefined = undefined;

  #acks: Map<number, Ack> | null = null;
  #nextAckId = 0;
  #flags: BroadcastFlags = {};
  #middlewares: PacketMiddleware[] | null = null;
  #anyListeners: Listener[] | null = null;
  #anyOutgoingListeners: Listener[] | null = null;
  // Rate limit (options.rateLimit): a token bucket as two numbers, so an event costs O(1) and no
  // allocation. Tokens may go negative: refused events are debt, and past the abuse floor we close.
  #tokens = 0;
  #refilledAt = 0;
  #isOverLimit = false;
  /** Packets and their compress flags held from CONNECT until shortly after its reply; null when not holding. */
  #held: (EncodedPacket | boolean)[] | null = null;

  constructor(nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, client: Client, auth: Record<string, unknown>, id: string, extraQuery?: Record<string, string>) {
    super();
    this.nsp = nsp;
    this.client = client;
    this.id = id;
    this.#auth = auth;
    this.#extraQuery = extraQuery;
  }

  // handshake and data are built on first use: an idle socket that never reads them costs two
  // objects less (bench: memory per idle connection).
  get handshake(): Handshake {
    if (this.#handshake !== undefined) return this.#handshake;
    const request = this.client.session.request;
    const extraQuery = this.#extraQuery;
    return (this.#handshake = {
      headers: request.headers,
      time: new Date(request.issued).toString(),
      address: request.address,
      xdomain: request.headers.origin !== undefined,
      secure: request.secure,
      issued: request.issued,
      url: request.url,
      query: extraQuery === undefined ? request.query : { ...request.query, ...extraQuery },
      auth: this.#auth,
    });
  }

  get data(): SocketData {
    return (this.#data ??= {} as SocketData);
  }

  set data(value: SocketData) {
    this.#data = value;
  }

  /** The Engine.IO connection under this socket, as socket.io's `socket.conn` (the same object as io.engine's `connection`). */
  get conn(): EngineSocket {
    return this.nsp.server.engine.socketOf(this.client.session);
  }

  get rooms(): Set<Room> {
    return new Set(this.nsp.adapter.sids.get(this.id));
  }

  // Not while output is held: a topic frame would overtake the held ones.
  get canSubscribe(): boolean {
    return this.#held === null && this.client.session.canSubscribe;
  }

  get disconnected(): boolean {
    return !this.connected;
  }

  // --- outgoing -------------------------------------------------------------------------------

  /** Sends an event to this client; a trailing function receives the client's ack. */
  emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    assertEmittable(event);
    const data: unknown[] = [event, ...args];
    const packet: Packet = { type: PacketType.EVENT, nsp: this.nsp.name, data };
    const flags = this.#flags;
    this.#flags = {};
    if (typeof data[data.length - 1] === "function") {
      const ack = data.pop() as Ack;
      const id = this.#nextAckId++;
      packet.id = id;
      this.#registerAck(id, ack, flags.timeout);
    }
    if (this.#anyOutgoingListeners !== null) this.#notifyAny(this.#anyOutgoingListeners, data);
    // With recovery on, a private event goes through the adapter to the socket's own room, so it is
    // logged with an offset and replayed after a reconnection (socket.io lib/socket.ts `emit`).
    if (this.pid !== undefined && packet.id === undefined && flags.volatile !== true) {
      this.nsp.adapter.broadcast(packet, { rooms: new Set([this.id]), except: new Set(), flags });
    } else {
      this.nsp.emitToSocket(this, packet, flags);
    }
    return true;
  }

  /** Emits and resolves with the client's ack (rejects on timeout when `timeout()` was set). */
  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    event: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>>;
  emitWithAck(event: string, ...args: unknown[]): Promise<any> {
    const hasTimeout = this.#flags.timeout !== undefined;
    return new Promise((resolve, reject) => {
      args.push(hasTimeout
        ? (err: Error | null, response: unknown) => (err ? reject(err) : resolve(response))
        : (response: unknown) => resolve(response));
      (this as AnySocket).emit(event, ...args);
    });
  }

  send(...args: unknown[]): this {
    (this as AnySocket).emit("message", ...args);
    return this;
  }

  write(...args: unknown[]): this {
    return this.send(...args);
  }

  /** Sends an already encoded packet: the per-socket end of every broadcast. */
  writeEncoded(packet: EncodedPacket, isVolatile: boolean, compress: boolean): void {
    if (this.#held !== null) {
      this.#held.push(packet, compress);
      return;
    }
    this.client.write(packet, isVolatile, compress);
  }

  /**
   * From CONNECT (before any room is joined) until CONNECT_REPLY_GAP_MS after the reply, this
   * socket's packets wait, so the reply leaves alone. Rooms joined meanwhile are served by direct
   * writes and move onto Bun topics when the hold ends, so no broadcast overtakes a held packet.
   * WebSocket only: a long-polling response carries many packets anyway.
   */
  holdOutput(): void {
    if (this.client.session.ws !== null) this.#held = [];
  }

  /** Writes what is held now and goes on holding (the missed packets that precede the reply). */
  writeHeld(): void {
    const held = this.#held;
    if (held === null || held.length === 0) return;
    this.#held = [];
    for (let i = 0; i < held.length; i += 2) this.client.write(held[i] as EncodedPacket, false, held[i + 1] as boolean);
  }

  /** The reply is written: the hold ends after the gap. */
  releaseOutputSoon(): void {
    if (this.#held !== null) setTimeout(endHold, CONNECT_REPLY_GAP_MS, this);
  }

  endHold(): void {
    if (this.#held === null) return;
    const ws = this.client.session.ws;
    if (ws !== null && this.#held.length > 0) ws.cork(() => this.writeHeld());
    else this.writeHeld();
    this.#held = null;
    if (this.connected) this.nsp.adapter.onTransportChange(this);
  }

  #registerAck(id: number, ack: Ack, timeoutMs: number | undefined): void {
    this.#acks ??= new Map();
    if (timeoutMs === undefined) {
      this.#acks.set(id, ack);
      return;
    }
    const timer = setTimeout(() => {
      this.#acks?.delete(id);
      ack(new Error("operation has timed out"));
    }, timeoutMs);
    this.#acks.set(id, (...args: unknown[]) => {
      clearTimeout(timer);
      ack(null, ...args);
    });
  }

  expectAck(id: number, ack: Ack): void {
    this.#acks ??= new Map();
    this.#acks.set(id, ack);
  }

  get volatile(): this {
    this.#flags.volatile = true;
    return this;
  }

  compress(compress: boolean): this {
    this.#flags.compress = compress;
    return this;
  }

  /** The next emit's ack gets an `Error` first: null when the client answered within `ms`. */
  timeout(ms: number): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>, ServerSideEvents, SocketData> {
    this.#flags.timeout = ms;
    return this as Socket<any, any, any, any>;
  }

  // --- broadcasting from this socket (the sender is excluded, as in socket.io) -----------------

  #operator(): BroadcastOperator<EmitEvents, SocketData> {
    const flags = this.#flags;
    this.#flags = {};
    return new BroadcastOperator(this.nsp, new Set(), new Set([this.id]), flags);
  }

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.#operator().to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.#operator().to(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.#operator().except(room);
  }

  get broadcast(): BroadcastOperator<EmitEvents, SocketData> {
    return this.#operator();
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.#operator().local;
  }

  // --- rooms -----------------------------------------------------------------------------------

  /** Joins rooms; false (and nothing joined) when it would exceed `maxRoomsPerSocket`. */
  join(rooms: Room | Room[]): boolean {
    if (!this.connected) return false;
    const list = Array.isArray(rooms) ? rooms : [rooms];
    const max = this.nsp.server.options.maxRoomsPerSocket;
    if (max > 0 && this.#roomCountAfter(list) > max) {
      log.debug?.("room limit reached", { sid: this.id, limit: max });
      return false;
    }
    this.nsp.adapter.addAll(this, list);
    return true;
  }

  /** Rooms this socket would be in after joining `rooms`, its own room not counted. */
  #roomCountAfter(rooms: Room[]): number {
    const own = this.nsp.adapter.sids.get(this.id);
    let count = own === undefined ? 0 : own.size - (own.has(this.id) ? 1 : 0);
    for (const room of rooms) if (room !== this.id && !own?.has(room)) count++;
    return count;
  }

  leave(room: Room): void {
    this.nsp.adapter.del(this, room);
  }

  subscribe(topic: string): void {
    this.client.session.ws?.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    const ws = this.client.session.ws;
    if (ws !== null && ws.readyState === 1) ws.unsubscribe(topic);
  }

  publishFrom(topic: string, packet: EncodedPacket, compress: boolean): void {
    const ws = this.client.session.ws;
    if (ws === null) return;
    const { engine } = this.nsp.server;
    // ws.publish skips the sender, one of the topic's subscribers.
    engine.countPublished(topic, ws.publish(topic, packet.text, this.client.shouldCompress(compress, packet.text.length)), 1);
    if (packet.attachments !== null) for (const attachment of packet.attachments) engine.countPublished(topic, ws.publish(topic, attachment), 1);
  }

  // --- incoming --------------------------------------------------------------------------------

  /** Per-packet middleware, run before the event's listeners; `next(err)` emits "error" here. */
  use(fn: PacketMiddleware): this {
    (this.#middlewares ??= []).push(fn);
    return this;
  }

  onPacket(packet: Packet): void {
    if (this.#held !== null) this.endHold();
    switch (packet.type) {
      case PacketType.EVENT:
      case PacketType.BINARY_EVENT:
        return this.#onEvent(packet);
      case PacketType.ACK:
      case PacketType.BINARY_ACK:
        return this.#onAck(packet);
      case PacketType.DISCONNECT:
        return this.onClose("client namespace disconnect");
      default: // CONNECT_ERROR, or CONNECT on a connected namespace: not a client's packet
        log.debug?.("unexpected packet", { sid: this.id, type: packet.type });
        this.client.session.close("parse error");
    }
  }

  #onEvent(packet: Packet): void {
    if (this.#rateLimit !== null && !this.#takeToken(packet.id)) return;
    const args = packet.data as unknown[];
    if (packet.id !== undefined) args.push(this.#ackFor(packet.id));
    if (this.#anyListeners !== null) this.#notifyAny(this.#anyListeners, args);
    if (this.#middlewares === null) return this.#dispatchEvent(args);
    this.#runMiddlewares(args as EventArgs, 0);
  }

  get #rateLimit() {
    return this.nsp.server.options.rateLimit;
  }

  /**
   * false when the event is over the rate limit. The client is always told: an event with an ack gets
   * its ack answered with the refusal, one without gets an `error` event. Past `disconnectAfter` × the
   * limit the transport is closed, so socket.io-client reconnects (with its backoff) rather than
   * giving up as it does after a server-side disconnect.
   */
  #takeToken(ackId: number | undefined): boolean {
    const { events, windowMs, disconnectAfter } = this.#rateLimit!;
    const now = performance.now();
    this.#tokens = Math.min(events, this.#tokens + ((now - this.#refilledAt) * events) / windowMs);
    this.#refilledAt = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) {
      this.#isOverLimit = false;
      return true;
    }
    this.nsp.server.counters.eventsRateLimited++;
    if (this.#tokens < -events * disconnectAfter) {
      log.info?.("rate limit: closing the connection", { sid: this.id, nsp: this.nsp.name, events, windowMs, disconnectAfter });
      this.client.session.close("rate limited");
      return false;
    }
    if (!this.#isOverLimit) {
      this.#isOverLimit = true;
      log.info?.("rate limit: refusing events", { sid: this.id, nsp: this.nsp.name, events, windowMs });
    }
    const retryAfterMs = Math.ceil((-this.#tokens * windowMs) / events);
    const error = { code: "rate_limited", message: `more than ${events} events in ${windowMs} ms`, retryAfterMs };
    if (ackId !== undefined) this.#ackFor(ackId)({ ok: false, error });
    else (this as AnySocket).emit("error", error);
    return false;
  }

  #runMiddlewares(args: EventArgs, index: number): void {
    const middlewares = this.#middlewares!;
    if (index === middlewares.length) return this.#dispatchEvent(args);
    try {
      middlewares[index]!(args, (err) => {
        if (err) return this.#onError(err);
        if (this.connected) this.#runMiddlewares(args, index + 1);
      });
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #dispatchEvent(args: unknown[]): void {
    if (!this.connected) return;
    this.dispatch(String(args[0]), args.slice(1));
  }

  #onError(err: Error): void {
    if (this.listenerCount("error") > 0) this.emitReserved("error", err);
    else log.debug?.("packet middleware refused an event", { sid: this.id, err });
  }

  #ackFor(id: number): Ack {
    let isSent = false;
    const onAckSent = this.nsp.server.onAckSent;
    const receivedAt = onAckSent === null ? 0 : performance.now();
    return (...args: unknown[]) => {
      if (isSent || !this.connected) return;
      isSent = true;
      this.nsp.emitToSocket(this, { type: PacketType.ACK, nsp: this.nsp.name, id, data: args }, {});
      onAckSent?.((performance.now() - receivedAt) / 1000);
    };
  }

  #onAck(packet: Packet): void {
    const ack = this.#acks?.get(packet.id!);
    if (ack === undefined) {
      log.debug?.("ack for an unknown id", { sid: this.id, id: packet.id });
      return;
    }
    this.#acks!.delete(packet.id!);
    invoke(this, ack, packet.data as unknown[], "ack");
  }

  // --- catch-all listeners ---------------------------------------------------------------------

  onAny(listener: Listener): this {
    (this.#anyListeners ??= []).push(listener);
    return this;
  }

  prependAny(listener: Listener): this {
    (this.#anyListeners ??= []).unshift(listener);
    return this;
  }

  offAny(listener?: Listener): this {
    this.#anyListeners = removeListener(this.#anyListeners, listener);
    return this;
  }

  listenersAny(): Listener[] {
    return this.#anyListeners?.slice() ?? [];
  }

  onAnyOutgoing(listener: Listener): this {
    (this.#anyOutgoingListeners ??= []).push(listener);
    return this;
  }

  prependAnyOutgoing(listener: Listener): this {
    (this.#anyOutgoingListeners ??= []).unshift(listener);
    return this;
  }

  offAnyOutgoing(listener?: Listener): this {
    this.#anyOutgoingListeners = removeListener(this.#anyOutgoingListeners, listener);
    return this;
  }

  listenersAnyOutgoing(): Listener[] {
    return this.#anyOutgoingListeners?.slice() ?? [];
  }

  #notifyAny(listeners: Listener[], args: unknown[]): void {
    for (const listener of listeners.slice()) invoke(this, listener, args, "any");
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /** Called by the namespace once middlewares accepted the socket. */
  onConnect(): void {
    this.connected = true;
    const rateLimit = this.#rateLimit;
    if (rateLimit !== null) {
      this.#tokens = rateLimit.events;
      this.#refilledAt = performance.now();
    }
    this.nsp.adapter.addAll(this, [this.id]);
  }

  #endSession(reason: DisconnectReason): void {
    const adapter = this.nsp.adapter;
    if (RECOVERABLE_REASONS.has(reason)) {
      adapter.persistSession?.({ sid: this.id, pid: this.pid!, rooms: [...this.rooms], data: this.data });
    } else {
      adapter.discardSession?.(this.pid!);
    }
  }

  /**
   * Disconnects this socket from its namespace; with `close`, ends the whole connection
   * (every namespace on it). The client sees "io server disconnect".
   */
  disconnect(close = false): this {
    if (!this.connected) return this;
    if (close) {
      this.client.disconnectAll();
      return this;
    }
    this.nsp.emitToSocket(this, { type: PacketType.DISCONNECT, nsp: this.nsp.name }, {});
    this.onClose("server namespace disconnect");
    return this;
  }

  /** Ends the socket. MUST be idempotent: the client, the namespace and the transport call it. */
  onClose(reason: DisconnectReason, description?: unknown): void {
    if (!this.connected) return;
    // Held packets (a DISCONNECT from a connection handler) leave before the socket goes.
    if (this.#held !== null) {
      this.writeHeld();
      this.#held = null;
    }
    this.emitReserved("disconnecting", reason, description);
    if (this.pid !== undefined) this.#endSession(reason);
    this.nsp.adapter.delAll(this);
    this.nsp.remove(this);
    this.client.remove(this);
    this.connected = false;
    this.emitReserved("disconnect", reason, description);
  }
}

function removeListener(list: Listener[] | null, listener?: Listener): Listener[] | null {
  if (list === null || listener === undefined) return null;
  const index = list.indexOf(listener);
  if (index !== -1) list.splice(index, 1);
  return list.length === 0 ? null : list;
}

function endHold(socket: AnySocket): void {
  socket.endHold();
}
