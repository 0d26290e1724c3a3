// What every module of the ready server receives: the shared services, built once in app.ts.
// Modules use the library's public API (Server, Namespace, Socket) only, as a user's app would.
import type { Config } from "../config.ts";
import type { Verifier } from "../auth/jwt.ts";
import type { Database } from "../persistence/db.ts";
import type { Writer } from "../persistence/writer.ts";
import type { Namespace, Server } from "../index.ts";
import type { Metrics } from "./metrics.ts";

export interface ModuleContext {
  readonly io: Server;
  readonly config: Config;
  readonly database: Database;
  readonly writer: Writer;
  readonly verifier: Verifier;
  readonly metrics: Metrics;
  /** The namespaces the ready server serves (config.namespaces). */
  readonly namespaces: readonly Namespace[];
  /** Whether the cluster bus is up; undefined on a single node (no REDIS_URL). */
  readonly isRedisReady?: () => boolean;
  /** Redis publishes that failed since start; undefined on a single node. */
  readonly redisPublishErrors?: () => number;
}

/** The answer every module acks with: `{ok: true, data}` or `{ok: false, error: {code, message}}`. */
export type Reply<T = unknown> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

export function ok<T>(data: T): Reply<T> {
  return { ok: true, data };
}

export function fail(code: string, message: string): Reply<never> {
  return { ok: false, error: { code, message } };
}

/** The ack function of an event, when the client asked for one. */
export type AckFn = (reply: unknown) => void;

export function ackOf(args: unknown[]): AckFn | undefined {
  const last = args[args.length - 1];
  return typeof last === "function" ? (last as AckFn) : undefined;
}

/** The first argument when it is a plain object, else an empty one (clients send all sorts). */
export function payloadOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function stringField(payload: Record<string, unknown>, key: string, maxLength = 256): string | undefined {
  const value = payload[key];
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return typeof value === "string" && value.length > 0 && value.length <= maxLength ? value : undefined;
}
