// Connection state recovery, in memory: the log of recoverable packets (with their offsets) and the
// sessions of recently disconnected sockets. Semantics of socket.io-adapter's SessionAwareAdapter
// (socket.io >= 4.6; research/features.md §6); rooms/redis.ts shares sessions across nodes.
import type { Packet } from "socket.io-parser";
import type { BroadcastOptions, RecoverableSession, RestoredSession, Room } from "./adapter.ts";

/** At most this many packets per namespace are kept (the Redis Streams adapter's MAXLEN is 10 000). */
const MAX_PACKETS = 10_000;

interface LoggedPacket {
  readonly offset: string;
  readonly data: unknown[];
  readonly rooms: ReadonlySet<Room>;
  readonly except: ReadonlySet<Room>;
  readonly emittedAt: number;
}

export class RecoveryLog {
  readonly maxDisconnectionDurationMs: number;
  readonly #prefix: string;
  #seq = 0;
  #packets: LoggedPacket[] = [];
  #sessions = new Map<string, RecoverableSession & { disconnectedAt: number }>();

  /** `nodeId` makes offsets unique across nodes: another node can find this node's offsets in its own log. */
  constructor(maxDisconnectionDurationMs: number, nodeId: string) {
    this.maxDisconnectionDurationMs = maxDisconnectionDurationMs;
    this.#prefix = nodeId + ".";
  }

  /** EVENT packets without ack and not volatile are logged (SessionAwareAdapter.broadcast). */
  isRecoverable(packet: Packet, opts: BroadcastOptions): boolean {
    return packet.type === 2 && packet.id === undefined && opts.flags.volatile !== true;
  }

  nextOffset(): string {
    return this.#prefix + (this.#seq++).toString(36);
  }

  /**
   * Logs the packet and appends the offset as the last element of its data: the client keeps the last
   * string argument it received as its offset (socket.io-client lib/socket.ts `_lastOffset`).
   */
  append(offset: string, packet: Packet, opts: BroadcastOptions): void {
    const data = packet.data as unknown[];
    data.push(offset);
    const now = Date.now();
    this.#packets.push({ offset, data, rooms: opts.rooms, except: opts.except, emittedAt: now });
    this.#trim(now);
  }

  #trim(now: number): void {
    const packets = this.#packets;
    const threshold = now - this.maxDisconnectionDurationMs;
    let drop = packets.length > MAX_PACKETS ? packets.length - MAX_PACKETS : 0;
    while (drop < packets.length && packets[drop]!.emittedAt < threshold) drop++;
    if (drop > 0) packets.splice(0, drop);
  }

  persist(session: RecoverableSession): void {
    const now = Date.now();
    this.#sessions.set(session.pid, { ...session, disconnectedAt: now });
    // Expired sessions go when the next one is stored: no timer per namespace.
    const threshold = now - this.maxDisconnectionDurationMs;
    for (const [pid, stored] of this.#sessions) {
      if (stored.disconnectedAt >= threshold) break; // insertion order is disconnection order
      this.#sessions.delete(pid);
    }
  }

  discard(pid: string): void {
    this.#sessions.delete(pid);
  }

  /** Takes a session stored on this node (it can be restored once). */
  take(pid: string): RecoverableSession | null {
    const session = this.#sessions.get(pid);
    if (session === undefined) return null;
    this.#sessions.delete(pid);
    if (session.disconnectedAt + this.maxDisconnectionDurationMs < Date.now()) return null;
    return { sid: session.sid, pid: session.pid, rooms: session.rooms, data: session.data };
  }

  /**
   * The packets after `offset` that the session's rooms would have received, or null when the offset
   * is not in the log (too old, or never seen here): the caller then starts a fresh session.
   */
  missedPackets(session: RecoverableSession, offset: string): RestoredSession | null {
    const packets = this.#packets;
    let index = packets.length - 1;
    while (index >= 0 && packets[index]!.offset !== offset) index--;
    if (index === -1) return null;
    const missedPackets: unknown[][] = [];
    for (let i = index + 1; i < packets.length; i++) {
      const packet = packets[i]!;
      if (shouldInclude(session.rooms, packet)) missedPackets.push(packet.data);
    }
    return { ...session, missedPackets };
  }
}

function shouldInclude(rooms: readonly Room[], packet: LoggedPacket): boolean {
  const isIncluded = packet.rooms.size === 0 || rooms.some((room) => packet.rooms.has(room));
  return isIncluded && rooms.every((room) => !packet.except.has(room));
}
