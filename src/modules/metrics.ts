// In-process counters and latency samples for /api/stats and /metrics. Per message, recording is a
// plain number increment (or a Map bump keyed by a bounded label); http/prometheus.ts reads them when
// Prometheus scrapes. Latencies go to prom-client histograms (seconds) and, for the dashboard's
// percentiles, a ring buffer of recent samples, sorted only when read.
import { Histogram } from "prom-client";

class LatencyRing {
  #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(size: number) {
    this.#samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  percentiles(): { count: number; p50: number | null; p99: number | null } {
    if (this.#count === 0) return { count: 0, p50: null, p99: null };
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { count: this.#count, p50: at(0.5), p99: at(0.99) };
  }
}

/** Counts per label value; values outside `known` (when given) count as "other", so the label set stays bounded. */
export class LabelCounts {
  readonly #counts = new Map<string, number>();
  readonly #known: ReadonlySet<string> | null;

  constructor(known?: Iterable<string>) {
    this.#known = known === undefined ? null : new Set(known);
    for (const value of this.#known ?? []) this.#counts.set(value, 0);
  }

  inc(value: string): void {
    const key = this.#known === null || this.#known.has(value) ? value : "other";
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }

  get(value: string): number {
    return this.#counts.get(value) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const count of this.#counts.values()) sum += count;
    return sum;
  }
}

// Chat confirmations wait for a batched INSERT (tens of ms); acks and HTTP calls are mostly sub-ms.
const CONFIRM_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FAST_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Codes a connection can be refused with by the auth middleware (modules/auth.ts). */
export const AUTH_FAILURE_CODES = ["token_missing", "token_invalid", "token_expired", "forbidden"] as const;

export class Metrics {
  eventsIn = 0;
  eventsOut = 0;
  messagesConfirmed = 0;
  /** Chat messages the database did not store (after the writer's retries). */
  messagesFailed = 0;
  /** Chat messages refused before any write (bad request, not a member …), by code. */
  readonly messagesRefused = new LabelCounts();
  /** Connections accepted, by namespace. */
  readonly connects = new LabelCounts();
  /** Disconnections, by reason (the library's DisconnectReason set). */
  readonly disconnects = new LabelCounts();
  /** Connections refused by the auth middleware, by code. */
  readonly authFailures = new LabelCounts(AUTH_FAILURE_CODES);
  /** Events received, by name: names some handler listens for; any other name counts as "other". */
  readonly eventsByName = new LabelCounts();
  readonly startedAt = Date.now();
  /** Optimistic emit → database confirmation, in milliseconds (the dashboard's percentiles). */
  readonly confirmLatency = new LatencyRing(4096);
  // Histograms are registered in the /metrics registry by http/prometheus.ts (no global registry:
  // several apps may run in one process, as in the tests).
  readonly confirmSeconds = new Histogram({ name: "bunsen_confirm_latency_seconds", help: "Chat message: optimistic emit to database confirmation.", buckets: CONFIRM_BUCKETS_S, registers: [] });
  readonly ackSeconds = new Histogram({ name: "bunsen_ack_latency_seconds", help: "An event with an ack from a client: received to acknowledged by the server.", buckets: FAST_BUCKETS_S, registers: [] });
  readonly httpSeconds = new Histogram({ name: "bunsen_http_request_duration_seconds", help: "HTTP API and ops requests, by method, route pattern and status.", labelNames: ["method", "route", "status"], buckets: FAST_BUCKETS_S, registers: [] });
  #last = { at: Date.now(), in: 0, out: 0 };
  #rates = { in: 0, out: 0 };

  recordConfirm(ms: number): void {
    this.messagesConfirmed++;
    this.confirmLatency.record(ms);
    this.confirmSeconds.observe(ms / 1000);
  }

  /** Events per second since the previous call (sampled by the stats reader, at most once a second). */
  rates(): { in: number; out: number } {
    const now = Date.now();
    const seconds = (now - this.#last.at) / 1000;
    if (seconds >= 1) {
      this.#rates = { in: (this.eventsIn - this.#last.in) / seconds, out: (this.eventsOut - this.#last.out) / seconds };
      this.#last = { at: now, in: this.eventsIn, out: this.eventsOut };
    }
    return this.#rates;
  }
}
