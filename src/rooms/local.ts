// The local adapter: rooms are Bun pub/sub topics, so a room broadcast is encoded once and fanned
// out natively. Sockets that cannot ride topics (long-polling, EIO3 binary framing) are kept per
// room and written to directly. `except` and multi-room broadcasts take the iterating path.
import type { Packet } from "socket.io-parser";
import type { Adapter, AdapterHost, BroadcastOptions, EncodedPacket, RecoverableSession, RestoredSession, Room, RoomMember, SocketDetails, SocketId } from "./adapter.ts";
import { Listeners, type Listener } from "../listeners.ts";
import { RecoveryLog } from "./recovery.ts";
import { topicOf, topicOfNamespace } from "./topics.ts";

export class LocalAdapter extends Listeners implements Adapter {
  readonly rooms = new Map<Room, Set<SocketId>>();
  readonly sids = new Map<SocketId, Set<Room>>();
  protected readonly host: AdapterHost;
  /** Logged packets and stored sessions; null when connection state recovery is off. */
  protected readonly recovery: RecoveryLog | null;
  /** Per room, the members that do not receive topic frames and are written to one by one. */
  #iterated = new Map<Room, Set<RoomMember>>();
  /** Namespace-wide counterpart of #iterated. */
  #iteratedAll = new Set<RoomMember>();
  /** true once anyone listens to a room event: joins and leaves cost one field read until then. */
  #isObserved = false;

  /** `nodeId` prefixes recovery offsets; cluster adapters pass their uid. */
  constructor(host: AdapterHost, nodeId: string = crypto.randomUUID().slice(0, 8)) {
    super();
    this.host = host;
    this.recovery = host.recovery === null ? null : new RecoveryLog(host.recovery.maxDisconnectionDurationMs, nodeId);
  }

  override on(event: string, listener: Listener): this {
    this.#isObserved = true;
    return super.on(event, listener);
  }

  addAll(member: RoomMember, rooms: Iterable<Room>): void {
    let own = this.sids.get(member.id);
    if (own === undefined) {
      own = new Set();
      this.sids.set(member.id, own);
      if (member.canSubscribe) member.subscribe(topicOfNamespace(this.host.name));
      else this.#iteratedAll.add(member);
    }
    for (const room of rooms) {
      if (own.has(room)) continue;
      own.add(room);
      let members = this.rooms.get(room);
      if (members === undefined) {
        this.rooms.set(room, (members = new Set()));
        this.onRoomCreated(room);
        if (this.#isObserved) this.emitReserved("create-room", room);
      }
      members.add(member.id);
      if (this.#isObserved) this.emitReserved("join-room", room, member.id);
      // A socket's own room is served by a direct write, never a topic: one topic per idle
      // connection would cost memory for nothing.
      if (room === member.id) continue;
      if (member.canSubscribe) member.subscribe(topicOf(this.host.name, room));
      else this.#addIterated(room, member);
    }
  }

  del(member: RoomMember, room: Room): void {
    const own = this.sids.get(member.id);
    if (own === undefined || !own.delete(room)) return;
    this.#removeFromRoom(member, room);
  }

  delAll(member: RoomMember): void {
    const own = this.sids.get(member.id);
    if (own === undefined) return;
    for (const room of own) this.#removeFromRoom(member, room);
    this.sids.delete(member.id);
    if (member.canSubscribe) member.unsubscribe(topicOfNamespace(this.host.name));
    this.#iteratedAll.delete(member);
  }

  #removeFromRoom(member: RoomMember, room: Room): void {
    const members = this.rooms.get(room);
    if (members !== undefined) {
      members.delete(member.id);
      if (this.#isObserved) this.emitReserved("leave-room", room, member.id);
      if (members.size === 0) {
        this.rooms.delete(room);
        this.onRoomDeleted(room);
        if (this.#isObserved) this.emitReserved("delete-room", room);
      }
    }
    if (room === member.id) return;
    const iterated = this.#iterated.get(room);
    if (iterated !== undefined && iterated.delete(member)) {
      if (iterated.size === 0) this.#iterated.delete(room);
    } else if (member.canSubscribe) {
      member.unsubscribe(topicOf(this.host.name, room));
    }
  }

  #addIterated(room: Room, member: RoomMember): void {
    let iterated = this.#iterated.get(room);
    if (iterated === undefined) this.#iterated.set(room, (iterated = new Set()));
    iterated.add(member);
  }

  onTransportChange(member: RoomMember): void {
    const own = this.sids.get(member.id);
    if (own === undefined || !member.canSubscribe) return;
    if (this.#iteratedAll.delete(member)) member.subscribe(topicOfNamespace(this.host.name));
    for (const room of own) {
      const iterated = this.#iterated.get(room);
      if (iterated === undefined || !iterated.delete(member)) continue;
      if (iterated.size === 0) this.#iterated.delete(room);
      member.subscribe(topicOf(this.host.name, room));
    }
  }

  broadcast(packet: Packet, opts: BroadcastOptions): void {
    const recovery = this.recovery;
    if (recovery !== null && recovery.isRecoverable(packet, opts)) recovery.append(recovery.nextOffset(), packet, opts);
    const encoded = this.host.encode(packet); // once per broadcast, never per recipient
    this.deliver(encoded, opts);
  }

  /** A room got its first member on this node (the sharded adapter subscribes to its channel). */
  protected onRoomCreated(_room: Room): void {}

  /** A room lost its last member on this node. */
  protected onRoomDeleted(_room: Room): void {}

  /** Local delivery of an already encoded packet (the Redis adapter calls it for remote broadcasts). */
  protected deliver(encoded: EncodedPacket, opts: BroadcastOptions): void {
    const { rooms, except, flags } = opts;
    const isVolatile = flags.volatile === true;
    const compress = flags.compress !== false;
    if (rooms.size > 1) return this.#deliverEach(encoded, opts);
    let excluded: RoomMember | undefined;
    if (except.size > 0) {
      excluded = except.size === 1 ? this.#soleMember(first(except)) : undefined;
      if (excluded === undefined) return this.#deliverEach(encoded, opts);
    }
    let topic: string;
    let iterated: Set<RoomMember> | undefined;
    if (rooms.size === 0) {
      topic = topicOfNamespace(this.host.name);
      iterated = this.#iteratedAll;
    } else {
      const room = first(rooms);
      if (!this.rooms.has(room)) return; // nobody on this node
      const target = this.#soleMember(room);
      if (target !== undefined && target.id === room) {
        if (target !== excluded) target.writeEncoded(encoded, isVolatile, compress);
        return;
      }
      topic = topicOf(this.host.name, room);
      iterated = this.#iterated.get(room);
    }
    // The fast path: one native publish reaches every WebSocket member; ws.publish skips the sender.
    if (excluded?.canSubscribe) excluded.publishFrom(topic, encoded, compress);
    else this.host.publish(topic, encoded, compress);
    if (iterated !== undefined) {
      for (const member of iterated) if (member !== excluded) member.writeEncoded(encoded, isVolatile, compress);
    }
  }

  /** The socket whose own room this is, when nobody else joined that room. */
  #soleMember(room: Room): RoomMember | undefined {
    const members = this.rooms.get(room);
    if (members === undefined || members.size !== 1) return undefined;
    const member = this.host.sockets.get(room);
    return member !== undefined && members.has(room) ? member : undefined;
  }

  // Slow path (several rooms, or except rooms other than the sender's): each recipient once,
  // the frame still encoded once.
  #deliverEach(encoded: EncodedPacket, opts: BroadcastOptions): void {
    const isVolatile = opts.flags.volatile === true;
    const compress = opts.flags.compress !== false;
    for (const id of this.socketIds(opts)) this.host.sockets.get(id)?.writeEncoded(encoded, isVolatile, compress);
  }

  broadcastWithAck(packet: Packet, opts: BroadcastOptions, onClientCount: (count: number) => void, onAck: (...args: unknown[]) => void): void {
    // A request from a Node server carries no id: like socket.io's adapter, each server numbers it.
    if (packet.id === undefined) packet.id = this.host.nextAckId();
    const encoded = this.host.encode(packet);
    const ids = this.socketIds(opts);
    const compress = opts.flags.compress !== false;
    let count = 0;
    for (const id of ids) {
      const member = this.host.sockets.get(id);
      if (member === undefined) continue;
      member.expectAck(packet.id!, onAck);
      member.writeEncoded(encoded, false, compress);
      count++;
    }
    onClientCount(count);
  }

  serverCount(): number | Promise<number> {
    return 1;
  }

  socketIds(opts: BroadcastOptions): Set<SocketId> {
    const ids = new Set<SocketId>();
    const excluded = new Set<SocketId>();
    for (const room of opts.except) {
      const members = this.rooms.get(room);
      if (members !== undefined) for (const id of members) excluded.add(id);
    }
    if (opts.rooms.size === 0) {
      for (const id of this.host.sockets.keys()) if (!excluded.has(id)) ids.add(id);
      return ids;
    }
    for (const room of opts.rooms) {
      const members = this.rooms.get(room);
      if (members === undefined) continue;
      for (const id of members) if (!excluded.has(id)) ids.add(id);
    }
    return ids;
  }

  async fetchSockets(opts: BroadcastOptions): Promise<SocketDetails[]> {
    return this.#members(opts);
  }

  addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    for (const member of this.#members(opts)) this.addAll(member, rooms);
  }

  delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    for (const member of this.#members(opts)) for (const room of rooms) this.del(member, room);
  }

  disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    for (const member of this.#members(opts)) member.disconnect(close);
  }

  #members(opts: BroadcastOptions): RoomMember[] {
    const members: RoomMember[] = [];
    for (const id of this.socketIds(opts)) {
      const member = this.host.sockets.get(id);
      if (member !== undefined) members.push(member);
    }
    return members;
  }

  serverSideEmit(_args: unknown[]): void {
    // A single node has no other servers to tell; the Redis adapter overrides this.
  }

  persistSession(session: RecoverableSession): void {
    this.recovery?.persist(session);
  }

  discardSession(pid: string): void {
    this.recovery?.discard(pid);
  }

  restoreSession(pid: string, offset: string): RestoredSession | null | Promise<RestoredSession | null> {
    const session = this.recovery?.take(pid) ?? null;
    return session === null ? null : this.recovery!.missedPackets(session, offset);
  }

  close(): void {}
}

function first<T>(set: ReadonlySet<T>): T {
  for (const value of set) return value;
  throw new Error("first() of an empty set");
}
