// A minimal listener registry for Server, Namespace and Socket. Unlike Node's EventEmitter it has
// no `emit` (on a Socket, `emit` sends to the client) and an "error" event with no listener does
// not throw. A listener that throws or rejects is logged and never reaches the transport.
import { log } from "./log.ts";
import type { DefaultEventsMap, EventNames, EventsMap, ReservedOrUserEventNames, ReservedOrUserListener } from "./socketio/typed-events.ts";

export type Listener = (...args: any[]) => unknown;
type Wrapped = Listener & { listener?: Listener };

// One listener is stored as is, several as an array, in a null-prototype object: sockets that
// register the same events in the same order share one shape, so an idle socket with three
// handlers costs one small object instead of a Map and three arrays (bench: memory per connection).
type Entry = Wrapped | Wrapped[];

/**
 * `ListenEvents` and `ReservedEvents` only type `on`/`once`/`off` (socket.io's StrictEventEmitter);
 * the defaults accept any event name and any listener.
 */
export class Listeners<ListenEvents extends EventsMap = DefaultEventsMap, ReservedEvents extends EventsMap = {}> {
  #listeners: Record<string, Entry> | null = null;

  on<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event: Ev, listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>): this;
  on(event: string, listener: Listener): this {
    return this.#add(event, listener);
  }

  #add(event: string, listener: Listener): this {
    const all = (this.#listeners ??= Object.create(null) as Record<string, Entry>);
    const entry = all[event];
    if (entry === undefined) all[event] = listener;
    else if (typeof entry === "function") all[event] = [entry, listener];
    else entry.push(listener);
    return this;
  }

  addListener<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event: Ev, listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>): this {
    return this.on(event, listener);
  }

  /** As on(), but the listener runs before those already registered (Node's EventEmitter#prependListener). */
  prependListener(event: string, listener: Listener): this {
    const entry = this.#listeners?.[event];
    if (entry === undefined) return (this.on as (event: string, listener: Listener) => this)(event, listener);
    this.#listeners![event] = typeof entry === "function" ? [listener, entry] : [listener, ...entry];
    return this;
  }

  once<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event: Ev, listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>): this;
  once(event: string, listener: Listener): this {
    const wrapped: Wrapped = (...args: unknown[]) => {
      this.#remove(event, wrapped);
      return listener.apply(this, args);
    };
    wrapped.listener = listener;
    return this.#add(event, wrapped);
  }

  off<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event?: Ev, listener?: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>): this;
  off(event?: string, listener?: Listener): this {
    return this.#remove(event, listener);
  }

  #remove(event?: string, listener?: Listener): this {
    const all = this.#listeners;
    if (all === null) return this;
    if (event === undefined) {
      this.#listeners = null;
      return this;
    }
    const entry = all[event];
    if (entry === undefined) return this;
    if (listener === undefined) {
      delete all[event];
      return this;
    }
    const matches = (fn: Wrapped) => fn === listener || fn.listener === listener;
    if (typeof entry === "function") {
      if (matches(entry)) delete all[event];
      return this;
    }
    const index = entry.findIndex(matches);
    if (index !== -1) entry.splice(index, 1);
    if (entry.length === 0) delete all[event];
    else if (entry.length === 1) all[event] = entry[0]!;
    return this;
  }

  removeListener<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event: Ev, listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: ReservedOrUserEventNames<ReservedEvents, ListenEvents>): this {
    return this.off(event);
  }

  listeners<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(event: Ev): ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>[];
  listeners(event: string): Listener[] {
    const entry = this.#listeners?.[event];
    if (entry === undefined) return [];
    if (typeof entry === "function") return [entry.listener ?? entry];
    return entry.map((fn) => fn.listener ?? fn);
  }

  listenerCount(event: ReservedOrUserEventNames<ReservedEvents, ListenEvents>): number {
    const entry = this.#listeners?.[event];
    return entry === undefined ? 0 : typeof entry === "function" ? 1 : entry.length;
  }

  /** Calls the listeners of `event` with `args`; false when there were none. */
  protected emitReserved(event: string, ...args: unknown[]): boolean {
    return this.dispatch(event, args);
  }

  protected dispatch(event: string, args: unknown[]): boolean {
    const entry = this.#listeners?.[event];
    if (entry === undefined) return false;
    if (typeof entry === "function") {
      invoke(this, entry, args, event);
      return true;
    }
    for (const listener of entry.slice()) invoke(this, listener, args, event);
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
