// startApp(): the ready server (src/app.ts) in-process on port 0, on a real database: a throwaway
// Postgres database by default, or the embedded PGlite with `embedded: true`. Tokens are HS256.
import type { Server as BunServer } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { createApp, type App, type AppOptions } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createTestDatabase } from "./services.ts";

export const JWT_SECRET = "test-secret-that-is-long-enough-for-hs256";

export interface TestApp extends AsyncDisposable {
  app: App;
  bun: BunServer<any>;
  url: string;
  databaseUrl?: string;
}

export interface StartAppOptions extends AppOptions {
  /** Extra environment variables, as an operator would set them. */
  env?: Record<string, string>;
  /** Use the embedded PGlite database instead of Postgres. */
  embedded?: boolean;
  /** Use this database URL instead of a fresh throwaway database. */
  databaseUrl?: string;
}

export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), "bunsen-app-"));
  const testDb = options.embedded || options.databaseUrl ? undefined : await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? testDb?.url;
  const config = loadConfig({
    PORT: "0",
    LOG_LEVEL: "error",
    JWT_SECRET,
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  });
  const app = await createApp(config, options);
  const bun = app.io.listen({ port: 0, hostname: "127.0.0.1" }, app.fetch);
  return {
    app, bun, url: `http://127.0.0.1:${bun.port}`, databaseUrl,
    async [Symbol.asyncDispose]() {
      await app.close();
      await testDb?.[Symbol.asyncDispose]();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TokenClaims {
  sub: string;
  tenant_id?: string;
  name?: string;
  roles?: string[];
  [claim: string]: unknown;
}

/** An HS256 token signed with the test secret; `expiresIn` like "1h" or a unix time. */
export async function tokenFor(claims: TokenClaims, expiresIn: string | number = "1h", secret = JWT_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));
}
