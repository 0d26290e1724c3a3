// Who receives a packet: the Adapter interface, implemented by rooms/local.ts (Bun topics) and
// rooms/redis.ts (cross-node). Mirrors socket.io-adapter's contract so its semantics carry over.
import type { Packet } from "socket.io-parser";

export type Room = string;
export type SocketId = string;

/** A packet encoded once for every recipient: the engine text frame and its binary attachments. */
export interface EncodedPacket {
  readonly text: string;
  readonly attachments: readonly Uint8Array[] | null;
}

export interface BroadcastFlags {
  volatile?: boolean;
  compress?: boolean;
  /** Deliver on this node only (never published to other nodes). */
  local?: boolean;
  /** Broadcast acks: how long to wait for every client's answer. */
  timeout?: number;
}

export interface BroadcastOptions {
  rooms: ReadonlySet<Room>;
  except: ReadonlySet<Room>;
  flags: BroadcastFlags;
}

/** A socket as `fetchSockets()` returns it: a local Socket, or a proxy for one on another node. */
export interface SocketDetails {
  readonly id: SocketId;
  readonly handshake: unknown;
  readonly rooms: Set<Room>;
  readonly data: unknown;
}

/** A connected socket as the adapter sees it (socketio/socket.ts implements it). */
export interface RoomMember extends SocketDetails {
  /** true when the socket's transport takes Bun topic frames (a v4 WebSocket). */
  readonly canSubscribe: boolean;
  /** Private session id of connection state recovery; undefined when recovery is off. */
  readonly pid: string | undefined;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Publishes to a topic from this socket's WebSocket: every subscriber but this socket receives it. */
  publishFrom(topic: string, packet: EncodedPacket, compress: boolean): void;
  writeEncoded(packet: EncodedPacket, isVolatile: boolean, compress: boolean): void;
  /** Registers an ack for a broadcast sent with an id (broadcast with acks). */
  expectAck(id: number, ack: (...args: unknown[]) => void): void;
  disconnect(close?: boolean): void;
}

/** What an adapter needs from its namespace (socketio/namespace.ts implements it). */
export interface AdapterHost {
  readonly name: string;
  readonly sockets: ReadonlyMap<SocketId, RoomMember>;
  encode(packet: Packet): EncodedPacket;
  /** Publishes to every subscriber of a topic (Bun server.publish). */
  publish(topic: string, packet: EncodedPacket, compress: boolean): void;
  /** The next ack id of a broadcast with acks (one counter per namespace, as socket.io's `_ids`). */
  nextAckId(): number;
  /** Delivers another node's serverSideEmit to this namespace's listeners (an ack callback may end `args`). */
  onServerSideEmit(args: unknown[]): void;
  /** Connection state recovery settings, null when recovery is off (the default). */
  readonly recovery: { readonly maxDisconnectionDurationMs: number } | null;
}

/** What connection state recovery keeps of a disconnected socket (socket.io `Session`). */
export interface RecoverableSession {
  readonly sid: SocketId;
  readonly pid: string;
  readonly rooms: Room[];
  readonly data: unknown;
}

export interface RestoredSession extends RecoverableSession {
  /** `data` arrays of the EVENT packets the socket missed, offsets included, oldest first. */
  readonly missedPackets: unknown[][];
}

/**
 * socket.io-adapter's room events: "create-room" (room), "delete-room" (room), "join-room" (room, id),
 * "leave-room" (room, id). Local to this node, as in socket.io.
 */
export type AdapterEvent = "create-room" | "delete-room" | "join-room" | "leave-room";

export interface Adapter {
  on(event: AdapterEvent, listener: (room: Room, id?: SocketId) => void): this;
  off(event?: AdapterEvent, listener?: (room: Room, id?: SocketId) => void): this;
  /** room → ids of its members on this node. */
  readonly rooms: ReadonlyMap<Room, ReadonlySet<SocketId>>;
  /** socket id → the rooms it is in on this node. */
  readonly sids: ReadonlyMap<SocketId, ReadonlySet<Room>>;

  addAll(member: RoomMember, rooms: Iterable<Room>): void;
  del(member: RoomMember, room: Room): void;
  delAll(member: RoomMember): void;
  /** The member's transport changed (polling → WebSocket): move its rooms onto topics. */
  onTransportChange(member: RoomMember): void;

  broadcast(packet: Packet, opts: BroadcastOptions): void;
  /**
   * Broadcast with acks: `onClientCount` is called once per server that delivered it (with its
   * number of recipients), `onAck` once per client answer; `serverCount()` says how many servers
   * will report.
   */
  broadcastWithAck(
    packet: Packet,
    opts: BroadcastOptions,
    onClientCount: (count: number) => void,
    onAck: (...args: unknown[]) => void,
  ): void;

  /** Servers sharing this namespace, this one included (1 on a single node). */
  serverCount(): number | Promise<number>;

  /** Local sockets that match: rooms (any of) minus except rooms; each once. */
  socketIds(opts: BroadcastOptions): Set<SocketId>;
  fetchSockets(opts: BroadcastOptions): Promise<SocketDetails[]>;
  addSockets(opts: BroadcastOptions, rooms: Room[]): void;
  delSockets(opts: BroadcastOptions, rooms: Room[]): void;
  disconnectSockets(opts: BroadcastOptions, close: boolean): void;
  serverSideEmit(args: unknown[]): void;
  close(): void | Promise<void>;

  // Connection state recovery (only called when the host's `recovery` is set).
  /** A socket disconnected for a recoverable reason: keep its session for maxDisconnectionDuration. */
  persistSession?(session: RecoverableSession): void;
  /** A socket with a pid ended for good (explicit disconnect): its session MUST NOT be restored. */
  discardSession?(pid: string): void;
  /** The stored session with the packets missed after `offset`, or null (fresh session). */
  restoreSession?(pid: string, offset: string): RestoredSession | null | Promise<RestoredSession | null>;
}

export type AdapterFactory = (host: AdapterHost) => Adapter;
