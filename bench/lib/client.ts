// Load-generator clients speaking Engine.IO v4 / Socket.IO v5 by hand, over a raw WebSocket or
// HTTP long-polling, so the client side costs little and exactly the same for every server.
// Spec: engine.io-protocol v4 ("Transports", "Heartbeat", packet encoding with \x1e separators),
// socket.io-protocol v5 (CONNECT "40", EVENT "42[id]", ACK "43<id>").
//
// Hot path: frames are handed to the scenario as raw strings; the scenario decides how much to parse.
// An ack id is a per-client counter; callbacks exist only for rare setup calls (`call`).

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

export class WsClient extends BaseClient {
  readonly transport = "websocket";
  readonly #ws: WebSocket;
  #isClosed = false;

  private constructor(baseUrl: string, auth?: Record<string, unknown>) {
    super();
    if (auth) this.connectPacket = `40${JSON.stringify(auth)}`;
    const url = `${baseUrl.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    this.#ws = new WebSocket(url);
    this.#ws.onmessage = (ev) => {
      if (typeof ev.data === "string") this.onPacket(ev.data);
    };
    this.#ws.onclose = () => {
      this.#isClosed = true;
      this.connected.reject(new Error("websocket closed before CONNECT"));
    };
    this.#ws.onerror = () => this.connected.reject(new Error("websocket error"));
  }

  /** Resolves once the Socket.IO CONNECT reply ("40{…}") arrives; `auth` goes in the CONNECT packet. */
  static async connect(baseUrl: string, timeoutMs = 10_000, auth?: Record<string, unknown>): Promise<WsClient> {
    const client = new WsClient(baseUrl, auth);
    const timer = setTimeout(() => client.connected.reject(new Error("connect timeout")), timeoutMs);
    try {
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
    return !this.#isClosed && this.#ws.readyState === WebSocket.OPEN;
  }

  protected write(packet: string): void {
    this.#ws.send(packet);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#ws.close();
  }
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
