// Conversations a backend registers over HTTP, and the NestJS chat client (seed 004) running
// unchanged against them: its sockets join their conversations on connect, `message {conversationId,
// content, mediaUrl}` without a prior join reaches the other participants (mediaUrl included and
// stored), a non-member gets the WsException's `exception {status, message}` and `error`, and
// participants changed over HTTP join or leave the room of sockets already connected.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { io, type Socket } from "socket.io-client";
import { startApp, tokenFor, type TestApp } from "../support/app.ts";
import { API_KEY, call, record } from "../http/helpers.ts";

// The seed's chatSocketService, as written there (client side): `io(`${API_URL}/chat`, {auth: {token},
// reconnection...})` and `sendMessage(conversationId, content, mediaUrl?)` → emit('message', {...}).
class ChatSocketService {
  socket: Socket | null = null;

  connect(apiUrl: string, auth: Record<string, unknown>): Promise<void> {
    this.socket = io(`${apiUrl}/chat`, { auth, reconnection: true, reconnectionDelay: 1000, reconnectionAttempts: 5, forceNew: true });
    return new Promise((resolve, reject) => {
      this.socket!.once("connect", () => resolve());
      this.socket!.once("connect_error", reject);
    });
  }

  sendMessage(conversationId: string, content: string, mediaUrl?: string) {
    this.socket?.emit("message", {
      conversationId,
      content,
      mediaUrl,
    });
  }

  [Symbol.dispose]() {
    this.socket?.disconnect();
  }
}

async function chatUser(server: TestApp, sub: string): Promise<ChatSocketService & { got: ReturnType<typeof record> }> {
  const service = new ChatSocketService();
  await service.connect(server.url, { token: await tokenFor({ sub, name: sub }) });
  return Object.assign(service, { got: record(service.socket!) });
}

const withKey = { env: { API_KEY } };

describe("the conversations HTTP API", () => {
  test("create, read, replace, add and remove participants; rows in Bunsen's tables", async () => {
    await using server = await startApp(withKey);
    const created = await call(server.url, "/api/conversations", { body: { id: "c-1", name: "Team", participants: ["alice", "bob", "alice"] } });
    expect(created.status).toBe(201);
    expect(created.body.conversation).toEqual({ id: "c-1", name: "Team", tenantId: null, participants: ["alice", "bob"], createdAt: expect.any(String) });
    const generated = await call(server.url, "/api/conversations", { body: { participants: ["carol"], tenantId: "t1" } });
    expect(generated.body.conversation).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: null, tenantId: "t1", participants: ["carol"] });

    expect(await call(server.url, "/api/conversations/c-1")).toMatchObject({ status: 200, body: { conversation: { id: "c-1", participants: ["alice", "bob"] } } });
    const replaced = await call(server.url, "/api/conversations/c-1/participants", { method: "PUT", body: { participants: ["bob", "carol", "dave"] } });
    expect(replaced).toMatchObject({ status: 200, body: { added: ["carol", "dave"], removed: ["alice"], conversation: { participants: ["bob", "carol", "dave"] } } });
    const added = await call(server.url, "/api/conversations/c-1/participants", { body: { participants: ["dave", "erin"] } });
    expect(added.body).toMatchObject({ added: ["erin"], removed: [], conversation: { participants: ["bob", "carol", "dave", "erin"] } });
    const removed = await call(server.url, "/api/conversations/c-1/participants/carol", { method: "DELETE" });
    expect(removed.body).toMatchObject({ added: [], removed: ["carol"], conversation: { participants: ["bob", "dave", "erin"] } });
    // Removing someone who is not a participant changes nothing.
    expect((await call(server.url, "/api/conversations/c-1/participants/carol", { method: "DELETE" })).body).toMatchObject({ removed: [] });

    const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const rows = await sql`select conversation_id, user_id from conversation_participants where conversation_id = 'c-1' order by user_id`;
    const [conversation] = await sql`select id, title from conversations where id = 'c-1'`;
    await sql.end();
    expect(rows.map((r) => r.user_id)).toEqual(["bob", "dave", "erin"]);
    expect({ ...conversation }).toEqual({ id: "c-1", title: "Team" });
  });

  test("refusals are 4xx JSON naming the problem", async () => {
    await using server = await startApp(withKey);
    await call(server.url, "/api/conversations", { body: { id: "taken", participants: [] } });
    const cases: [string, Parameters<typeof call>[2], number, string][] = [
      ["/api/conversations", { body: { id: "taken", participants: [] } }, 409, 'id: conversation "taken" exists; change its participants with PUT /api/conversations/{id}/participants'],
      ["/api/conversations", { body: { participants: "alice" } }, 400, "participants: expected a list of user ids"],
      ["/api/conversations", { body: { participants: ["alice", ""] } }, 400, "participants[1]: expected a non-empty string"],
      ["/api/conversations", { body: { participants: [], members: ["x"] } }, 400, "members: unknown field (expected one of id, name, tenantId, participants)"],
      ["/api/conversations", { body: { id: "user:alice", participants: [] } }, 400, 'id: "user:…" names are reserved for user and tenant rooms'],
      ["/api/conversations", { body: { participants: Array.from({ length: 1001 }, (_, i) => `u${i}`) } }, 400, "participants: at most 1000 entries"],
      ["/api/conversations/nope", {}, 404, 'conversation "nope" does not exist'],
      ["/api/conversations/nope/participants", { method: "PUT", body: { participants: ["a"] } }, 404, 'conversation "nope" does not exist'],
      ["/api/conversations/taken/participants", { method: "PUT", body: {} }, 400, "participants: required, a list of user ids"],
      ["/api/conversations/nope/participants/a", { method: "DELETE" }, 404, 'conversation "nope" does not exist'],
    ];
    for (const [path, options, status, message] of cases) {
      expect({ path, ...(await call(server.url, path, options)) }).toMatchObject({ path, status, body: { error: { message } } });
    }
    expect(await call(server.url, "/api/conversations", { body: { participants: [] }, auth: null })).toMatchObject({ status: 401 });
    const wrongMethod = await call(server.url, "/api/conversations/taken", { method: "DELETE" });
    expect(wrongMethod).toMatchObject({ status: 405 });
    expect(wrongMethod.headers.get("allow")).toBe("GET");
  });
});

describe("the NestJS chat client, unchanged", () => {
  test("participants' sockets join on connect: message {conversationId, content, mediaUrl} without a join reaches the others, mediaUrl is stored", async () => {
    await using server = await startApp(withKey);
    await call(server.url, "/api/conversations", { body: { id: "conv-42", participants: ["alice", "bob"] } });
    using alice = await chatUser(server, "alice");
    using bob = await chatUser(server, "bob");

    alice.sendMessage("conv-42", "look at this", "https://cdn.example.com/cat.png");
    await Promise.all([bob.got.until("message"), alice.got.until("message:confirmed")]);
    // The seed's MessagesPage keeps a message when newMessage.conversationId === conversationId.
    const [[newMessage]] = bob.got.named("message") as [[Record<string, unknown>]];
    expect(newMessage).toMatchObject({ conversationId: "conv-42", content: "look at this", mediaUrl: "https://cdn.example.com/cat.png", senderId: "alice" });
    expect(alice.got.named("message")).toHaveLength(1);

    // Text alone carries mediaUrl: null.
    alice.sendMessage("conv-42", "plain");
    await bob.got.until("message", 2);
    expect(bob.got.named("message")[1]).toEqual([expect.objectContaining({ content: "plain", mediaUrl: null })]);
    await alice.got.until("message:confirmed", 2);

    const sql = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const rows = await sql`select room_id, sender_id, body, metadata from messages order by created_at, id`;
    await sql.end();
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { room_id: "conv-42", sender_id: "alice", body: "look at this", metadata: { mediaUrl: "https://cdn.example.com/cat.png" } },
      { room_id: "conv-42", sender_id: "alice", body: "plain", metadata: null },
    ]);
  });

  test("a non-member gets exception {status: 'error', message} and error, as well as message:failed; nobody receives its message", async () => {
    await using server = await startApp(withKey);
    await call(server.url, "/api/conversations", { body: { id: "conv-7", participants: ["alice", "bob"] } });
    using bob = await chatUser(server, "bob");
    using mallory = await chatUser(server, "mallory");

    mallory.sendMessage("conv-7", "let me in");
    await Promise.all([mallory.got.until("exception"), mallory.got.until("error"), mallory.got.until("message:failed")]);
    expect(mallory.got.named("exception")).toEqual([[{ status: "error", message: "join the room before posting to it" }]]);
    expect(mallory.got.named("error")).toEqual([[{ code: "not_a_member", message: "join the room before posting to it" }]]);
    expect(mallory.got.named("message:failed")).toEqual([[{ tempId: expect.any(String), conversationId: "conv-7", error: { code: "not_a_member", message: "join the room before posting to it" } }]]);
    // Its join is refused the same way.
    mallory.socket!.emit("join", { conversationId: "conv-7" });
    await mallory.got.until("exception", 2);
    expect(mallory.got.named("exception")[1]).toEqual([{ status: "error", message: "not a participant of this conversation" }]);

    // Nothing reached bob: a later API emit to him arrives first.
    await call(server.url, "/api/users/bob/emit", { body: { namespace: "/chat", event: "sentinel" } });
    await bob.got.until("sentinel");
    expect(bob.got.named("message")).toEqual([]);
  });

  test("a media URL other clients could not safely render is refused", async () => {
    await using server = await startApp(withKey);
    await call(server.url, "/api/conversations", { body: { id: "conv-m", participants: ["alice"] } });
    using alice = await chatUser(server, "alice");
    alice.sendMessage("conv-m", "x", "javascript:alert(1)");
    await alice.got.until("exception");
    expect(alice.got.named("exception")).toEqual([[{ status: "error", message: "mediaUrl: expected an http(s) URL or a path (at most 2048 characters)" }]]);
    alice.sendMessage("conv-m", "", "/uploads/a.png");
    await alice.got.until("message");
    expect(alice.got.named("message")[0]).toEqual([expect.objectContaining({ content: "", mediaUrl: "/uploads/a.png" })]);
  });

  test("participants changed over HTTP join and leave the room of sockets already connected", async () => {
    await using server = await startApp(withKey);
    await call(server.url, "/api/conversations", { body: { id: "conv-g", participants: ["alice", "bob"] } });
    using alice = await chatUser(server, "alice");
    using bob = await chatUser(server, "bob");
    using carol = await chatUser(server, "carol");

    expect((await call(server.url, "/api/conversations/conv-g/participants", { body: { participants: ["carol"] } })).body.added).toEqual(["carol"]);
    alice.sendMessage("conv-g", "welcome carol");
    await Promise.all([carol.got.until("message"), bob.got.until("message")]);
    expect(carol.got.named("message")).toEqual([[expect.objectContaining({ conversationId: "conv-g", content: "welcome carol" })]]);

    await call(server.url, "/api/conversations/conv-g/participants/bob", { method: "DELETE" });
    alice.sendMessage("conv-g", "bob is gone");
    await carol.got.until("message", 2);
    await call(server.url, "/api/users/bob/emit", { body: { namespace: "/chat", event: "sentinel" } });
    await bob.got.until("sentinel");
    expect(bob.got.named("message").map(([m]) => (m as { content: string }).content)).toEqual(["welcome carol"]);
    bob.sendMessage("conv-g", "still here?");
    await bob.got.until("exception");

    // PUT replaces: carol out, bob back in.
    const replaced = await call(server.url, "/api/conversations/conv-g/participants", { method: "PUT", body: { participants: ["alice", "bob"] } });
    expect(replaced.body).toMatchObject({ added: ["bob"], removed: ["carol"] });
    bob.sendMessage("conv-g", "back");
    await alice.got.until("message", 3);
    expect(alice.got.named("message").at(-1)).toEqual([expect.objectContaining({ content: "back", senderId: "bob" })]);
    await call(server.url, "/api/users/carol/emit", { body: { namespace: "/chat", event: "sentinel" } });
    await carol.got.until("sentinel");
    expect(carol.got.named("message")).toHaveLength(2);
  });

  test("registering a conversation closes its room to sockets that joined it by name before", async () => {
    await using server = await startApp(withKey);
    using mallory = await chatUser(server, "mallory");
    using alice = await chatUser(server, "alice");
    // Not registered yet: the room is open (the room policy's rule for unknown rooms).
    expect(await mallory.socket!.emitWithAck("join", { conversationId: "conv-late" })).toMatchObject({ ok: true });
    await call(server.url, "/api/conversations", { body: { id: "conv-late", participants: ["alice"] } });
    expect(await mallory.socket!.emitWithAck("get_rooms")).toEqual({ ok: true, data: ["user:mallory"] });
    expect((await alice.socket!.emitWithAck("get_rooms")).data).toContain("conv-late");
  });

  test("in development mode the gateway's handshake.auth.userId names the user", async () => {
    await using server = await startApp({ env: { ...withKey.env, JWT_SECRET: "" } });
    await call(server.url, "/api/conversations", { body: { id: "conv-dev", participants: ["1", "2"] } });
    using one = new ChatSocketService();
    using two = new ChatSocketService();
    await one.connect(server.url, { userId: 1 });
    await two.connect(server.url, { userId: 2 });
    const got = record(two.socket!);
    one.sendMessage("conv-dev", "hi two");
    await got.until("message");
    expect(got.named("message")).toEqual([[expect.objectContaining({ conversationId: "conv-dev", content: "hi two", senderId: "1" })]]);
  });
});

describe("a slow database", () => {
  test("does not hold the connection: the socket connects past the lookup's bound and joins when the answer comes", async () => {
    await using server = await startApp({ ...withKey, modules: { conversationLookupTimeoutMs: 100 } });
    await call(server.url, "/api/conversations", { body: { id: "conv-slow", participants: ["alice", "bob"] } });
    using bob = await chatUser(server, "bob");
    const locker = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    const { promise: locked, resolve: onLocked } = Promise.withResolvers<void>();
    const holding = locker.begin(async (tx) => {
      await tx`lock table conversation_participants in access exclusive mode`;
      onLocked();
      await released;
    });
    await locked;
    // Connects while the table is still locked.
    using alice = await chatUser(server, "alice");
    expect(await alice.socket!.emitWithAck("get_rooms")).toEqual({ ok: true, data: ["user:alice"] });
    release();
    await holding;
    await locker.end();
    // The lookup answers after the lock: bounded wait for the late join, on the client's own event.
    let rooms: string[] = [];
    for (let i = 0; i < 500 && !rooms.includes("conv-slow"); i++) rooms = (await alice.socket!.emitWithAck("get_rooms")).data;
    expect(rooms).toContain("conv-slow");
    alice.sendMessage("conv-slow", "made it");
    await bob.got.until("message");
    expect(bob.got.named("message")).toEqual([[expect.objectContaining({ content: "made it" })]]);
  });
});
