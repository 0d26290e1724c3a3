// A minimal listener registry for Server, Namespace and Socket. Unlike Node's EventEmitter it has
// no `emit` (on a Socket, `emit` sends to the client) and an "error" event with no listener does
// not throw. A listener that throws or rejects is logged and never reaches the transport.
import { log } from "../log.ts";

export type Listener = (...args: any[]) => unknown;
type Wrapped = Listener & { listener?: Listener };

export class Listeners {
  #listeners: Map<string, Wrapped[]> | null = null;

  on(event: string, listener: Listener): this {
    this.#listeners ??= new Map();
    const list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, [listener]);
    else list.push(listener);
    return this;
  }

  addListener(event: string, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: string, listener: Listener): this {
    const wrapped: Wrapped = (...args: unknown[]) => {
      this.off(event, wrapped);
      return listener.apply(this, args);
    };
    wrapped.listener = listener;
    return this.on(event, wrapped);
  }

  off(event?: string, listener?: Listener): this {
    if (this.#listeners === null) return this;
    if (event === undefined) {
      this.#listeners.clear();
      return this;
    }
    if (listener === undefined) {
      this.#listeners.delete(event);
      return this;
    }
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const index = list.findIndex((fn) => fn === listener || fn.listener === listener);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string): this {
    return this.off(event);
  }

  listeners(event: string): Listener[] {
    return this.#listeners?.get(event)?.map((fn) => fn.listener ?? fn) ?? [];
  }

  listenerCount(event: string): number {
    return this.#listeners?.get(event)?.length ?? 0;
  }

  /** Calls the listeners of `event` with `args`; false when there were none. */
  protected emitReserved(event: string, ...args: unknown[]): boolean {
    return this.dispatch(event, args);
  }

  protected dispatch(event: string, args: unknown[]): boolean {
    const list = this.#listeners?.get(event);
    if (list === undefined) return false;
    if (list.length === 1) {
      invoke(this, list[0]!, args, event);
      return true;
    }
    for (const listener of list.slice()) invoke(this, listener, args, event);
    return true;
  }
}

/** Runs a user listener; a throw or a rejected promise is logged, never propagated. */
export function invoke(self: unknown, listener: Listener, args: unknown[], event: string): void {
  try {
    const result = listener.apply(self, args);
    if (result instanceof Promise) result.catch((err) => onListenerError(err, event));
  } catch (err) {
    onListenerError(err, event);
  }
}

function onListenerError(err: unknown, event: string): void {
  log.error?.("listener failed", { event, err });
}
