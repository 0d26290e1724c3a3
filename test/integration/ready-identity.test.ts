// Who a client is when it sends no token: the handshake's own identity (auth.userId, ?userId=, or
// anonymous) in development mode, and with JWT keys only when TRUST_HANDSHAKE_IDENTITY=true.
import { describe, expect, test } from "bun:test";
import { configureLog } from "../../src/log.ts";
import { startApp, tokenFor } from "../support/app.ts";
import { client, nextEvent } from "../support/client.ts";

const DEVELOPMENT = { JWT_SECRET: "" };

async function connectedAs(url: string, options: Parameters<typeof client>[1]) {
  using socket = client(url, { transports: ["websocket"], ...options });
  const [hello] = await Promise.race([nextEvent(socket, "connected"), nextEvent(socket, "connect_error").then(([err]) => [{ refused: err.message, data: err.data }])]);
  return hello;
}

describe("handshake identity in development mode", () => {
  test("the social app's auth {userId, username, avatar}, the chat gateway's auth.userId, ?userId= and a bare module socket all connect", async () => {
    await using server = await startApp({ embedded: true, env: DEVELOPMENT });
    expect(await connectedAs(server.url + "/social", { auth: { userId: "u-42", username: "alice", avatar: "https://cdn/a.png" } }))
      .toEqual({ message: "connected", user_id: "u-42", tenant_id: null });
    expect(await connectedAs(server.url + "/chat", { auth: { userId: 7 } })).toEqual({ message: "connected", user_id: "7", tenant_id: null });
    expect(await connectedAs(server.url + "/orders", { query: { userId: "u-9" } })).toEqual({ message: "connected", user_id: "u-9", tenant_id: null });
    const bare = await connectedAs(server.url + "/notification", {});
    expect(bare.user_id).toMatch(/^anonymous:[0-9a-f-]{36}$/);
    // A token still wins over the handshake's claim.
    const token = await tokenFor({ sub: "from-token" });
    expect(await connectedAs(server.url + "/social", { auth: { token, userId: "mallory" } })).toEqual({ message: "connected", user_id: "from-token", tenant_id: null });
  });

  test("the handshake's user is that user: an HTTP emit to the user reaches the social app's socket", async () => {
    await using server = await startApp({ embedded: true, env: { ...DEVELOPMENT, API_KEY: "k" } });
    using alice = client(server.url + "/social", { transports: ["websocket"], auth: { userId: "u-42", username: "alice", avatar: "a.png" } });
    await nextEvent(alice, "connected");
    const got = nextEvent(alice, "ping:user");
    const res = await fetch(server.url + "/api/users/u-42/emit", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer k" },
      body: JSON.stringify({ namespace: "/social", event: "ping:user", data: { hi: 1 } }),
    });
    expect(res.status).toBe(202);
    expect(await got).toEqual([{ hi: 1 }]);
  });
});

describe("handshake identity with JWT keys", () => {
  test("without TRUST_HANDSHAKE_IDENTITY a handshake's userId is refused as token_missing", async () => {
    await using server = await startApp({ embedded: true });
    expect(await connectedAs(server.url + "/social", { auth: { userId: "u-42", username: "alice" } }))
      .toEqual({ refused: "unauthorized", data: { code: "token_missing" } });
  });

  test("TRUST_HANDSHAKE_IDENTITY=true is warned about at start as unsafe on the public internet", async () => {
    const lines: string[] = [];
    configureLog("warn", (line) => lines.push(line));
    try {
      await using _server = await startApp({ embedded: true, env: { TRUST_HANDSHAKE_IDENTITY: "true" } });
    } finally {
      configureLog("silent");
    }
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ level: "warn", msg: expect.stringContaining("UNSAFE on the public internet") }));
  });

  test("TRUST_HANDSHAKE_IDENTITY=true lets the handshake's userId in, and a bad token is still refused", async () => {
    await using server = await startApp({ embedded: true, env: { TRUST_HANDSHAKE_IDENTITY: "true" } });
    expect(await connectedAs(server.url + "/chat", { auth: { userId: "u-1" } })).toEqual({ message: "connected", user_id: "u-1", tenant_id: null });
    expect(await connectedAs(server.url + "/chat", { auth: { token: "not-a-token", userId: "u-1" } }))
      .toEqual({ refused: "unauthorized", data: { code: "token_invalid" } });
  });
});
