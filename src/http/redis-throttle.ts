// Throttled emits across nodes (issue 5): a key coalesces cluster-wide whichever node the backend
// calls. The window lives in Redis, one hash per key (`<prefix>-throttle#<key>`: owner token, newest
// event, count, queuedAt, dueAt) and an index (`<prefix>-throttle-index`, key → dueAt) for the pending
// list. The node whose submit opened the window owns it and sends it when it ends; the others only
// replace the newest event there. Each step is one Lua script, so a submit never lands between the
// owner's read and delete (it opens the next window instead). Any node may flush or cancel.
// Limit: a window whose owner dies before it ends is dropped (its hash expires OWNER_GRACE_MS later).
import type { Redis } from "ioredis";
import { log } from "../log.ts";
import type { EventThrottle, PendingInfo, SubmitResult, ThrottledEvent } from "./throttle.ts";

export interface RedisThrottleOptions {
  /** Runs the scripts; the adapter's publisher connection will do. */
  redis: Redis;
  /** The cluster's key prefix (REDIS_KEY). */
  prefix: string;
  /** Sends a stored event: another node's `ThrottledEvent.request`. Resolves with the recipient count. */
  send(request: unknown): Promise<number>;
  /** Keys pending at once in the whole cluster; past it submit() refuses. @default 10_000 */
  maxPending?: number;
}

/** How long past its due time a window outlives an owner that never sent it. */
const OWNER_GRACE_MS = 10_000;

// KEYS: entry, index. ARGV: token, stored event, nowMs, dueAtMs, ttlMs, maxPending, key.
// Returns {1, dueAt} for a new window, {0, dueAt} for a replaced event, {-1} when full.
const SUBMIT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'event', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'count', 1)
  return {0, redis.call('HGET', KEYS[1], 'dueAt')}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - ${OWNER_GRACE_MS})
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {-1} end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'event', ARGV[2], 'queuedAt', ARGV[3], 'dueAt', ARGV[4], 'count', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[7])
return {1, ARGV[4]}
`;

// KEYS: entry, index. ARGV: token ('' = whoever owns it), key. Returns {event, count} or nil.
const TAKE = `
local token = redis.call('HGET', KEYS[1], 'token')
if not token or (ARGV[1] ~= '' and token ~= ARGV[1]) then return false end
local taken = redis.call('HMGET', KEYS[1], 'event', 'count')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return taken
`;

interface Stored {
  namespace: string | null;
  event: string;
  to: Record<string, readonly string[]>;
  except: Record<string, readonly string[]>;
  data: unknown;
  request: unknown;
}

export class RedisThrottle implements EventThrottle {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #index: string;
  readonly #send: (request: unknown) => Promise<number>;
  readonly #maxPending: number;
  // Windows this node opened: their timers send them when they end.
  readonly #owned = new Map<string, { token: string; timer: Timer }>();

  constructor(options: RedisThrottleOptions) {
    this.#redis = options.redis;
    this.#prefix = `${options.prefix}-throttle#`;
    this.#index = `${options.prefix}-throttle-index`;
    this.#send = options.send;
    this.#maxPending = options.maxPending ?? 10_000;
  }

  get size(): number {
    return this.#owned.size;
  }

  async submit(key: string, windowMs: number, event: ThrottledEvent): Promise<SubmitResult | null> {
    const stored: Stored = { namespace: event.namespace, event: event.event, to: event.to, except: event.except, data: event.data, request: event.request };
    const token = Bun.randomUUIDv7();
    const now = Date.now();
    const reply = (await this.#redis.eval(
      SUBMIT, 2, this.#prefix + key, this.#index,
      token, JSON.stringify(stored), now, now + windowMs, windowMs + OWNER_GRACE_MS, this.#maxPending, key,
    )) as [number, string?];
    if (reply[0] === -1) return null;
    const dueAtMs = Number(reply[1]);
    if (reply[0] === 0) return { isReplaced: true, dueAtMs };
    // A window of ours still counted here was taken elsewhere (flush, force): this one replaces it.
    clearTimeout(this.#owned.get(key)?.timer);
    const timer = setTimeout(() => void this.#sendOwned(key, token), windowMs);
    this.#owned.set(key, { token, timer });
    return { isReplaced: false, dueAtMs };
  }

  async cancel(key: string): Promise<boolean> {
    this.#forget(key);
    const [[, deleted]] = (await this.#redis.multi().del(this.#prefix + key).zrem(this.#index, key).exec()) as [[Error | null, number]];
    return deleted === 1;
  }

  async list(): Promise<PendingInfo[]> {
    const keys = await this.#redis.zrange(this.#index, "0", "-1");
    if (keys.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.hgetall(this.#prefix + key);
    const replies = (await pipeline.exec()) ?? [];
    const pending: PendingInfo[] = [];
    keys.forEach((key, i) => {
      const fields = replies[i]?.[1] as Record<string, string> | undefined;
      // Gone between the two reads (sent, or expired with its owner): not pending any more.
      if (fields?.event === undefined) return;
      const stored = JSON.parse(fields.event) as Stored;
      pending.push({
        key, namespace: stored.namespace, event: stored.event, to: stored.to, except: stored.except, data: stored.data,
        queuedAt: new Date(Number(fields.queuedAt)).toISOString(),
        dueAt: new Date(Number(fields.dueAt)).toISOString(),
        coalescedCount: Number(fields.count),
      });
    });
    return pending;
  }

  /** Sends every window pending in the cluster now, whoever owns it; resolves with how many were sent. */
  async flush(): Promise<number> {
    const keys = await this.#redis.zrange(this.#index, "0", "-1");
    const sent = await Promise.all(keys.map((key) => this.#take(key, "")));
    return sent.filter(Boolean).length;
  }

  /** Stops this node's timers: the windows it owns are dropped (the sockets are going away). */
  close(): void {
    for (const key of [...this.#owned.keys()]) this.#forget(key);
  }

  #forget(key: string): void {
    const owned = this.#owned.get(key);
    if (owned === undefined) return;
    clearTimeout(owned.timer);
    this.#owned.delete(key);
  }

  async #sendOwned(key: string, token: string): Promise<void> {
    if (this.#owned.get(key)?.token === token) this.#owned.delete(key);
    await this.#take(key, token);
  }

  // Takes the window out of Redis (only if it is still `token`'s, unless token is '') and sends it.
  async #take(key: string, token: string): Promise<boolean> {
    try {
      const taken = (await this.#redis.eval(TAKE, 2, this.#prefix + key, this.#index, token, key)) as [string, string] | null;
      if (taken === null) return false;
      const stored = JSON.parse(taken[0]) as Stored;
      const recipients = await this.#send(stored.request);
      log.debug?.("throttled event sent", { key, event: stored.event, recipients, coalescedCount: Number(taken[1]) });
      return true;
    } catch (err) {
      log.error?.("throttled event failed", { key, err: String(err) });
      return false;
    }
  }
}
