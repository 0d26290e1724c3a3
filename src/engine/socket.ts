// One Engine.IO session as the `engine.io` package shows it to its users: `message` and `close`
// events, send() and close(). Made only when asked for (Engine#socketOf): a Socket.IO connection
// never pays for it unless its code reads `socket.conn`.
import type { TransportName } from "./handshake.ts";
import { MESSAGE } from "./packets.ts";
import type { EngineCloseReason, Session, SessionHandler, SessionRequest } from "./session.ts";
import { Listeners, type Listener } from "../listeners.ts";

export type EngineSocketState = "open" | "closed";
type SendData = string | ArrayBuffer | ArrayBufferView;
/** A text message on the wire is its packet type followed by the text. */
const MESSAGE_PREFIX = String(MESSAGE);

/**
 * Events: `message` (a string, or a Buffer for binary), `close` (reason, description) and
 * `upgrade` (the new transport) once a long-polling session moved to a WebSocket.
 */
export class EngineSocket extends Listeners implements SessionHandler {
  readonly #session: Session;
  /** The handler the session had before this socket listened to it (Socket.IO's Client, or none). */
  #next: SessionHandler | null = null;
  #isListening = false;

  constructor(session: Session) {
    super();
    this.#session = session;
  }

  get id(): string {
    return this.#session.sid;
  }

  /** 4 for Engine.IO v4 clients, 3 for v3 (when allowEIO3). */
  get protocol(): 3 | 4 {
    return this.#session.protocol;
  }

  /** The handshake request: headers, query, url, address. */
  get request(): SessionRequest {
    return this.#session.request;
  }

  get remoteAddress(): string {
    return this.#session.request.address;
  }

  get readyState(): EngineSocketState {
    return this.#session.isOpen ? "open" : "closed";
  }

  /** The current transport, `{name: "polling" | "websocket"}` as engine.io's `socket.transport.name`. */
  get transport(): { readonly name: TransportName } {
    return { name: this.#session.transport };
  }

  get upgraded(): boolean {
    return this.#session.transport === "websocket";
  }

  override on(event: string, listener: Listener): this {
    this.#listen();
    return super.on(event, listener);
  }

  /**
   * Sends one message: a string as a text message, binary data as a binary one. `callback` runs
   * once the message was handed to the transport (written to the WebSocket, or buffered for the
   * next long-polling response); a closed session drops the message and never calls it.
   */
  send(data: SendData, options?: { compress?: boolean } | (() => void), callback?: () => void): this {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    if (!this.#session.isOpen) return this;
    const frame = typeof data === "string" ? MESSAGE_PREFIX + data
      : data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#session.send(frame, false, options?.compress ?? false);
    if (callback !== undefined) queueMicrotask(callback);
    return this;
  }

  write(data: SendData, options?: { compress?: boolean } | (() => void), callback?: () => void): this {
    return this.send(data, options, callback);
  }

  /** Closes the session ("forced close"): a WebSocket gets a close frame, a poller the close packet. */
  close(): this {
    this.#session.close("forced close");
    return this;
  }

  // Puts this socket between the session and its handler, once, when its events are first wanted.
  #listen(): void {
    if (this.#isListening) return;
    this.#isListening = true;
    this.#next = this.#session.handler;
    this.#session.handler = this;
  }

  onMessage(data: string | Uint8Array): void {
    this.#next?.onMessage(data);
    if (typeof data === "string") this.emitReserved("message", data);
    else this.emitReserved("message", Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  onClose(reason: EngineCloseReason): void {
    this.#next?.onClose(reason);
    this.emitReserved("close", reason, reason === "transport error" || reason === "parse error" ? { description: reason } : undefined);
  }

  onTransportChange(): void {
    this.#next?.onTransportChange();
    this.emitReserved("upgrade", this.transport);
  }
}
