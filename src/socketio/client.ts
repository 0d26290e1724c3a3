// One Engine.IO session seen from Socket.IO: decodes its packets, multiplexes namespaces over it,
// and writes encoded packets to it. Spec: socket.io-protocol v5 "CONNECT" and multiplexing;
// v4 (EIO3): the main namespace is connected automatically and a CONNECT may carry a query.
import type { EncodedPacket } from "../rooms/adapter.ts";
import type { EngineCloseReason, Session, SessionHandler } from "../engine/session.ts";
import { encodePacket, isBinaryHeader, PacketDecoder, PacketType, type Packet } from "./packets.ts";
import type { Server } from "./server.ts";
import type { Socket } from "./socket.ts";
import { log } from "../log.ts";

// Bytes held in half-received binary packets, per Server: one budget across all its connections
// (40 connections holding 9 × 1 MB attachments each took a server from 85 to 474 MB of RSS).
const partialBytesHeld = new WeakMap<Server, { bytes: number }>();

export class Client implements SessionHandler {
  readonly session: Session;
  readonly server: Server;
  readonly sockets = new Map<string, Socket>();
  #decoder: PacketDecoder;
  #connectTimer: Timer | null;
  /** Namespaces with a CONNECT in progress (middlewares running). */
  #connecting: Set<string> | null = null;
  /** Bytes of the binary packet being received (header and attachments so far); 0 when none. */
  #partialBytes = 0;
  #partialTimer: Timer | null = null;
  #refusedConnectCount = 0;

  constructor(server: Server, session: Session) {
    this.server = server;
    this.session = session;
    this.#decoder = new PacketDecoder(server.options.maxAttachments);
    session.handler = this;
    // A connection that never joins a namespace is closed (socket.io `connectTimeout`).
    this.#connectTimer = setTimeout(() => {
      if (this.sockets.size === 0) {
        log.debug?.("no namespace joined in time", { sid: session.sid });
        session.close("forced close");
      }
    }, server.options.connectTimeout);
    if (session.protocol === 3) this.#connect("/", {});
  }

  /** The Engine.IO session id, as socket.io's `socket.client.id`. */
  get id(): string {
    return this.session.sid;
  }

  onMessage(data: string | Uint8Array): void {
    // Binary packets only: a text frame outside one costs two comparisons here.
    if ((typeof data !== "string" || this.#partialBytes !== 0 || isBinaryHeader(data)) && !this.#admitPart(data)) return;
    const packet = this.#decoder.add(data);
    if (packet === undefined) return; // waiting for binary attachments
    if (this.#partialBytes !== 0) this.#releasePartial();
    if (packet === null) {
      log.debug?.("invalid socket.io packet", { sid: this.session.sid });
      return this.session.close("parse error");
    }
    if (packet.type === PacketType.CONNECT) return this.#connect(packet.nsp, packet.data);
    const socket = this.sockets.get(packet.nsp);
    if (socket === undefined) {
      log.debug?.("packet for a namespace that is not connected", { sid: this.session.sid, nsp: packet.nsp });
      return;
    }
    socket.onPacket(packet);
  }

  // A binary packet is held in memory until its last attachment: it MUST come from a connected
  // namespace, stay under maxHttpBufferSize and partialPacketTimeout, and fit the server's budget.
  #admitPart(data: string | Uint8Array): boolean {
    if (typeof data === "string" && !this.#decoder.isReconstructing) {
      if (!this.sockets.has(headerNamespace(data))) {
        this.#violate("binary attachments before CONNECT");
        return false;
      }
      this.#partialTimer = setTimeout(partialPacketTimedOut, this.server.options.partialPacketTimeout, this);
    } else if (!this.#decoder.isReconstructing) {
      return true; // a stray attachment: the decoder refuses it ("parse error")
    }
    const size = typeof data === "string" ? data.length : data.byteLength;
    let budget = partialBytesHeld.get(this.server);
    if (budget === undefined) partialBytesHeld.set(this.server, (budget = { bytes: 0 }));
    this.#partialBytes += size;
    budget.bytes += size;
    if (this.#partialBytes > this.server.options.maxHttpBufferSize) {
      this.#violate("binary packet over maxHttpBufferSize");
      return false;
    }
    if (budget.bytes > this.server.options.maxPartialPacketBytes) {
      log.warn?.("partial packet budget reached", { sid: this.session.sid, limit: this.server.options.maxPartialPacketBytes });
      this.#violate("server busy with partial packets");
      return false;
    }
    return true;
  }

  #releasePartial(): void {
    const budget = partialBytesHeld.get(this.server);
    if (budget !== undefined) budget.bytes -= this.#partialBytes;
    this.#partialBytes = 0;
    if (this.#partialTimer !== null) clearTimeout(this.#partialTimer);
    this.#partialTimer = null;
  }

  /** The partial packet timer fired: its attachments did not all arrive in time. */
  onPartialPacketTimeout(): void {
    this.#partialTimer = null;
    if (this.#partialBytes !== 0) this.#violate("binary packet not completed in time");
  }

  #violate(detail: string): void {
    log.debug?.("connection closed for a policy violation", { sid: this.session.sid, detail });
    this.session.close("policy violation", detail);
  }

  #connect(nspWithQuery: string, auth: unknown): void {
    let name = nspWithQuery;
    let query: Record<string, string> | undefined;
    const mark = nspWithQuery.indexOf("?");
    if (mark !== -1) {
      // v4 protocol clients (socket.io-client v2) put their namespace query in the CONNECT.
      name = nspWithQuery.slice(0, mark);
      query = Object.fromEntries(new URLSearchParams(nspWithQuery.slice(mark + 1)));
    }
    if (this.sockets.has(name) || this.#connecting?.has(name)) {
      log.debug?.("duplicate CONNECT ignored", { sid: this.session.sid, nsp: name });
      return;
    }
    (this.#connecting ??= new Set()).add(name);
    const authObject = typeof auth === "object" && auth !== null ? auth as Record<string, unknown> : {};
    this.server.connectClient(this, name, authObject, query);
  }

  /** Called by the namespace when a CONNECT ends, accepted or refused. */
  connectSettled(name: string, socket: Socket | null): void {
    if (this.#connecting?.delete(name) && this.#connecting.size === 0) this.#connecting = null;
    if (socket === null) return;
    this.sockets.set(name, socket);
    if (this.#connectTimer !== null) {
      clearTimeout(this.#connectTimer);
      this.#connectTimer = null;
    }
  }

  sendConnectError(nsp: string, message: string, data?: unknown): void {
    // v4 protocol (EIO3) clients get the error's data, or else its message, as the whole payload
    // (socket.io namespace.ts `_add`; socket.io-client v2 passes it as is to its "error" event).
    const payload = this.session.protocol === 3 ? data || message : data === undefined ? { message } : { message, data };
    this.writePacket({ type: PacketType.CONNECT_ERROR, nsp, data: payload });
    // Each refusal costs a middleware run (a JWT check, perhaps a database read): bounded per session.
    if (++this.#refusedConnectCount >= this.server.options.maxRefusedConnects) this.#violate("too many refused CONNECTs");
  }

  writePacket(packet: Packet, isVolatile = false, compress = true): void {
    this.write(encodePacket(packet), isVolatile, compress);
  }

  write(packet: EncodedPacket, isVolatile: boolean, compress: boolean): void {
    const session = this.session;
    session.send(packet.text, isVolatile, this.shouldCompress(compress, packet.text.length));
    if (packet.attachments !== null) for (const attachment of packet.attachments) session.send(attachment, isVolatile);
  }

  /** permessage-deflate only when enabled, wanted and past the threshold (socket.io: 1024 bytes). */
  shouldCompress(compress: boolean, length: number): boolean {
    const threshold = this.server.options.compressionThreshold;
    return compress && threshold >= 0 && length >= threshold;
  }

  remove(socket: Socket): void {
    if (this.sockets.get(socket.nsp.name) === socket) this.sockets.delete(socket.nsp.name);
  }

  /** Server-side `socket.disconnect(true)`: every namespace gets DISCONNECT, then the transport closes. */
  disconnectAll(): void {
    for (const socket of [...this.sockets.values()]) socket.disconnect();
    this.session.close("forced close");
  }

  onTransportChange(): void {
    for (const socket of this.sockets.values()) socket.nsp.adapter.onTransportChange(socket);
  }

  onClose(reason: EngineCloseReason): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    if (this.#partialBytes !== 0) this.#releasePartial();
    for (const socket of [...this.sockets.values()]) socket.onClose(reason);
    this.sockets.clear();
    this.#decoder.destroy();
  }
}

function partialPacketTimedOut(client: Client): void {
  client.onPartialPacketTimeout();
}

/** The namespace of a binary packet header `5<n>-[/nsp,][id][…]` ("/" when it names none). */
function headerNamespace(header: string): string {
  const dash = header.indexOf("-");
  if (dash === -1 || header.charCodeAt(dash + 1) !== 47 /* "/" */) return "/";
  const comma = header.indexOf(",", dash + 1);
  return comma === -1 ? header.slice(dash + 1) : header.slice(dash + 1, comma);
}
