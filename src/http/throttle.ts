// Coalescing of throttled emits (seed 000's throttler): events sharing a key within one window are
// coalesced, and only the newest is sent, once, at the end of the window. The window opens with
// the first event of a key and is never extended, so a steady stream still goes out every `ms`.
// `force` on emit and POST /api/events/flush are seed 000's management commands.
import { log } from "../log.ts";

/** What a pending event will do, and what GET /api/events/pending shows of it. */
export interface ThrottledEvent {
  /** null: the rooms' own namespaces (an emit that named none). */
  readonly namespace: string | null;
  readonly event: string;
  readonly to: Record<string, readonly string[]>;
  readonly except: Record<string, readonly string[]>;
  readonly data: unknown;
  /** Emits now; resolves with the recipient count. */
  send(): Promise<number>;
  /** send()'s input as JSON-safe data: in a cluster another node may send the event (RedisThrottle). */
  readonly request: unknown;
}

export interface PendingInfo {
  key: string;
  namespace: string | null;
  event: string;
  to: Record<string, readonly string[]>;
  except: Record<string, readonly string[]>;
  data: unknown;
  queuedAt: string;
  dueAt: string;
  /** Events submitted under this key in the current window (all but the newest were dropped). */
  coalescedCount: number;
}

interface Pending {
  event: ThrottledEvent;
  queuedAtMs: number;
  dueAtMs: number;
  coalescedCount: number;
  timer: Timer;
}

/** What the HTTP API needs of a throttle: in memory on one node (Throttle), in Redis for a cluster (RedisThrottle). */
export interface EventThrottle {
  /** Windows this node will send when they end (Prometheus' bunsen_throttle_pending). */
  readonly size: number;
  submit(key: string, windowMs: number, event: ThrottledEvent): SubmitResult | null | Promise<SubmitResult | null>;
  cancel(key: string): boolean | Promise<boolean>;
  list(): PendingInfo[] | Promise<PendingInfo[]>;
  flush(): Promise<number>;
  close(): void;
}

export interface SubmitResult {
  isReplaced: boolean;
  dueAtMs: number;
}

export interface ThrottleOptions {
  /** Keys pending at once; past it submit() refuses. @default 10_000 */
  maxPending?: number;
}

export class Throttle implements EventThrottle {
  readonly #pending = new Map<string, Pending>();
  readonly #maxPending: number;

  constructor(options: ThrottleOptions = {}) {
    this.#maxPending = options.maxPending ?? 10_000;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Queues `event` under `key`, replacing the one waiting there. null when the table is full. */
  submit(key: string, windowMs: number, event: ThrottledEvent): SubmitResult | null {
    const current = this.#pending.get(key);
    if (current !== undefined) {
      current.event = event;
      current.coalescedCount++;
      return { isReplaced: true, dueAtMs: current.dueAtMs };
    }
    if (this.#pending.size >= this.#maxPending) return null;
    const now = Date.now();
    const timer = setTimeout(() => void this.#send(key), windowMs);
    this.#pending.set(key, { event, queuedAtMs: now, dueAtMs: now + windowMs, coalescedCount: 1, timer });
    return { isReplaced: false, dueAtMs: now + windowMs };
  }

  /** Drops the event pending under `key` (a forced emit supersedes it). */
  cancel(key: string): boolean {
    const pending = this.#pending.get(key);
    if (pending === undefined) return false;
    clearTimeout(pending.timer);
    return this.#pending.delete(key);
  }

  list(): PendingInfo[] {
    return [...this.#pending].map(([key, p]) => ({
      key,
      namespace: p.event.namespace,
      event: p.event.event,
      to: p.event.to,
      except: p.event.except,
      data: p.event.data,
      queuedAt: new Date(p.queuedAtMs).toISOString(),
      dueAt: new Date(p.dueAtMs).toISOString(),
      coalescedCount: p.coalescedCount,
    }));
  }

  /** Sends every pending event now; resolves with how many were sent. */
  async flush(): Promise<number> {
    const keys = [...this.#pending.keys()];
    await Promise.all(keys.map((key) => this.#send(key)));
    return keys.length;
  }

  /** Drops everything pending (shutdown: the sockets are gone). */
  close(): void {
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
  }

  async #send(key: string): Promise<void> {
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.#pending.delete(key);
    try {
      const recipients = await pending.event.send();
      log.debug?.("throttled event sent", { key, event: pending.event.event, recipients, coalescedCount: pending.coalescedCount });
    } catch (err) {
      log.error?.("throttled event failed", { key, event: pending.event.event, err: String(err) });
    }
  }
}
