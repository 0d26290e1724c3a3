// Engine.IO server on Bun.serve: request routing (handshake, long-polling, WebSocket upgrade),
// CORS, and the Bun websocket handlers. Knows nothing about namespaces or events. Usable alone
// (engine.io's shape: `connection`, EngineSocket `message`/`close`), and as Socket.IO's `io.engine`.
// Spec: engine.io-protocol v4 "Handshake", "Upgrade"; errors as engine.io lib/server.ts answers them.
import type { Server as BunServer, ServerWebSocket, WebSocketHandler } from "bun";
import { checkQuery, ENGINE_ERRORS, errorBody, errorStatus, type EngineError, type EngineErrorCode, type TransportName } from "./handshake.ts";
import { decodeFrame, decodePayload, type Protocol } from "./packets.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Session, SessionRequest, type EngineCounters, type WsData } from "./session.ts";
import { EngineSocket } from "./socket.ts";
import { Listeners } from "../listeners.ts";
import { log } from "../log.ts";
import { readBodyCapped } from "../read-body.ts";

export interface CorsOptions {
  /** Allowed origins: `"*"`/`true` for any, or a list. Requests without an Origin header are always allowed. */
  origin: "*" | boolean | string | string[];
  /** @default false */
  credentials?: boolean;
}

/** The standalone Engine.IO server's options, named as the `engine.io` package names them. */
export interface EngineOptions {
  /** @default "/engine.io/" */
  path?: string;
  /** More paths the same engine answers on, e.g. a proxy's prefixed one. @default [] */
  extraPaths?: readonly string[];
  /** @default 25000 */
  pingInterval?: number;
  /** @default 20000 */
  pingTimeout?: number;
  /** Largest message or polling body, in bytes. @default 1000000 */
  maxHttpBufferSize?: number;
  /** @default ["polling", "websocket"] */
  transports?: readonly TransportName[];
  /** @default true */
  allowUpgrades?: boolean;
  /** Accept Engine.IO v3 clients. @default false */
  allowEIO3?: boolean;
  /** @default null (no CORS headers) */
  cors?: CorsOptions | null;
  /** permessage-deflate on WebSockets. @default false */
  perMessageDeflate?: boolean | { threshold?: number };
  /** Checked before a session is created; return an error to refuse the handshake. */
  allowRequest?: (req: Request, address: string) => EngineError | undefined;
  /** Live sessions in all; past it a handshake gets 503. @default 0 (unlimited) */
  maxConnections?: number;
  /** Live sessions per remote address; past it a handshake gets 503. @default 0 (unlimited) */
  maxConnectionsPerIp?: number;
  /** Unsent bytes a session may hold (Bun's backpressureLimit; the polling buffer) before "slow consumer". @default 1048576 */
  maxBufferedBytes?: number;
  /** How long a WebSocket may stay over Bun's backpressure mark while still being written to. @default 30000 */
  maxBackpressureMs?: number;
  /** Frames Bun may drop (send status 0) on one WebSocket before it is closed; at 0 Bun also cuts a topic subscriber it would drop a frame for. @default 0 */
  maxDroppedFrames?: number;
}

/** EngineOptions with every default applied, as the engine and its sessions read them. */
export interface ResolvedEngineOptions {
  /** Request paths served, each ending in "/" (the first is the main one). */
  paths: readonly string[];
  pingIntervalMs: number;
  pingTimeoutMs: number;
  maxHttpBufferSize: number;
  transports: readonly TransportName[];
  allowUpgrades: boolean;
  allowEIO3: boolean;
  cors: CorsOptions | null;
  perMessageDeflate: false | { threshold: number };
  allowRequest?: (req: Request, address: string) => EngineError | undefined;
  /** Outgoing-buffer bytes on a WebSocket past which volatile packets are dropped. */
  volatileDropBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxBufferedBytes: number;
  maxBackpressureMs: number;
  maxDroppedFrames: number;
}

export const ENGINE_DEFAULTS = {
  path: "/engine.io/",
  pingInterval: 25_000,
  pingTimeout: 20_000,
  maxHttpBufferSize: 1_000_000,
  transports: ["polling", "websocket"] as readonly TransportName[],
  compressionThreshold: 1024,
  volatileDropBytes: 64 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxBackpressureMs: 30_000,
} as const;

/** Applies the defaults; `Server` calls it with its own path and allowEIO3 default. */
export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  const deflate = options.perMessageDeflate ?? false;
  const threshold = deflate === true ? ENGINE_DEFAULTS.compressionThreshold : deflate === false ? -1 : deflate.threshold ?? ENGINE_DEFAULTS.compressionThreshold;
  return {
    paths: [normalisePath(options.path ?? ENGINE_DEFAULTS.path), ...(options.extraPaths ?? []).map(normalisePath)],
    pingIntervalMs: options.pingInterval ?? ENGINE_DEFAULTS.pingInterval,
    pingTimeoutMs: options.pingTimeout ?? ENGINE_DEFAULTS.pingTimeout,
    maxHttpBufferSize: options.maxHttpBufferSize ?? ENGINE_DEFAULTS.maxHttpBufferSize,
    transports: options.transports ?? ENGINE_DEFAULTS.transports,
    allowUpgrades: options.allowUpgrades ?? true,
    allowEIO3: options.allowEIO3 ?? false,
    cors: options.cors ?? null,
    perMessageDeflate: threshold < 0 ? false : { threshold },
    allowRequest: options.allowRequest,
    volatileDropBytes: ENGINE_DEFAULTS.volatileDropBytes,
    maxConnections: options.maxConnections ?? 0,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? 0,
    maxBufferedBytes: options.maxBufferedBytes ?? ENGINE_DEFAULTS.maxBufferedBytes,
    maxBackpressureMs: options.maxBackpressureMs ?? ENGINE_DEFAULTS.maxBackpressureMs,
    maxDroppedFrames: options.maxDroppedFrames ?? 0,
  };
}

/** A path with a leading and a trailing "/". */
export function normalisePath(path: string): string {
  const withLeading = path.startsWith("/") ? path : "/" + path;
  return withLeading.endsWith("/") ? withLeading : withLeading + "/";
}

/** What `connection_error` listeners get for a refused request (as engine.io's event). */
export interface EngineConnectionError {
  req: Request;
  code: EngineErrorCode;
  message: string;
  context: Record<string, unknown>;
}

/** Answers requests outside the engine's paths. */
export type Fallback = (req: Request, server: BunServer<WsData>) => Response | Promise<Response>;

/** Options to spread into `Bun.serve`. */
export interface EngineServeOptions {
  fetch: (req: Request, server: BunServer<WsData>) => Response | Promise<Response> | undefined;
  websocket: WebSocketHandler<WsData>;
  idleTimeout: number;
  maxRequestBodySize: number;
}

const TEXT_HEADERS = { "Content-Type": "text/plain; charset=UTF-8" };

/**
 * Events: `connection` (EngineSocket), `connection_error` (EngineConnectionError), and
 * `initial_headers` / `headers` (a mutable header record and the request) before a handshake's
 * response and before every polling response or WebSocket upgrade.
 */
export class Engine extends Listeners {
  readonly sessions = new Map<string, Session>();
  /** Bytes in and out and dropped frames since start (metrics read them; nothing resets them). */
  readonly counters: EngineCounters = { bytesIn: 0, bytesOut: 0, framesDropped: 0 };
  readonly options: ResolvedEngineOptions;
  /** Called once per new session, before its first packet is read (Socket.IO attaches its Client here). */
  onSession: (session: Session) => void = () => {};
  #bunServer: BunServer<WsData> | null = null;
  /** The Bun server listen() started, stopped by close(). */
  #ownServer: BunServer<WsData> | null = null;
  /** EngineSockets handed out, one per session, made on first use only. */
  #sockets = new WeakMap<Session, EngineSocket>();
  #allowedOrigins: Set<string> | null;
  #upgrades: readonly string[];
  /** Sessions counted against the limits, per remote address; a session counts from creation to its end. */
  #perAddress = new Map<string, number>();
  #connectionCount = 0;
  /** Sessions whose counts were given back. */
  #released = new WeakSet<Session>();

  readonly #heartbeat: Heartbeat;

  constructor(options: EngineOptions = {}) {
    super();
    this.options = resolveEngineOptions(options);
    const resolved = this.options;
    this.#heartbeat = new Heartbeat(this.sessions, resolved.pingIntervalMs, resolved.pingTimeoutMs);
    const origin = resolved.cors?.origin;
    this.#allowedOrigins = origin === undefined || origin === "*" || origin === true ? null
      : origin === false ? new Set() : new Set(Array.isArray(origin) ? origin : [origin]);
    this.#upgrades = resolved.allowUpgrades && resolved.transports.includes("websocket") ? ["websocket"] : [];
  }

  /** The Bun server, known from the first request on (every connection starts with one). */
  get bunServer(): BunServer<WsData> | null {
    return this.#bunServer;
  }

  #isServed(pathname: string): boolean {
    for (const path of this.options.paths) if (pathname.startsWith(path)) return true;
    return false;
  }

  /** Handles a request: null when it is not under `path`, undefined once upgraded to a WebSocket. */
  handleRequest(req: Request, server: BunServer<WsData>): Response | Promise<Response> | undefined | null {
    this.#bunServer ??= server;
    const url = new URL(req.url);
    if (!this.#isServed(url.pathname)) return null;
    const origin = req.headers.get("origin");
    if (origin !== null && this.#allowedOrigins !== null && !this.#allowedOrigins.has(origin)) {
      return this.#refuse(req, { code: ENGINE_ERRORS.FORBIDDEN, context: { origin } });
    }
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: this.#corsHeaders(req, true) });
    const query = checkQuery(url, this.options.allowEIO3, this.options.transports);
    if ("code" in query) return this.#refuse(req, query);
    const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";

    if (query.sid === null) {
      const address = server.requestIP(req)?.address ?? "";
      const refusal = this.#checkLimits(address) ?? this.options.allowRequest?.(req, address);
      if (refusal !== undefined) return this.#refuse(req, refusal);
      // Flutter's socket_io_client opens a WebSocket even when its URL says transport=polling
      // (research §3): a WebSocket handshake without sid is accepted whatever `transport` says.
      if (isUpgrade) {
        if (!this.options.transports.includes("websocket")) return this.#refuse(req, { code: ENGINE_ERRORS.UNKNOWN_TRANSPORT });
        const session = this.#createSession(req, url, address, query.protocol, "websocket");
        if (server.upgrade(req, { data: { session, isProbe: false }, headers: this.#upgradeHeaders(req, true) })) return undefined;
        this.#forget(session); // never opened: its count MUST be given back
        return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket upgrade failed" });
      }
      if (req.method !== "GET") return this.#refuse(req, { code: ENGINE_ERRORS.BAD_HANDSHAKE_METHOD, context: { method: req.method } });
      if (query.transport !== "polling") return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket handshake expected" });
      return this.#openPolling(req, url, address, query.protocol);
    }

    const session = this.sessions.get(query.sid);
    if (session === undefined) return this.#refuse(req, { code: ENGINE_ERRORS.UNKNOWN_SID, context: { sid: query.sid } });
    if (isUpgrade) {
      if (!this.#upgrades.length || query.transport !== "websocket") {
        return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Upgrade not allowed" });
      }
      // A session already on WebSocket: the reference accepts the upgrade and closes the new socket
      // (open handler below); a 400 here is an unhandled error in the ws package's client.
      if (server.upgrade(req, { data: { session, isProbe: true }, headers: this.#upgradeHeaders(req, false) })) return undefined;
      return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket upgrade failed" });
    }
    if (query.transport !== session.transport) return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Transport mismatch" });
    if (req.method === "GET") return this.#poll(req, session);
    if (req.method === "POST") return this.#receive(req, session);
    return this.#refuse(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Method not allowed", context: { method: req.method } });
  }

  #createSession(req: Request, url: URL, address: string, protocol: Protocol, transport: TransportName): Session {
    this.#connectionCount++;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    const request = new SessionRequest(req.headers, url.href, address, Date.now());
    return new Session(randomId(), protocol, transport, request, this.options, this.#heartbeat, this.#forget, this.counters);
  }

  // Session#end calls it once with isFinal (a failed upgrade too); a session closed by its client
  // may give its counts back earlier (isFinal false) and stay reachable a moment. Counts stay exact.
  #forget = (session: Session, isFinal = true): void => {
    if (isFinal) this.sessions.delete(session.sid);
    if (this.#released.has(session)) return;
    this.#released.add(session);
    this.#connectionCount--;
    const address = session.request.address;
    const count = (this.#perAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, count);
  };

  /** Sessions alive now (handshakes being upgraded included), in all and for one address. */
  connectionCount(address?: string): number {
    return address === undefined ? this.#connectionCount : this.#perAddress.get(address) ?? 0;
  }

  // 503, not 403: the client did nothing wrong and may retry later (or on another node).
  #checkLimits(address: string): EngineError | undefined {
    const { maxConnections, maxConnectionsPerIp } = this.options;
    if (maxConnections > 0 && this.#connectionCount >= maxConnections) {
      return { code: ENGINE_ERRORS.FORBIDDEN, status: 503, message: "Server full", context: { limit: "maxConnections" } };
    }
    if (maxConnectionsPerIp > 0 && (this.#perAddress.get(address) ?? 0) >= maxConnectionsPerIp) {
      return { code: ENGINE_ERRORS.FORBIDDEN, status: 503, message: "Too many connections from this address", context: { limit: "maxConnectionsPerIp", address } };
    }
    return undefined;
  }

  #openPolling(req: Request, url: URL, address: string, protocol: Protocol): Response {
    const session = this.#createSession(req, url, address, protocol, "polling");
    this.sessions.set(session.sid, session);
    session.send(session.openPacket(this.#upgrades, this.options.maxHttpBufferSize));
    this.#open(session);
    const body = session.poll(req.signal) as string;
    // The buffer holds at least the open packet, so poll() answers at once.
    this.counters.bytesOut += Buffer.byteLength(body);
    return new Response(body, { headers: this.#responseHeaders(req, TEXT_HEADERS, true) });
  }

  #poll(req: Request, session: Session): Response | Promise<Response> {
    const body = session.poll(req.signal);
    if (body === "overlap") {
      // engine.io: a second concurrent GET is "overlap from client" and ends the session.
      session.close("transport error");
      return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Overlapping poll request" });
    }
    const headers = this.#responseHeaders(req, TEXT_HEADERS, false);
    if (typeof body === "string") {
      this.counters.bytesOut += Buffer.byteLength(body);
      return new Response(body, { headers });
    }
    return body.then((text) => {
      if (text === null) return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Transport upgraded" });
      this.counters.bytesOut += Buffer.byteLength(text);
      return new Response(text, { headers });
    });
  }

  async #receive(req: Request, session: Session): Promise<Response> {
    const bytes = await readBodyCapped(req, this.options.maxHttpBufferSize);
    if (bytes === null) return this.#tooLarge(req, session);
    this.counters.bytesIn += bytes.byteLength;
    const isBinary = req.headers.get("content-type")?.startsWith("application/octet-stream") ?? false;
    const packets = decodePayload(isBinary ? bytes : bytes.toString("utf8"), session.protocol);
    if (packets === null) {
      log.debug?.("bad polling payload", { sid: session.sid });
      session.close("parse error");
      return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Bad payload" });
    }
    for (const packet of packets) {
      if (!session.isOpen) break;
      session.onPacket(packet);
    }
    return new Response("ok", { headers: this.#responseHeaders(req, { "Content-Type": "text/html" }, false) });
  }

  #tooLarge(req: Request, session: Session): Response {
    session.close("transport error");
    return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, status: 413, message: "Payload too large" });
  }

  /** A session joined: the layer above attaches, then `connection` listeners see it. */
  #open(session: Session): void {
    this.onSession(session);
    if (this.listenerCount("connection") > 0) this.emitReserved("connection", this.socketOf(session));
    session.start(this.#heartbeat.tick);
    this.#heartbeat.start();
  }

  /** The engine.io-style socket of a session (the same object each time it is asked for). */
  socketOf(session: Session): EngineSocket {
    let socket = this.#sockets.get(session);
    if (socket === undefined) this.#sockets.set(session, (socket = new EngineSocket(session)));
    return socket;
  }

  /** Live sessions (handshakes being upgraded to a WebSocket included), as engine.io's clientsCount. */
  get clientsCount(): number {
    return this.#connectionCount;
  }

  /** A request refused before it reached a session's transport: `connection_error` listeners hear of it. */
  #refuse(req: Request, error: EngineError): Response {
    if (this.listenerCount("connection_error") > 0) {
      const body = errorBody(error);
      const event: EngineConnectionError = { req, code: body.code, message: body.message, context: error.context ?? {} };
      this.emitReserved("connection_error", event);
    }
    return this.#error(req, error);
  }

  // Polling responses: CORS, then what `initial_headers` (handshake) and `headers` listeners add.
  #responseHeaders(req: Request, base: Record<string, string>, isHandshake: boolean): Record<string, string> {
    const headers = this.#corsHeaders(req, false, base);
    if (isHandshake) this.emitReserved("initial_headers", headers, req);
    this.emitReserved("headers", headers, req);
    return headers;
  }

  // The 101 answer's extra headers, when a listener gives some (Bun adds the WebSocket ones).
  #upgradeHeaders(req: Request, isHandshake: boolean): Record<string, string> | undefined {
    if (this.listenerCount("headers") === 0 && (!isHandshake || this.listenerCount("initial_headers") === 0)) return undefined;
    const headers: Record<string, string> = {};
    if (isHandshake) this.emitReserved("initial_headers", headers, req);
    this.emitReserved("headers", headers, req);
    return headers;
  }

  #error(req: Request, error: EngineError): Response {
    log.debug?.("engine request refused", { code: error.code, url: req.url, ...error.context });
    return Response.json(errorBody(error), { status: errorStatus(error), headers: this.#corsHeaders(req, false) });
  }

  #corsHeaders(req: Request, isPreflight: boolean, base?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...base };
    const cors = this.options.cors;
    const origin = req.headers.get("origin");
    if (cors === null || origin === null) return headers;
    // A refused Origin MUST NOT be echoed back: that would let its page read the refusal, and any later answer.
    if (this.#allowedOrigins !== null && !this.#allowedOrigins.has(origin)) return headers;
    headers["Access-Control-Allow-Origin"] = cors.credentials || this.#allowedOrigins !== null ? origin : "*";
    headers["Vary"] = "Origin";
    if (cors.credentials) headers["Access-Control-Allow-Credentials"] = "true";
    if (isPreflight) {
      headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS";
      headers["Access-Control-Allow-Headers"] = req.headers.get("access-control-request-headers") ?? "content-type";
      headers["Access-Control-Max-Age"] = "86400";
    }
    return headers;
  }

  /** Bun websocket handlers. MUST stay synchronous: Bun's error hook does not see rejections. */
  readonly websocket: WebSocketHandler<WsData> = {
    open: (ws: ServerWebSocket<WsData>) => {
      const { session, isProbe } = ws.data;
      if (isProbe) return session.onProbeOpen(ws);
      session.attachWebSocket(ws);
      this.sessions.set(session.sid, session);
      ws.send(session.openPacket([], this.options.maxHttpBufferSize));
      this.#open(session);
    },
    message: (ws: ServerWebSocket<WsData>, message: string | Buffer) => {
      const { session, isProbe } = ws.data;
      this.counters.bytesIn += typeof message === "string" ? Buffer.byteLength(message) : message.byteLength;
      const packet = decodeFrame(message, session.protocol);
      if (isProbe) {
        if (packet === null) return ws.close(1003);
        return session.onProbePacket(ws, packet);
      }
      if (packet === null) return session.close("parse error");
      session.onPacket(packet);
    },
    close: (ws: ServerWebSocket<WsData>) => {
      ws.data.session.onWebSocketClose(ws);
    },
    drain: (ws: ServerWebSocket<WsData>) => {
      ws.data.session.onDrain(ws);
    },
  };

  /** Bun.serve options this engine needs beside fetch. */
  serveOptions(): { idleTimeout: number; maxRequestBodySize: number; websocket: WebSocketHandler<WsData> } {
    const { pingIntervalMs, pingTimeoutMs, maxHttpBufferSize, perMessageDeflate } = this.options;
    // Bun's HTTP idle timeout (10 s by default, 255 s at most) MUST outlast a long-poll, which
    // waits up to pingInterval for the server's ping (bun-engine does the same: 2 × pingInterval).
    const idleTimeout = Math.min(255, Math.ceil((pingIntervalMs + pingTimeoutMs) / 1000) + 5);
    this.websocket.maxPayloadLength = maxHttpBufferSize;
    // The Engine.IO heartbeat decides liveness; Bun's own idle timer and pings would duplicate it.
    this.websocket.idleTimeout = 0;
    this.websocket.sendPings = false;
    this.websocket.perMessageDeflate = perMessageDeflate === false ? false : { compress: true, decompress: true };
    // Past this Bun drops frames. A direct send reports it (status 0): Session counts it and closes
    // the slow consumer. A room broadcast is a topic publish, which reports nothing per subscriber:
    // Bun skipped the frames a member had no room for and sent it the later ones, a gap inside the
    // stream (a paused reader missed events 1106–1999 of 2000, then got 2000). closeOnBackpressureLimit
    // makes Bun cut such a member at its first dropped frame instead, with no JavaScript per member
    // per broadcast; it then reports a plain close (1006), so the reason is "transport close".
    // maxDroppedFrames > 0 asks for drops to be tolerated: then Bun drops without closing.
    this.websocket.backpressureLimit = this.options.maxBufferedBytes;
    this.websocket.closeOnBackpressureLimit = this.options.maxDroppedFrames === 0;
    // Bodies are read with a cap (read-body.ts) so an oversized POST gets a JSON 413; Bun's own
    // limit only stops absurd uploads.
    return { idleTimeout, maxRequestBodySize: Math.max(maxHttpBufferSize * 4, 64 * 1024 * 1024), websocket: this.websocket };
  }

  /** Counts a topic publish: Bun answers the frame's size once, however many subscribers got it. */
  countPublished(topic: string, status: number, excludedCount: 0 | 1): void {
    if (status <= 0 || this.#bunServer === null) return;
    this.counters.bytesOut += status * Math.max(0, this.#bunServer.subscriberCount(topic) - excludedCount);
  }

  /** Closes every session with `reason`. */
  closeAll(reason: "server shutting down" | "forced close"): void {
    this.#heartbeat.stop();
    for (const session of [...this.sessions.values()]) session.close(reason);
  }

  /**
   * Options to spread into your own `Bun.serve`. Requests outside the engine's paths go to
   * `fallback` (404 with a JSON body when there is none).
   */
  handler(fallback?: Fallback): EngineServeOptions {
    return {
      ...this.serveOptions(),
      fetch: (req, server) => {
        const response = this.handleRequest(req, server);
        if (response !== null) return honourConnectionClose(req, response);
        if (fallback !== undefined) return honourConnectionClose(req, fallback(req, server));
        return honourConnectionClose(req, Response.json({ error: { code: "not_found", message: "Not found" } }, { status: 404 }));
      },
    };
  }

  /** Starts a Bun server on `port` (0 picks a free one) and returns it. */
  listen(port: number | { port?: number; hostname?: string } = 3000, fallback?: Fallback): BunServer<WsData> {
    const options = typeof port === "number" ? { port } : port;
    this.#ownServer = Bun.serve<WsData>({ ...options, ...this.handler(fallback) });
    return this.#ownServer;
  }

  /** Closes every session ("forced close") and stops the server listen() started. */
  async close(): Promise<void> {
    const server = this.#ownServer;
    this.#ownServer = null;
    this.closeAll("forced close");
    await server?.stop(true);
  }
}

/**
 * RFC 9112 §9.6: a request that says `Connection: close` gets `Connection: close` on its response.
 * Bun closes such a connection after answering but does not say so; Node's keep-alive agent then
 * reuses the socket for its next request and gets "socket hang up" (node-fetch sends the header).
 */
export function honourConnectionClose<T extends Response | Promise<Response> | undefined | null>(req: Request, response: T): T {
  if (response === undefined || response === null) return response;
  const connection = req.headers.get("connection");
  if (connection === null || !/\bclose\b/i.test(connection)) return response;
  if (response instanceof Promise) return response.then((r) => markClose(r)) as T;
  return markClose(response as Response) as T;
}

function markClose(response: Response): Response {
  try {
    response.headers.set("Connection", "close");
    return response;
  } catch {
    // Immutable headers (a Response from fetch(), Response.redirect): copy them.
    const headers = new Headers(response.headers);
    headers.set("Connection", "close");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

/** A 20-character random id, like engine.io's base64id. */
export function randomId(): string {
  const bytes = new Uint8Array(15);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}
