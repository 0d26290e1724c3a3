// In-process counters and latency samples for /api/stats and /metrics. Recording is O(1) and
// allocation-free: a ring buffer of recent samples, percentiles computed only when read.

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

export class Metrics {
  eventsIn = 0;
  eventsOut = 0;
  messagesConfirmed = 0;
  messagesFailed = 0;
  readonly startedAt = Date.now();
  /** Optimistic emit → database confirmation, in milliseconds. */
  readonly confirmLatency = new LatencyRing(4096);
  #last = { at: Date.now(), in: 0, out: 0 };
  #rates = { in: 0, out: 0 };

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
