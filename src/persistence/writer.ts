// The write-behind queue: the hot path enqueues synchronously; batches are flushed as one multi-row
// statement per op kind, on size or time, with retries. Every enqueued op gets exactly one onResult.
import { log } from "../log.ts";
import type { Db } from "./db.ts";
import { insertMessages, upsertPresence, upsertReceipts } from "./queries.ts";
import type { NewMessage, NewReceipt, PresenceRow } from "./schema.ts";
import type { Spool } from "./spool.ts";

/** The closed set of writes that go through the queue; each kind is flushed as one statement. */
export type WriteOp =
  | { kind: "message"; row: NewMessage }
  | { kind: "receipt"; row: NewReceipt }
  | { kind: "presence"; row: PresenceRow };

/**
 * | code             | when                                                                 | retry helps? |
 * |------------------|----------------------------------------------------------------------|--------------|
 * | queue_full       | `maxQueue` ops already waiting; answered synchronously inside enqueue | later, yes   |
 * | persist_failed   | transient errors outlived `maxRetries`, a flush deadline, or closed   | yes          |
 * | persist_rejected | the database refused this row (constraint, bad data)                 | no           |
 * | persist_deferred | closing, the database did not take it; it stays in the spool and the  | no: the next |
 * |                  | next start stores it (only message ops, only with a spool)           | start stores |
 */
export type WriteErrorCode = "queue_full" | "persist_failed" | "persist_rejected" | "persist_deferred";
export type WriteError = { readonly code: WriteErrorCode; readonly message: string };
export type WriteResult = { readonly ok: true } | { readonly ok: false; readonly error: WriteError };
export type OnResult = (result: WriteResult) => void;

export interface WriterOptions {
  /** Ops per flush. @default 500 */
  batchSize: number;
  /** Longest an op waits for a batch to fill. @default 20 */
  flushEveryMs: number;
  /** Ops waiting (not counting the batch in flight) before enqueue answers queue_full. @default 100_000 */
  maxQueue: number;
  /** Retries of a transient error before the batch fails with persist_failed. @default 5 */
  maxRetries: number;
  /** First backoff; doubles per retry, with jitter. @default 100 */
  retryBaseMs?: number;
  /** @default 5_000 */
  retryMaxMs?: number;
  /**
   * Client-side bound on one statement. The server's statement_timeout cannot fire when the network
   * swallows packets (a partition, or a peer that never answers the startup): then this does.
   * The abandoned statement may still commit later; ON CONFLICT makes the retry harmless. @default 30_000
   */
  statementTimeoutMs?: number;
  /** How long flush() may take before the ops still waiting fail with persist_failed. @default 10_000 */
  flushTimeoutMs?: number;
  /** Journals message ops so a kill -9 loses none (spool.ts); unset = memory only. */
  spool?: Spool;
  /**
   * Settles when the database can take rows (migrations applied: db.ts `ready`). Until then ops wait in
   * the queue (and the spool) instead of failing; flush()'s deadline still applies. @default ready now
   */
  ready?: Promise<void>;
}

export interface WriterStats {
  depth: number;
  inFlight: number;
  persisted: number;
  failed: number;
  retries: number;
}

type Kind = WriteOp["kind"];
type RowOf<K extends Kind> = Extract<WriteOp, { kind: K }>["row"];

const STATEMENTS: { [K in Kind]: (db: Db, rows: RowOf<K>[]) => Promise<void> } = {
  message: insertMessages,
  receipt: upsertReceipts,
  presence: upsertPresence,
};
// Messages first: a receipt in the same batch may name a message of that batch.
const KINDS: readonly Kind[] = ["message", "receipt", "presence"];
// Postgres binds at most 65,535 parameters per statement; messages have 11 columns.
const MAX_ROWS_PER_STATEMENT = 5_000;

const OK: WriteResult = Object.freeze({ ok: true });
const QUEUE_FULL: WriteResult = Object.freeze({ ok: false, error: Object.freeze({ code: "queue_full", message: "persistence queue is full" }) });
const CLOSED: WriteResult = Object.freeze({ ok: false, error: Object.freeze({ code: "persist_failed", message: "writer is closed" }) });
const DEFERRED: WriteResult = Object.freeze({
  ok: false,
  error: Object.freeze({ code: "persist_deferred", message: "not stored before shutdown: kept in the spool, stored at the next start" }),
});

export class Writer {
  readonly #db: Db;
  readonly #batchSize: number;
  readonly #flushEveryMs: number;
  readonly #maxQueue: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #flushTimeoutMs: number;
  readonly #statementTimeoutMs: number;
  // Parallel arrays with a moving head: enqueue is two pushes, dequeue is a slice (no per-op wrapper).
  #ops: WriteOp[] = [];
  #callbacks: OnResult[] = [];
  #head = 0;
  #inFlight = 0;
  #persisted = 0;
  #failed = 0;
  #retries = 0;
  #timer: Timer | undefined;
  #isKickQueued = false;
  #running: Promise<void> | undefined;
  #drainCount = 0;
  #isGivingUp = false;
  #isClosed = false;
  #isFullReported = false;
  #wakeBackoff: (() => void) | undefined;
  readonly #spool: Spool | undefined;
  #ready: Promise<void> | undefined;
  #wakeReady: (() => void) | undefined;

  constructor(db: Db, options: WriterOptions) {
    this.#db = db;
    this.#batchSize = options.batchSize;
    this.#flushEveryMs = options.flushEveryMs;
    this.#maxQueue = options.maxQueue;
    this.#maxRetries = options.maxRetries;
    this.#retryBaseMs = options.retryBaseMs ?? 100;
    this.#retryMaxMs = options.retryMaxMs ?? 5_000;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this.#statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    this.#spool = options.spool;
    this.#ready = options.ready;
    void options.ready?.then(() => (this.#ready = undefined));
  }

  /**
   * Synchronous and O(1): no await, no database call. Returns false when the op was refused at once
   * (onResult has then already been called with queue_full or persist_failed).
   */
  enqueue(op: WriteOp, onResult: OnResult): boolean {
    if (this.#isClosed) return this.#refuse(onResult, CLOSED);
    if (this.#ops.length - this.#head >= this.#maxQueue) {
      if (!this.#isFullReported) log.warn?.("persistence queue full", { maxQueue: this.#maxQueue });
      this.#isFullReported = true;
      return this.#refuse(onResult, QUEUE_FULL);
    }
    this.#isFullReported = false;
    // Journaled only once accepted: a refused op is answered now and needs no replay.
    if (op.kind === "message" && this.#spool) onResult = this.#spool.track(op.row, onResult);
    this.#ops.push(op);
    this.#callbacks.push(onResult);
    if (this.#running === undefined) this.#schedule();
    return true;
  }

  stats(): WriterStats {
    return {
      depth: this.#ops.length - this.#head,
      inFlight: this.#inFlight,
      persisted: this.#persisted,
      failed: this.#failed,
      retries: this.#retries,
    };
  }

  /**
   * Persists everything enqueued so far. Past `flushTimeoutMs`, retries stop and the ops still waiting
   * fail with persist_failed; the statement in flight is bounded by the database's statement timeout.
   */
  async flush(): Promise<void> {
    this.#drainCount++;
    const deadline = setTimeout(() => this.#giveUp(), this.#flushTimeoutMs);
    try {
      while (this.#ops.length > this.#head || this.#running) await this.#start();
    } finally {
      clearTimeout(deadline);
      if (--this.#drainCount === 0) this.#isGivingUp = false;
    }
  }

  /** Refuses new ops, then flushes. The database stays open: its owner closes it. */
  async close(): Promise<void> {
    this.#isClosed = true;
    await this.flush();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #refuse(onResult: OnResult, result: WriteResult): false {
    this.#failed++;
    settle(onResult, result);
    return false;
  }

  // Size → a microtask, so enqueue itself never starts a query; otherwise one timer per batch window.
  #schedule(): void {
    if (this.#ops.length - this.#head >= this.#batchSize) {
      if (this.#isKickQueued) return;
      this.#isKickQueued = true;
      queueMicrotask(this.#kick);
    } else {
      this.#timer ??= setTimeout(this.#kick, this.#flushEveryMs);
    }
  }

  #kick = (): void => {
    this.#isKickQueued = false;
    void this.#start();
  };

  // MUST be the only way a flush starts: it keeps one flush in flight at a time.
  #start(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#ops.length > this.#head && this.#drainCount === 0) this.#schedule();
    });
    return this.#running;
  }

  async #loop(): Promise<void> {
    do await this.#flushBatch();
    while (this.#ops.length - this.#head >= this.#batchSize || (this.#drainCount > 0 && this.#ops.length > this.#head));
  }

  async #flushBatch(): Promise<void> {
    if (this.#ready !== undefined && !(await this.#waitReady())) return;
    const end = Math.min(this.#ops.length, this.#head + this.#batchSize);
    const ops = this.#ops.slice(this.#head, end);
    const callbacks = this.#callbacks.slice(this.#head, end);
    this.#head = end;
    this.#compact();
    this.#inFlight = ops.length;
    try {
      for (const kind of KINDS) {
        const rows: WriteOp["row"][] = [];
        const waiting: OnResult[] = [];
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i]!;
          if (op.kind === kind) {
            rows.push(op.row);
            waiting.push(callbacks[i]!);
          }
        }
        for (let i = 0; i < rows.length; i += MAX_ROWS_PER_STATEMENT)
          await this.#persist(kind, rows.slice(i, i + MAX_ROWS_PER_STATEMENT), waiting.slice(i, i + MAX_ROWS_PER_STATEMENT));
      }
    } finally {
      this.#inFlight = 0;
    }
  }

  // Drops the consumed prefix once it dominates the arrays: amortised O(1) per op.
  #compact(): void {
    if (this.#head < 4096 || this.#head * 2 < this.#ops.length) return;
    this.#ops = this.#ops.slice(this.#head);
    this.#callbacks = this.#callbacks.slice(this.#head);
    this.#head = 0;
  }

  // Transient errors retry the same statement (ON CONFLICT makes a replay harmless). A permanent
  // error splits the batch in halves until the bad rows are isolated: one bad row costs
  // ~2·log2(batch) statements and fails alone with persist_rejected; the good rows are stored.
  async #persist(kind: Kind, rows: WriteOp["row"][], callbacks: OnResult[]): Promise<void> {
    const statement = STATEMENTS[kind] as (db: Db, rows: WriteOp["row"][]) => Promise<void>;
    for (let attempt = 0; ; attempt++) {
      try {
        await bounded(statement(this.#db, rows), this.#statementTimeoutMs);
        this.#persisted += rows.length;
        this.#inFlight = Math.max(0, this.#inFlight - rows.length); // stored: no longer in flight
        return settleInSlices(callbacks, OK);
      } catch (error) {
        if (!isTransient(error)) {
          if (rows.length === 1) return this.#fail(kind, callbacks, "persist_rejected", error);
          const half = rows.length >> 1;
          await this.#persist(kind, rows.slice(0, half), callbacks.slice(0, half));
          return this.#persist(kind, rows.slice(half), callbacks.slice(half));
        }
        if (attempt >= this.#maxRetries || this.#isGivingUp) {
          if (this.#isDeferred(kind)) return this.#defer(callbacks, error);
          return this.#fail(kind, callbacks, "persist_failed", error);
        }
        this.#retries++;
        log.warn?.("persist retry", { kind, rows: rows.length, attempt: attempt + 1, error: rootOf(error) });
        await this.#backoff(attempt);
      }
    }
  }

  // Closing (the sockets are gone: nobody would hear "failed"), a journaled message is not dropped:
  // the spool keeps it and the next start stores it.
  #isDeferred(kind: Kind): boolean {
    return this.#isClosed && kind === "message" && this.#spool !== undefined;
  }

  #defer(callbacks: OnResult[], error: unknown): void {
    log.warn?.("not stored before shutdown: kept in the spool for the next start", { rows: callbacks.length, error: rootOf(error) });
    for (const onResult of callbacks) settle(onResult, DEFERRED);
  }

  #fail(kind: Kind, callbacks: OnResult[], code: WriteErrorCode, error: unknown): void {
    const cause = rootOf(error);
    log.error?.("persist failed", { kind, rows: callbacks.length, code, error: cause });
    const result: WriteResult = { ok: false, error: { code, message: cause instanceof Error ? cause.message : String(cause) } };
    this.#failed += callbacks.length;
    for (const onResult of callbacks) settle(onResult, result);
  }

  #backoff(attempt: number): Promise<void> {
    const delayMs = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, delayMs);
    this.#wakeBackoff = () => {
      clearTimeout(timer);
      resolve();
    };
    return promise.finally(() => (this.#wakeBackoff = undefined));
  }

  // False when flush()'s deadline came first: #giveUp has then answered every queued op.
  async #waitReady(): Promise<boolean> {
    if (this.#isGivingUp) return false;
    const woken = new Promise<false>((resolve) => (this.#wakeReady = () => resolve(false)));
    try {
      return await Promise.race([this.#ready!.then(() => true), woken]);
    } finally {
      this.#wakeReady = undefined;
    }
  }

  // flush() deadline: stop retrying, and fail what has not been taken yet.
  #giveUp(): void {
    this.#isGivingUp = true;
    this.#wakeBackoff?.();
    this.#wakeReady?.();
    const ops = this.#ops.slice(this.#head);
    const callbacks = this.#callbacks.slice(this.#head);
    this.#head = this.#ops.length;
    this.#compact();
    if (callbacks.length === 0) return;
    const failed: OnResult[] = [];
    const deferred: OnResult[] = [];
    for (let i = 0; i < ops.length; i++) (this.#isDeferred(ops[i]!.kind) ? deferred : failed).push(callbacks[i]!);
    log.error?.("flush timed out", { dropped: failed.length, spooled: deferred.length, flushTimeoutMs: this.#flushTimeoutMs });
    const result: WriteResult = { ok: false, error: { code: "persist_failed", message: "flush timed out" } };
    this.#failed += failed.length;
    for (const onResult of failed) settle(onResult, result);
    for (const onResult of deferred) settle(onResult, DEFERRED);
  }
}

class StatementTimeout extends Error {
  readonly code = "STATEMENT_TIMEOUT";
}

async function bounded(statement: Promise<void>, timeoutMs: number): Promise<void> {
  const timeout = Promise.withResolvers<never>();
  const timer = setTimeout(() => timeout.reject(new StatementTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    await Promise.race([statement, timeout.promise]);
  } finally {
    clearTimeout(timer);
    statement.catch(() => {}); // abandoned after a timeout: its late rejection is not news
  }
}

// A batch's callbacks emit its confirmations; run back to back, a 500-row batch holds the event loop
// for milliseconds and delays the optimistic messages arriving meanwhile (the chat bench's p99).
// Between slices the loop reads its sockets again.
const SETTLE_SLICE = 32;

async function settleInSlices(callbacks: OnResult[], result: WriteResult): Promise<void> {
  for (let i = 0; i < callbacks.length; i++) {
    if (i > 0 && i % SETTLE_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    settle(callbacks[i]!, result);
  }
}

// A throwing callback MUST NOT keep the rest of the batch from hearing back.
function settle(onResult: OnResult, result: WriteResult): void {
  try {
    onResult(result);
  } catch (error) {
    log.error?.("writer onResult threw", { error });
  }
}

// Drizzle wraps driver errors in DrizzleQueryError; the SQLSTATE is on the cause.
function rootOf(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current;
}

// SQLSTATE classes worth retrying (PostgreSQL Appendix A): 08 connection exception, 40 transaction
// rollback (serialization failure, deadlock), 53 insufficient resources, 57 operator intervention
// (admin shutdown, statement timeout), 58 system error; 55P03 lock not available. Errors with a
// non-SQLSTATE code (ECONNREFUSED, EPIPE, CONNECTION_CLOSED, CONNECT_TIMEOUT, STATEMENT_TIMEOUT) come from the socket:
// retry. No SQLSTATE class starts with "E", which keeps five-letter errno names (EPIPE) out.
// TypeError/RangeError mean a row the driver could not serialise: permanent.
export function isTransient(error: unknown): boolean {
  const root = rootOf(error);
  const code = (root as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code))
    return ["08", "40", "53", "57", "58"].includes(code.slice(0, 2)) || code === "55P03";
  if (typeof code === "string") return true;
  return !(root instanceof TypeError || root instanceof RangeError);
}
