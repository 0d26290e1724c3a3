// Helpers for the HTTP API tests: authenticated fetch against startApp's url, sockets connected as
// a user, and an event recorder that proves a socket did NOT receive something without sleeping:
// a later sentinel emit reaches every socket, and per-socket order is preserved.
import { tokenFor } from "../support/app.ts";
import { connect, type ClientSocket } from "../support/client.ts";

export const API_KEY = "test-api-key-0123456789";

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** The raw body, sent as is (bad JSON tests). */
  raw?: string;
  /** Authorization header value; default `Bearer ${API_KEY}`; null sends none. */
  auth?: string | null;
  headers?: Record<string, string>;
}

export async function call(url: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? `Bearer ${API_KEY}` : options.auth;
  if (auth !== null) headers.authorization = auth;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json";
  const res = await fetch(url + path, { method: options.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function userSocket(url: string, sub: string, extra: Record<string, unknown> = {}, nsp = "/"): Promise<ClientSocket & Disposable> {
  const token = await tokenFor({ sub, name: sub, ...extra });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

export interface Recorder {
  readonly events: [string, ...unknown[]][];
  /** Resolves once `event` has been received `count` times in total. */
  until(event: string, count?: number): Promise<void>;
  named(event: string): unknown[][];
}

export function record(socket: ClientSocket): Recorder {
  const events: [string, ...unknown[]][] = [];
  const waiters: { event: string; count: number; resolve: () => void }[] = [];
  const countOf = (event: string) => events.filter(([name]) => name === event).length;
  socket.onAny((event: string, ...args: unknown[]) => {
    events.push([event, ...args]);
    for (const waiter of [...waiters]) {
      if (countOf(waiter.event) >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  return {
    events,
    until(event, count = 1) {
      if (countOf(event) >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ event, count, resolve });
      return promise;
    },
    named: (event) => events.filter(([name]) => name === event).map(([, ...args]) => args),
  };
}
