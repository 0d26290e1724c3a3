// Raw-wire helpers for protocol tests: a buffered WebSocket and fetch-based long-polling, for
// Engine.IO v4 (payload packets joined by \x1e) and v3 (`<length>:<packet>` payloads). No client library.

export type Frame = string | Uint8Array;
export type Eio = 3 | 4;

export interface EngineQuery {
  /** @default 4 */
  eio?: Eio;
  /** @default "websocket" for openWebSocket, "polling" for the polling helpers */
  transport?: string;
  sid?: string;
  /** Extra query parameters (a Flutter client's `setQuery`). */
  query?: Record<string, string>;
  /** @default "/socket.io/" */
  path?: string;
}

/** The Engine.IO URL for `base` (http://host:port); `ws:` when `isWebSocket`. */
export function engineUrl(base: string, options: EngineQuery, isWebSocket: boolean, defaultTransport: string): string {
  const url = new URL(options.path ?? "/socket.io/", base);
  if (isWebSocket) url.protocol = "ws:";
  url.searchParams.set("EIO", String(options.eio ?? 4));
  url.searchParams.set("transport", options.transport ?? defaultTransport);
  if (options.sid !== undefined) url.searchParams.set("sid", options.sid);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  return url.toString();
}

export interface Closed {
  code: number;
  reason: string;
}

/** A WebSocket whose incoming frames are buffered, so a test reads them in order with next(). */
export class RawWebSocket implements Disposable {
  readonly ws: WebSocket;
  /** Settles when the socket closes, with the close code (1006 when the server just dropped it). */
  readonly closed: Promise<Closed>;
  #frames: Frame[] = [];
  #waiters: { resolve: (frame: Frame) => void; reject: (err: Error) => void }[] = [];
  #isClosed = false;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    const { promise, resolve } = Promise.withResolvers<Closed>();
    this.closed = promise;
    ws.addEventListener("message", (event) => {
      const data = event.data;
      const frame: Frame = typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer);
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.#frames.push(frame);
    });
    ws.addEventListener("close", (event) => {
      this.#isClosed = true;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`closed (${event.code}) while waiting for a frame`));
      resolve({ code: event.code, reason: event.reason });
    });
  }

  /** The next frame received (buffered or future); rejects if the socket closes first. */
  next(): Promise<Frame> {
    const frame = this.#frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.#isClosed) return Promise.reject(new Error("closed while waiting for a frame"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The next text frame; fails on a binary one. */
  async nextText(): Promise<string> {
    const frame = await this.next();
    if (typeof frame !== "string") throw new Error(`expected a text frame, got ${frame.length} binary bytes`);
    return frame;
  }

  /** The next frame that is not a server ping `2` (answered with `3` when `answer` is set). */
  async nextNonPing(answer = true): Promise<Frame> {
    for (;;) {
      const frame = await this.next();
      if (frame !== "2") return frame;
      if (answer) this.send("3");
    }
  }

  send(data: Frame): void {
    this.ws.send(data);
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  close(): void {
    this.ws.close();
  }

  [Symbol.dispose](): void {
    if (!this.#isClosed) this.ws.close();
  }
}

export interface OpenOptions extends EngineQuery {
  /** Handshake headers (a Flutter client's `extraHeaders`); Bun's WebSocket can send them. */
  headers?: Record<string, string>;
}

/** Opens a raw WebSocket on the Engine.IO path and resolves once it is open. */
export async function openWebSocket(base: string, options: OpenOptions = {}): Promise<RawWebSocket> {
  const ws = new WebSocket(engineUrl(base, options, true, "websocket"), { headers: options.headers } as any);
  const raw = new RawWebSocket(ws);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  ws.addEventListener("open", () => resolve(), { once: true });
  ws.addEventListener("error", () => reject(new Error("WebSocket failed to open")), { once: true });
  void raw.closed.then(({ code }) => reject(new Error(`WebSocket closed (${code}) before opening`)));
  await promise;
  return raw;
}

export interface OpenPacket {
  sid: string;
  upgrades: string[];
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
}

/** Parses an Engine.IO open packet `0{...}`. */
export function parseOpen(frame: Frame): OpenPacket {
  if (typeof frame !== "string" || frame[0] !== "0") throw new Error(`expected an open packet, got ${String(frame)}`);
  return JSON.parse(frame.slice(1));
}

/**
 * Opens a WebSocket, reads the open packet, and joins namespace `nsp` with `auth` (EIO=4):
 * resolves with the socket and the CONNECT reply's sid.
 */
export async function connectSocketIO(base: string, options: OpenOptions & { nsp?: string; auth?: unknown } = {}): Promise<{ socket: RawWebSocket; open: OpenPacket; sid: string }> {
  const socket = await openWebSocket(base, options);
  const open = parseOpen(await socket.next());
  const nsp = options.nsp === undefined || options.nsp === "/" ? "" : options.nsp + ",";
  socket.send("40" + nsp + (options.auth === undefined ? "" : JSON.stringify(options.auth)));
  const reply = await socket.nextText();
  const prefix = "40" + nsp;
  if (!reply.startsWith(prefix)) throw new Error(`expected CONNECT, got ${reply}`);
  return { socket, open, sid: JSON.parse(reply.slice(prefix.length)).sid };
}

// --- long-polling -------------------------------------------------------------------------------

/** Splits a polling response body into packets (binary packets stay in their `b…` text form). */
export function decodePayload(body: string, eio: Eio = 4): string[] {
  if (eio === 4) return body === "" ? [] : body.split("\x1e");
  const packets: string[] = [];
  let i = 0;
  while (i < body.length) {
    const colon = body.indexOf(":", i);
    if (colon === -1) throw new Error(`bad v3 payload: ${body}`);
    const length = Number(body.slice(i, colon));
    packets.push(body.slice(colon + 1, colon + 1 + length));
    i = colon + 1 + length;
  }
  return packets;
}

/** Joins packets into a polling POST body. */
export function encodePayload(packets: string[], eio: Eio = 4): string {
  if (eio === 4) return packets.join("\x1e");
  return packets.map((packet) => packet.length + ":" + packet).join("");
}

export interface PollResult {
  status: number;
  body: string;
  /** Decoded packets when the status is 200. */
  packets: string[];
  headers: Headers;
}

async function toPollResult(response: Response, eio: Eio): Promise<PollResult> {
  const body = await response.text();
  return { status: response.status, body, headers: response.headers, packets: response.status === 200 ? decodePayload(body, eio) : [] };
}

/** The long-polling handshake: GET without sid. */
export async function handshake(base: string, options: EngineQuery & { headers?: Record<string, string> } = {}): Promise<PollResult & { sid: string; open: OpenPacket }> {
  const eio = options.eio ?? 4;
  const response = await fetch(engineUrl(base, options, false, "polling"), { headers: options.headers });
  const result = await toPollResult(response, eio);
  if (result.status !== 200) throw new Error(`handshake failed (${result.status}): ${result.body}`);
  const open = parseOpen(result.packets[0]!);
  return { ...result, sid: open.sid, open };
}

/** One long-polling GET on session `sid`. */
export async function poll(base: string, sid: string, options: EngineQuery & { signal?: AbortSignal } = {}): Promise<PollResult> {
  const response = await fetch(engineUrl(base, { ...options, sid }, false, "polling"), { signal: options.signal });
  return toPollResult(response, options.eio ?? 4);
}

/** One long-polling POST on session `sid`; `body` is sent as is (use encodePayload to join packets). */
export async function post(base: string, sid: string, body: string | Uint8Array<ArrayBuffer>, options: EngineQuery & { headers?: Record<string, string> } = {}): Promise<Response> {
  const headers = { "Content-Type": typeof body === "string" ? "text/plain;charset=UTF-8" : "application/octet-stream", ...options.headers };
  return fetch(engineUrl(base, { ...options, sid }, false, "polling"), { method: "POST", body, headers });
}

/** Polls until `predicate` accepts a packet (at most `maxPolls` GETs); returns that packet. */
export async function pollUntil(base: string, sid: string, predicate: (packet: string) => boolean, options: EngineQuery & { maxPolls?: number } = {}): Promise<string> {
  for (let i = 0; i < (options.maxPolls ?? 10); i++) {
    const result = await poll(base, sid, options);
    if (result.status !== 200) throw new Error(`poll failed (${result.status}): ${result.body}`);
    const found = result.packets.find(predicate);
    if (found !== undefined) return found;
  }
  throw new Error("packet not received");
}

// --- a WebSocket over node:net, whose reading can be paused ------------------------------------

/**
 * A WebSocket client written by hand on a TCP socket (RFC 6455 framing, masked client frames), so a
 * test can stop reading (`pause()`): the server's writes then back up as they do behind a slow
 * reader, which no WebSocket API lets a client do. Text and binary frames only; no fragmentation.
 */
export class PausableWebSocket {
  readonly socket: import("node:net").Socket;
  /** Settles when the TCP connection ends (close frame, reset or end), with the close code if a close frame came. */
  readonly closed: Promise<{ code: number | null }>;
  readonly #frames: Frame[] = [];
  #waiter: (() => void) | null = null;
  #buffer: Buffer = Buffer.alloc(0);
  #closeCode: number | null = null;
  #isClosed = false;

  private constructor(socket: import("node:net").Socket, rest: Buffer) {
    this.socket = socket;
    const { promise, resolve } = Promise.withResolvers<{ code: number | null }>();
    this.closed = promise;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    const end = () => {
      if (this.#isClosed) return;
      this.#isClosed = true;
      this.#waiter?.();
      resolve({ code: this.#closeCode });
    };
    socket.on("close", end);
    socket.on("error", end);
    if (rest.length > 0) this.#onData(rest);
  }

  /** Opens the Engine.IO WebSocket (EIO=4) on `base` with a hand-made upgrade request. */
  static async open(base: string, options: EngineQuery = {}): Promise<PausableWebSocket> {
    const { connect } = await import("node:net");
    const url = new URL(engineUrl(base, options, false, "websocket"));
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let head = Buffer.alloc(0);
    for (;;) {
      const chunk = await new Promise<Buffer>((resolve, reject) => socket.once("data", resolve).once("error", reject));
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) continue;
      const status = head.subarray(0, head.indexOf("\r\n")).toString();
      if (!status.includes(" 101 ")) throw new Error(`upgrade refused: ${status}`);
      return new PausableWebSocket(socket, head.subarray(end + 4));
    }
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const opcode = b[0]! & 0x0f;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const payload = b.subarray(offset, offset + length);
      this.#buffer = b.subarray(offset + length);
      if (opcode === 1) this.#frames.push(payload.toString("utf8"));
      else if (opcode === 2) this.#frames.push(new Uint8Array(payload));
      else if (opcode === 8) this.#closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.#waiter?.();
    }
  }

  /** The next frame, or null once the connection ended with no frame left. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#isClosed) return null;
      await new Promise<void>((resolve) => { this.#waiter = resolve; });
      this.#waiter = null;
    }
  }

  send(text: string): void {
    const payload = Buffer.from(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    this.socket.write(Buffer.concat([head, mask, payload]));
  }

  /** Stops reading from the TCP socket: the server's frames pile up in its buffers. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
