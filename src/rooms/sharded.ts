// The cross-node adapter over Redis 7 sharded pub/sub (SSUBSCRIBE/SPUBLISH), for a Redis Cluster
// where classic pub/sub would copy every message to every shard. It speaks the wire format of
// @socket.io/redis-adapter's createShardedAdapter (socket.io-adapter's ClusterAdapter messages),
// so Bunsen nodes and Node Socket.IO servers share one cluster:
//   message  {uid, nsp, type, data}: JSON, or msgpack when it carries binary
//   channels `<key>#<nsp>#` (every node), `<key>#<nsp>#<uid>#` (responses to one node), and in the
//            "dynamic" mode `<key>#<nsp>#<room>#` per public room, subscribed while the room has
//            members here, so a single-room broadcast reaches only the nodes that have the room.
// Connection state recovery stays per node with this adapter (the classic one shares it).
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import msgpack from "notepack.io";
import type { Packet } from "socket.io-parser";
import { log } from "../log.ts";
import type { AdapterHost, BroadcastOptions, Room, SocketDetails } from "./adapter.ts";
import { LocalAdapter } from "./local.ts";
import type { RedisAdapterFactory } from "./redis.ts";

/** socket.io-adapter's MessageType. */
export const MESSAGE_TYPE = {
  INITIAL_HEARTBEAT: 1, HEARTBEAT: 2, BROADCAST: 3, SOCKETS_JOIN: 4, SOCKETS_LEAVE: 5, DISCONNECT_SOCKETS: 6,
  FETCH_SOCKETS: 7, FETCH_SOCKETS_RESPONSE: 8, SERVER_SIDE_EMIT: 9, SERVER_SIDE_EMIT_RESPONSE: 10,
  BROADCAST_CLIENT_COUNT: 11, BROADCAST_ACK: 12, ADAPTER_CLOSE: 13,
} as const;

/**
 * "dynamic" (the default, as the Node adapter's): a channel per public room; "static": one channel
 * per namespace; "dynamic-private": a channel per room, a socket's own room included.
 */
export type SubscriptionMode = "static" | "dynamic" | "dynamic-private";

export interface ShardedRedisAdapterOptions {
  /** Publishes (SPUBLISH) and asks SHARDNUMSUB. A Redis, or a Redis Cluster. */
  pub: Redis | Cluster;
  /** Subscribes (SSUBSCRIBE). A connection of its own; a Cluster needs `shardedSubscribers: true`. */
  sub: Redis | Cluster;
  /** Channel prefix, as the Node adapter's `channelPrefix`. @default "socket.io" */
  key?: string;
  /** @default "dynamic" */
  subscriptionMode?: SubscriptionMode;
  /** How long fetchSockets and serverSideEmit acks wait for the other nodes. @default 5000 */
  requestsTimeoutMs?: number;
}

interface WireOptions {
  rooms?: Room[];
  except?: Room[];
  flags?: BroadcastOptions["flags"];
}

interface Message {
  uid?: string;
  nsp?: string;
  type: number;
  data?: {
    packet?: unknown;
    opts?: WireOptions;
    requestId?: string;
    rooms?: Room[];
    close?: boolean;
    clientCount?: number;
    sockets?: { id: string; handshake: unknown; rooms: Room[]; data: unknown }[];
  };
}

const RESPONSE_TYPES: ReadonlySet<number> = new Set([
  MESSAGE_TYPE.FETCH_SOCKETS_RESPONSE, MESSAGE_TYPE.SERVER_SIDE_EMIT_RESPONSE, MESSAGE_TYPE.BROADCAST_CLIENT_COUNT, MESSAGE_TYPE.BROADCAST_ACK,
]);

type PendingRequest =
  | { type: 7; expected: number; current: number; sockets: SocketDetails[]; resolve: (s: SocketDetails[]) => void; timer: Timer }
  | { type: 9; expected: number; current: number; responses: unknown[]; ack: (err: Error | null, responses: unknown[]) => void; timer: Timer };

type Handler = (message: Buffer) => void;

/** One pub and one sub connection for every namespace of a Server; messages routed by channel. */
class ShardedBus {
  readonly pub: Redis | Cluster;
  readonly sub: Redis | Cluster;
  readonly key: string;
  readonly mode: SubscriptionMode;
  readonly requestsTimeoutMs: number;
  readonly #handlers = new Map<string, Handler>();
  #isDown = false;

  constructor(options: ShardedRedisAdapterOptions) {
    this.pub = options.pub;
    this.sub = options.sub;
    this.key = options.key ?? "socket.io";
    this.mode = options.subscriptionMode ?? "dynamic";
    this.requestsTimeoutMs = options.requestsTimeoutMs ?? 5_000;
    this.sub.on("smessageBuffer", (channel: Buffer, message: Buffer) => this.#handlers.get(channel.toString())?.(message));
    for (const client of new Set([this.pub, this.sub])) {
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

  subscribe(channel: string, handler: Handler): void {
    this.#handlers.set(channel, handler);
    this.sub.ssubscribe(channel).catch(onCommandError);
  }

  unsubscribe(channel: string): void {
    if (!this.#handlers.delete(channel)) return;
    if (this.sub.status === "ready") this.sub.sunsubscribe(channel).catch(onCommandError);
  }

  /** Fire and forget; never queued while Redis is down (stale broadcasts would arrive late). */
  publish(channel: string, message: string | Buffer): void {
    if (!this.isReady) return;
    this.pub.spublish(channel, message).catch(this.#onPublishError);
  }

  publishErrorCount = 0;

  readonly #onPublishError = (err: unknown): void => {
    this.publishErrorCount++;
    onCommandError(err);
  };

  /** Subscribers of `channel` over every shard (PUBSUB SHARDNUMSUB). */
  async numSub(channel: string): Promise<number> {
    const nodes = isCluster(this.pub) ? this.pub.nodes("master") : [this.pub];
    const counts = await Promise.all(nodes.map(async (node) => {
      const reply = (await node.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number | string];
      return Number(reply[1]);
    }));
    return counts.reduce((sum, n) => sum + n, 0);
  }
}

function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

function onCommandError(err: unknown): void {
  log.warn?.("redis command failed", { err });
}

/** An adapter factory for `new Server({ adapter })` on sharded pub/sub (Redis ≥ 7, or a Redis Cluster). */
export function createShardedRedisAdapter(options: ShardedRedisAdapterOptions): RedisAdapterFactory {
  const bus = new ShardedBus(options);
  const factory = (host: AdapterHost) => new ShardedRedisAdapter(host, bus);
  return Object.assign(factory, { isRedisReady: () => bus.isReady, publishErrorCount: () => bus.publishErrorCount });
}

export class ShardedRedisAdapter extends LocalAdapter {
  readonly uid: string;
  /** `<key>#<nsp>#`. */
  readonly channel: string;
  readonly responseChannel: string;
  readonly #bus: ShardedBus;
  readonly #requests = new Map<string, PendingRequest>();
  readonly #ackRequests = new Map<string, { onClientCount: (count: number) => void; onAck: (...args: unknown[]) => void }>();
  /** Dynamic room channels subscribed here. */
  readonly #roomChannels = new Set<string>();
  readonly #onMessage = (raw: Buffer) => this.#receive(raw, false);

  constructor(host: AdapterHost, bus: ShardedBus) {
    const uid = randomBytes(8).toString("hex");
    super(host, uid);
    this.uid = uid;
    this.#bus = bus;
    this.channel = `${bus.key}#${host.name}#`;
    this.responseChannel = `${this.channel}${uid}#`;
    bus.subscribe(this.channel, this.#onMessage);
    bus.subscribe(this.responseChannel, (raw) => this.#receive(raw, true));
  }

  // --- rooms: their channels follow their life on this node ---------------------------------------

  protected override onRoomCreated(room: Room): void {
    if (!this.#hasOwnChannel(room)) return;
    const channel = this.#roomChannel(room);
    this.#roomChannels.add(channel);
    this.#bus.subscribe(channel, this.#onMessage);
  }

  protected override onRoomDeleted(room: Room): void {
    const channel = this.#roomChannel(room);
    if (this.#roomChannels.delete(channel)) this.#bus.unsubscribe(channel);
  }

  // A socket's own room rides the namespace channel in "dynamic" mode: it is private, and its
  // creation comes with the socket (checked as the Node adapter does: a room that is a socket id here).
  #hasOwnChannel(room: Room): boolean {
    const mode = this.#bus.mode;
    return mode === "dynamic-private" || (mode === "dynamic" && !this.sids.has(room));
  }

  #roomChannel(room: Room): string {
    return `${this.channel}${room}#`;
  }

  // The sender's side of the same rule, on what it can know: a 20-character room looks like a
  // socket id (Node's looksLikeASocketId), and a broadcast with acks needs every server's count.
  #channelOf(message: Message): string {
    const rooms = message.data?.opts?.rooms;
    if (message.type !== MESSAGE_TYPE.BROADCAST || message.data?.requestId !== undefined || rooms?.length !== 1) return this.channel;
    const mode = this.#bus.mode;
    if (mode === "dynamic-private" || (mode === "dynamic" && rooms[0]!.length !== 20)) return this.#roomChannel(rooms[0]!);
    return this.channel;
  }

  // --- outgoing ----------------------------------------------------------------------------------

  #publish(message: Message): void {
    message.uid = this.uid;
    message.nsp = this.host.name;
    this.#bus.publish(this.#channelOf(message), encode(message));
  }

  #publishResponse(requesterUid: string, response: Message): void {
    response.uid = this.uid;
    response.nsp = this.host.name;
    this.#bus.publish(`${this.channel}${requesterUid}#`, encode(response));
  }

  override broadcast(packet: Packet, opts: BroadcastOptions): void {
    if (opts.flags.local !== true && this.#bus.isReady) {
      this.#publish({ type: MESSAGE_TYPE.BROADCAST, data: { packet: wirePacket(packet, this.host.name), opts: wireOptions(opts) } });
    }
    super.broadcast(packet, opts); // never waits on Redis
  }

  override broadcastWithAck(packet: Packet, opts: BroadcastOptions, onClientCount: (count: number) => void, onAck: (...args: unknown[]) => void): void {
    if (opts.flags.local !== true && this.#bus.isReady) {
      const requestId = randomBytes(8).toString("hex");
      this.#ackRequests.set(requestId, { onClientCount, onAck });
      this.#publish({ type: MESSAGE_TYPE.BROADCAST, data: { packet: wirePacket(packet, this.host.name), requestId, opts: wireOptions(opts) } });
      setTimeout(() => this.#ackRequests.delete(requestId), opts.flags.timeout ?? this.#bus.requestsTimeoutMs).unref();
    }
    super.broadcastWithAck(packet, opts, onClientCount, onAck);
  }

  override addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    if (opts.flags.local !== true) this.#publish({ type: MESSAGE_TYPE.SOCKETS_JOIN, data: { opts: wireOptions(opts), rooms } });
    super.addSockets(opts, rooms);
  }

  override delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    if (opts.flags.local !== true) this.#publish({ type: MESSAGE_TYPE.SOCKETS_LEAVE, data: { opts: wireOptions(opts), rooms } });
    super.delSockets(opts, rooms);
  }

  override disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    if (opts.flags.local !== true) this.#publish({ type: MESSAGE_TYPE.DISCONNECT_SOCKETS, data: { opts: wireOptions(opts), close } });
    super.disconnectSockets(opts, close);
  }

  override async serverCount(): Promise<number> {
    if (!this.#bus.isReady) return 1;
    return Math.max(1, await this.#bus.numSub(this.channel));
  }

  override async fetchSockets(opts: BroadcastOptions): Promise<SocketDetails[]> {
    const sockets = await super.fetchSockets(opts);
    if (opts.flags.local === true || !this.#bus.isReady) return sockets;
    const expected = (await this.serverCount()) - 1;
    if (expected <= 0) return sockets;
    const requestId = randomBytes(8).toString("hex");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const request = this.#requests.get(requestId);
        this.#requests.delete(requestId);
        reject(new Error(`timeout reached: only ${request?.current ?? 0} responses received out of ${expected}`));
      }, opts.flags.timeout ?? this.#bus.requestsTimeoutMs);
      this.#requests.set(requestId, { type: MESSAGE_TYPE.FETCH_SOCKETS, expected, current: 0, sockets, resolve, timer });
      this.#publish({ type: MESSAGE_TYPE.FETCH_SOCKETS, data: { opts: wireOptions(opts), requestId } });
    });
  }

  override serverSideEmit(args: unknown[]): void {
    if (typeof args[args.length - 1] !== "function") return this.#publish({ type: MESSAGE_TYPE.SERVER_SIDE_EMIT, data: { packet: args } });
    const ack = args.pop() as (err: Error | null, responses: unknown[]) => void;
    void this.#serverSideEmitWithAck(args, ack).catch((err) => ack(err instanceof Error ? err : new Error(String(err)), []));
  }

  async #serverSideEmitWithAck(args: unknown[], ack: (err: Error | null, responses: unknown[]) => void): Promise<void> {
    const expected = (await this.serverCount()) - 1;
    if (expected <= 0) return ack(null, []);
    const requestId = randomBytes(8).toString("hex");
    const responses: unknown[] = [];
    const timer = setTimeout(() => {
      this.#requests.delete(requestId);
      ack(new Error(`timeout reached: only ${responses.length} responses received out of ${expected}`), responses);
    }, this.#bus.requestsTimeoutMs);
    this.#requests.set(requestId, { type: MESSAGE_TYPE.SERVER_SIDE_EMIT, expected, current: 0, responses, ack, timer });
    this.#publish({ type: MESSAGE_TYPE.SERVER_SIDE_EMIT, data: { requestId, packet: args } });
  }

  // --- incoming ----------------------------------------------------------------------------------

  #receive(raw: Buffer, isResponse: boolean): void {
    let message: Message;
    try {
      message = raw[0] === 0x7b ? JSON.parse(raw.toString()) : msgpack.decode(raw);
    } catch {
      return log.debug?.("malformed redis message", { nsp: this.host.name });
    }
    if (message === null || typeof message !== "object" || message.uid === this.uid) return;
    if ((message.nsp ?? "/") !== this.host.name) return;
    if (isResponse || RESPONSE_TYPES.has(message.type)) return this.#onResponse(message);
    const data = message.data ?? {};
    const opts = toOptions(data.opts);
    switch (message.type) {
      case MESSAGE_TYPE.BROADCAST: {
        const packet = data.packet as Packet | undefined;
        if (packet === null || typeof packet !== "object" || !Array.isArray(packet.data)) return;
        packet.nsp = this.host.name;
        if (data.requestId === undefined) return super.broadcast(packet, opts);
        const requestId = data.requestId;
        const requester = message.uid ?? "";
        return super.broadcastWithAck(packet, opts, (clientCount) => {
          this.#publishResponse(requester, { type: MESSAGE_TYPE.BROADCAST_CLIENT_COUNT, data: { requestId, clientCount } });
        }, (arg) => {
          this.#publishResponse(requester, { type: MESSAGE_TYPE.BROADCAST_ACK, data: { requestId, packet: arg } });
        });
      }
      case MESSAGE_TYPE.SOCKETS_JOIN:
        return super.addSockets(opts, data.rooms ?? []);
      case MESSAGE_TYPE.SOCKETS_LEAVE:
        return super.delSockets(opts, data.rooms ?? []);
      case MESSAGE_TYPE.DISCONNECT_SOCKETS:
        return super.disconnectSockets(opts, data.close === true);
      case MESSAGE_TYPE.FETCH_SOCKETS: {
        const sockets = [];
        for (const id of this.socketIds(opts)) {
          const socket = this.host.sockets.get(id);
          if (socket !== undefined) sockets.push({ id, handshake: socket.handshake, rooms: [...socket.rooms], data: socket.data });
        }
        return this.#publishResponse(message.uid ?? "", { type: MESSAGE_TYPE.FETCH_SOCKETS_RESPONSE, data: { requestId: data.requestId, sockets } });
      }
      case MESSAGE_TYPE.SERVER_SIDE_EMIT: {
        const args = Array.isArray(data.packet) ? [...data.packet] : [];
        if (data.requestId === undefined) return this.host.onServerSideEmit(args);
        let isCalled = false;
        const requestId = data.requestId;
        args.push((arg: unknown) => {
          if (isCalled) return;
          isCalled = true; // one answer per server, as the Node adapter
          this.#publishResponse(message.uid ?? "", { type: MESSAGE_TYPE.SERVER_SIDE_EMIT_RESPONSE, data: { requestId, packet: arg } });
        });
        return this.host.onServerSideEmit(args);
      }
      default:
        log.debug?.("unhandled redis message type", { type: message.type });
    }
  }

  #onResponse(response: Message): void {
    const requestId = response.data?.requestId;
    if (typeof requestId !== "string") return;
    switch (response.type) {
      case MESSAGE_TYPE.BROADCAST_CLIENT_COUNT:
        if (typeof response.data?.clientCount === "number") this.#ackRequests.get(requestId)?.onClientCount(response.data.clientCount);
        return;
      case MESSAGE_TYPE.BROADCAST_ACK:
        this.#ackRequests.get(requestId)?.onAck(response.data?.packet);
        return;
      case MESSAGE_TYPE.FETCH_SOCKETS_RESPONSE: {
        const request = this.#requests.get(requestId);
        if (request?.type !== MESSAGE_TYPE.FETCH_SOCKETS) return;
        request.current++;
        for (const s of response.data?.sockets ?? []) request.sockets.push({ id: s.id, handshake: s.handshake, rooms: new Set(s.rooms), data: s.data });
        if (request.current < request.expected) return;
        clearTimeout(request.timer);
        this.#requests.delete(requestId);
        return request.resolve(request.sockets);
      }
      case MESSAGE_TYPE.SERVER_SIDE_EMIT_RESPONSE: {
        const request = this.#requests.get(requestId);
        if (request?.type !== MESSAGE_TYPE.SERVER_SIDE_EMIT) return;
        request.current++;
        request.responses.push(response.data?.packet);
        if (request.current < request.expected) return;
        clearTimeout(request.timer);
        this.#requests.delete(requestId);
        return request.ack(null, request.responses);
      }
    }
  }

  override close(): void {
    for (const request of this.#requests.values()) clearTimeout(request.timer);
    this.#requests.clear();
    this.#ackRequests.clear();
    this.#bus.unsubscribe(this.channel);
    this.#bus.unsubscribe(this.responseChannel);
    for (const channel of this.#roomChannels) this.#bus.unsubscribe(channel);
    this.#roomChannels.clear();
  }
}

function wirePacket(packet: Packet, nsp: string): Record<string, unknown> {
  const wire: Record<string, unknown> = { type: packet.type, data: packet.data, nsp };
  if (packet.id !== undefined) wire.id = packet.id;
  return wire;
}

function wireOptions(opts: BroadcastOptions): WireOptions {
  return { rooms: [...opts.rooms], except: [...opts.except], flags: opts.flags };
}

function toOptions(opts: WireOptions | undefined): BroadcastOptions {
  return { rooms: new Set(opts?.rooms ?? []), except: new Set(opts?.except ?? []), flags: opts?.flags ?? {} };
}

// JSON unless the message carries binary (then msgpack), as the Node adapter does.
function encode(message: Message): string | Buffer {
  return hasBinary(message.data) ? msgpack.encode(message) : JSON.stringify(message);
}

function hasBinary(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object" || depth > 32) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) return value.some((item) => hasBinary(item, depth + 1));
  for (const key in value) if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}
