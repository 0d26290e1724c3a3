// Engine.IO server on Bun.serve: request routing (handshake, long-polling, WebSocket upgrade),
// CORS, and the Bun websocket handlers. Knows nothing about namespaces or events.
// Spec: engine.io-protocol v4 "Handshake", "Upgrade"; errors as engine.io lib/server.ts answers them.
import type { Server as BunServer, ServerWebSocket, WebSocketHandler } from "bun";
import { checkQuery, ENGINE_ERRORS, errorBody, errorStatus, type EngineError, type TransportName } from "./handshake.ts";
import { decodeFrame, decodePayload, type Protocol } from "./packets.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Session, SessionRequest, type WsData } from "./session.ts";
import { log } from "../log.ts";
import { readBodyCapped } from "../read-body.ts";

export interface CorsOptions {
  /** Allowed origins: `"*"`/`true` for any, or a list. Requests without an Origin header are always allowed. */
  origin: "*" | boolean | string | string[];
  /** @default false */
  credentials?: boolean;
}

export interface EngineOptions {
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
  /** Checked before a session is created; return an error to refuse the handshake. */
  allowRequest?: (req: Request, address: string) => EngineError | undefined;
  volatileDropBytes: number;
  /** Live sessions in all; past it a handshake gets 503. 0 = unlimited. */
  maxConnections: number;
  /** Live sessions per remote address; past it a handshake gets 503. 0 = unlimited. */
  maxConnectionsPerIp: number;
  /** Unsent bytes a session may hold (Bun's backpressureLimit; the polling buffer) before "slow consumer". */
  maxBufferedBytes: number;
  /** How long a WebSocket may stay over Bun's backpressure mark while still being written to. */
  maxBackpressureMs: number;
  /** Frames Bun may drop (send status 0) on one WebSocket before it is closed. */
  maxDroppedFrames: number;
}

const TEXT_HEADERS = { "Content-Type": "text/plain; charset=UTF-8" };

export class Engine {
  readonly sessions = new Map<string, Session>();
  readonly options: EngineOptions;
  /** Called once per new session, before its first packet is read. */
  onSession: (session: Session) => void = () => {};
  #bunServer: BunServer<WsData> | null = null;
  #allowedOrigins: Set<string> | null;
  #upgrades: readonly string[];
  /** Sessions counted against the limits, per remote address; a session counts from creation to its end. */
  #perAddress = new Map<string, number>();
  #connectionCount = 0;

  readonly #heartbeat: Heartbeat;

  constructor(options: EngineOptions) {
    this.options = options;
    this.#heartbeat = new Heartbeat(this.sessions, options.pingIntervalMs, options.pingTimeoutMs);
    const origin = options.cors?.origin;
    this.#allowedOrigins = origin === undefined || origin === "*" || origin === true ? null
      : origin === false ? new Set() : new Set(Array.isArray(origin) ? origin : [origin]);
    this.#upgrades = options.allowUpgrades && options.transports.includes("websocket") ? ["websocket"] : [];
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
      return this.#error(req, { code: ENGINE_ERRORS.FORBIDDEN, context: { origin } });
    }
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: this.#corsHeaders(req, true) });
    const query = checkQuery(url, this.options.allowEIO3, this.options.transports);
    if ("code" in query) return this.#error(req, query);
    const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";

    if (query.sid === null) {
      const address = server.requestIP(req)?.address ?? "";
      const refusal = this.#checkLimits(address) ?? this.options.allowRequest?.(req, address);
      if (refusal !== undefined) return this.#error(req, refusal);
      // Flutter's socket_io_client opens a WebSocket even when its URL says transport=polling
      // (research §3): a WebSocket handshake without sid is accepted whatever `transport` says.
      if (isUpgrade) {
        if (!this.options.transports.includes("websocket")) return this.#error(req, { code: ENGINE_ERRORS.UNKNOWN_TRANSPORT });
        const session = this.#createSession(req, url, address, query.protocol, "websocket");
        if (server.upgrade(req, { data: { session, isProbe: false } })) return undefined;
        this.#forget(session); // never opened: its count MUST be given back
        return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket upgrade failed" });
      }
      if (req.method !== "GET") return this.#error(req, { code: ENGINE_ERRORS.BAD_HANDSHAKE_METHOD, context: { method: req.method } });
      if (query.transport !== "polling") return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket handshake expected" });
      return this.#openPolling(req, url, address, query.protocol);
    }

    const session = this.sessions.get(query.sid);
    if (session === undefined) return this.#error(req, { code: ENGINE_ERRORS.UNKNOWN_SID, context: { sid: query.sid } });
    if (isUpgrade) {
      if (!this.#upgrades.length || query.transport !== "websocket") {
        return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Upgrade not allowed" });
      }
      // A session already on WebSocket: the reference accepts the upgrade and closes the new socket
      // (open handler below); a 400 here is an unhandled error in the ws package's client.
      if (server.upgrade(req, { data: { session, isProbe: true } })) return undefined;
      return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "WebSocket upgrade failed" });
    }
    if (query.transport !== session.transport) return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Transport mismatch" });
    if (req.method === "GET") return this.#poll(req, session);
    if (req.method === "POST") return this.#receive(req, session);
    return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Method not allowed", context: { method: req.method } });
  }

  #createSession(req: Request, url: URL, address: string, protocol: Protocol, transport: TransportName): Session {
    this.#connectionCount++;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    const request = new SessionRequest(req.headers, url.href, address, Date.now());
    return new Session(randomId(), protocol, transport, request, this.options, this.#heartbeat, this.#forget);
  }

  // Called once per session (Session#end, or a failed upgrade), so the counts stay exact.
  #forget = (session: Session): void => {
    this.sessions.delete(session.sid);
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
    this.onSession(session);
    session.start(this.#heartbeat.tick);
    this.#heartbeat.start();
    const body = session.poll(req.signal);
    // The buffer holds at least the open packet, so poll() answers at once.
    return new Response(body as string, { headers: this.#corsHeaders(req, false, TEXT_HEADERS) });
  }

  #poll(req: Request, session: Session): Response | Promise<Response> {
    const body = session.poll(req.signal);
    if (body === "overlap") {
      // engine.io: a second concurrent GET is "overlap from client" and ends the session.
      session.close("transport error");
      return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Overlapping poll request" });
    }
    const headers = this.#corsHeaders(req, false, TEXT_HEADERS);
    if (typeof body === "string") return new Response(body, { headers });
    return body.then((text) => text === null
      ? this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, message: "Transport upgraded" })
      : new Response(text, { headers }));
  }

  async #receive(req: Request, session: Session): Promise<Response> {
    const bytes = await readBodyCapped(req, this.options.maxHttpBufferSize);
    if (bytes === null) return this.#tooLarge(req, session);
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
    return new Response("ok", { headers: this.#corsHeaders(req, false, { "Content-Type": "text/html" }) });
  }

  #tooLarge(req: Request, session: Session): Response {
    session.close("transport error");
    return this.#error(req, { code: ENGINE_ERRORS.BAD_REQUEST, status: 413, message: "Payload too large" });
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
      this.onSession(session);
      session.start(this.#heartbeat.tick);
    this.#heartbeat.start();
    },
    message: (ws: ServerWebSocket<WsData>, message: string | Buffer) => {
      const { session, isProbe } = ws.data;
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
    // Past this Bun drops frames (send status 0); Session counts them and closes the slow consumer.
    this.websocket.backpressureLimit = this.options.maxBufferedBytes;
    this.websocket.closeOnBackpressureLimit = false;
    // Bodies are read with a cap (read-body.ts) so an oversized POST gets a JSON 413; Bun's own
    // limit only stops absurd uploads.
    return { idleTimeout, maxRequestBodySize: Math.max(maxHttpBufferSize * 4, 64 * 1024 * 1024), websocket: this.websocket };
  }

  /** Closes every session with `reason`. */
  closeAll(reason: "server shutting down" | "forced close"): void {
    this.#heartbeat.stop();
    for (const session of [...this.sessions.values()]) session.close(reason);
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
