// The cross-node adapter over Redis pub/sub (ioredis), speaking the classic @socket.io/redis-adapter
// 8.x wire format so Bunsen nodes, Node Socket.IO servers and @socket.io/redis-emitter share a cluster.
// Spec: research/features.md §5 (channels, msgpack [uid, packet, opts], RequestType); recovery: §6.
import type { Redis } from "ioredis";
import msgpack from "notepack.io";
import type { Packet } from "socket.io-parser";
import { log } from "../log.ts";
import type { AdapterFactory, AdapterHost, BroadcastOptions, RecoverableSession, RestoredSession, Room, RoomMember, SocketDetails } from "./adapter.ts";
import { LocalAdapter } from "./local.ts";

/** socket.io-redis-adapter's RequestType; 7–9 are broadcasts with acks. */
export const REQUEST_TYPE = {
  SOCKETS: 0, ALL_ROOMS: 1, REMOTE_JOIN: 2, REMOTE_LEAVE: 3, REMOTE_DISCONNECT: 4, REMOTE_FETCH: 5,
  SERVER_SIDE_EMIT: 6, BROADCAST: 7, BROADCAST_CLIENT_COUNT: 8, BROADCAST_ACK: 9,
} as const;

export interface RedisAdapterOptions {
  /** Publishes and runs commands. Shared by every namespace of one Server. */
  pub: Redis;
  /** Put in subscriber mode. MUST be a connection of its own (not `pub`). */
  sub: Redis;
  /** Channel prefix, as the Node adapter's `key`. @default "socket.io" */
  key?: string;
  /** How long fetchSockets and serverSideEmit acks wait for the other nodes. @default 5000 */
  requestsTimeoutMs?: number;
}

/** An adapter factory for `new Server({ adapter })`, plus the state of its Redis connections. */
export interface RedisAdapterFactory extends AdapterFactory {
  /** Both connections are ready: cross-node traffic flows (for /readyz). */
  isRedisReady(): boolean;
  /** Publishes Redis refused or that failed on the wire since start (each one is also logged). */
  publishErrorCount(): number;
}

const DEFAULTS = { key: "socket.io", requestsTimeoutMs: 5000 };

/** Requests this node sent and waits on (fetchSockets, serverSideEmit with ack). */
type PendingRequest =
  | { type: 5; numSub: number; msgCount: number; sockets: SocketDetails[]; resolve: (s: SocketDetails[]) => void; timer: Timer }
  | { type: 6; numSub: number; responses: unknown[]; ack: (err: Error | null, responses: unknown[]) => void; timer: Timer }
  | { type: 7; onClientCount: (count: number) => void; onAck: (...args: unknown[]) => void; timer: Timer };

/** Everything a message on the request channel may carry (JSON, or msgpack for type 7). */
interface Request {
  uid?: string;
  requestId?: string;
  type: number;
  opts?: { rooms?: Room[]; except?: Room[]; flags?: BroadcastOptions["flags"] };
  rooms?: Room[];
  close?: boolean;
  data?: unknown[];
  packet?: Packet;
  sid?: string;
  room?: Room;
}

/** One pub and one sub connection for every namespace of a Server: messages are routed by channel. */
class RedisBus {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly key: string;
  readonly requestsTimeoutMs: number;
  readonly adapters = new Set<RedisAdapter>();
  #isDown = false;

  constructor(options: RedisAdapterOptions) {
    this.pub = options.pub;
    this.sub = options.sub;
    this.key = options.key ?? DEFAULTS.key;
    this.requestsTimeoutMs = options.requestsTimeoutMs ?? DEFAULTS.requestsTimeoutMs;
    this.sub.on("pmessageBuffer", (_pattern: Buffer, channel: Buffer, message: Buffer) => {
      const name = channel.toString();
      for (const adapter of this.adapters) if (name.startsWith(adapter.channel)) return adapter.onMessage(name, message);
    });
    this.sub.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      const name = channel.toString();
      for (const adapter of this.adapters) {
        if (name === adapter.requestChannel) return adapter.onRequest(message);
        if (name === adapter.responseChannel) return adapter.onResponse(message);
      }
    });
    // ioredis reconnects on its own and resubscribes (autoResubscribe); we log the outage once.
    for (const client of [this.pub, this.sub]) {
      client.on("error", (err: Error) => this.#onDown(err));
      client.on("end", () => this.#onDown());
      client.on("ready", () => {
        if (this.isReady && this.#isDown) {
          this.#isDown = false;
          log.info?.("redis reconnected: cross-node traffic resumes");
        }
      });
    }
  }

  get isReady(): boolean {
    return this.pub.status === "ready" && this.sub.status === "ready";
  }

  #onDown(err?: Error): void {
    if (this.#isDown) return;
    this.#isDown = true;
    log.warn?.("redis unavailable: serving local sockets only until it is back", { err });
  }

  /** Fire and forget: a failed publish is logged, never thrown into the caller's path. */
  publish(channel: string, message: string | Buffer): void {
    if (!this.isReady) return; // NEVER queue while down: stale broadcasts would arrive after the outage
    this.pub.publish(channel, message).catch(this.#onPublishError);
  }

  publishErrorCount = 0;

  readonly #onPublishError = (err: unknown): void => {
    this.publishErrorCount++;
    onCommandError(err);
  };
}

function onCommandError(err: unknown): void {
  log.warn?.("redis command failed", { err });
}

export function createRedisAdapter(options: RedisAdapterOptions): RedisAdapterFactory {
  const bus = new RedisBus(options);
  const factory = (host: AdapterHost) => new RedisAdapter(host, bus);
  return Object.assign(factory, { isRedisReady: () => bus.isReady, publishErrorCount: () => bus.publishErrorCount });
}

export class RedisAdapter extends LocalAdapter {
  readonly uid: string;
  /** `socket.io#<nsp>#`: broadcasts, and `socket.io#<nsp>#<room>#` for single-room ones. */
  readonly channel: string;
  readonly requestChannel: string;
  readonly responseChannel: string;
  readonly #bus: RedisBus;
  readonly #sessionPrefix: string;
  #requests = new Map<string, PendingRequest>();
  /** Sockets whose recovery snapshot changed; written once per tick. */
  #dirty: Set<RoomMember> | null = null;
  #refreshTimer: Timer | null = null;
  /** msgpack of a 3-element array whose first element is our uid: how our broadcasts start. */
  readonly #ownPrefix: Buffer;

  constructor(host: AdapterHost, bus: RedisBus) {
    const uid = randomUid();
    super(host, uid);
    this.uid = uid;
    this.#ownPrefix = Buffer.concat([Buffer.from([0x93, 0xa0 | uid.length]), Buffer.from(uid)]);
    this.#bus = bus;
    this.channel = `${bus.key}#${host.name}#`;
    this.requestChannel = `${bus.key}-request#${host.name}#`;
    this.responseChannel = `${bus.key}-response#${host.name}#`;
    this.#sessionPrefix = `${bus.key}-session#${host.name}#`;
    bus.adapters.add(this);
    bus.sub.psubscribe(this.channel + "*").catch(onCommandError);
    bus.sub.subscribe(this.requestChannel, this.responseChannel).catch(onCommandError);
    if (this.recovery !== null) {
      // Snapshots of connected sockets expire unless refreshed: a crashed node's sessions stay
      // restorable for at least half of maxDisconnectionDuration, then disappear.
      const ttlMs = this.recovery.maxDisconnectionDurationMs;
      this.#refreshTimer = setInterval(() => this.#refreshSnapshots(ttlMs), Math.max(1000, ttlMs / 2));
      this.#refreshTimer.unref();
    }
  }

  // --- broadcasts --------------------------------------------------------------------------------

  override broadcast(packet: Packet, opts: BroadcastOptions): void {
    const recovery = this.recovery;
    const offset = recovery !== null && recovery.isRecoverable(packet, opts) ? recovery.nextOffset() : undefined;
    if (opts.flags.local !== true && this.#bus.isReady) this.#publishBroadcast(packet, opts, offset);
    if (offset !== undefined) recovery!.append(offset, packet, opts);
    this.deliver(this.host.encode(packet), opts); // never waits on Redis
  }

  // The offset travels in opts, not in data: Node servers (which ignore unknown opts keys) must not
  // hand it to their clients as an extra argument.
  #publishBroadcast(packet: Packet, opts: BroadcastOptions, offset: string | undefined): void {
    const wireOpts: Record<string, unknown> = { rooms: [...opts.rooms], except: [...opts.except], flags: opts.flags };
    if (offset !== undefined) wireOpts.offset = offset;
    const message = msgpack.encode([this.uid, { type: packet.type, data: packet.data, nsp: this.host.name }, wireOpts]);
    let channel = this.channel;
    if (opts.rooms.size === 1) for (const room of opts.rooms) channel += room + "#";
    this.#bus.publish(channel, message);
  }

  /** A message on `socket.io#<nsp>#*` (socket.io-redis-adapter `onmessage`). */
  onMessage(channel: string, message: Buffer): void {
    // Our own broadcast coming back: recognised by its msgpack prefix, [uid, …], before any decoding.
    if (message.length > this.#ownPrefix.length && message.subarray(0, this.#ownPrefix.length).equals(this.#ownPrefix)) return;
    const room = channel.slice(this.channel.length, -1);
    // Without recovery, a room nobody here is in is dropped before decoding; with it, every
    // broadcast is logged so a client may recover on this node.
    if (room !== "" && this.recovery === null && !this.rooms.has(room)) return;
    let decoded: unknown;
    try {
      decoded = msgpack.decode(message);
    } catch {
      return log.debug?.("malformed redis broadcast", { channel });
    }
    if (!Array.isArray(decoded)) return;
    const [uid, packet, wireOpts] = decoded as [unknown, Packet | undefined, Record<string, any> | undefined];
    if (uid === this.uid || packet === null || typeof packet !== "object") return;
    if ((packet.nsp ?? "/") !== this.host.name) return;
    packet.nsp = this.host.name;
    const opts: BroadcastOptions = {
      rooms: new Set(wireOpts?.rooms ?? []),
      except: new Set(wireOpts?.except ?? []),
      flags: wireOpts?.flags ?? {},
    };
    const recovery = this.recovery;
    if (recovery !== null && recovery.isRecoverable(packet, opts)) {
      // Packets from the emitter or Node servers carry no offset: this node gives them one.
      recovery.append(typeof wireOpts?.offset === "string" ? wireOpts.offset : recovery.nextOffset(), packet, opts);
    }
    if (room !== "" && !this.rooms.has(room)) return;
    this.deliver(this.host.encode(packet), opts); // encoded once per node
  }

  // --- requests from other nodes -----------------------------------------------------------------

  /** A message on `socket.io-request#<nsp>#`. Every request MUST be answered: Node servers count us. */
  onRequest(message: Buffer): void {
    let request: Request;
    try {
      request = message[0] === 0x7b ? JSON.parse(message.toString()) : msgpack.decode(message);
    } catch {
      return log.debug?.("malformed redis request", { nsp: this.host.name });
    }
    if (request === null || typeof request !== "object" || request.uid === this.uid) return;
    const opts = toOptions(request.opts);
    switch (request.type) {
      case REQUEST_TYPE.SOCKETS:
        return this.#respond({ requestId: request.requestId, sockets: [...this.socketIds(toOptions({ rooms: request.rooms }))] });
      case REQUEST_TYPE.ALL_ROOMS:
        return this.#respond({ requestId: request.requestId, rooms: [...this.rooms.keys()] });
      case REQUEST_TYPE.REMOTE_JOIN:
        if (request.opts !== undefined) return super.addSockets(opts, request.rooms ?? []);
        return this.#legacy(request, (socket) => this.addAll(socket, [request.room!]));
      case REQUEST_TYPE.REMOTE_LEAVE:
        if (request.opts !== undefined) return super.delSockets(opts, request.rooms ?? []);
        return this.#legacy(request, (socket) => this.del(socket, request.room!));
      case REQUEST_TYPE.REMOTE_DISCONNECT:
        if (request.opts !== undefined) return super.disconnectSockets(opts, request.close === true);
        return this.#legacy(request, (socket) => socket.disconnect(request.close === true));
      case REQUEST_TYPE.REMOTE_FETCH:
        return this.#respond({ requestId: request.requestId, sockets: this.#localDetails(opts) });
      case REQUEST_TYPE.SERVER_SIDE_EMIT:
        return this.#onServerSideEmit(request);
      case REQUEST_TYPE.BROADCAST:
        return this.#onBroadcastWithAck(request, opts);
      default:
        log.debug?.("unknown redis request type", { type: request.type });
    }
  }

  #legacy(request: Request, apply: (socket: RoomMember) => void): void {
    const socket = request.sid === undefined ? undefined : this.host.sockets.get(request.sid);
    if (socket === undefined) return;
    apply(socket);
    this.#respond({ requestId: request.requestId });
  }

  #localDetails(opts: BroadcastOptions): { id: string; handshake: unknown; rooms: Room[]; data: unknown }[] {
    const details = [];
    for (const id of this.socketIds(opts)) {
      const socket = this.host.sockets.get(id);
      if (socket !== undefined) details.push({ id, handshake: socket.handshake, rooms: [...socket.rooms], data: socket.data });
    }
    return details;
  }

  #onServerSideEmit(request: Request): void {
    const args = Array.isArray(request.data) ? request.data : [];
    if (request.requestId === undefined) return this.host.onServerSideEmit(args);
    let isCalled = false;
    args.push((arg: unknown) => {
      if (isCalled) return;
      isCalled = true; // one answer per server, as the Node adapter
      this.#respond({ type: REQUEST_TYPE.SERVER_SIDE_EMIT, requestId: request.requestId, data: arg });
    });
    this.host.onServerSideEmit(args);
  }

  // A Node server's broadcast with acks: deliver here, report our client count, relay each ack.
  #onBroadcastWithAck(request: Request, opts: BroadcastOptions): void {
    const packet = request.packet;
    if (packet === undefined || typeof packet !== "object") return;
    packet.nsp = this.host.name;
    const requestId = request.requestId;
    super.broadcastWithAck(packet, opts, (clientCount) => {
      this.#respond({ type: REQUEST_TYPE.BROADCAST_CLIENT_COUNT, requestId, clientCount });
    }, (arg) => {
      this.#bus.publish(this.responseChannel, msgpack.encode({ type: REQUEST_TYPE.BROADCAST_ACK, requestId, packet: arg }));
    });
  }

  #respond(response: Record<string, unknown>): void {
    this.#bus.publish(this.responseChannel, JSON.stringify(response));
  }

  /** A message on `socket.io-response#<nsp>#`: answers to our requests; others' are ignored. */
  onResponse(message: Buffer): void {
    let response: { requestId?: string; sockets?: unknown; data?: unknown };
    try {
      response = message[0] === 0x7b ? JSON.parse(message.toString()) : msgpack.decode(message);
    } catch {
      return;
    }
    const requestId = response?.requestId;
    if (typeof requestId !== "string") return;
    const request = this.#requests.get(requestId);
    if (request === undefined) return;
    if (request.type === REQUEST_TYPE.BROADCAST) {
      // Kept until the broadcast's timeout: clients answer one by one, servers report their counts.
      const reply = response as { type?: number; clientCount?: unknown; packet?: unknown };
      if (reply.type === REQUEST_TYPE.BROADCAST_CLIENT_COUNT && typeof reply.clientCount === "number") request.onClientCount(reply.clientCount);
      else if (reply.type === REQUEST_TYPE.BROADCAST_ACK) request.onAck(reply.packet);
      return;
    }
    if (request.type === REQUEST_TYPE.REMOTE_FETCH) {
      request.msgCount++;
      if (Array.isArray(response.sockets)) {
        for (const s of response.sockets as SocketDetails[]) request.sockets.push({ ...s, rooms: new Set(s.rooms) });
      }
      if (request.msgCount < request.numSub) return;
      this.#settle(requestId, request);
      request.resolve(request.sockets);
    } else {
      request.responses.push(response.data);
      if (request.responses.length < request.numSub) return;
      this.#settle(requestId, request);
      request.ack(null, request.responses);
    }
  }

  #settle(requestId: string, request: PendingRequest): void {
    clearTimeout(request.timer);
    this.#requests.delete(requestId);
  }

  // --- requests to other nodes -------------------------------------------------------------------

  override serverCount(): Promise<number> {
    return this.#serverCount();
  }

  /**
   * Broadcast with acks across the cluster (socket.io-redis-adapter `broadcastWithAck`): delivered
   * here, and published as a msgpack request; every other node answers with its client count, then
   * relays each client's ack.
   */
  override broadcastWithAck(packet: Packet, opts: BroadcastOptions, onClientCount: (count: number) => void, onAck: (...args: unknown[]) => void): void {
    super.broadcastWithAck(packet, opts, onClientCount, onAck);
    if (opts.flags.local === true || !this.#bus.isReady) return;
    const requestId = randomUid();
    const timer = setTimeout(() => this.#requests.delete(requestId), opts.flags.timeout ?? this.#bus.requestsTimeoutMs);
    this.#requests.set(requestId, { type: REQUEST_TYPE.BROADCAST, onClientCount, onAck, timer });
    this.#bus.publish(this.requestChannel, msgpack.encode({
      uid: this.uid, requestId, type: REQUEST_TYPE.BROADCAST,
      packet: { type: packet.type, data: packet.data, nsp: this.host.name, id: packet.id },
      opts: wireOptions(opts),
    }));
  }

  /** Subscribers of the request channel, this node included (socket.io-redis-adapter `serverCount`). */
  async #serverCount(): Promise<number> {
    if (!this.#bus.isReady) return 1;
    const reply = (await this.#bus.pub.pubsub("NUMSUB", this.requestChannel)) as [string, number];
    return Number(reply[1]);
  }

  override async fetchSockets(opts: BroadcastOptions): Promise<SocketDetails[]> {
    const sockets: SocketDetails[] = await super.fetchSockets(opts);
    if (opts.flags.local === true) return sockets;
    const numSub = await this.#serverCount();
    if (numSub <= 1) return sockets;
    const requestId = randomUid();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(requestId);
        reject(new Error("timeout reached while waiting for fetchSockets response"));
      }, this.#bus.requestsTimeoutMs);
      this.#requests.set(requestId, { type: REQUEST_TYPE.REMOTE_FETCH, numSub, msgCount: 1, sockets, resolve, timer });
      this.#request({ requestId, type: REQUEST_TYPE.REMOTE_FETCH, opts: wireOptions(opts) });
    });
  }

  // socketsJoin/Leave/disconnectSockets apply here at once and are published for the others; our
  // own request comes back through the subscription and is ignored by uid.
  override addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    super.addSockets(opts, rooms);
    if (opts.flags.local !== true) this.#request({ type: REQUEST_TYPE.REMOTE_JOIN, opts: wireOptions(opts), rooms });
  }

  override delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    super.delSockets(opts, rooms);
    if (opts.flags.local !== true) this.#request({ type: REQUEST_TYPE.REMOTE_LEAVE, opts: wireOptions(opts), rooms });
  }

  override disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    super.disconnectSockets(opts, close);
    if (opts.flags.local !== true) this.#request({ type: REQUEST_TYPE.REMOTE_DISCONNECT, opts: wireOptions(opts), close });
  }

  override serverSideEmit(args: unknown[]): void {
    if (typeof args[args.length - 1] !== "function") {
      return this.#request({ type: REQUEST_TYPE.SERVER_SIDE_EMIT, data: args });
    }
    const ack = args.pop() as (err: Error | null, responses: unknown[]) => void;
    void this.#serverSideEmitWithAck(args, ack).catch((err) => ack(err instanceof Error ? err : new Error(String(err)), []));
  }

  async #serverSideEmitWithAck(args: unknown[], ack: (err: Error | null, responses: unknown[]) => void): Promise<void> {
    const numSub = (await this.#serverCount()) - 1; // the others
    if (numSub <= 0) return ack(null, []);
    const requestId = randomUid();
    const responses: unknown[] = [];
    const timer = setTimeout(() => {
      this.#requests.delete(requestId);
      ack(new Error(`timeout reached: only ${responses.length} responses received out of ${numSub}`), responses);
    }, this.#bus.requestsTimeoutMs);
    this.#requests.set(requestId, { type: REQUEST_TYPE.SERVER_SIDE_EMIT, numSub, responses, ack, timer });
    this.#request({ requestId, type: REQUEST_TYPE.SERVER_SIDE_EMIT, data: args });
  }

  #request(request: Omit<Request, "uid">): void {
    this.#bus.publish(this.requestChannel, JSON.stringify({ uid: this.uid, ...request }));
  }

  // --- connection state recovery across nodes ----------------------------------------------------
  // Sessions live in Redis (`socket.io-session#<nsp>#<pid>`, JSON, PX maxDisconnectionDuration) so a
  // client may come back on any node; every node logs every broadcast, so the offset is found there.
  // A snapshot is written while the socket is connected too (on join/leave): a node that crashes
  // cannot persist anything at disconnect time.

  override addAll(member: RoomMember, rooms: Iterable<Room>): void {
    super.addAll(member, rooms);
    if (member.pid !== undefined) this.#markDirty(member);
  }

  override del(member: RoomMember, room: Room): void {
    super.del(member, room);
    if (member.pid !== undefined) this.#markDirty(member);
  }

  #markDirty(member: RoomMember): void {
    if (this.#dirty === null) {
      this.#dirty = new Set();
      // After the current task: the connection handler's joins and socket.data land in one write.
      queueMicrotask(() => this.#writeSnapshots());
    }
    this.#dirty.add(member);
  }

  #writeSnapshots(): void {
    const dirty = this.#dirty!;
    this.#dirty = null;
    if (!this.#bus.isReady) return;
    const ttlMs = this.recovery!.maxDisconnectionDurationMs;
    const pipeline = this.#bus.pub.pipeline();
    for (const member of dirty) {
      if (!this.host.sockets.has(member.id)) continue; // disconnected meanwhile: persistSession wrote it
      const session = { sid: member.id, pid: member.pid!, rooms: [...member.rooms], data: member.data };
      pipeline.set(this.#sessionPrefix + member.pid, JSON.stringify(session), "PX", ttlMs);
    }
    pipeline.exec().catch(onCommandError);
  }

  #refreshSnapshots(ttlMs: number): void {
    if (!this.#bus.isReady || this.host.sockets.size === 0) return;
    const pipeline = this.#bus.pub.pipeline();
    for (const member of this.host.sockets.values()) if (member.pid !== undefined) pipeline.pexpire(this.#sessionPrefix + member.pid, ttlMs);
    pipeline.exec().catch(onCommandError);
  }

  override persistSession(session: RecoverableSession): void {
    super.persistSession(session);
    this.#dirty?.delete(this.host.sockets.get(session.sid)!);
    if (!this.#bus.isReady) return;
    this.#bus.pub.set(this.#sessionPrefix + session.pid, JSON.stringify(session), "PX", this.recovery!.maxDisconnectionDurationMs).catch(onCommandError);
  }

  override discardSession(pid: string): void {
    super.discardSession(pid);
    if (this.#bus.isReady) this.#bus.pub.del(this.#sessionPrefix + pid).catch(onCommandError);
  }

  override restoreSession(pid: string, offset: string): RestoredSession | null | Promise<RestoredSession | null> {
    const recovery = this.recovery;
    if (recovery === null) return null;
    if (!this.#bus.isReady) return super.restoreSession(pid, offset); // Redis down: this node's memory
    return this.#bus.pub.getdel(this.#sessionPrefix + pid).then((raw) => {
      const local = recovery.take(pid);
      const session: RecoverableSession | null = raw === null ? local : JSON.parse(raw);
      // Synchronous from here to the socket's joins (Namespace), so no broadcast falls in between.
      return session === null ? null : recovery.missedPackets(session, offset);
    });
  }

  override close(): void {
    const bus = this.#bus;
    bus.adapters.delete(this);
    if (this.#refreshTimer !== null) clearInterval(this.#refreshTimer);
    for (const [requestId, request] of this.#requests) this.#settle(requestId, request);
    if (bus.sub.status !== "ready") return;
    bus.sub.punsubscribe(this.channel + "*").catch(onCommandError);
    bus.sub.unsubscribe(this.requestChannel, this.responseChannel).catch(onCommandError);
  }
}

function toOptions(opts: Request["opts"]): BroadcastOptions {
  return { rooms: new Set(opts?.rooms ?? []), except: new Set(opts?.except ?? []), flags: {} };
}

function wireOptions(opts: BroadcastOptions): { rooms: Room[]; except: Room[] } {
  return { rooms: [...opts.rooms], except: [...opts.except] };
}

/** Six random characters, as uid2(6) in the Node adapter. */
function randomUid(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 6);
}
