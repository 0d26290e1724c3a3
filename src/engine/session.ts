// Engine.IO session: transport (long-polling or WebSocket), heartbeat, write buffer, upgrade, close.
// Spec: engine.io-protocol v4 sections "Heartbeat", "Upgrade"; v3 where the client pings instead.
import type { ServerWebSocket } from "bun";
import { binaryFrameV3, encodePayload, MESSAGE, NOOP, PING, PONG, CLOSE, UPGRADE, type EnginePacket, type Frame, type Protocol } from "./packets.ts";
import type { TransportName } from "./handshake.ts";
import type { HeartbeatMember } from "./heartbeat.ts";

/** Why a session ended, spelled as the reference server and the official clients spell it. */
export type EngineCloseReason =
  | "transport close"
  | "transport error"
  | "ping timeout"
  | "parse error"
  | "forced close"
  | "server shutting down"
  // Ours, not the reference server's: the peer does not read fast enough (a WebSocket past
  // maxBufferedBytes, over backpressure for maxBackpressureMs, or a polling buffer past maxBufferedBytes).
  | "slow consumer"
  // Ours: the client went on sending far past its event rate limit (socketio/socket.ts).
  | "rate limited"
  // Ours: the client broke a limit of the layer above (binary attachments before CONNECT, a
  // half-received packet too big or too slow, too many refused CONNECTs). A WebSocket is closed
  // with code 1008 and the limit in its reason; the detail is what socketio/client.ts passes.
  | "policy violation";

/** The layer above (socketio/client.ts) implements this; set once, right after the session opens. */
export interface SessionHandler {
  onMessage(data: string | Uint8Array): void;
  onClose(reason: EngineCloseReason): void;
  /** The session moved from long-polling to WebSocket: room members can now ride Bun topics. */
  onTransportChange(): void;
}

/** Per-connection state of a Bun websocket, created once at upgrade. */
export interface WsData {
  session: Session;
  /** true while this socket is an upgrade probe beside a long-polling session. */
  isProbe: boolean;
}

/**
 * The handshake request, as the layers above read it. Headers and query are turned into records
 * on first use: most idle connections never read them (bench: memory per idle connection).
 */
export class SessionRequest {
  readonly address: string;
  readonly issued: number;
  readonly #rawHeaders: Headers;
  readonly #href: string;
  #headers: Record<string, string> | undefined = undefined;
  #query: Record<string, string> | undefined = undefined;

  constructor(rawHeaders: Headers, href: string, address: string, issued: number) {
    this.#rawHeaders = rawHeaders;
    this.#href = href;
    this.address = address;
    this.issued = issued;
  }

  get headers(): Record<string, string> {
    if (this.#headers !== undefined) return this.#headers;
    const headers: Record<string, string> = {};
    this.#rawHeaders.forEach((value, key) => { headers[key] = value; });
    return (this.#headers = headers);
  }

  get query(): Record<string, string> {
    if (this.#query !== undefined) return this.#query;
    const query: Record<string, string> = {};
    new URL(this.#href).searchParams.forEach((value, key) => { query[key] = value; });
    return (this.#query = query);
  }

  /** Path and query string, as socket.io's `handshake.url`. */
  get url(): string {
    const url = new URL(this.#href);
    return url.pathname + url.search;
  }

  get secure(): boolean {
    return this.#href.startsWith("https:");
  }
}

/**
 * What an engine's transports carried, as plain numbers bumped on the data path and read when
 * metrics are scraped (never a call per frame into a metrics library).
 */
export interface EngineCounters {
  /** Frame and polling-body bytes received (text frames counted in UTF-8). */
  bytesIn: number;
  /** Bytes written to WebSockets (a topic publish once per subscriber) and in polling responses. */
  bytesOut: number;
  /** Frames Bun dropped on a WebSocket over maxBufferedBytes (slow consumers). */
  framesDropped: number;
}

export interface SessionTimings {
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Outgoing-buffer bytes on a WebSocket past which volatile packets are dropped. */
  volatileDropBytes: number;
  maxBufferedBytes: number;
  maxBackpressureMs: number;
  maxDroppedFrames: number;
}

/** A pending GET's answer: a payload, or null when the transport was upgraded under it (a 400). */
type PollResolve = (body: string | null) => void;

/** A probe WebSocket that has not completed the upgrade by then is closed (engine.io `upgradeTimeout`). */
const UPGRADE_TIMEOUT_MS = 10_000;

export class Session implements HeartbeatMember {
  readonly sid: string;
  readonly protocol: Protocol;
  readonly request: SessionRequest;
  transport: TransportName;
  isOpen = true;
  handler: SessionHandler | null = null;
  /** Frames Bun refused to send (send status 0); hardening limits read it. */
  droppedCount = 0;

  #ws: ServerWebSocket<WsData> | null = null;
  #probe: ServerWebSocket<WsData> | null = null;
  /** The probe answered `3probe`: the client is pausing its polling to upgrade. */
  #isUpgrading = false;
  #buffer: Frame[] = [];
  /** Bytes (UTF-16 units for text) in #buffer: a polling client that stops polling is bounded by it. */
  #bufferedBytes = 0;
  /** When the WebSocket's last send reported backpressure (-1) after a clean one; 0 when none. */
  #backpressureSince = 0;
  #isEnded = false;
  #pendingPoll: PollResolve | null = null;
  #isFlushScheduled = false;
  #timings: SessionTimings;
  /** Tick of the last server ping answered (v4), or of the heartbeat when the session started. */
  #pongTick = 0;
  /** When the client last pinged (v3), or when the session started (v4), in performance.now() milliseconds. */
  #lastPingAt = 0;
  #lingerTimer: Timer | null = null;
  /**
   * The client POSTed a close packet while no GET was waiting: a GET it sent beside the POST may
   * still arrive, and gets the noop it would have got had it come first; the one after, 400.
   */
  #isClosedByClient = false;
  #onEnd: (session: Session, isFinal: boolean) => void;

  readonly #heartbeat: { readonly tick: number };
  readonly #counters: EngineCounters;

  constructor(sid: string, protocol: Protocol, transport: TransportName, request: SessionRequest, timings: SessionTimings, heartbeat: { readonly tick: number }, onEnd: (session: Session, isFinal: boolean) => void, counters: EngineCounters) {
    this.sid = sid;
    this.protocol = protocol;
    this.transport = transport;
    this.request = request;
    this.#timings = timings;
    this.#heartbeat = heartbeat;
    this.#onEnd = onEnd;
    this.#counters = counters;
  }

  get ws(): ServerWebSocket<WsData> | null {
    return this.#ws;
  }

  /** A v4 WebSocket session can receive room broadcasts through Bun topics (v3 frames binary differently). */
  get canSubscribe(): boolean {
    return this.#ws !== null && this.protocol === 4;
  }

  /** The open packet; the caller sends it first. */
  openPacket(upgrades: readonly string[], maxPayload: number): string {
    return "0" + JSON.stringify({
      sid: this.sid,
      upgrades,
      pingInterval: this.#timings.pingIntervalMs,
      pingTimeout: this.#timings.pingTimeoutMs,
      maxPayload,
    });
  }

  /**
   * Joins the engine's heartbeat (engine/heartbeat.ts) at `tick`. v4: the server pings; v3: the
   * client pings and the server watches.
   */
  start(tick: number): void {
    this.#pongTick = tick;
    this.#lastPingAt = performance.now();
  }

  onPing(tick: number, now: number, graceMs: number): void {
    if (this.protocol !== 4) return;
    // Just opened (#lastPingAt is the start time for v4): this tick counts as answered.
    if (now - this.#lastPingAt < graceMs) this.#pongTick = tick;
    else this.send("2");
  }

  checkHeartbeat(tick: number, now: number): void {
    if (!this.isOpen) return;
    const isLate = this.protocol === 4
      ? this.#pongTick < tick
      : now - this.#lastPingAt > this.#timings.pingIntervalMs + this.#timings.pingTimeoutMs;
    if (isLate) this.close("ping timeout");
  }

  attachWebSocket(ws: ServerWebSocket<WsData>): void {
    this.#ws = ws;
  }

  /** Writes one frame. Volatile frames are dropped when the transport cannot take them now. */
  send(frame: Frame, isVolatile = false, compress = false): void {
    if (!this.isOpen) return;
    const ws = this.#ws;
    if (ws !== null) {
      if (isVolatile && ws.getBufferedAmount() > this.#timings.volatileDropBytes) return;
      const data = typeof frame === "string" || this.protocol === 4 ? frame : binaryFrameV3(frame);
      // -1: queued over Bun's backpressure mark; 0: dropped (closing, or past maxBufferedBytes).
      const status = ws.send(data, compress);
      // Bun answers 0 for an empty frame it did send (an empty binary attachment): not a drop.
      // Bun answers the bytes it wrote; a frame queued over the mark (-1) leaves later, whole.
      if (status > 0) this.#counters.bytesOut += status;
      else if (status < 0) this.#counters.bytesOut += typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
      if (status <= 0 && (status < 0 || data.length > 0)) this.#onBackpressure(status);
      else if (this.#backpressureSince !== 0) this.#backpressureSince = 0;
      return;
    }
    if (isVolatile && this.#pendingPoll === null) return;
    this.#buffer.push(frame);
    this.#bufferedBytes += typeof frame === "string" ? frame.length : frame.byteLength;
    if (this.#bufferedBytes > this.#timings.maxBufferedBytes) return this.close("slow consumer");
    if (this.#pendingPoll !== null && !this.#isFlushScheduled) {
      // One flush per tick: frames written in the same tick leave in one response.
      this.#isFlushScheduled = true;
      queueMicrotask(() => this.#flushPoll());
    }
  }

  // Slow consumers (STYLE 2.9): a dropped frame is lost, so past maxDroppedFrames the session ends
  // (the client reconnects, and connection state recovery replays what it missed); a socket that
  // stays backpressured while we keep writing to it is ended too, before Bun's buffer fills.
  #onBackpressure(status: number): void {
    if (status === 0) {
      this.#counters.framesDropped++;
      if (++this.droppedCount > this.#timings.maxDroppedFrames) this.close("slow consumer");
      return;
    }
    const now = performance.now();
    if (this.#backpressureSince === 0) this.#backpressureSince = now;
    else if (now - this.#backpressureSince > this.#timings.maxBackpressureMs) this.close("slow consumer");
  }

  /** Bun's drain: the WebSocket's buffer went back under its backpressure mark. */
  onDrain(ws: ServerWebSocket<WsData>): void {
    if (ws === this.#ws) this.#backpressureSince = 0;
  }

  // A method, not an arrow field: WebSocket sessions never poll, so they carry no closure for it.
  #flushPoll(): void {
    this.#isFlushScheduled = false;
    const resolve = this.#pendingPoll;
    if (resolve === null || this.#buffer.length === 0) return;
    this.#pendingPoll = null;
    const body = encodePayload(this.#buffer, this.protocol);
    this.#buffer = [];
    this.#bufferedBytes = 0;
    resolve(body);
  }

  /** Answers a pending GET with a noop when nothing else is on its way (mid-upgrade). */
  noopPendingPoll(): void {
    if (this.#pendingPoll !== null && this.isOpen && this.transport === "polling" && this.#buffer.length === 0) this.send("6");
  }

  /** Long-polling GET. Returns the body now, or a promise settled by the next write. */
  poll(signal: AbortSignal): string | Promise<string | null> | "overlap" {
    if (!this.isOpen) {
      if (this.#isClosedByClient) {
        this.#end();
        return encodePayload(["6"], this.protocol);
      }
      // A closing session's GETs: the frames written before close(), then the close packet.
      if (this.#buffer.length > 0) {
        const body = encodePayload(this.#buffer, this.protocol);
        this.#buffer = [];
        this.#bufferedBytes = 0;
        return body;
      }
      this.#end();
      return encodePayload(["1"], this.protocol);
    }
    if (this.#pendingPoll !== null) return "overlap";
    if (this.#buffer.length > 0) {
      const body = encodePayload(this.#buffer, this.protocol);
      this.#buffer = [];
      this.#bufferedBytes = 0;
      return body;
    }
    // Mid-upgrade, a GET with nothing to carry gets a noop soon, so the client can pause polling
    // and send `5` on the probe (engine.io sends noops while upgrading for the same reason).
    if (this.#isUpgrading) setImmediate(noopPendingPoll, this);
    return new Promise<string | null>((resolve) => {
      this.#pendingPoll = resolve;
      // engine.io: a poll closed by the client before it was answered ends the session.
      signal.addEventListener("abort", () => {
        if (this.#pendingPoll === resolve) {
          this.#pendingPoll = null;
          this.close("transport error");
        }
      }, { once: true });
    });
  }

  onPacket(packet: EnginePacket): void {
    switch (packet.type) {
      case MESSAGE:
        this.handler?.onMessage(packet.data);
        return;
      case PONG:
        if (this.protocol === 4) this.#pongTick = this.#heartbeat.tick;
        return;
      case PING:
        if (this.protocol === 3) {
          this.send("3" + (typeof packet.data === "string" ? packet.data : ""));
          this.#lastPingAt = performance.now();
          return;
        }
        return this.close("parse error");
      case CLOSE: {
        // A GET waiting beside the close packet's POST is answered with a noop (engine.io polling
        // onClose); the session is gone for the next one.
        const resolve = this.#pendingPoll;
        this.#pendingPoll = null;
        if (resolve !== null) resolve(encodePayload(["6"], this.protocol));
        else if (this.#ws === null) this.#isClosedByClient = true;
        // close() leaves the WebSocket to its own close event on "transport close"; here the
        // socket is still open and MUST be closed too (engine.io clearTransport).
        this.close("transport close");
        this.#ws?.close();
        return;
      }
      case NOOP:
        return;
      default: // OPEN from a client, or UPGRADE outside a probe
        return this.close("parse error");
    }
  }

  /**
   * A WebSocket opened with this session's sid. Like engine.io, only one may try to upgrade a
   * long-polling session; any other (the session upgraded, or another probe under way) is accepted
   * and closed at once.
   */
  onProbeOpen(ws: ServerWebSocket<WsData>): void {
    if (this.transport !== "polling" || !this.isOpen || this.#probe !== null) return ws.close();
    this.#probe = ws;
    setTimeout(closeStaleProbe, UPGRADE_TIMEOUT_MS, this, ws).unref();
  }

  /** The upgrade timeout: a probe that is still one is closed. */
  closeStaleProbe(ws: ServerWebSocket<WsData>): void {
    if (ws === this.#probe && ws.data.isProbe) ws.close();
  }

  /** A packet on the upgrade probe WebSocket: `2probe` → `3probe` (+ noop to the poll), then `5`. */
  onProbePacket(ws: ServerWebSocket<WsData>, packet: EnginePacket): void {
    if (ws !== this.#probe) return ws.close(1008);
    if (!this.isOpen && packet.type === UPGRADE) return this.#closeThroughProbe(ws);
    if (!this.isOpen || this.transport !== "polling") return ws.close(1008);
    if (packet.type === PING && packet.data === "probe") {
      ws.send("3probe");
      this.#isUpgrading = true;
      // A pending GET returns with a noop so the client can pause polling and send `5`; not at
      // once, so a `5` already on its way (sent right behind `2probe`) completes the upgrade
      // first and the GET is refused like any GET after the upgrade.
      if (this.#pendingPoll !== null) setImmediate(noopPendingPoll, this);
      return;
    }
    if (packet.type === UPGRADE) return this.#completeUpgrade(ws);
    ws.close(1008);
  }

  #completeUpgrade(ws: ServerWebSocket<WsData>): void {
    ws.data.isProbe = false;
    this.#probe = null;
    this.#isUpgrading = false;
    this.transport = "websocket";
    this.#ws = ws;
    // A GET still pending belongs to a transport that is gone: refused like the GETs after it.
    const resolve = this.#pendingPoll;
    this.#pendingPoll = null;
    if (resolve !== null) resolve(null);
    const buffered = this.#buffer;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    ws.cork(() => {
      for (const frame of buffered) ws.send(typeof frame === "string" || this.protocol === 4 ? frame : binaryFrameV3(frame));
    });
    this.handler?.onTransportChange();
  }

  onWebSocketClose(ws: ServerWebSocket<WsData>): void {
    if (ws === this.#probe) {
      this.#probe = null;
      this.#isUpgrading = false;
    }
    else if (ws === this.#ws) this.close("transport close");
  }

  /** Ends the session. MUST be idempotent: transports, timers and the layer above all call it. */
  close(reason: EngineCloseReason, detail?: string): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    // A server-side close MUST deliver what was written just before it (the DISCONNECT packets of
    // socket.disconnect(true)) ahead of the close packet, in a separate response, as engine.io
    // drains its write buffer first: socket.io-client defers decoded packets by a tick, so a close
    // packet in the same payload overtakes the DISCONNECT ("transport close", not "io server disconnect").
    const isDrained = this.#ws === null && (reason === "forced close" || reason === "server shutting down" || reason === "policy violation");
    const last = isDrained ? this.#buffer : [];
    this.#buffer = [];
    this.#bufferedBytes = 0;
    const resolve = this.#pendingPoll;
    this.#pendingPoll = null;
    // A slow consumer's close frame would wait behind the data it does not read: cut it.
    if (this.#ws !== null && reason === "slow consumer") this.#ws.terminate();
    else if (this.#ws !== null && reason === "policy violation") this.#ws.close(1008, detail ?? reason);
    else if (this.#ws !== null && reason !== "transport close") this.#ws.close();
    if (this.#isClosedByClient) {
      // Reachable a moment for the GET that may be on its way; no longer counted against the limits.
      this.#probe?.close();
      this.#onEnd(this, false);
      this.#linger();
    } else if (!isDrained || (resolve !== null && last.length === 0)) {
      this.#probe?.close();
      if (resolve !== null) resolve(encodePayload(["1"], this.protocol));
      this.#end();
    } else {
      // A probe that answered `3probe` stays open: the client may have paused polling for it
      // and will send `5` there instead of another GET (see #closeThroughProbe).
      // Like engine.io's polling `shouldClose`: the session stays reachable until the client's
      // GETs collected the last frames and the close packet (without it the next GET gets an
      // unknown sid and the client reports "transport error"), or for pingTimeout at most.
      if (resolve !== null) resolve(encodePayload(last, this.protocol));
      else this.#buffer = last;
      this.#linger();
    }
    this.handler?.onClose(reason);
  }

  #linger(): void {
    this.#lingerTimer = setTimeout(this.#end, this.#timings.pingTimeoutMs);
    this.#lingerTimer.unref();
  }

  // MUST run once: the engine forgets the session here (and gives its counts back, if not yet).
  #end = (): void => {
    if (this.#isEnded) return;
    this.#isEnded = true;
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    this.#buffer = [];
    this.#probe?.close();
    this.#onEnd(this, true);
  };

  // Closed mid-upgrade: the client paused polling after `3probe` and completes the upgrade, so
  // the last frames and the close packet leave through the new WebSocket. Closing the probe
  // instead leaves the client paused, deaf until its own ping timeout (pingInterval + pingTimeout).
  #closeThroughProbe(ws: ServerWebSocket<WsData>): void {
    ws.data.isProbe = false;
    this.#probe = null;
    for (const frame of this.#buffer) ws.send(typeof frame === "string" || this.protocol === 4 ? frame : binaryFrameV3(frame));
    ws.send("1");
    ws.close();
    this.#end();
  }
}

/** The noop that lets a client pause polling mid-upgrade (engine.io polling `noop` while upgrading). */
function noopPendingPoll(session: Session): void {
  session.noopPendingPoll();
}

function closeStaleProbe(session: Session, ws: ServerWebSocket<WsData>): void {
  session.closeStaleProbe(ws);
}
