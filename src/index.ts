// Bunsen's library API: a Socket.IO 4.x-style server on Bun.serve.
export { Server, type ServerOptions, type ServeOptions } from "./socketio/server.ts";
export { Namespace, ParentNamespace, type Middleware, type ConnectError } from "./socketio/namespace.ts";
export { Socket, type Handshake } from "./socketio/socket.ts";
export { BroadcastOperator } from "./socketio/broadcast.ts";
export { RemoteSocket } from "./socketio/remote-socket.ts";
export type { DisconnectReason } from "./socketio/reasons.ts";
export type {
  AllButLast, DecorateAcknowledgements, DecorateAcknowledgementsWithMultipleResponses, DefaultEventsMap, EventNames,
  EventNamesWithAck, EventNamesWithoutAck, EventParams, EventsMap, FallbackToUntypedListener, FirstNonErrorArg, Last,
  NamespaceReservedEventsMap, RemoveAcknowledgements, ReservedOrUserEventNames, ReservedOrUserListener,
  ServerReservedEventsMap, SocketReservedEventsMap,
} from "./socketio/typed-events.ts";
export type { Adapter, AdapterFactory, AdapterHost, BroadcastOptions, Room } from "./rooms/adapter.ts";
export { LocalAdapter } from "./rooms/local.ts";
export { createRedisAdapter, RedisAdapter, type RedisAdapterFactory, type RedisAdapterOptions } from "./rooms/redis.ts";
export { createShardedRedisAdapter, ShardedRedisAdapter, type ShardedRedisAdapterOptions, type SubscriptionMode } from "./rooms/sharded.ts";
export { ENGINE_ERRORS, type EngineError } from "./engine/handshake.ts";
export { Engine, type EngineOptions, type EngineConnectionError, type EngineServeOptions, type CorsOptions } from "./engine/engine.ts";
export { EngineSocket, type EngineSocketState } from "./engine/socket.ts";
export type { EngineCloseReason } from "./engine/session.ts";
