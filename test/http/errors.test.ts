// Every refusal of the HTTP API over real HTTP: a 4xx with {error: {code, message}}, the message
// naming the bad field (issue 4).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApp, tokenFor, type TestApp } from "../support/app.ts";
import { API_KEY, call } from "./helpers.ts";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ env: { API_KEY } });
});
afterAll(async () => {
  await server[Symbol.asyncDispose]();
});

const emit = { event: "x", to: { users: ["u1"] } };

describe("authentication", () => {
  test.concurrent("401 without credentials, with a wrong key, or with a token that does not verify", async () => {
    const none = await call(server.url, "/api/emit", { body: emit, auth: null });
    const wrong = await call(server.url, "/api/emit", { body: emit, auth: "Bearer not-the-key" });
    const prefix = await call(server.url, "/api/emit", { body: emit, auth: `Bearer ${API_KEY.slice(0, -1)}` });
    const basic = await call(server.url, "/api/emit", { body: emit, auth: `Basic ${btoa("a:b")}` });
    const forged = await call(server.url, "/api/emit", { body: emit, auth: `Bearer ${await tokenFor({ sub: "x", roles: ["admin"] }, "1h", "another-secret-that-is-long-enough")}` });
    for (const res of [none, wrong, prefix, basic, forged]) {
      expect(res).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
    }
    expect(forged.body.error.message).toBe("invalid token (token_invalid)");
  });

  test.concurrent("403 for a valid token without the admin role", async () => {
    const token = await tokenFor({ sub: "alice", roles: ["user"] });
    expect(await call(server.url, "/api/emit", { body: emit, auth: `Bearer ${token}` })).toMatchObject({
      status: 403, body: { error: { code: "forbidden", message: "the token lacks the admin role" } },
    });
  });

  test.concurrent("the key is checked before the body is read: a bad key with a bad body is 401", async () => {
    expect(await call(server.url, "/api/emit", { raw: "{nope", auth: "Bearer nope" })).toMatchObject({ status: 401 });
  });
});

describe("routing", () => {
  test.concurrent("404 JSON for an unknown route, 405 JSON with Allow for a wrong method", async () => {
    const unknown = await call(server.url, "/api/nothing-here");
    const wrongMethod = await call(server.url, "/api/emit", { method: "GET" });
    const deleteHealth = await call(server.url, "/healthz", { method: "DELETE" });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: "not_found", message: "no route for GET /api/nothing-here" } } });
    expect(wrongMethod).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect(deleteHealth).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
  });

  test.concurrent("404 for an emit to a namespace that does not exist, without creating it", async () => {
    const res = await call(server.url, "/api/emit", { body: { ...emit, namespace: "/nope" } });
    expect(res).toMatchObject({ status: 404, body: { error: { code: "not_found", message: 'namespace: "/nope" does not exist' } } });
    expect(server.app.io.namespaces.has("/nope")).toBe(false);
  });
});

describe("bodies", () => {
  const cases: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string][] = [
    ["bad JSON", { raw: "{\"event\": " }, 400, "body: invalid JSON"],
    ["an empty body", { raw: "" }, 400, "body: expected a JSON object, got an empty body"],
    ["an array", { body: [emit] }, 400, "body: expected a JSON object"],
    ["another media type", { raw: "event=x", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "expected application/json"],
    ["no event", { body: { to: { users: ["u"] } } }, 400, "event: expected a non-empty string"],
    ["a reserved event", { body: { ...emit, event: "connect" } }, 400, 'event: "connect" is reserved'],
    ["a reserved event (disconnect)", { body: { ...emit, event: "disconnect" } }, 400, 'event: "disconnect" is reserved'],
    ["no target", { body: { event: "x" } }, 400, "to: required"],
    ["an empty target", { body: { event: "x", to: { users: [] } } }, 400, "to: name at least one user, tenant or room"],
    ["a bad user id", { body: { event: "x", to: { users: ["a", "b", {}] } } }, 400, "to.users[2]: expected a non-empty string"],
    ["a typo in to", { body: { event: "x", to: { user: ["a"] } } }, 400, "to.user: unknown field"],
    ["a typo at the top", { body: { ...emit, voaltile: true } }, 400, "voaltile: unknown field"],
    ["a bad except", { body: { ...emit, except: { rooms: [""] } } }, 400, "except.rooms[0]: expected a non-empty string"],
    ["a non-boolean volatile", { body: { ...emit, volatile: "yes" } }, 400, "volatile: expected true or false"],
    ["a throttle without key", { body: { ...emit, throttle: { ms: 100 } } }, 400, "throttle.key: expected a non-empty string"],
    ["a throttle with a bad window", { body: { ...emit, throttle: { key: "k", ms: 0 } } }, 400, "throttle.ms: expected an integer from 1 to 3600000"],
    ["a non-string namespace", { body: { ...emit, namespace: 3.5 } }, 404, 'namespace: "/3.5" does not exist'],
  ];
  for (const [name, request, status, message] of cases) {
    test.concurrent(`refuses ${name} with ${status} naming the field`, async () => {
      const res = await call(server.url, "/api/emit", request);
      expect(res.status).toBe(status);
      expect(res.body.error.message).toStartWith(message);
    });
  }

  test.concurrent("413 for a body over the payload limit", async () => {
    const res = await call(server.url, "/api/emit", { body: { ...emit, data: "x".repeat(1_000_001) } });
    expect(res).toMatchObject({ status: 413, body: { error: { code: "payload_too_large" } } });
  });
});
