import { describe, expect, test } from "bun:test";
import { generateKeyPair, exportSPKI } from "jose";
import { ConfigError, loadConfig } from "../../src/config.ts";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("returns the documented defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: "development",
      isProduction: false,
      logLevel: "info",
      logFormat: "auto",
      port: 3000,
      host: "0.0.0.0",
      path: "/socket.io/",
      pingIntervalMs: 25_000,
      pingTimeoutMs: 20_000,
      connectTimeoutMs: 45_000,
      maxPayloadBytes: 1_000_000,
      allowEIO3: true,
      cors: { origins: "*", credentials: false },
      perMessageDeflate: false,
      compressionThresholdBytes: 1024,
      auth: {
        mode: "development",
        algorithms: [],
        clockToleranceS: 5,
        userIdClaims: ["sub", "user_id", "userId"],
        tenantIdClaims: ["tenant_id", "tenantId"],
      },
      persistence: { databaseUrl: undefined, dataDir: "./.data", batchSize: 500, flushEveryMs: 20, maxQueue: 100_000, maxRetries: 5 },
      redisUrl: undefined,
      apiKey: undefined,
      limits: {
        maxConnections: 0,
        maxConnectionsPerIp: 0,
        rateLimitEvents: 0,
        rateLimitWindowMs: 10_000,
        maxRoomsPerSocket: 1000,
        historyMaxLimit: 100,
        recoveryMaxDisconnectionMs: 120_000,
      },
    });
    expect(config.namespaces).toContain("/notifications");
    expect(config.nodeId).toMatch(/^[0-9a-f]{8}$/);
  });

  test("parses every kind of value from the environment", () => {
    const config = loadConfig({
      PORT: "0",
      SOCKET_PATH: "/rt",
      ALLOW_EIO3: "0",
      CORS_ORIGINS: "https://a.example, http://localhost:5173",
      CORS_CREDENTIALS: "1",
      LOG_LEVEL: "silent",
      JWT_SECRET: "s3cret",
      JWT_ISSUER: "https://issuer.example",
      DATABASE_URL: "postgres://u@db:5432/app",
      REDIS_URL: "redis://cache:6379",
      NODE_ID: "node-a",
      NAMESPACES: "/,/chat",
      MAX_CONNECTIONS: "10000",
      HOST: "",
    });
    expect(config).toMatchObject({
      port: 0,
      path: "/rt/",
      host: "0.0.0.0",
      allowEIO3: false,
      cors: { origins: ["https://a.example", "http://localhost:5173"], credentials: true },
      logLevel: "silent",
      auth: { mode: "jwt", secret: "s3cret", algorithms: ["HS256", "HS384", "HS512"], issuer: "https://issuer.example" },
      persistence: { databaseUrl: "postgres://u@db:5432/app" },
      redisUrl: "redis://cache:6379",
      nodeId: "node-a",
      namespaces: ["/", "/chat"],
      limits: { maxConnections: 10_000 },
    });
  });

  test("names every bad variable and why, all in one error", () => {
    const problems = problemsOf({
      PORT: "70000",
      PING_INTERVAL_MS: "-5",
      PING_TIMEOUT_MS: "1.5",
      MAX_PAYLOAD_BYTES: "lots",
      ALLOW_EIO3: "yes",
      LOG_LEVEL: "verbose",
      SOCKET_PATH: "socket.io",
      CORS_ORIGINS: "example.com",
      DATABASE_URL: "mysql://db/app",
      REDIS_URL: "not a url",
      NAMESPACES: "/,chat",
      PERSIST_BATCH_SIZE: "0",
      RATE_LIMIT_EVENTS: "Infinity",
    });
    const named = problems.map((p) => p.slice(0, p.indexOf(":")));
    expect(named.sort()).toEqual(
      [
        "PORT", "PING_INTERVAL_MS", "PING_TIMEOUT_MS", "MAX_PAYLOAD_BYTES", "ALLOW_EIO3", "LOG_LEVEL", "SOCKET_PATH",
        "CORS_ORIGINS", "DATABASE_URL", "REDIS_URL", "NAMESPACES", "PERSIST_BATCH_SIZE", "RATE_LIMIT_EVENTS",
      ].sort(),
    );
    expect(problems).toContain('PORT: expected an integer from 0 to 65535, got "70000"');
    expect(problems).toContain('ALLOW_EIO3: expected true, false, 1 or 0, got "yes"');
  });

  test("refuses to start in production without JWT key material", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    expect(problems).toEqual([expect.stringMatching(/^JWT_SECRET: NODE_ENV=production requires/)]);
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: "k".repeat(32) }).auth.mode).toBe("jwt");
  });

  test("refuses `none` and algorithms that do not fit the key", () => {
    expect(problemsOf({ JWT_SECRET: "k", JWT_ALGORITHMS: "HS256,none" })).toEqual(["JWT_ALGORITHMS: `none` is never allowed"]);
    expect(problemsOf({ JWT_SECRET: "k", JWT_ALGORITHMS: "RS256" })).toEqual([
      "JWT_ALGORITHMS: RS256 does not fit the configured key (allowed: HS256,HS384,HS512)",
    ]);
    expect(problemsOf({ JWT_SECRET: "k", JWT_JWKS_URL: "https://x.example/jwks" })).toEqual([
      "JWT_SECRET: set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL",
    ]);
    expect(problemsOf({ JWT_PUBLIC_KEY: "garbage" })).toEqual([
      "JWT_PUBLIC_KEY: not a PEM public key (SPKI, -----BEGIN PUBLIC KEY-----)",
    ]);
  });

  test("derives the algorithm allow-list from the public key's kind", async () => {
    const pemOf = async (alg: string) => exportSPKI((await generateKeyPair(alg, { extractable: true })).publicKey);
    const rsa = loadConfig({ JWT_PUBLIC_KEY: await pemOf("RS256") });
    const ec = loadConfig({ JWT_PUBLIC_KEY: (await pemOf("ES384")).replaceAll("\n", "\\n") });
    const jwks = loadConfig({ JWT_JWKS_URL: "https://idp.example/.well-known/jwks.json" });
    expect([rsa.auth.algorithms, ec.auth.algorithms]).toEqual([
      ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
      ["ES384"],
    ]);
    expect(jwks.auth.algorithms).toContain("EdDSA");
    expect(jwks.auth.algorithms).not.toContain("HS256");
  });

  test("returns a deeply frozen object", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.auth.userIdClaims)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
