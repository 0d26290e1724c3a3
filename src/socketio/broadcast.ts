// Broadcast operators: io.to(room).except(other).volatile.emit(...) and friends, as in socket.io
// lib/broadcast-operator.ts. Each call returns a new operator; emit() hands one packet to the adapter.
import type { BroadcastFlags, BroadcastOptions, Room, SocketDetails } from "../rooms/adapter.ts";
import type { Namespace } from "./namespace.ts";
import { assertEmittable, PacketType, type Packet } from "./packets.ts";
import { RemoteSocket } from "./remote-socket.ts";
import type { Socket } from "./socket.ts";
import type {
  AllButLast, DecorateAcknowledgementsWithMultipleResponses, DefaultEventsMap, EventNames, EventNamesWithAck,
  EventParams, EventsMap, FirstNonErrorArg, Last,
} from "./typed-events.ts";

/**
 * `EmitEvents` types `emit`: with an ack, the callback gets `(err, responses[])`, one response per
 * client. `SocketData` types the sockets fetchSockets() returns.
 */
export class BroadcastOperator<EmitEvents extends EventsMap = DefaultEventsMap, SocketData = any> {
  readonly #nsp: Namespace<any, EmitEvents, any, SocketData>;
  readonly #rooms: Set<Room>;
  readonly #except: Set<Room>;
  readonly #flags: BroadcastFlags;

  constructor(nsp: Namespace<any, EmitEvents, any, SocketData>, rooms = new Set<Room>(), except = new Set<Room>(), flags: BroadcastFlags = {}) {
    this.#nsp = nsp;
    this.#rooms = rooms;
    this.#except = except;
    this.#flags = flags;
  }

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const rooms = new Set(this.#rooms);
    for (const r of Array.isArray(room) ? room : [room]) rooms.add(r);
    return new BroadcastOperator<EmitEvents, SocketData>(this.#nsp, rooms, this.#except, this.#flags);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.to(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const except = new Set(this.#except);
    for (const r of Array.isArray(room) ? room : [room]) except.add(r);
    return new BroadcastOperator<EmitEvents, SocketData>(this.#nsp, this.#rooms, except, this.#flags);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.#withFlags({ compress });
  }

  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.#withFlags({ volatile: true });
  }

  /** Only this node's sockets (never published to other nodes). */
  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.#withFlags({ local: true });
  }

  timeout(ms: number): BroadcastOperator<EmitEvents, SocketData> {
    return this.#withFlags({ timeout: ms });
  }

  #withFlags(flags: BroadcastFlags): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.#nsp, this.#rooms, this.#except, { ...this.#flags, ...flags });
  }

  get #options(): BroadcastOptions {
    return { rooms: this.#rooms, except: this.#except, flags: this.#flags };
  }

  /**
   * Emits to every matching socket. With a trailing callback, collects one ack per client:
   * `(err, responses)`, err set when `timeout()` elapsed before every client answered.
   */
  emit<Ev extends EventNames<EmitEvents>>(event: Ev, ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, Ev>): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    assertEmittable(event);
    const data: unknown[] = [event, ...args];
    const packet: Packet = { type: PacketType.EVENT, nsp: this.#nsp.name, data };
    if (typeof data[data.length - 1] !== "function") {
      this.#nsp.adapter.broadcast(packet, this.#options);
      return true;
    }
    const ack = data.pop() as (err: Error | null, responses: unknown[]) => void;
    packet.id = this.#nsp.nextAckId();
    const responses: unknown[] = [];
    // As socket.io's BroadcastOperator: every server reports how many clients it reached; done
    // once all servers reported and every one of those clients answered.
    let expectedServerCount = -1;
    let actualServerCount = 0;
    let expectedClientCount = 0;
    let isDone = false;
    const finish = (err: Error | null) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      ack(err, responses);
    };
    const check = () => {
      if (expectedServerCount === actualServerCount && responses.length >= expectedClientCount) finish(null);
    };
    // socket.io semantics: without timeout() the timer fires at once, so set one for broadcast acks.
    const timer = setTimeout(() => finish(new Error("operation has timed out")), this.#flags.timeout ?? 0);
    void Promise.resolve(this.#nsp.adapter.serverCount()).then((count) => {
      expectedServerCount = count;
      check();
    }, (err) => finish(err instanceof Error ? err : new Error(String(err))));
    this.#nsp.adapter.broadcastWithAck(packet, this.#options, (count) => {
      expectedClientCount += count;
      actualServerCount++;
      check();
    }, (response) => {
      responses.push(response);
      check();
    });
    return true;
  }

  /** Resolves with one response per client; rejects when `timeout()` elapsed first. */
  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    event: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>[]>;
  emitWithAck(event: string, ...args: unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      (this as BroadcastOperator<any>).emit(event, ...args, (err: Error | null, responses: unknown[]) => (err ? reject(err) : resolve(responses)));
    });
  }

  send(...args: unknown[]): BroadcastOperator<EmitEvents, SocketData> {
    (this as BroadcastOperator<any>).emit("message", ...args);
    return this;
  }

  write(...args: unknown[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.send(...args);
  }

  /** Matching sockets: local ones as Socket, other nodes' as RemoteSocket. */
  async fetchSockets(): Promise<(Socket<DefaultEventsMap, EmitEvents, DefaultEventsMap, SocketData> | RemoteSocket<EmitEvents, SocketData>)[]> {
    const details: SocketDetails[] = await this.#nsp.adapter.fetchSockets(this.#options);
    return details.map((d) => this.#nsp.sockets.get(d.id) ?? new RemoteSocket<EmitEvents, SocketData>(this.#nsp, d));
  }

  socketsJoin(room: Room | Room[]): void {
    this.#nsp.adapter.addSockets(this.#options, Array.isArray(room) ? room : [room]);
  }

  socketsLeave(room: Room | Room[]): void {
    this.#nsp.adapter.delSockets(this.#options, Array.isArray(room) ? room : [room]);
  }

  disconnectSockets(close = false): void {
    this.#nsp.adapter.disconnectSockets(this.#options, close);
  }
}
