// One heartbeat for all the sessions of an engine, instead of two timers per session: a ping
// interval pings every v4 session, and a sweep pingTimeout later closes those that did not answer.
// v3 sessions (the client pings) are watched by the same sweep. Two timers per idle connection
// cost ~0.6 KB of heap (bun:jsc heapStats, 2,000 connections); this costs none.
// Spec: engine.io-protocol v4 "Heartbeat"; v3 for the client-initiated ping.

export interface HeartbeatMember {
  /** Sends the server's ping (v4) `tick`, unless the session opened less than `graceMs` before `now`. */
  onPing(tick: number, now: number, graceMs: number): void;
  /** Closes the session when it missed ping `tick` (v4) or stopped pinging (v3). */
  checkHeartbeat(tick: number, now: number): void;
}

export class Heartbeat {
  /** Pings sent so far; a session remembers the tick of the last ping it answered. */
  tick = 0;
  readonly #members: ReadonlyMap<string, HeartbeatMember>;
  readonly #pingIntervalMs: number;
  readonly #pingTimeoutMs: number;
  /**
   * A session opened this shortly before a tick skips that ping: with one shared interval a new
   * session could otherwise be pinged a moment after its open packet, between a CONNECT reply and
   * the first events (readers that expect those first, as the official test suite's, fail). Its
   * first ping then comes within pingInterval + grace of the open, which MUST stay under
   * pingInterval + pingTimeout, the client's own deadline: grace is half of pingTimeout, 1 s at most.
   */
  readonly #graceMs: number;
  #pingTimer: Timer | null = null;

  constructor(members: ReadonlyMap<string, HeartbeatMember>, pingIntervalMs: number, pingTimeoutMs: number) {
    this.#members = members;
    this.#pingIntervalMs = pingIntervalMs;
    this.#pingTimeoutMs = pingTimeoutMs;
    this.#graceMs = Math.min(pingTimeoutMs / 2, 1000);
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
    const now = performance.now();
    const graceMs = this.#graceMs;
    for (const member of this.#members.values()) member.onPing(tick, now, graceMs);
    // A timer per ping, not one refresh()ed: with pingTimeout >= pingInterval two sweeps overlap.
    setTimeout(this.#sweep, this.#pingTimeoutMs, tick).unref();
  };

  #sweep = (tick: number): void => {
    const now = performance.now();
    for (const member of [...this.#members.values()]) member.checkHeartbeat(tick, now);
  };
}
