// A socket on another node, as fetchSockets() returns it: its details, and commands that travel
// through the adapter to the node that holds it.
import type { Room, SocketDetails } from "../rooms/adapter.ts";
import type { Namespace } from "./namespace.ts";
import { assertEmittable, PacketType } from "./packets.ts";
import type { DefaultEventsMap, EventNames, EventParams, EventsMap } from "./typed-events.ts";

export class RemoteSocket<EmitEvents extends EventsMap = DefaultEventsMap, SocketData = any> {
  readonly id: string;
  readonly handshake: unknown;
  readonly rooms: Set<Room>;
  readonly data: SocketData;
  readonly #nsp: Namespace<any, EmitEvents, any, SocketData>;

  constructor(nsp: Namespace<any, EmitEvents, any, SocketData>, details: SocketDetails) {
    this.#nsp = nsp;
    this.id = details.id;
    this.handshake = details.handshake;
    this.rooms = new Set(details.rooms);
    this.data = details.data as SocketData;
  }

  #only() {
    return { rooms: new Set([this.id]), except: new Set<Room>(), flags: {} };
  }

  emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    assertEmittable(event);
    this.#nsp.adapter.broadcast({ type: PacketType.EVENT, nsp: this.#nsp.name, data: [event, ...args] }, this.#only());
    return true;
  }

  join(room: Room | Room[]): void {
    this.#nsp.adapter.addSockets(this.#only(), Array.isArray(room) ? room : [room]);
  }

  leave(room: Room): void {
    this.#nsp.adapter.delSockets(this.#only(), [room]);
  }

  disconnect(close = false): this {
    this.#nsp.adapter.disconnectSockets(this.#only(), close);
    return this;
  }
}
