// The ready server, assembled from a Config: Socket.IO server, JWT verifier, database, write-behind
// queue, and the modules. main.ts serves it; tests build it in-process with overrides.
import type { Server as BunServer } from "bun";
import { join } from "node:path";
import { createVerifier, type Verifier } from "./auth/jwt.ts";
import type { Config } from "./config.ts";
import Redis, { Cluster } from "ioredis";
import { Server, type Namespace, type ServerOptions, type Socket } from "./index.ts";
import { createRedisAdapter, type RedisAdapterFactory } from "./rooms/redis.ts";
import { createShardedRedisAdapter } from "./rooms/sharded.ts";
import { openDatabase, type Database } from "./persistence/db.ts";
import { Spool } from "./persistence/spool.ts";
import { Writer } from "./persistence/writer.ts";
import { registerAuth } from "./modules/auth.ts";
import { registerChat } from "./modules/chat.ts";
import { registerConversations } from "./modules/conversations.ts";
import { registerHistory } from "./modules/history.ts";
import { registerNotifications } from "./modules/notifications.ts";
import { registerPresence } from "./modules/presence.ts";
import { registerStats } from "./modules/stats.ts";
import { registerPythonQueue } from "./modules/python-queue.ts";
import { registerTyping } from "./modules/typing.ts";
import type { ModuleContext } from "./modules/context.ts";
import { Metrics } from "./modules/metrics.ts";
import { registerAdmin } from "./modules/admin.ts";
import { registerAdminUi } from "./modules/admin-ui.ts";
import { createRouter } from "./http/routes.ts";
import { log } from "./log.ts";

export interface App extends ModuleContext {
  /** Requests outside the Socket.IO path: the HTTP API, health, pages. */
  fetch(req: Request, server: BunServer<any>): Response | Promise<Response>;
  /** Graceful: disconnect sockets, flush the write-behind queue, close the database. */
  close(): Promise<void>;
}

export interface AppOptions {
  /** Extra Socket.IO server options (tests shrink intervals, cluster tests pass an adapter). */
  server?: ServerOptions;
  /** Module timings (tests shrink them). */
  modules?: { typingTtlMs?: number; presenceGraceMs?: number; conversationLookupTimeoutMs?: number };
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const verifier: Verifier = await createVerifier(config.auth);
  const database: Database = await openDatabase({
    databaseUrl: config.persistence.databaseUrl, dataDir: config.persistence.dataDir, queryTimeoutMs: config.persistence.queryTimeoutMs,
  });
  const spool = openSpool(config);
  const writer = new Writer(database.db, { ...config.persistence, spool, ready: database.ready });
  if (spool) await replaySpool(spool, writer, database);
  const redis = config.redisUrl === undefined ? undefined : connectRedis(config.redisUrl, config);
  const { recoveryMaxDisconnectionMs, recoveryNamespaces } = config.limits;
  const io = new Server({
    path: config.path,
    extraPaths: config.extraPaths,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxHttpBufferSize: config.maxPayloadBytes,
    allowEIO3: config.allowEIO3,
    cors: { origin: config.cors.origins === "*" ? "*" : [...config.cors.origins], credentials: config.cors.credentials },
    perMessageDeflate: config.perMessageDeflate ? { threshold: config.compressionThresholdBytes } : false,
    maxConnections: config.limits.maxConnections,
    maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
    maxRoomsPerSocket: config.limits.maxRoomsPerSocket,
    rateLimit: { events: config.limits.rateLimitEvents, windowMs: config.limits.rateLimitWindowMs },
    maxBufferedBytes: config.limits.maxBufferedBytes,
    maxBackpressureMs: config.limits.maxBackpressureMs,
    partialPacketTimeout: config.limits.partialPacketTimeoutMs,
    maxPartialPacketBytes: config.limits.maxPartialPacketBytes,
    maxRefusedConnects: config.limits.maxRefusedConnects,
    adapter: redis?.adapter,
    connectionStateRecovery: recoveryMaxDisconnectionMs > 0 && recoveryNamespaces.length > 0
      ? { maxDisconnectionDuration: recoveryMaxDisconnectionMs, namespaces: recoveryNamespaces }
      : undefined,
    ...options.server,
  });
  const namespaces: Namespace[] = config.namespaces.map((name) => io.of(name));
  const metrics = new Metrics();
  const ctx: ModuleContext = {
    io, config, database, writer, verifier, metrics, namespaces,
    isRedisReady: redis?.adapter.isRedisReady, redisPublishErrors: redis?.adapter.publishErrorCount,
  };
  countTraffic(io, namespaces, metrics);
  registerAuth(ctx);
  // After registerAuth: its middleware names the user whose conversations this one looks up.
  registerConversations(ctx, { lookupTimeoutMs: options.modules?.conversationLookupTimeoutMs });
  registerChat(ctx);
  registerAdmin(ctx);
  registerTyping(ctx, { ttlMs: options.modules?.typingTtlMs });
  registerPresence(ctx, { graceMs: options.modules?.presenceGraceMs });
  registerNotifications(ctx);
  registerHistory(ctx);
  registerStats(ctx);
  if (config.adminUi !== undefined) await registerAdminUi(io, config.adminUi);
  const closePythonQueue = redis && config.pythonQueueChannel !== undefined
    ? registerPythonQueue(ctx, { sub: redis.duplicate(), pub: redis.pub, channel: config.pythonQueueChannel })
    : undefined;

  io.onShutdown(async () => {
    await writer.close();
    await spool?.close();
    await database.close();
    await closePythonQueue?.();
    if (redis) await redis.close();
  });
  log.info?.("ready server built", { database: database.kind, auth: verifier.mode, namespaces: config.namespaces.length });
  return {
    ...ctx,
    // The throttle's scripts touch two keys at once, which a Redis Cluster refuses across slots: on a
    // cluster its windows stay per node.
    fetch: createRouter(ctx, {
      ...(redis ? {
        readiness: { redis: redis.adapter.isRedisReady },
        redis: redis.pub instanceof Redis ? { client: redis.pub, prefix: config.redisKey } : undefined,
      } : {}),
      degraded: spool ? { spool: () => spool.unavailable() } : {},
    }),
    close: () => io.close(),
  };
}

// Listeners shared by every socket, not closures per connection. An event's name is its own label
// only when some handler of the socket listens for it (the modules' events): a client cannot grow
// the label set by inventing names.
function countTraffic(io: Server, namespaces: readonly Namespace[], metrics: Metrics): void {
  function countEventIn(this: Socket, event: string): void {
    metrics.eventsIn++;
    metrics.eventsByName.inc(this.listenerCount(event) > 0 ? event : "other");
  }
  const countDisconnect = (reason: string) => metrics.disconnects.inc(reason);
  for (const nsp of namespaces) {
    nsp.on("connection", (socket: Socket) => {
      metrics.connects.inc(nsp.name);
      socket.onAny(countEventIn);
      socket.on("disconnect", countDisconnect);
    });
  }
  io.onAckSent = (seconds) => metrics.ackSeconds.observe(seconds);
}

// Several nodes share Redis (rooms/redis.ts, or rooms/sharded.ts): one publisher and one subscriber
// connection, to one Redis or to a Redis Cluster (REDIS_CLUSTER: REDIS_URL names one of its nodes).
function connectRedis(url: string, config: Config): { adapter: RedisAdapterFactory; pub: Redis | Cluster; duplicate(): Redis | Cluster; close(): Promise<void> } {
  const key = config.redisKey;
  let pub: Redis | Cluster;
  let sub: Redis | Cluster;
  if (config.redisCluster) {
    const seed = new URL(url);
    const redisOptions = { username: seed.username || undefined, password: seed.password || undefined, maxRetriesPerRequest: 1 };
    const nodes = [{ host: seed.hostname, port: Number(seed.port || 6379) }];
    pub = new Cluster(nodes, { redisOptions });
    sub = new Cluster(nodes, { redisOptions, shardedSubscribers: config.redisAdapter === "sharded" });
  } else {
    pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    sub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }
  const adapter = config.redisAdapter === "sharded"
    ? createShardedRedisAdapter({ pub, sub, key })
    : createRedisAdapter({ pub: pub as Redis, sub: sub as Redis, key });
  return {
    adapter,
    pub, // also runs the HTTP API's throttle scripts (http/redis-throttle.ts)
    duplicate: () => (pub instanceof Cluster ? pub.duplicate() : pub.duplicate()), // a further connection (a subscriber of its own)
    async close() {
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

// Crash safety (persistence/spool.ts): messages are journaled in <DATA_DIR>/spool until stored.
function openSpool(config: Config): Spool | undefined {
  const { spoolEnabled, dataDir, spoolFsyncMs } = config.persistence;
  if (!spoolEnabled || dataDir.startsWith("memory://")) return undefined;
  return new Spool({ dir: join(dataDir, "spool"), fsyncEveryMs: spoolFsyncMs });
}

// What a killed process left is stored before we serve, so history is whole at once; a database
// too slow for that does not keep the server down (the replay goes on in the background).
const REPLAY_WAIT_MS = 10_000;

async function replaySpool(spool: Spool, writer: Writer, database: Database): Promise<void> {
  const { replayed, settled } = spool.replay(writer);
  if (replayed === 0) return;
  if (!database.isReady()) {
    // The writer holds them until the database answers (db.ts `ready`); waiting here would only delay serving.
    log.warn?.("spool replay waits for the database", { messages: replayed });
    void settled.then(() => log.info?.("spool replay stored", { messages: replayed }));
    return;
  }
  let timer: Timer | undefined;
  const isDone = await Promise.race([
    settled.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, REPLAY_WAIT_MS, false))),
  ]);
  clearTimeout(timer);
  if (isDone) log.info?.("spool replay stored", { messages: replayed });
  else log.warn?.("spool replay still running; serving anyway", { messages: replayed, waitedMs: REPLAY_WAIT_MS });
}
