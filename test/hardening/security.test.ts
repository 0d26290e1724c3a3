// Security refusals of the ready server, one test each: JWT algorithm allow-list (no `none`, no
// HMAC/RSA confusion), exp/nbf/iss/aud, room authorization on every join and every emit to a room,
// identities only from the token, the CORS allow-list, secrets never logged, /admin for admins only.
// (The HTTP API's admin refusals are in test/http/errors.test.ts.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { configureLog } from "../../src/log.ts";
import { conversationParticipants, conversations } from "../../src/persistence/schema.ts";
import { JWT_SECRET, startApp, tokenFor, type TestApp } from "../support/app.ts";
import { client, connect, nextEvent, type ClientOptions } from "../support/client.ts";
import { engineUrl } from "../support/raw.ts";

const API_KEY = "api-key-that-must-never-be-logged";
const ISSUER = "https://issuer.test";
const AUDIENCE = "bunsen-test";

/** The connect_error's data code when `token` is refused; "connected" when it is accepted. */
async function outcome(url: string, token: string, options: ClientOptions = {}): Promise<string> {
  using socket = client(url, { auth: { token }, transports: ["websocket"], ...options });
  const result = await Promise.race([
    nextEvent(socket, "connect").then(() => "connected"),
    nextEvent(socket, "connect_error").then(([err]) => `${err.message}:${err.data?.code}`),
  ]);
  return result;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

const nowS = () => Math.floor(Date.now() / 1000);

describe("JWT (HS256 with issuer and audience)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, API_KEY, RATE_LIMIT_EVENTS: "0" } });
  });
  afterAll(() => app[Symbol.asyncDispose]());

  const sign = (claims: Record<string, unknown>, secret = JWT_SECRET) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
  const good = { sub: "u1", iss: ISSUER, aud: AUDIENCE };

  test.concurrent("accepts a token with the right signature, issuer, audience and times", async () => {
    expect(await outcome(app.url, await sign({ ...good, exp: nowS() + 60, nbf: nowS() - 1 }))).toBe("connected");
  });

  test.concurrent("refuses alg none", async () => {
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...good, exp: nowS() + 60 })}.`;
    expect(await outcome(app.url, unsigned)).toBe("unauthorized:token_invalid");
  });

  test.concurrent("refuses a wrong signature", async () => {
    expect(await outcome(app.url, await sign(good, "another-secret-that-is-long-enough-for-hs"))).toBe("unauthorized:token_invalid");
  });

  test.concurrent("refuses an expired token (past the clock tolerance)", async () => {
    expect(await outcome(app.url, await sign({ ...good, exp: nowS() - 60 }))).toBe("unauthorized:token_expired");
  });

  test.concurrent("refuses a token not valid yet (nbf)", async () => {
    expect(await outcome(app.url, await sign({ ...good, nbf: nowS() + 3600 }))).toBe("unauthorized:token_invalid");
  });

  test.concurrent("refuses a wrong or missing issuer", async () => {
    expect(await outcome(app.url, await sign({ ...good, iss: "https://evil.test" }))).toBe("unauthorized:token_invalid");
    expect(await outcome(app.url, await sign({ sub: "u1", aud: AUDIENCE }))).toBe("unauthorized:token_invalid");
  });

  test.concurrent("refuses a wrong or missing audience", async () => {
    expect(await outcome(app.url, await sign({ ...good, aud: "someone-else" }))).toBe("unauthorized:token_invalid");
    expect(await outcome(app.url, await sign({ sub: "u1", iss: ISSUER }))).toBe("unauthorized:token_invalid");
  });

  test.concurrent("the /admin namespace refuses a user without the admin role, and admits an admin", async () => {
    expect(await outcome(app.url + "/admin", await sign(good))).toBe("unauthorized:forbidden");
    expect(await outcome(app.url + "/admin", await sign({ ...good, roles: ["user"] }))).toBe("unauthorized:forbidden");
    expect(await outcome(app.url + "/admin", await sign({ ...good, roles: ["admin"] }))).toBe("connected");
  });

  test("never logs the token, JWT_SECRET or API_KEY, even at debug level", async () => {
    const lines: string[] = [];
    configureLog("debug", (line) => lines.push(line));
    try {
      const badToken = await sign({ ...good, iss: "https://evil.test" });
      const expired = await sign({ ...good, exp: nowS() - 60 });
      const forged = await sign(good, "forged-secret-that-is-long-enough-for-hs256");
      for (const token of [badToken, expired, forged, "not-a-jwt-at-all"]) expect(await outcome(app.url, token, { transports: ["polling"] })).toStartWith("unauthorized");
      // Also as a query parameter and a header, where a request log would catch it.
      await fetch(engineUrl(app.url, { query: { token: forged } }, false, "polling"), { headers: { authorization: `Bearer ${forged}` } });
      await fetch(new URL("/api/rooms/r1/emit", app.url), { method: "POST", headers: { "x-api-key": "wrong-" + API_KEY, authorization: `Bearer ${forged}` }, body: "{}" });
      expect(await outcome(app.url, await sign(good))).toBe("connected");
      expect(lines.length).toBeGreaterThan(0);
      const all = lines.join("\n");
      for (const secret of [badToken, expired, forged, JWT_SECRET, API_KEY, forged.split(".")[2]!]) expect(all).not.toContain(secret);
    } finally {
      configureLog("error");
    }
  });
});

describe("JWT (RS256 public key)", () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: pem } });
  });
  afterAll(() => app[Symbol.asyncDispose]());

  test.concurrent("accepts an RS256 token signed with the private key", async () => {
    const token = await new SignJWT({ sub: "u1" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("1h").sign(privateKey);
    expect(await outcome(app.url, token)).toBe("connected");
  });

  test.concurrent("refuses an HS256 token whose HMAC secret is the public key PEM (algorithm confusion)", async () => {
    for (const secret of [pem, pem.trim()]) {
      const token = await new SignJWT({ sub: "attacker", roles: ["admin"] }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(secret));
      expect(await outcome(app.url, token)).toBe("unauthorized:token_invalid");
      expect(await outcome(app.url + "/admin", token)).toBe("unauthorized:token_invalid");
    }
  });

  test.concurrent("refuses alg none", async () => {
    expect(await outcome(app.url, `${b64({ alg: "none" })}.${b64({ sub: "u1" })}.`)).toBe("unauthorized:token_invalid");
  });
});

describe("rooms and identities", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { RATE_LIMIT_EVENTS: "0" } });
    const db = app.app.database.db as any;
    await db.insert(conversations).values({ id: "conv-private", tenantId: "t1" });
    await db.insert(conversationParticipants).values({ conversationId: "conv-private", userId: "alice" });
  });
  afterAll(() => app[Symbol.asyncDispose]());

  const as = async (sub: string, tenant = "t1") => connect(app.url, { auth: { token: await tokenFor({ sub, tenant_id: tenant }) }, transports: ["websocket"] });
  const join = (socket: Awaited<ReturnType<typeof as>>, roomId: string) => socket.timeout(5000).emitWithAck("joinRoom", { roomId });

  test.concurrent("refuses joins to another user's room, another tenant's room, and a conversation without being a participant", async () => {
    using mallory = await as("mallory", "t2");
    expect(await join(mallory, "user:alice")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await join(mallory, "tenant:t1")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await join(mallory, "conv-private")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await join(mallory, "user:mallory")).toMatchObject({ ok: true });
    using alice = await as("alice");
    expect(await join(alice, "conv-private")).toMatchObject({ ok: true });
  });

  test.concurrent("refuses every emit to a room the sender is not in, including after leaving it", async () => {
    using alice = await as("alice");
    using mallory = await as("mallory");
    expect(await join(alice, "conv-private")).toMatchObject({ ok: true });
    const leaked = Promise.withResolvers<string>();
    alice.on("roomMessageRecieved", (m: { body: string }) => { if (m.body === "intrusion") leaked.resolve("leaked"); });
    const failed = nextEvent(mallory, "roomMessageFailed");
    expect(await mallory.timeout(5000).emitWithAck("roomMessage", { roomId: "conv-private", body: "intrusion" })).toMatchObject({ ok: false, error: { code: "not_a_member" } });
    expect((await failed)[0]).toMatchObject({ error: { code: "not_a_member" } });

    expect(await join(mallory, "open-room")).toMatchObject({ ok: true });
    await mallory.timeout(5000).emitWithAck("leaveRoom", { roomId: "open-room" });
    expect(await mallory.timeout(5000).emitWithAck("roomMessage", { roomId: "open-room", body: "after leaving" })).toMatchObject({ ok: false, error: { code: "not_a_member" } });
    // Ordered after the intrusion on alice's connection: had it leaked, it would have come first.
    const marker = nextEvent(alice, "roomMessageRecieved");
    await alice.timeout(5000).emitWithAck("roomMessage", { roomId: "conv-private", body: "marker" });
    expect((await marker)[0]).toMatchObject({ body: "marker" });
    leaked.resolve("not leaked");
    expect(await leaked.promise).toBe("not leaked");
  });

  test.concurrent("takes the sender's identity from the token, never from the payload", async () => {
    using alice = await as("alice");
    expect(await join(alice, "conv-private")).toMatchObject({ ok: true });
    const received = nextEvent(alice, "roomMessageRecieved");
    await alice.timeout(5000).emitWithAck("roomMessage", {
      roomId: "conv-private", body: "hello", senderId: "bob", sender: { id: "bob", name: "Bob" }, userId: "bob", tenantId: "t9",
    });
    const [message] = await received;
    expect({ senderId: message.senderId, sender: message.sender.id, tenantId: message.tenantId }).toEqual({ senderId: "alice", sender: "alice", tenantId: "t1" });
  });
});

describe("CORS allow-list", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ embedded: false, env: { CORS_ORIGINS: "http://a.test" } });
  });
  afterAll(() => app[Symbol.asyncDispose]());

  test.concurrent("refuses a disallowed Origin with 403 and no allow header", async () => {
    const response = await fetch(engineUrl(app.url, {}, false, "polling"), { headers: { origin: "http://evil.test" } });
    expect({ status: response.status, allow: response.headers.get("access-control-allow-origin"), body: await response.json() })
      .toEqual({ status: 403, allow: null, body: { code: 4, message: "Forbidden" } });
    const preflight = await fetch(engineUrl(app.url, {}, false, "polling"), { method: "OPTIONS", headers: { origin: "http://evil.test", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
  });

  test.concurrent("answers an allowed Origin with its Access-Control-Allow-Origin header", async () => {
    const response = await fetch(engineUrl(app.url, {}, false, "polling"), { headers: { origin: "http://a.test" } });
    expect({ status: response.status, allow: response.headers.get("access-control-allow-origin") }).toEqual({ status: 200, allow: "http://a.test" });
    const preflight = await fetch(engineUrl(app.url, {}, false, "polling"), { method: "OPTIONS", headers: { origin: "http://a.test", "access-control-request-method": "POST" } });
    expect({ status: preflight.status, allow: preflight.headers.get("access-control-allow-origin") }).toEqual({ status: 204, allow: "http://a.test" });
  });

  test.concurrent("a WebSocket handshake from a disallowed Origin is refused too", async () => {
    const socket = new WebSocket(engineUrl(app.url, {}, true, "websocket"), { headers: { origin: "http://evil.test" } } as any);
    const { promise, resolve } = Promise.withResolvers<string>();
    socket.addEventListener("open", () => resolve("open"));
    socket.addEventListener("error", () => resolve("refused"));
    expect(await promise).toBe("refused");
  });
});
