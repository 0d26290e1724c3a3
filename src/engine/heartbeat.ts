// One heartbeat for all the sessions of an engine, instead of two timers per session: a ping
// interval pings every v4 session, and a sweep pingTimeout later closes those that did not answer.
// v3 sessions (the client pings) are watched by the same sweep. Two timers per idle connection
// cost ~0.6 KB of heap (bun:jsc heapStats, 2,000 connections); this costs none.
// Spec: engine.io-protocol v4 "Heartbeat"; v3 for the client-initiated ping.

export interface HeartbeatMember {
  /** Sends the server's ping (v4). */
  onPing(): void;
  /** Closes the session when it missed ping `tick` (v4) or stopped pinging (v3). */
  checkHeartbeat(tick: number, now: number): void;
}

export class Heartbeat {
  /** Pings sent so far; a session remembers the tick of the last ping it answered. */
  tick = 0;
  readonly #members: ReadonlyMap<string, HeartbeatMember>;
  readonly #pingIntervalMs: number;
  readonly #pingTimeoutMs: number;
  #pingTimer: Timer | null = null;

  constructor(members: ReadonlyMap<string, HeartbeatMember>, pingIntervalMs: number, pingTimeoutMs: number) {
    this.#members = members;
    this.#pingIntervalMs = pingIntervalMs;
    this.#pingTimeoutMs = pingTimeoutMs;
  }

  /** Starts the ping interval with the first session (a Server that never serves has no timer). */
  start(): void {
    if (this.#pingTimer !== null) return;
    this.#pingTimer = setInterval(this.#ping, this.#pingIntervalMs);
    this.#pingTimer.unref();
  }

  stop(): void {
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  #ping = (): void => {
    const tick = ++this.tick;
    for (const member of this.#members.values()) member.onPing();
    // A timer per ping, not one refresh()ed: with pingTimeout >= pingInterval two sweeps overlap.
    setTimeout(this.#sweep, this.#pingTimeoutMs, tick).unref();
  };

  #sweep = (tick: number): void => {
    const now = performance.now();
    for (const member of [...this.#members.values()]) member.checkHeartbeat(tick, now);
  };
}
