// The one typed configuration, read from the environment once at boot (STYLE 2.7).
// The only reader of Bun.env: every problem is collected and thrown together as one ConfigError.
import { createPublicKey, randomUUID } from "node:crypto";
import type { LogLevel } from "./log.ts";

/** `auto`: text on a terminal, JSON lines otherwise. */
export type LogFormatSetting = "auto" | "json" | "text";

export type AuthMode = "jwt" | "development";

export interface AuthConfig {
  /** "jwt" when any key material is set; "development" accepts unsigned tokens. */
  readonly mode: AuthMode;
  readonly secret?: string;
  readonly publicKey?: string;
  readonly jwksUrl?: string;
  readonly algorithms: readonly string[];
  readonly issuer?: string;
  readonly audience?: string;
  readonly clockToleranceS: number;
  readonly userIdClaims: readonly string[];
  readonly tenantIdClaims: readonly string[];
  /**
   * A client that sends no token is identified by what its handshake names (`auth.userId`,
   * `auth.username`, `auth.avatar`, `?userId=`), or anonymously. Always on in development mode;
   * in jwt mode only when TRUST_HANDSHAKE_IDENTITY=true (unsafe on the public internet).
   */
  readonly trustHandshakeIdentity: boolean;
}

export interface PersistenceConfig {
  /** Unset: embedded PGlite in `dataDir`. */
  readonly databaseUrl?: string;
  readonly dataDir: string;
  readonly batchSize: number;
  readonly flushEveryMs: number;
  readonly maxQueue: number;
  readonly maxRetries: number;
  /** Journal unpersisted messages in `<dataDir>/spool` so a kill -9 loses none (persistence/spool.ts). */
  readonly spoolEnabled: boolean;
  readonly spoolFsyncMs: number;
  /** Deadline of a database call on a request path (socket events, HTTP API); past it the caller gets `unavailable`. */
  readonly queryTimeoutMs: number;
}

export interface LimitsConfig {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly rateLimitEvents: number;
  readonly rateLimitWindowMs: number;
  readonly maxRoomsPerSocket: number;
  readonly maxBufferedBytes: number;
  readonly maxBackpressureMs: number;
  readonly partialPacketTimeoutMs: number;
  readonly maxPartialPacketBytes: number;
  readonly maxRefusedConnects: number;
  readonly historyMaxLimit: number;
  readonly recoveryMaxDisconnectionMs: number;
  /** Namespaces with connection state recovery on (their events carry an offset argument). */
  readonly recoveryNamespaces: readonly string[];
}

export interface Config {
  readonly nodeEnv: string;
  readonly isProduction: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormatSetting;
  readonly port: number;
  readonly host: string;
  readonly path: string;
  /** More Engine.IO paths served like `path`. */
  readonly extraPaths: readonly string[];
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly allowEIO3: boolean;
  readonly cors: { readonly origins: "*" | readonly string[]; readonly credentials: boolean };
  readonly perMessageDeflate: boolean;
  readonly compressionThresholdBytes: number;
  readonly auth: AuthConfig;
  readonly persistence: PersistenceConfig;
  readonly redisUrl?: string;
  /** Prefix of every Redis channel and key (the Redis adapter's `key`): nodes sharing it form one cluster. */
  readonly redisKey: string;
  /** "classic": PUBLISH/PSUBSCRIBE (@socket.io/redis-adapter createAdapter); "sharded": SPUBLISH/SSUBSCRIBE (createShardedAdapter). */
  readonly redisAdapter: "classic" | "sharded";
  /** REDIS_URL names one node of a Redis Cluster; the others are discovered. */
  readonly redisCluster: boolean;
  /** Channel of python-socketio's RedisManager (workers' emits); undefined = not subscribed. */
  readonly pythonQueueChannel?: string;
  readonly nodeId: string;
  readonly apiKey?: string;
  readonly namespaces: readonly string[];
  readonly limits: LimitsConfig;
  /** Settings that work but are unsafe; the ready server logs each at warn when it starts. */
  readonly warnings: readonly string[];
  /** The official Socket.IO Admin UI; undefined (off) unless ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD are set. */
  readonly adminUi?: AdminUiConfig;
}

export interface AdminUiConfig {
  readonly username: string;
  /** A bcrypt hash ($2a$/$2b$/$2y$), or a plain password that app.ts hashes at boot. */
  readonly password: string;
  /** The namespace `instrument()` serves; never one of NAMESPACES. */
  readonly namespace: string;
}

/** Every environment variable, its default, and what it does (copied into the README). */
export const DEFAULTS = {
  PORT: "3000", //                      HTTP/WebSocket listen port (0 = ephemeral)
  HOST: "0.0.0.0", //                   listen address
  SOCKET_PATH: "/socket.io/", //        Engine.IO path, as the clients' `path` option
  SOCKET_EXTRA_PATHS: "/ws/socket.io/", // comma list of more Engine.IO paths served alike (a proxy-prefixed endpoint such as /ws/socket.io); `none` = only SOCKET_PATH
  PING_INTERVAL_MS: "25000", //         Engine.IO pingInterval (protocol default)
  PING_TIMEOUT_MS: "20000", //          Engine.IO pingTimeout (protocol default)
  CONNECT_TIMEOUT_MS: "45000", //       time a client has to CONNECT to a namespace after the handshake
  MAX_PAYLOAD_BYTES: "1000000", //      Engine.IO maxPayload / maxHttpBufferSize
  ALLOW_EIO3: "true", //                accept Socket.IO v2 clients (Engine.IO v3)
  CORS_ORIGINS: "*", //                 comma-separated allowed origins, or `*`
  CORS_CREDENTIALS: "false", //         Access-Control-Allow-Credentials
  PER_MESSAGE_DEFLATE: "false", //      WebSocket permessage-deflate
  COMPRESSION_THRESHOLD_BYTES: "1024", // smallest frame worth compressing
  NODE_ENV: "development", //           "production" refuses to start without JWT key material
  LOG_LEVEL: "info", //                 debug | info | warn | error | silent
  LOG_FORMAT: "auto", //                auto (text on a terminal, JSON lines otherwise) | json | text
  JWT_SECRET: undefined, //             shared secret for HS256/384/512; at least 32 bytes (shorter is refused with NODE_ENV=production, warned about otherwise)
  JWT_PUBLIC_KEY: undefined, //         PEM public key for RS*/PS*/ES*/EdDSA (`\n` escapes allowed)
  JWT_JWKS_URL: undefined, //           JWKS endpoint, fetched and cached by jose
  JWT_ALGORITHMS: undefined, //         comma list; default derived from the key kind; `none` refused
  JWT_ISSUER: undefined, //             required `iss` when set
  JWT_AUDIENCE: undefined, //           required `aud` when set
  JWT_CLOCK_TOLERANCE_S: "5", //        leeway for exp/nbf
  JWT_USER_ID_CLAIMS: "sub,user_id,userId", // claims holding the user id; first present wins
  JWT_TENANT_ID_CLAIMS: "tenant_id,tenantId", // claims holding the tenant id; first present wins
  TRUST_HANDSHAKE_IDENTITY: "false", //  true: with JWT key material set, a client without a token is still let in as the user its handshake names (auth.userId/username/avatar or ?userId=; anonymous when none) — anyone can claim any user, UNSAFE on the public internet; development mode always does this
  DATABASE_URL: undefined, //           postgres:// URL; unset = embedded PGlite in DATA_DIR
  DATA_DIR: "./.data", //               PGlite data directory and spool directory
  PERSIST_BATCH_SIZE: "500", //         rows per batched INSERT
  PERSIST_FLUSH_MS: "20", //            longest a row waits before its batch is flushed
  PERSIST_MAX_QUEUE: "100000", //       write-behind queue bound; past it writes fail with queue_full
  PERSIST_MAX_RETRIES: "5", //          retries of a transient database error before persist_failed
  SPOOL_ENABLED: "true", //             journal messages not yet persisted to DATA_DIR/spool; replayed after a crash
  DB_QUERY_TIMEOUT_MS: "3000", //       deadline of a database call made for a request (joinRoom's membership check, history, notifications, presence, conversations, message edit/delete); past it the ack answers {ok:false,error:{code:"unavailable"}} and the HTTP API 503, instead of waiting out a network partition
  SPOOL_FSYNC_MS: "10", //              spool fdatasync interval: an OS crash may lose messages this recent (a kill -9 loses none written)
  REDIS_URL: undefined, //              redis:// URL; unset = single node
  REDIS_KEY: "socket.io", //            prefix of the cluster's Redis channels and keys (@socket.io/redis-adapter's `key`); nodes sharing it form one cluster
  REDIS_ADAPTER: "classic", //         classic (PUBLISH/PSUBSCRIBE, shares connection state recovery across nodes) | sharded (Redis 7 SPUBLISH/SSUBSCRIBE, a channel per room: for a Redis Cluster; interoperates with createShardedAdapter)
  REDIS_CLUSTER: "false", //            true: REDIS_URL is one node of a Redis Cluster (use with REDIS_ADAPTER=sharded)
  PYTHON_QUEUE_CHANNEL: "socketio", //  with REDIS_URL: carry out what python-socketio RedisManager/AsyncRedisManager(write_only=True) workers publish on this channel (pickle or JSON; pickles are read as plain data only); `off` = ignore
  NODE_ID: undefined, //                this node's id in a cluster; default random
  API_KEY: undefined, //                HTTP API key; unset = the HTTP API requires an admin JWT
  NAMESPACES: "/,/chat,/messaging,/social,/notifications,/notification,/orders,/provisioning,/billing,/admin,/ws,/ws/provisioning,/ws/notifications",
  MAX_CONNECTIONS: "0", //              live connections; past it a handshake gets 503 {code:4,message:"Server full"}; 0 = unlimited
  MAX_CONNECTIONS_PER_IP: "0", //       live connections per client address; past it 503 (behind a proxy all share one address); 0 = unlimited
  RATE_LIMIT_EVENTS: "0", //            events a socket may send per window (token bucket; 0 = off, the default, as in Socket.IO); an event over it is skipped, its ack answered {ok:false,error:{code:"rate_limited",retryAfterMs}} (no ack: an "error" event); at 3x the limit the connection is closed and the client reconnects
  RATE_LIMIT_WINDOW_MS: "10000", //     rate-limit window; e.g. RATE_LIMIT_EVENTS=1000 allows bursts of 1000 and 100 events a second sustained
  MAX_ROOMS_PER_SOCKET: "1000", //      rooms one socket may be in; a join past it is refused {code:"too_many_rooms"}
  MAX_BUFFERED_BYTES: "1048576", //     unsent bytes per connection (WebSocket backpressure limit, polling buffer); past it the connection ends with reason "slow consumer" (volatile events are dropped from 64 KiB on)
  MAX_BACKPRESSURE_MS: "30000", //      a WebSocket backpressured this long while written to ends with "slow consumer"
  PARTIAL_PACKET_TIMEOUT_MS: "10000", // a binary packet (header + attachments) not received whole by then ends its connection (1008 "binary packet not completed in time"); one packet is also bounded by MAX_PAYLOAD_BYTES, and attachments before CONNECT are refused
  MAX_PARTIAL_PACKET_BYTES: "67108864", // bytes held in half-received binary packets across the server; the connection whose frame goes past it ends (1008 "server busy with partial packets")
  MAX_REFUSED_CONNECTS: "10", //        refused CONNECTs (bad token, unknown namespace) one connection may send; the last CONNECT_ERROR is sent, then the connection ends (1008 "too many refused CONNECTs")
  HISTORY_MAX_LIMIT: "100", //          largest page the history API returns
  RECOVERY_MAX_DISCONNECTION_MS: "120000", // connection state recovery window; 0 disables recovery
  RECOVERY_NAMESPACES: undefined, //    comma list of namespaces with recovery on (events then carry an extra offset argument)
  ADMIN_UI_USERNAME: undefined, //      with ADMIN_UI_PASSWORD: turn on the Socket.IO Admin UI (served at /admin-ui/); unset = off
  ADMIN_UI_PASSWORD: undefined, //      the Admin UI login's password: a bcrypt hash ($2a$/$2b$/$2y$…), or a plain password (hashed with bcrypt at start)
  ADMIN_UI_NAMESPACE: "/admin-ui", //   namespace the Admin UI connects to (its "Advanced options"); MUST NOT be one of NAMESPACES
} as const satisfies Record<string, string | undefined>;

type VarName = keyof typeof DEFAULTS;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];
const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
const MIN_SECRET_BYTES = 32;
const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
// node:crypto's OpenSSL curve names → JOSE algorithm (RFC 7518 §3.4).
const EC_ALGORITHMS: Record<string, string> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
const ASYMMETRIC_ALGORITHMS = [...RSA_ALGORITHMS, "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Thrown once at boot, listing every bad variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Reads and validates the environment; throws one ConfigError naming every problem. */
export function loadConfig(env: Record<string, string | undefined> = Bun.env): Config {
  const r = new Reader(env);
  const nodeEnv = r.string("NODE_ENV");
  const auth = readAuth(r, nodeEnv === "production");
  const namespaces = r.namespaces("NAMESPACES");
  const config: Config = {
    nodeEnv,
    isProduction: nodeEnv === "production",
    logLevel: r.oneOf("LOG_LEVEL", LOG_LEVELS),
    logFormat: r.oneOf("LOG_FORMAT", ["auto", "json", "text"] as const),
    port: r.int("PORT", 0, 65_535),
    host: r.string("HOST"),
    path: r.path("SOCKET_PATH"),
    extraPaths: r.paths("SOCKET_EXTRA_PATHS"),
    pingIntervalMs: r.int("PING_INTERVAL_MS", 1),
    pingTimeoutMs: r.int("PING_TIMEOUT_MS", 1),
    connectTimeoutMs: r.int("CONNECT_TIMEOUT_MS", 1),
    maxPayloadBytes: r.int("MAX_PAYLOAD_BYTES", 1),
    allowEIO3: r.bool("ALLOW_EIO3"),
    cors: { origins: r.origins("CORS_ORIGINS"), credentials: r.bool("CORS_CREDENTIALS") },
    perMessageDeflate: r.bool("PER_MESSAGE_DEFLATE"),
    compressionThresholdBytes: r.int("COMPRESSION_THRESHOLD_BYTES"),
    auth,
    persistence: {
      databaseUrl: r.url("DATABASE_URL", ["postgres:", "postgresql:"]),
      dataDir: r.string("DATA_DIR"),
      batchSize: r.int("PERSIST_BATCH_SIZE", 1),
      flushEveryMs: r.int("PERSIST_FLUSH_MS"),
      maxQueue: r.int("PERSIST_MAX_QUEUE", 1),
      maxRetries: r.int("PERSIST_MAX_RETRIES"),
      spoolEnabled: r.bool("SPOOL_ENABLED"),
      spoolFsyncMs: r.int("SPOOL_FSYNC_MS", 1, 10_000),
      queryTimeoutMs: r.int("DB_QUERY_TIMEOUT_MS", 1),
    },
    redisUrl: r.url("REDIS_URL", ["redis:", "rediss:"]),
    redisKey: r.string("REDIS_KEY"),
    redisAdapter: r.oneOf("REDIS_ADAPTER", ["classic", "sharded"] as const),
    redisCluster: r.bool("REDIS_CLUSTER"),
    pythonQueueChannel: r.string("PYTHON_QUEUE_CHANNEL") === "off" ? undefined : r.string("PYTHON_QUEUE_CHANNEL"),
    nodeId: r.optional("NODE_ID") ?? randomUUID().slice(0, 8),
    apiKey: r.optional("API_KEY"),
    namespaces,
    adminUi: readAdminUi(r, namespaces),
    limits: {
      maxConnections: r.int("MAX_CONNECTIONS"),
      maxConnectionsPerIp: r.int("MAX_CONNECTIONS_PER_IP"),
      rateLimitEvents: r.int("RATE_LIMIT_EVENTS"),
      rateLimitWindowMs: r.int("RATE_LIMIT_WINDOW_MS", 1),
      maxRoomsPerSocket: r.int("MAX_ROOMS_PER_SOCKET", 1),
      maxBufferedBytes: r.int("MAX_BUFFERED_BYTES", 1024),
      maxBackpressureMs: r.int("MAX_BACKPRESSURE_MS", 1),
      partialPacketTimeoutMs: r.int("PARTIAL_PACKET_TIMEOUT_MS", 1),
      maxPartialPacketBytes: r.int("MAX_PARTIAL_PACKET_BYTES", 1),
      maxRefusedConnects: r.int("MAX_REFUSED_CONNECTS", 1),
      historyMaxLimit: r.int("HISTORY_MAX_LIMIT", 1),
      recoveryMaxDisconnectionMs: r.int("RECOVERY_MAX_DISCONNECTION_MS"),
      recoveryNamespaces: r.namespaces("RECOVERY_NAMESPACES"),
    },
    warnings: r.warnings,
  };

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

function readAdminUi(r: Reader, namespaces: readonly string[]): AdminUiConfig | undefined {
  const username = r.optional("ADMIN_UI_USERNAME");
  const password = r.optional("ADMIN_UI_PASSWORD");
  const namespace = r.string("ADMIN_UI_NAMESPACE");
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    r.problem(username === undefined ? "ADMIN_UI_USERNAME" : "ADMIN_UI_PASSWORD", "set both ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD, or neither");
    return undefined;
  }
  if (!namespace.startsWith("/")) r.problem("ADMIN_UI_NAMESPACE", `"${namespace}" must start with "/"`);
  // The Admin UI's namespace has its own login; one of the app's would mix its clients with the UI's.
  else if (namespaces.includes(namespace)) r.problem("ADMIN_UI_NAMESPACE", `${namespace} is one of NAMESPACES; pick another (default /admin-ui)`);
  return { username, password, namespace };
}

function readAuth(r: Reader, isProduction: boolean): AuthConfig {
  const secret = r.optional("JWT_SECRET");
  const publicKey = r.optional("JWT_PUBLIC_KEY")?.replaceAll("\\n", "\n");
  const jwksUrl = r.url("JWT_JWKS_URL", ["http:", "https:"]);
  const materialCount = [secret, publicKey, r.optional("JWT_JWKS_URL")].filter(Boolean).length;
  const mode: AuthMode = materialCount > 0 ? "jwt" : "development";
  if (materialCount > 1) r.problem("JWT_SECRET", "set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL");
  // RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash (32 bytes); a short one can be
  // found offline from a single token by trying keys against its signature.
  const secretBytes = secret === undefined ? 0 : Buffer.byteLength(secret);
  if (secret !== undefined && secretBytes < MIN_SECRET_BYTES) {
    const why = `is ${secretBytes} bytes; use at least ${MIN_SECRET_BYTES} (e.g. \`openssl rand -base64 48\`): a shorter HMAC key can be guessed offline from one signed token`;
    if (isProduction) r.problem("JWT_SECRET", why);
    else r.warn("JWT_SECRET", `${why} (refused when NODE_ENV=production)`);
  }
  if (isProduction && mode === "development")
    r.problem("JWT_SECRET", "NODE_ENV=production requires JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (tokens would not be verified)");

  const allowed = secret ? HMAC_ALGORITHMS : publicKey ? algorithmsOfKey(r, publicKey) : ASYMMETRIC_ALGORITHMS;
  const explicit = r.list("JWT_ALGORITHMS");
  const algorithms = explicit ?? (mode === "jwt" ? allowed : []);
  for (const alg of explicit ?? []) {
    if (alg.toLowerCase() === "none") r.problem("JWT_ALGORITHMS", "`none` is never allowed");
    else if (mode === "jwt" && !allowed.includes(alg))
      r.problem("JWT_ALGORITHMS", `${alg} does not fit the configured key (allowed: ${allowed.join(",")})`);
  }
  return {
    mode,
    secret,
    publicKey,
    jwksUrl,
    algorithms,
    issuer: r.optional("JWT_ISSUER"),
    audience: r.optional("JWT_AUDIENCE"),
    clockToleranceS: r.int("JWT_CLOCK_TOLERANCE_S"),
    userIdClaims: r.list("JWT_USER_ID_CLAIMS") ?? [],
    tenantIdClaims: r.list("JWT_TENANT_ID_CLAIMS") ?? [],
    trustHandshakeIdentity: mode === "development" || r.bool("TRUST_HANDSHAKE_IDENTITY"),
  };
}

// The key decides the family: an RSA key can only verify RS*/PS*, an EC key only its curve's ES*.
function algorithmsOfKey(r: Reader, pem: string): string[] {
  try {
    const key = createPublicKey(pem);
    switch (key.asymmetricKeyType) {
      case "rsa":
      case "rsa-pss":
        return RSA_ALGORITHMS;
      case "ec": {
        const alg = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ""];
        if (alg) return [alg];
        r.problem("JWT_PUBLIC_KEY", `unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve}`);
        return [];
      }
      case "ed25519":
      case "ed448":
        return ["EdDSA", "Ed25519"];
      default:
        r.problem("JWT_PUBLIC_KEY", `unsupported key type ${key.asymmetricKeyType}`);
        return [];
    }
  } catch {
    r.problem("JWT_PUBLIC_KEY", "not a PEM public key (SPKI, -----BEGIN PUBLIC KEY-----)");
    return [];
  }
}

// Parses one variable at a time; a bad value records a problem and yields the default's parse.
class Reader {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  readonly #env: Record<string, string | undefined>;

  constructor(env: Record<string, string | undefined>) {
    this.#env = env;
  }

  problem(name: VarName, why: string): void {
    this.problems.push(`${name}: ${why}`);
  }

  warn(name: VarName, why: string): void {
    this.warnings.push(`${name}: ${why}`);
  }

  // An empty string counts as unset (docker-compose `FOO=` lines).
  optional(name: VarName): string | undefined {
    const value = this.#env[name]?.trim();
    return value ? value : undefined;
  }

  string(name: VarName): string {
    return this.optional(name) ?? DEFAULTS[name] ?? "";
  }

  int(name: VarName, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.string(name);
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
    this.problem(name, `expected an integer from ${min} to ${max}, got "${raw}"`);
    return Number(DEFAULTS[name] ?? 0);
  }

  bool(name: VarName): boolean {
    const raw = this.string(name).toLowerCase();
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    this.problem(name, `expected true, false, 1 or 0, got "${raw}"`);
    return DEFAULTS[name] === "true";
  }

  oneOf<T extends string>(name: VarName, allowed: readonly T[]): T {
    const raw = this.string(name);
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problem(name, `expected one of ${allowed.join("|")}, got "${raw}"`);
    return DEFAULTS[name] as T;
  }

  list(name: VarName): string[] | undefined {
    const raw = this.optional(name) ?? DEFAULTS[name];
    if (raw === undefined) return undefined;
    const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) this.problem(name, "expected a comma-separated list");
    return items;
  }

  url(name: VarName, protocols: readonly string[]): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    const url = URL.parse(raw);
    if (url && protocols.includes(url.protocol)) return raw;
    this.problem(name, `expected a ${protocols.map((p) => p + "//").join(" or ")} URL`);
    return undefined;
  }

  path(name: VarName): string {
    const raw = this.string(name);
    if (raw.startsWith("/")) return raw.endsWith("/") ? raw : raw + "/";
    this.problem(name, `expected a path starting with "/", got "${raw}"`);
    return DEFAULTS[name] ?? "/";
  }

  paths(name: VarName): string[] {
    const items = this.list(name) ?? [];
    if (items.length === 1 && items[0] === "none") return [];
    const paths: string[] = [];
    for (const raw of items) {
      if (raw.startsWith("/")) paths.push(raw.endsWith("/") ? raw : raw + "/");
      else this.problem(name, `expected paths starting with "/", got "${raw}"`);
    }
    return paths;
  }

  origins(name: VarName): "*" | string[] {
    const items = this.list(name) ?? [];
    if (items.includes("*")) return "*";
    for (const origin of items) {
      const url = URL.parse(origin);
      if (!url || !/^https?:$/.test(url.protocol)) this.problem(name, `"${origin}" is not an http(s) origin`);
    }
    return items;
  }

  namespaces(name: VarName): string[] {
    const items = this.list(name) ?? [];
    for (const nsp of items) if (!nsp.startsWith("/")) this.problem(name, `"${nsp}" must start with "/"`);
    return items;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
