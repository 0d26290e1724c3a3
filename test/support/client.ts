// Real socket.io-client (v4, and v2 for EIO3) helpers: connect and wait, next event, disposal.
import { io as ioc, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from "socket.io-client";

export type { ClientSocket };
export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/** Connects a socket.io-client v4 socket and resolves once `connect` fired (rejects on connect_error). */
export async function connect(url: string, options: ClientOptions = {}): Promise<ClientSocket & Disposable> {
  const socket = ioc(url, { forceNew: true, reconnection: false, ...options }) as ClientSocket & Disposable;
  socket[Symbol.dispose] = () => { socket.disconnect(); };
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => reject(err));
  });
  return socket;
}

/** A client that is not connected yet: for tests that expect connect_error. */
export function client(url: string, options: ClientOptions = {}): ClientSocket & Disposable {
  const socket = ioc(url, { forceNew: true, reconnection: false, ...options }) as ClientSocket & Disposable;
  socket[Symbol.dispose] = () => { socket.disconnect(); };
  return socket;
}

interface Emitterish {
  once(event: string, listener: (...args: any[]) => void): unknown;
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function nextEvent(emitter: Emitterish, event: string): Promise<any[]> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args)));
}
