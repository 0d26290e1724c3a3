// Types only (nothing here exists at run time): the event maps that `Server<ListenEvents,
// EmitEvents, ServerSideEvents, SocketData>` takes, and how they type on/emit/acks. Same meaning
// and defaults as socket.io 4.x's generics (lib/typed-events.ts), so code written against its
// typings compiles here: without type arguments every event name and every argument is allowed.

import type { DisconnectReason } from "./reasons.ts";

/** An event name → its listener: `{ chat: (text: string, ack: (ok: boolean) => void) => void }`. */
export interface EventsMap {
  [event: string]: any;
}

/** The map used when no type argument is given: any event, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

/** The event names of a map (string keys only: Socket.IO event names are strings). */
export type EventNames<Map extends EventsMap> = keyof Map & string;

/** The arguments an event's listener takes, which are the arguments its emit takes. */
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

type IsAny<T> = 0 extends 1 & T ? true : false;

export type Last<T extends any[]> = T extends [...infer _Head, infer L] ? L : any;
export type AllButLast<T extends any[]> = T extends [...infer Head, any] ? Head : any[];

/** The first argument of an ack callback that is not its timeout error. */
export type FirstNonErrorArg<T> = T extends (...args: infer Params) => any
  ? Params extends [infer First, ...infer Rest]
    ? [First] extends [Error] ? (Rest extends [infer Second, ...any[]] ? Second : any) : First
    : any
  : any;

/** Events whose last parameter is an ack callback (all names when the map is untyped). */
export type EventNamesWithAck<Map extends EventsMap, K extends EventNames<Map> = EventNames<Map>> =
  IsAny<Last<Parameters<Map[K]>> | Map[K]> extends true ? K
    : K extends (Last<Parameters<Map[K]>> extends (...args: any[]) => any ? K : never) ? K : never;

/** Events whose last parameter is not an ack callback (all names when the map is untyped). */
export type EventNamesWithoutAck<Map extends EventsMap, K extends EventNames<Map> = EventNames<Map>> =
  IsAny<Last<Parameters<Map[K]>> | Map[K]> extends true ? K
    : K extends (Parameters<Map[K]> extends [] ? K : never) ? K
    : K extends (Last<Parameters<Map[K]>> extends (...args: any[]) => any ? never : K) ? K : never;

/** A map without the events that expect an ack (what a broadcast without timeout() may emit). */
export type RemoveAcknowledgements<E extends EventsMap> = { [K in EventNamesWithoutAck<E>]: E[K] };

/** An untyped listener when the event is not in the map, so untyped use stays as loose as before. */
export type FallbackToUntypedListener<T> = [T] extends [never] ? (...args: any[]) => void | Promise<void> : T;

export type ReservedOrUserEventNames<ReservedEvents extends EventsMap, UserEvents extends EventsMap> =
  EventNames<ReservedEvents> | EventNames<UserEvents>;

/** A reserved event's listener wins over a user event of the same name. */
export type ReservedOrUserListener<
  ReservedEvents extends EventsMap,
  UserEvents extends EventsMap,
  Ev extends ReservedOrUserEventNames<ReservedEvents, UserEvents>,
> = FallbackToUntypedListener<
  Ev extends EventNames<ReservedEvents> ? ReservedEvents[Ev] : Ev extends EventNames<UserEvents> ? UserEvents[Ev] : never
>;

type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result
    ? Params[0] extends Error ? T[K] : (err: Error, ...args: Params) => Result
    : T[K];
};

type ExpectMultipleResponses<T extends any[]> = {
  [K in keyof T]: T[K] extends (err: Error, arg: infer Arg) => infer Result ? (err: Error, arg: Arg[]) => Result : T[K];
};

/** After `socket.timeout(ms)`: every ack callback first receives an `Error` (null when answered in time). */
export type DecorateAcknowledgements<E extends EventsMap> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result ? (...args: PrependTimeoutError<Params>) => Result : E[K];
};

/** A broadcast with an ack: the callback gets `(err, responses[])`, one response per client. */
export type DecorateAcknowledgementsWithMultipleResponses<E extends EventsMap> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result
    ? (...args: ExpectMultipleResponses<PrependTimeoutError<Params>>) => Result
    : E[K];
};

/** The listeners of "connect" and "connection" on a namespace or the server. */
export interface NamespaceReservedEventsMap<Socket> {
  connect: (socket: Socket) => void;
  connection: (socket: Socket) => void;
}

/** Reserved events of the server: the namespace's, and "new_namespace". */
export interface ServerReservedEventsMap<Socket, Namespace> extends NamespaceReservedEventsMap<Socket> {
  new_namespace: (namespace: Namespace) => void;
}

/** A socket's own events: the ones Bunsen emits, never a client's. */
export interface SocketReservedEventsMap {
  disconnect: (reason: DisconnectReason, description?: unknown) => void;
  disconnecting: (reason: DisconnectReason, description?: unknown) => void;
  error: (err: Error) => void;
}
