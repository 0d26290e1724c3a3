// The social app's module sockets and workers (seed 000) and the social events of seed 003, driven
// with their own event names and payloads against the ready server in development mode: join_post,
// typing_start into post_123, get_rooms' plain list, emit_to_post / emit_to_order without a namespace.
import { describe, expect, test } from "bun:test";
import { startApp } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";
import { API_KEY, call, record } from "../http/helpers.ts";

const DEVELOPMENT = { JWT_SECRET: "", API_KEY };

function socket(url: string, nsp: string, userId: string) {
  return connect(url + nsp, { transports: ["websocket"], auth: { userId, username: userId.toUpperCase(), avatar: `${userId}.png` } });
}

describe("the social app's module sockets", () => {
  test.concurrent("join_post {post_id} joins post_123, typing_start {post_id} reaches the others there, get_rooms acks the plain list", async () => {
    await using server = await startApp({ env: DEVELOPMENT });
    using alice = await socket(server.url, "/social", "alice");
    using bob = await socket(server.url, "/social", "bob");
    using carol = await socket(server.url, "/social", "carol");
    await alice.emitWithAck("join_post", { post_id: "123" });
    await bob.emitWithAck("join_post", { post_id: "123" });
    // The document's call, verbatim: the callback receives the rooms themselves.
    const rooms = await new Promise((resolve) => alice.emit("get_rooms", {}, resolve));
    expect(rooms).toEqual(["user:alice", "post_123"]);

    const carolSees = record(carol);
    const bobSees = nextEvent(bob, "user:typing");
    alice.emit("typing_start", { post_id: "123" });
    expect(await bobSees).toEqual([{ postId: "123", post_id: "123", userId: "alice", username: "ALICE", name: "ALICE", action: "start" }]);
    const stopped = nextEvent(bob, "user:typing");
    alice.emit("typing_stop", { post_id: "123" });
    expect((await stopped)[0]).toMatchObject({ post_id: "123", userId: "alice", action: "stop" });
    // carol never joined the post: a sentinel emitted after the typing reaches her first.
    const sentinel = await call(server.url, "/api/users/carol/emit", { body: { namespace: "/social", event: "sentinel" } });
    expect(sentinel.status).toBe(202);
    await carolSees.until("sentinel");
    expect(carolSees.named("user:typing")).toEqual([]);
  });

  test.concurrent("join_post without post_id is refused with bad_request", async () => {
    await using server = await startApp({ env: DEVELOPMENT });
    using alice = await socket(server.url, "/social", "alice");
    expect(await alice.emitWithAck("join_post", {})).toMatchObject({ ok: false, error: { code: "bad_request", message: "post_id is required" } });
  });

  test.concurrent("the other social app's user:typing {postId, action} reaches the post:123 room", async () => {
    await using server = await startApp({ env: DEVELOPMENT });
    using alice = await socket(server.url, "/social", "alice");
    using bob = await socket(server.url, "/social", "bob");
    await alice.emitWithAck("joinRoom", { roomId: "post:123" });
    await bob.emitWithAck("joinRoom", { roomId: "post:123" });
    const bobSees = nextEvent(bob, "user:typing");
    alice.emit("user:typing", { postId: "123", action: "start" });
    expect((await bobSees)[0]).toMatchObject({ postId: "123", userId: "alice", username: "ALICE", action: "start" });
  });
});

describe("the social app's workers", () => {
  test.concurrent("emit_to_post without a namespace reaches the /social sockets in post_123, emit_to_order the /orders sockets in order_789", async () => {
    await using server = await startApp({ env: DEVELOPMENT });
    using alice = await socket(server.url, "/social", "alice");
    using ops = await socket(server.url, "/orders", "ops");
    await alice.emitWithAck("join_post", { post_id: "123" });
    await ops.emitWithAck("join_order", { order_id: "789" });

    const liked = nextEvent(alice, "post_liked");
    const post = await call(server.url, "/api/rooms/post_123/emit", { body: { event: "post_liked", data: { user_id: "456", like_count: 42 } } });
    expect(post).toMatchObject({ status: 202, body: { recipients: 1 } });
    expect(await liked).toEqual([{ user_id: "456", like_count: 42 }]);

    const changed = nextEvent(ops, "order_status_changed");
    const order = await call(server.url, "/api/emit", { body: { event: "order_status_changed", data: { status: "shipped" }, to: { rooms: ["order_789"] } } });
    expect(order).toMatchObject({ status: 202, body: { recipients: 1 } });
    expect(await changed).toEqual([{ status: "shipped" }]);

    // Without a namespace the room is reached wherever it has members, `/` included, each socket once;
    // a named namespace limits the emit to it.
    using root = await socket(server.url, "/", "root");
    await root.emitWithAck("joinRoom", { roomId: "post_123" });
    const both = await Promise.all([nextEvent(alice, "post_shared"), nextEvent(root, "post_shared"), call(server.url, "/api/rooms/post_123/emit", { body: { event: "post_shared", data: 1 } })]);
    expect(both).toEqual([[1], [1], expect.objectContaining({ status: 202, body: { recipients: 2 } })]);
    expect((await call(server.url, "/api/rooms/post_123/emit", { body: { namespace: "/", event: "x" } })).body).toEqual({ recipients: 1 });
    expect((await call(server.url, "/api/rooms/nobody/emit", { body: { event: "x" } })).body).toEqual({ recipients: 0 });
  });
});
