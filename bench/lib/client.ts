// Load-generator clients speaking Engine.IO v4 / Socket.IO v5 by hand, over a raw WebSocket or
// HTTP long-polling, so the client side costs little and exactly the same for every server.
// Spec: engine.io-protocol v4 ("Transports", "Heartbeat", packet encoding with \x1e separators),
// socket.io-protocol v5 (CONNECT "40", EVENT "42[id]", ACK "43<id>").
//
// Hot path: frames are handed to the scenario as raw strings; the scenario decides how much to parse.
// An ack id is a per-client counter; callbacks exist only for rare setup calls (`call`).

import type { Socket } from "bun";

const RS = "\x1e"; // Engine.IO v4 polling packet separator

export type EventHandler = (frame: string) => void;
export type AckHandler = (id: number, frame: string) => void;

/** What a scenario sees of a client, whatever its transport. */
export interface SioClient {
  readonly transport: "websocket" | "polling";
  /** Called with every EVENT frame ("42…"). */
  onEvent: EventHandler | null;
  /** Called with ACK frames ("43<id>…") that no `call()` is waiting for. */
  onAck: AckHandler | null;
  /** Sends 42["event",arg]. */
  emit(event: string, arg: unknown): void;
  /** Sends 42<id>["event",arg] and returns the ack id. */
  emitWithAck(event: string, arg: unknown): number;
  /** Sends a pre-encoded EVENT frame with an ack id: `42${id}${encodedArgs}`. */
  emitRawWithAck(encodedArgs: string): number;
  /** emitWithAck for setup steps: resolves with the raw ack frame. */
  call(event: string, arg: unknown, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Parses the ack id of an ACK frame "43<id>[…]"; -1 if absent. */
export function ackIdOf(frame: string): number {
  let id = 0;
  let i = 2;
  for (; i < frame.length; i++) {
    const c = frame.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
  }
  return i === 2 ? -1 : id;
}

/** Shared Engine.IO/Socket.IO packet handling; subclasses only move frames. */
abstract class BaseClient implements SioClient {
  abstract readonly transport: "websocket" | "polling";
  onEvent: EventHandler | null = null;
  onAck: AckHandler | null = null;
  #ackSeq = 0;
  #pending = new Map<number, (frame: string) => void>();
  protected connected = Promise.withResolvers<void>();
  /** The Socket.IO CONNECT packet: "40", or "40{…}" with an auth payload (e.g. {"token":"…"}). */
  protected connectPacket = "40";

  protected abstract write(packet: string): void;
  abstract close(): void;

  emit(event: string, arg: unknown): void {
    this.write(`42${JSON.stringify([event, arg])}`);
  }

  emitWithAck(event: string, arg: unknown): number {
    const id = this.#ackSeq++;
    this.write(`42${id}${JSON.stringify([event, arg])}`);
    return id;
  }

  emitRawWithAck(encodedArgs: string): number {
    const id = this.#ackSeq++;
    this.write(`42${id}${encodedArgs}`);
    return id;
  }

  call(event: string, arg: unknown, timeoutMs = 10_000): Promise<string> {
    const id = this.emitWithAck(event, arg);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      reject(new Error(`no ack for "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#pending.set(id, (frame) => {
      clearTimeout(timer);
      resolve(frame);
    });
    return promise;
  }

  /** One Engine.IO packet (never a polling payload with several). */
  protected onPacket(packet: string): void {
    switch (packet.charCodeAt(0)) {
      case 0x34 /* "4" message */:
        return this.#onSocketIoPacket(packet);
      case 0x32 /* "2" ping: v4 servers ping, clients answer */:
        return this.write("3");
      case 0x30 /* "0" open */:
        return this.write(this.connectPacket);
      case 0x31 /* "1" close */:
        this.connected.reject(new Error("server closed the session"));
        return this.close();
      // "6" noop (polling during upgrade) and anything else: nothing to do.
    }
  }

  #onSocketIoPacket(packet: string): void {
    switch (packet.charCodeAt(1)) {
      case 0x32 /* "2" EVENT */:
        return this.onEvent?.(packet);
      case 0x33 /* "3" ACK */: {
        if (this.#pending.size > 0) {
          const id = ackIdOf(packet);
          const pending = this.#pending.get(id);
          if (pending) {
            this.#pending.delete(id);
            return pending(packet);
          }
          return this.onAck?.(id, packet);
        }
        return this.onAck?.(ackIdOf(packet), packet);
      }
      case 0x30 /* "0" CONNECT reply */:
        return this.connected.resolve();
      case 0x34 /* "4" CONNECT_ERROR */:
        return this.connected.reject(new Error(`connect error: ${packet.slice(2)}`));
      case 0x31 /* "1" DISCONNECT */:
        return this.close();
    }
  }
}

/**
 * WebSocket over a raw TCP socket (RFC 6455 framing written here), with every frame of one tick
 * coalesced into one write, as a busy client behind TCP does: the acks that arrive in one read
 * produce their next echoes in one send(). Bun's WebSocket client writes one frame per syscall, which
 * made every server look client-bound near 120–130k echoes/s.
 * Client frames are masked as the RFC requires, with the all-zero key (legal, and no XOR per byte).
 */
export class WsClient extends BaseClient {
  readonly transport = "websocket";
  #socket: Socket<undefined> | null = null;
  #isClosed = false;
  #isUpgraded = false;
  /** Frames written this tick, not yet handed to the socket. */
  #out = new Uint8Array(4096);
  #outLength = 0;
  /** Bytes the kernel did not take (backpressure), written again on drain. */
  #unsent: Uint8Array | null = null;
  #isQueued = false;
  /** Received bytes not yet forming a whole frame (or, before the upgrade, the HTTP response). */
  #in: Uint8Array | null = null;

  private constructor(auth?: Record<string, unknown>) {
    super();
    if (auth) this.connectPacket = `40${JSON.stringify(auth)}`;
  }

  /** Resolves once the Socket.IO CONNECT reply ("40{…}") arrives; `auth` goes in the CONNECT packet. */
  static async connect(baseUrl: string, timeoutMs = 10_000, auth?: Record<string, unknown>): Promise<WsClient> {
    const client = new WsClient(auth);
    const timer = setTimeout(() => client.connected.reject(new Error("connect timeout")), timeoutMs);
    try {
      const url = new URL(baseUrl);
      client.#socket = await Bun.connect({
        hostname: url.hostname,
        port: Number(url.port),
        socket: {
          data: (_s, chunk) => client.#onData(chunk),
          drain: () => client.#onDrain(),
          close: () => client.#onClose(),
          error: () => client.#onClose(),
        },
      });
      client.#socket.setNoDelay(true);
      client.#socket.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      await client.connected.promise;
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get isOpen(): boolean {
    return !this.#isClosed && this.#isUpgraded;
  }

  protected write(packet: string): void {
    if (this.#isClosed) return;
    this.#frame(0x81, packet);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#socket?.end();
  }

  /** Appends one masked frame (zero key) to this tick's buffer and queues the flush. */
  #frame(head: number, text: string): void {
    // UTF-8 is at most 3 bytes per UTF-16 unit; 14 bytes of header covers every length.
    const worst = text.length * 3 + 14;
    if (this.#outLength + worst > this.#out.length) {
      const grown = new Uint8Array(Math.max(this.#out.length * 2, this.#outLength + worst));
      grown.set(this.#out.subarray(0, this.#outLength));
      this.#out = grown;
    }
    const out = this.#out;
    let at = this.#outLength;
    // Payload first at its shortest possible offset, then move it if the length needs more header bytes.
    const short = at + 6;
    const written = encoder.encodeInto(text, out.subarray(short)).written;
    out[at++] = head;
    if (written < 126) out[at++] = 0x80 | written;
    else if (written < 65536) {
      out.copyWithin(short + 2, short, short + written);
      out[at++] = 0x80 | 126;
      out[at++] = written >> 8;
      out[at++] = written & 0xff;
    } else {
      out.copyWithin(short + 8, short, short + written);
      out[at++] = 0x80 | 127;
      for (let shift = 56; shift >= 0; shift -= 8) out[at++] = shift >= 32 ? 0 : (written >>> shift) & 0xff;
    }
    out[at++] = 0, out[at++] = 0, out[at++] = 0, out[at++] = 0; // mask key 0
    this.#outLength = at + written;
    if (!this.#isQueued) {
      this.#isQueued = true;
      dirty.push(this);
      if (dirty.length === 1) queueMicrotask(flushAll);
    }
  }

  /** One write() of everything framed this tick. */
  flush(): void {
    this.#isQueued = false;
    const socket = this.#socket;
    if (this.#outLength === 0 || socket === null || this.#isClosed) return void (this.#outLength = 0);
    const bytes = this.#out.subarray(0, this.#outLength);
    if (this.#unsent !== null) {
      this.#unsent = concat(this.#unsent, bytes);
    } else {
      const sent = socket.write(bytes);
      if (sent < bytes.length) this.#unsent = bytes.slice(Math.max(0, sent));
    }
    this.#outLength = 0;
  }

  #onDrain(): void {
    const unsent = this.#unsent;
    if (unsent === null || this.#socket === null) return;
    const sent = this.#socket.write(unsent);
    this.#unsent = sent < unsent.length ? unsent.slice(Math.max(0, sent)) : null;
  }

  #onClose(): void {
    const wasClosed = this.#isClosed;
    this.#isClosed = true;
    this.connected.reject(new Error(wasClosed ? "closed" : "websocket closed before CONNECT"));
  }

  #onData(chunk: Uint8Array): void {
    let buf = this.#in === null ? chunk : concat(this.#in, chunk);
    this.#in = null;
    let at = 0;
    if (!this.#isUpgraded) {
      const end = indexOfHeaderEnd(buf);
      if (end < 0) return void (this.#in = buf);
      const status = decoder.decode(buf.subarray(0, Math.min(end, 16)));
      if (!status.startsWith("HTTP/1.1 101")) {
        this.connected.reject(new Error(`upgrade refused: ${decoder.decode(buf.subarray(0, end)).split("\r\n")[0]}`));
        return this.close();
      }
      this.#isUpgraded = true;
      at = end + 4;
    }
    // Server frames are unmasked; Bun/uWS and ws never fragment the small text frames the bench uses,
    // but continuation frames are joined anyway.
    while (buf.length - at >= 2) {
      const b0 = buf[at]!;
      let length = buf[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = (buf[at + 2]! << 8) | buf[at + 3]!;
        header = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = (buf[at + 6]! * 2 ** 24) + ((buf[at + 7]! << 16) | (buf[at + 8]! << 8) | buf[at + 9]!);
        header = 10;
      }
      if (buf.length - at < header + length) break;
      const payload = buf.subarray(at + header, at + header + length);
      at += header + length;
      this.#onFrame(b0, payload);
      if (this.#isClosed) return;
    }
    if (at < buf.length) this.#in = buf.slice(at);
  }

  #fragments: string | null = null;

  #onFrame(b0: number, payload: Uint8Array): void {
    const opcode = b0 & 0x0f;
    const isFin = (b0 & 0x80) !== 0;
    if (opcode === 0x1 || opcode === 0x0) {
      const text = decoder.decode(payload);
      if (!isFin) return void (this.#fragments = (this.#fragments ?? "") + text);
      if (this.#fragments !== null) {
        const whole = this.#fragments + text;
        this.#fragments = null;
        return this.onPacket(whole);
      }
      return this.onPacket(text);
    }
    if (opcode === 0x8) return this.close();
    if (opcode === 0x9) return this.#frame(0x8a, decoder.decode(payload));
    // 0x2 binary, 0xA pong: the bench uses neither.
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Clients with frames written this tick; flushed together in one microtask. */
const dirty: WsClient[] = [];
function flushAll(): void {
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Index of "\r\n\r\n" in an HTTP response, or -1. */
function indexOfHeaderEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++)
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  return -1;
}

/**
 * HTTP long-polling: one GET always outstanding (the server holds it until it has packets), and
 * POSTs serialized one at a time, because Engine.IO closes a session on overlapping POSTs.
 */
export class PollingClient extends BaseClient {
  readonly transport = "polling";
  readonly #base: string;
  #endpoint = "";
  #outbox: string[] = [];
  #isPosting = false;
  #isClosed = false;

  private constructor(baseUrl: string) {
    super();
    this.#base = `${baseUrl}/socket.io/?EIO=4&transport=polling`;
  }

  static async connect(baseUrl: string, timeoutMs = 10_000): Promise<PollingClient> {
    const client = new PollingClient(baseUrl);
    const timer = setTimeout(() => client.connected.reject(new Error("connect timeout")), timeoutMs);
    try {
      const res = await fetch(client.#base);
      const body = await res.text();
      if (!res.ok || body[0] !== "0") throw new Error(`handshake failed: ${res.status} ${body.slice(0, 80)}`);
      const { sid } = JSON.parse(body.slice(1)) as { sid: string };
      client.#endpoint = `${client.#base}&sid=${encodeURIComponent(sid)}`;
      client.write("40");
      void client.#pollLoop();
      await client.connected.promise;
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  protected write(packet: string): void {
    if (this.#isClosed) return;
    this.#outbox.push(packet);
    if (!this.#isPosting) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#isPosting = true;
    try {
      while (this.#outbox.length > 0 && !this.#isClosed) {
        const body = this.#outbox.join(RS);
        this.#outbox = [];
        const res = await fetch(this.#endpoint, { method: "POST", body });
        await res.text();
        if (!res.ok) throw new Error(`POST ${res.status}`);
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#isPosting = false;
    }
  }

  async #pollLoop(): Promise<void> {
    try {
      while (!this.#isClosed) {
        const res = await fetch(this.#endpoint);
        const body = await res.text();
        if (!res.ok) throw new Error(`GET ${res.status} ${body.slice(0, 80)}`);
        for (const packet of body.split(RS)) if (packet.length > 0) this.onPacket(packet);
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  #fail(err: unknown): void {
    if (this.#isClosed) return;
    this.connected.reject(err instanceof Error ? err : new Error(String(err)));
    this.#isClosed = true;
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    // Tell the server, so it does not wait for the ping timeout; the pending GET then returns.
    void fetch(this.#endpoint, { method: "POST", body: "1" }).catch(() => {});
  }
}
