// Notifications of the ready server, end to end in /notifications with the seeds' event names
// (001: notification_read; 003: notification:*; 004: notification/unreadCount), and the /notification alias.
import { describe, expect, test } from "bun:test";
import { createNotification } from "../../src/modules/notifications.ts";
import { startApp, tokenFor, type TestApp } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";

async function user(url: string, sub: string, nsp = "/notifications") {
  const token = await tokenFor({ sub, name: sub.toUpperCase(), tenant_id: "t1" });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

async function newReadAndCountFlow(server: TestApp): Promise<void> {
  using alice = await user(server.url, "alice");
  using aliceAlias = await user(server.url, "alice", "/notification");
  using bob = await user(server.url, "bob");

  const events = ["notification:new", "notification", "notification:count", "unreadCount"].map((name) => nextEvent(alice, name));
  const viaAlias = nextEvent(aliceAlias, "notification:new");
  const created = await createNotification(server.app, { userId: "alice", tenantId: "t1", type: "mention", title: "Bob mentioned you", body: "hi @alice", data: { postId: "p1" } });
  expect(created).toMatchObject({ userId: "alice", tenantId: "t1", type: "mention", title: "Bob mentioned you", body: "hi @alice", data: { postId: "p1" }, readAt: null });
  const [[fresh], [plain], [count], [unread]] = await Promise.all(events);
  // Seed 003 wraps it in {notification}; seed 001 reads flat fields; seed 004 gets the object itself.
  expect(fresh).toEqual({ notification: { ...created, recipient: "alice" }, id: created.id, title: "Bob mentioned you", message: "hi @alice", type: "mention", created_at: created.createdAt });
  expect(plain).toEqual(created);
  expect({ count, unread }).toEqual({ count: { count: 1 }, unread: 1 });
  expect((await viaAlias)[0].notification.id).toBe(created.id);

  // notification:get-count answers with an event and, when asked, an ack.
  const counted = nextEvent(alice, "notification:count");
  expect(await alice.emitWithAck("notification:get-count")).toEqual({ ok: true, data: { count: 1 } });
  expect((await counted)[0]).toEqual({ count: 1 });

  // Another user cannot read it, and a malformed id is not found rather than a crash.
  expect(await bob.emitWithAck("notification:read", { notificationId: created.id })).toMatchObject({ ok: false, error: { code: "not_found" } });
  expect(await alice.emitWithAck("notification:read", { notificationId: "not-a-uuid" })).toMatchObject({ ok: false, error: { code: "not_found" } });

  // Seed 001: notification_read {notification_id} without an ack → notification_read_confirmed, then the count.
  const confirmed = nextEvent(alice, "notification_read_confirmed");
  const readEvent = nextEvent(aliceAlias, "notification:read");
  const zero = nextEvent(alice, "unreadCount");
  alice.emit("notification_read", { notification_id: created.id });
  expect((await confirmed)[0]).toMatchObject({ notificationId: created.id, notification_id: created.id });
  expect((await readEvent)[0]).toMatchObject({ notificationId: created.id });
  expect((await zero)[0]).toBe(0);
}

describe("notifications", () => {
  test.concurrent("new, count and read end to end in /notifications and /notification (Postgres)", async () => {
    await using server = await startApp();
    await newReadAndCountFlow(server);
  });

  test.concurrent("new, count and read end to end on the embedded database", async () => {
    await using server = await startApp({ embedded: true });
    await newReadAndCountFlow(server);
  });

  test.concurrent("notification:read with an ack, read-all, and the list paged with a cursor", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    const created = [];
    for (const title of ["one", "two", "three"]) created.push(await createNotification(server.app, { userId: "alice", type: "like", title }));

    const readOne = nextEvent(alice, "notification:read");
    expect(await alice.emitWithAck("notification:read", { notificationId: created[0]!.id })).toMatchObject({ ok: true, data: { notificationId: created[0]!.id, count: 2 } });
    expect((await readOne)[0]).toMatchObject({ notificationId: created[0]!.id });

    const allRead = nextEvent(alice, "notification:read-all");
    const pushed = nextEvent(alice, "notification:count");
    expect(await alice.emitWithAck("notification:read-all")).toEqual({ ok: true, data: { updated: 2, count: 0 } });
    expect((await allRead)[0]).toMatchObject({ userId: "alice", updated: 2 });
    expect((await pushed)[0]).toEqual({ count: 0 });

    const first = (await alice.emitWithAck("notification:list", { limit: 2 })) as any;
    expect(first.ok).toBe(true);
    expect(first.data.notifications.map((n: any) => n.title)).toEqual(["three", "two"]);
    const second = (await alice.emitWithAck("notification:list", { limit: 2, before: first.data.nextCursor })) as any;
    expect(second.data).toMatchObject({ notifications: [{ title: "one" }], nextCursor: null });
    expect(second.data.notifications[0].readAt).not.toBeNull();
    expect(await alice.emitWithAck("notification:list", { before: "garbage" })).toMatchObject({ ok: false, error: { code: "invalid_cursor" } });
  });
});

test("notification:delete (seed 003) removes only the user's own notification, tells every device, and pushes the count", async () => {
  await using server = await startApp();
  using alice = await user(server.url, "alice");
  using aliceAlias = await user(server.url, "alice", "/notification");
  using bob = await user(server.url, "bob");
  // The creation pushes its own count (1); it may reach a just-connected socket late, so wait for it.
  const createdCount = nextEvent(alice, "notification:count");
  const created = await createNotification(server.app, { userId: "alice", type: "follow", title: "Bob followed you" });
  expect(await createdCount).toEqual([{ count: 1 }]);
  expect(await bob.emitWithAck("notification:delete", { notificationId: created.id })).toMatchObject({ ok: false, error: { code: "not_found" } });
  const deleted = nextEvent(aliceAlias, "notification:delete");
  const count = nextEvent(alice, "notification:count");
  expect(await alice.emitWithAck("notification:delete", { notificationId: created.id })).toEqual({ ok: true, data: { notificationId: created.id, count: 0 } });
  expect(await deleted).toEqual([{ notificationId: created.id, deletedBy: "alice" }]);
  expect(await count).toEqual([{ count: 0 }]);
  expect(await alice.emitWithAck("notification:delete", { notificationId: created.id })).toMatchObject({ ok: false, error: { code: "not_found" } });
  expect(await alice.emitWithAck("notification:delete", {})).toMatchObject({ ok: false, error: { code: "bad_request" } });
});

test("markAsRead {notificationId} marks a notification read and pushes unreadCount", async () => {
  await using server = await startApp({ embedded: true });
  using alice = await user(server.url, "alice");
  const first = nextEvent(alice, "unreadCount");
  const created = await createNotification(server.app, { userId: "alice", type: "LIKE", data: { postId: "p1" } });
  expect(await first).toEqual([1]);
  const unread = nextEvent(alice, "unreadCount");
  alice.emit("markAsRead", { notificationId: created.id });
  expect(await unread).toEqual([0]);
  expect(await alice.emitWithAck("markAsRead", {})).toMatchObject({ ok: false, error: { code: "bad_request" } });
});
