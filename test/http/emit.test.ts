// POST /api/emit and its shortcuts over real HTTP: the target user, tenant or room member receives
// the event through socket.io-client and the others do not (issue 4, seeds 000 and 001).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApp, tokenFor, type TestApp } from "../support/app.ts";
import { API_KEY, call, record, userSocket, type Recorder } from "./helpers.ts";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ env: { API_KEY } });
});
afterAll(async () => {
  await server[Symbol.asyncDispose]();
});

/** Sends `sentinel` to every listed user and waits until each recorder has it: everything emitted before has arrived. */
async function settle(users: string[], recorders: Recorder[], namespace = "/"): Promise<void> {
  const before = recorders.map((r) => r.named("sentinel").length);
  const res = await call(server.url, "/api/emit", { body: { namespace, event: "sentinel", data: null, to: { users } } });
  expect(res.status).toBe(202);
  await Promise.all(recorders.map((r, i) => r.until("sentinel", before[i]! + 1)));
}

describe("POST /api/emit", () => {
  test("reaches every socket of the target user and no one else", async () => {
    using alice1 = await userSocket(server.url, "u-alice");
    using alice2 = await userSocket(server.url, "u-alice");
    using bob = await userSocket(server.url, "u-bob");
    const [a1, a2, b] = [record(alice1), record(alice2), record(bob)];
    const res = await call(server.url, "/api/emit", { body: { event: "post_liked", data: { post_id: "123", like_count: 42 }, to: { users: ["u-alice"] } } });
    expect(res).toMatchObject({ status: 202, body: { recipients: 2 } });
    await Promise.all([a1.until("post_liked"), a2.until("post_liked")]);
    await settle(["u-alice", "u-bob"], [a1, a2, b]);
    expect({ a1: a1.named("post_liked"), a2: a2.named("post_liked"), bob: b.named("post_liked") }).toEqual({
      a1: [[{ post_id: "123", like_count: 42 }]],
      a2: [[{ post_id: "123", like_count: 42 }]],
      bob: [],
    });
  });

  test("reaches the tenant's users only, and a numeric id works as a string", async () => {
    using alice = await userSocket(server.url, "t-alice", { tenant_id: "7" });
    using bob = await userSocket(server.url, "t-bob", { tenant_id: "7" });
    using carol = await userSocket(server.url, "t-carol", { tenant_id: "8" });
    const [a, b, c] = [record(alice), record(bob), record(carol)];
    const res = await call(server.url, "/api/emit", { body: { event: "billing:updated", data: { plan: "pro" }, to: { tenants: [7] } } });
    expect(res).toMatchObject({ status: 202, body: { recipients: 2 } });
    await Promise.all([a.until("billing:updated"), b.until("billing:updated")]);
    await settle(["t-carol"], [c]);
    expect(c.named("billing:updated")).toEqual([]);
  });

  test("reaches room members, minus the excepted users and rooms", async () => {
    using alice = await userSocket(server.url, "r-alice");
    using bob = await userSocket(server.url, "r-bob");
    using carol = await userSocket(server.url, "r-carol");
    using dave = await userSocket(server.url, "r-dave");
    for (const s of [alice, bob, carol]) expect(await s.emitWithAck("joinRoom", { roomId: "post_123" })).toMatchObject({ ok: true });
    expect(await carol.emitWithAck("joinRoom", { roomId: "muted" })).toMatchObject({ ok: true });
    const [a, b, c, d] = [record(alice), record(bob), record(carol), record(dave)];
    const res = await call(server.url, "/api/emit", {
      body: { event: "comment_added", data: { id: 1 }, to: { rooms: ["post_123"] }, except: { users: ["r-bob"], rooms: ["muted"] } },
    });
    expect(res).toMatchObject({ status: 202, body: { recipients: 1 } });
    await a.until("comment_added");
    await settle(["r-bob", "r-carol", "r-dave"], [b, c, d]);
    expect([b, c, d].map((r) => r.named("comment_added"))).toEqual([[], [], []]);
  });

  test("targets another namespace, and combines users, tenants and rooms with each socket reached once", async () => {
    using onOrders = await userSocket(server.url, "n-alice", { tenant_id: "n1" }, "/orders");
    using onRoot = await userSocket(server.url, "n-alice", { tenant_id: "n1" });
    const [orders, root] = [record(onOrders), record(onRoot)];
    const res = await call(server.url, "/api/emit", {
      body: { namespace: "/orders", event: "order_status_changed", data: { order_id: "789", status: "shipped" }, to: { users: ["n-alice"], tenants: ["n1"] }, volatile: true },
    });
    expect(res).toMatchObject({ status: 202, body: { recipients: 1 } });
    await orders.until("order_status_changed");
    await settle(["n-alice"], [orders], "/orders");
    await settle(["n-alice"], [root]);
    expect({ orders: orders.named("order_status_changed").length, root: root.named("order_status_changed").length }).toEqual({ orders: 1, root: 0 });
  });

  test("counts zero recipients when nobody matches, and an event without data has no arguments", async () => {
    using alice = await userSocket(server.url, "z-alice");
    const a = record(alice);
    expect(await call(server.url, "/api/emit", { body: { event: "ping_all", to: { users: ["nobody"] } } })).toMatchObject({ status: 202, body: { recipients: 0 } });
    expect(await call(server.url, "/api/emit", { body: { event: "refresh", to: { users: ["z-alice"] } } })).toMatchObject({ status: 202, body: { recipients: 1 } });
    await a.until("refresh");
    expect(a.named("refresh")).toEqual([[]]);
  });

  test("accepts a service JWT with the admin role instead of the API key", async () => {
    const admin = await tokenFor({ sub: "billing-worker", roles: ["admin"] });
    const res = await call(server.url, "/api/emit", { auth: `Bearer ${admin}`, body: { event: "x", to: { users: ["nobody"] } } });
    expect(res).toMatchObject({ status: 202, body: { recipients: 0 } });
  });
});

describe("shortcuts", () => {
  test("POST /api/users/:id/emit, /api/tenants/:id/emit and /api/rooms/:id/emit reach their target", async () => {
    using alice = await userSocket(server.url, "s-alice", { tenant_id: "s-t1" });
    using bob = await userSocket(server.url, "s-bob", { tenant_id: "s-t2" });
    expect(await bob.emitWithAck("joinRoom", { roomId: "order_789" })).toMatchObject({ ok: true });
    const [a, b] = [record(alice), record(bob)];
    const user = await call(server.url, "/api/users/s-alice/emit", { body: { event: "to_user", data: 1 } });
    const tenant = await call(server.url, "/api/tenants/s-t2/emit", { body: { event: "to_tenant", data: 2 } });
    const room = await call(server.url, "/api/rooms/order_789/emit", { body: { event: "to_room", data: 3, except: { users: ["s-alice"] } } });
    expect([user, tenant, room].map((r) => [r.status, r.body])).toEqual([[202, { recipients: 1 }], [202, { recipients: 1 }], [202, { recipients: 1 }]]);
    await Promise.all([a.until("to_user"), b.until("to_tenant"), b.until("to_room")]);
    await settle(["s-alice", "s-bob"], [a, b]);
    expect({ alice: a.events.map(([e]) => e).filter((e) => e.startsWith("to_")), bob: b.events.map(([e]) => e).filter((e) => e.startsWith("to_")) })
      .toEqual({ alice: ["to_user"], bob: ["to_tenant", "to_room"] });
  });

  test("a percent-encoded id in the path is decoded", async () => {
    using alice = await userSocket(server.url, "user@example.com");
    const a = record(alice);
    const res = await call(server.url, `/api/users/${encodeURIComponent("user@example.com")}/emit`, { body: { event: "hello" } });
    expect(res).toMatchObject({ status: 202, body: { recipients: 1 } });
    await a.until("hello");
  });

  test("refuses `to` in the body: the target is in the path", async () => {
    const res = await call(server.url, "/api/users/u1/emit", { body: { event: "x", to: { users: ["u2"] } } });
    expect(res).toMatchObject({ status: 400, body: { error: { code: "bad_request", message: expect.stringContaining("to:") } } });
  });
});

describe("POST /api/notifications", () => {
  test("stores the notification and pushes it to the user in /notifications", async () => {
    using alice = await userSocket(server.url, "nt-alice", {}, "/notifications");
    const a = record(alice);
    const res = await call(server.url, "/api/notifications", { body: { userId: "nt-alice", type: "order", title: "Order shipped", body: "Your order 789 is on its way", data: { orderId: "789" } } });
    expect(res).toMatchObject({
      status: 201,
      body: { notification: { userId: "nt-alice", type: "order", title: "Order shipped", body: "Your order 789 is on its way", data: { orderId: "789" }, readAt: null } },
    });
    await a.until("notification:new");
    expect(a.named("notification:new")[0]![0]).toMatchObject({ notification: { id: res.body.notification.id }, title: "Order shipped" });
  });

  test("names the bad field", async () => {
    const missing = await call(server.url, "/api/notifications", { body: { type: "order" } });
    const badType = await call(server.url, "/api/notifications", { body: { userId: "u", type: ["order"] } });
    expect([missing.status, missing.body.error.message, badType.status, badType.body.error.message]).toEqual([
      400, "userId: expected a non-empty string", 400, "type: expected a non-empty string",
    ]);
  });
});
