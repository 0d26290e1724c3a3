// A dynamic namespace's adapter: it has no sockets of its own, so every broadcast and command goes
// to each child namespace's adapter (socket.io lib/parent-namespace.ts ParentBroadcastAdapter), and
// `io.of(/^\/team-\d+$/).to("leads").emit(...)` reaches "leads" in every child.
import type { Packet } from "socket.io-parser";
import { Listeners } from "../listeners.ts";
import type { Adapter, BroadcastOptions, Room, RoomMember, SocketDetails, SocketId } from "./adapter.ts";

/** A child namespace as the parent's adapter sees it. */
export interface ChildNamespace {
  readonly name: string;
  readonly adapter: Adapter;
}

// Room events never fire here: sockets join a child, whose adapter emits them.
export class ParentAdapter extends Listeners implements Adapter {
  readonly rooms = new Map<Room, Set<SocketId>>();
  readonly sids = new Map<SocketId, Set<Room>>();
  readonly #children: () => Iterable<ChildNamespace>;

  constructor(children: () => Iterable<ChildNamespace>) {
    super();
    this.#children = children;
  }

  // Sockets never join the parent itself: they join a child.
  addAll(_member: RoomMember, _rooms: Iterable<Room>): void {}
  del(_member: RoomMember, _room: Room): void {}
  delAll(_member: RoomMember): void {}
  onTransportChange(_member: RoomMember): void {}

  // The packet carries the child's name: adapters encode it as given, and clients drop a packet
  // for a namespace they did not join.
  broadcast(packet: Packet, opts: BroadcastOptions): void {
    for (const child of this.#children()) child.adapter.broadcast({ ...packet, nsp: child.name }, opts);
  }

  broadcastWithAck(packet: Packet, opts: BroadcastOptions, onClientCount: (count: number) => void, onAck: (...args: unknown[]) => void): void {
    const children = [...this.#children()];
    // One count for the caller, once every child (possibly other nodes too) gave its own.
    let pending = children.length;
    let total = 0;
    if (pending === 0) return onClientCount(0);
    for (const child of children) {
      child.adapter.broadcastWithAck({ ...packet, nsp: child.name }, opts, (count) => {
        total += count;
        if (--pending === 0) onClientCount(total);
      }, onAck);
    }
  }

  // The children's counts are summed into one report, so the caller hears from one "server".
  serverCount(): number {
    return 1;
  }

  socketIds(opts: BroadcastOptions): Set<SocketId> {
    const ids = new Set<SocketId>();
    for (const child of this.#children()) for (const id of child.adapter.socketIds(opts)) ids.add(id);
    return ids;
  }

  async fetchSockets(opts: BroadcastOptions): Promise<SocketDetails[]> {
    const perChild = await Promise.all([...this.#children()].map((child) => child.adapter.fetchSockets(opts)));
    return perChild.flat();
  }

  addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    for (const child of this.#children()) child.adapter.addSockets(opts, rooms);
  }

  delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    for (const child of this.#children()) child.adapter.delSockets(opts, rooms);
  }

  disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    for (const child of this.#children()) child.adapter.disconnectSockets(opts, close);
  }

  serverSideEmit(_args: unknown[]): void {}

  close(): void {}
}
