import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/persistence/db.ts";
import {
  changeParticipants,
  conversationIdsOf,
  createConversation,
  findConversation,
  insertConversation,
  createNotification,
  deleteMessage,
  editMessage,
  history,
  insertMessages,
  isParticipant,
  lastSeen,
  listNotifications,
  markAllRead,
  markNotificationRead,
  unreadCount,
  upsertPresence,
  type HistoryPage,
} from "../../src/persistence/queries.ts";
import type { NewMessage } from "../../src/persistence/schema.ts";
import { DATABASE_BACKENDS, type DatabaseBackend } from "../support/services.ts";

function page(result: HistoryPage | { code: "invalid_cursor" }): HistoryPage {
  if ("code" in result) throw new Error("unexpected invalid_cursor");
  return result;
}

describe.each(Object.keys(DATABASE_BACKENDS) as DatabaseBackend[])("queries on %s", (kind) => {
  let handle: Awaited<ReturnType<(typeof DATABASE_BACKENDS)[typeof kind]>>;
  let database: Database;
  beforeAll(async () => {
    handle = await DATABASE_BACKENDS[kind]();
    database = handle.database;
  });
  afterAll(() => handle[Symbol.asyncDispose]());

  test("isParticipant answers true, false, or no-such-conversation", async () => {
    await createConversation(database.db, { id: "c1", tenantId: "t1", title: "Ops", participantIds: ["alice", "bob"] });
    expect([
      await isParticipant(database.db, "c1", "alice"),
      await isParticipant(database.db, "c1", "mallory"),
      await isParticipant(database.db, "nope", "alice"),
    ]).toEqual([true, false, "no-such-conversation"]);
  });

  test("conversations: insert once, change participants (set, add, remove), a user's conversations", async () => {
    const created = await insertConversation(database.db, { id: "cp-1", title: "Team", participantIds: ["cp-bob", "cp-alice", "cp-bob"] });
    expect(created).toMatchObject({ id: "cp-1", title: "Team", tenantId: null, participantIds: ["cp-alice", "cp-bob"] });
    expect(await insertConversation(database.db, { id: "cp-1", participantIds: [] })).toBe("exists");
    await insertConversation(database.db, { id: "cp-2", participantIds: ["cp-alice"] });
    expect(await changeParticipants(database.db, "cp-1", { set: ["cp-bob", "cp-carol"] })).toMatchObject({ added: ["cp-carol"], removed: ["cp-alice"] });
    expect(await changeParticipants(database.db, "cp-1", { add: ["cp-carol", "cp-dave"] })).toMatchObject({ added: ["cp-dave"], removed: [] });
    expect(await changeParticipants(database.db, "cp-1", { remove: ["cp-bob", "cp-nobody"] })).toMatchObject({ added: [], removed: ["cp-bob"] });
    expect(await changeParticipants(database.db, "cp-none", { add: ["x"] })).toBe("not_found");
    expect((await findConversation(database.db, "cp-1"))?.participantIds).toEqual(["cp-carol", "cp-dave"]);
    expect(await findConversation(database.db, "cp-none")).toBeUndefined();
    expect(await conversationIdsOf(database.db, "cp-alice", 10)).toEqual(["cp-2"]);
    expect(await conversationIdsOf(database.db, "cp-carol", 10)).toEqual(["cp-1"]);
  });

  test("concurrent participant changes apply one after the other: each user is added exactly once", async () => {
    await insertConversation(database.db, { id: "cp-race", participantIds: [] });
    const users = Array.from({ length: 5 }, (_, i) => `r${i}`);
    // Every pooled connection open first, so the six transactions really overlap.
    await Promise.all(Array.from({ length: 10 }, () => database.db.transaction((tx) => tx.execute(sql`select pg_sleep(0.05)`))));
    const results = await Promise.all(Array.from({ length: 6 }, () => changeParticipants(database.db, "cp-race", { add: users })));
    const added = results.flatMap((r) => (r === "not_found" ? [] : r.added));
    expect(added.sort()).toEqual(users);
    expect((await findConversation(database.db, "cp-race"))?.participantIds).toEqual(users);
  });

  test("history pages newest first with an opaque cursor, across equal timestamps, without gaps or repeats", async () => {
    const base = Date.parse("2025-03-01T12:00:00Z");
    const rows: NewMessage[] = Array.from({ length: 25 }, (_, i) => ({
      id: Bun.randomUUIDv7(),
      roomId: "history",
      senderId: "alice",
      body: `m${i}`,
      // Pairs share a timestamp, so the id must break the tie.
      createdAt: new Date(base + Math.floor(i / 2) * 1000),
    }));
    // Database-defaulted timestamps carry microseconds that a JS Date would drop.
    rows.push({ id: Bun.randomUUIDv7(), roomId: "history", senderId: "bob", body: "m25" });
    rows.push({ id: Bun.randomUUIDv7(), roomId: "history", senderId: "bob", body: "m26" });
    await insertMessages(database.db, rows);
    await insertMessages(database.db, [{ id: Bun.randomUUIDv7(), roomId: "elsewhere", senderId: "x", body: "not here" }]);

    const seen: string[] = [];
    const sizes: number[] = [];
    let before: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const result = page(await history(database.db, "history", { before, limit: 10 }));
      sizes.push(result.messages.length);
      seen.push(...result.messages.map((m) => m.body ?? ""));
      before = result.nextCursor;
      if (!before) break;
    }
    expect(sizes).toEqual([10, 10, 7]);
    const byTimeThenId = [...rows]
      .sort((a, b) => (b.createdAt?.getTime() ?? Infinity) - (a.createdAt?.getTime() ?? Infinity) || (b.id < a.id ? -1 : 1))
      .map((row) => row.body);
    // The two defaulted rows share one transaction's now(): UUIDv7 order breaks that tie too.
    expect(seen).toEqual(byTimeThenId);
  });

  test("history refuses a forged cursor as a value", async () => {
    expect(await history(database.db, "history", { before: "garbage", limit: 5 })).toEqual({ code: "invalid_cursor" });
    const forged = Buffer.from(JSON.stringify(["2025-01-01", "1; drop table messages"])).toString("base64url");
    expect(await history(database.db, "history", { before: forged, limit: 5 })).toEqual({ code: "invalid_cursor" });
  });

  test("edits and soft-deletes only the sender's own messages", async () => {
    const id = Bun.randomUUIDv7();
    await insertMessages(database.db, [{ id, roomId: "edits", senderId: "alice", body: "helo" }]);
    expect(await editMessage(database.db, { id, senderId: "bob", body: "pwned" })).toBe("forbidden");
    expect(await editMessage(database.db, { id, senderId: "alice", body: "hello" })).toMatchObject({ id, roomId: "edits", body: "hello", editedAt: expect.any(Date) });
    expect(await deleteMessage(database.db, { id, senderId: "bob" })).toBe("forbidden");
    const deleted = await deleteMessage(database.db, { id, senderId: "alice" });
    expect(deleted).toMatchObject({ id, roomId: "edits", deletedAt: expect.any(Date) });
    expect(await deleteMessage(database.db, { id, senderId: "alice" })).toEqual(deleted);
    expect(await editMessage(database.db, { id, senderId: "alice", body: "again" })).toBe("not_found");
    expect(await editMessage(database.db, { id: "not-a-uuid", senderId: "alice", body: "x" })).toBe("not_found");
    expect(page(await history(database.db, "edits", { limit: 5 })).messages).toEqual([expect.objectContaining({ id, body: null })]);
  });

  test("notifications: unread count, read one (idempotent, owner only), read all", async () => {
    const a = await createNotification(database.db, { userId: "nora", type: "like", title: "Liked", data: { postId: 7 } });
    const b = await createNotification(database.db, { userId: "nora", type: "comment" });
    await createNotification(database.db, { userId: "nora", type: "follow" });
    await createNotification(database.db, { userId: "other", type: "follow" });
    expect(a).toMatchObject({ userId: "nora", type: "like", data: { postId: 7 }, readAt: null });
    expect(await unreadCount(database.db, "nora")).toBe(3);

    expect(await markNotificationRead(database.db, a.id, "other")).toBe("not_found");
    expect(await markNotificationRead(database.db, "not-a-uuid", "nora")).toBe("not_found");
    const first = await markNotificationRead(database.db, a.id, "nora");
    expect(await markNotificationRead(database.db, a.id, "nora")).toEqual(first);
    expect(await unreadCount(database.db, "nora")).toBe(2);
    expect((await listNotifications(database.db, "nora", { limit: 10, unreadOnly: true })).map((n) => n.id).sort()).not.toContain(a.id);

    expect(await markAllRead(database.db, "nora")).toBe(2);
    expect(await markAllRead(database.db, "nora")).toBe(0);
    expect([await unreadCount(database.db, "nora"), await unreadCount(database.db, "other")]).toEqual([0, 1]);
    expect((await listNotifications(database.db, "nora", { limit: 2 })).length).toBe(2);
    expect(b.id).not.toBe(a.id);
  });

  test("presence keeps the latest last_seen per user", async () => {
    const t1 = new Date("2025-05-01T00:00:00Z");
    const t2 = new Date("2025-05-02T00:00:00Z");
    await upsertPresence(database.db, [{ userId: "p1", lastSeen: t2 }, { userId: "p2", lastSeen: t1 }]);
    await upsertPresence(database.db, [{ userId: "p1", lastSeen: t1 }, { userId: "p2", lastSeen: t2 }]);
    expect(await lastSeen(database.db, ["p1", "p2", "ghost"])).toEqual(new Map([["p1", t2], ["p2", t2]]));
    expect(await lastSeen(database.db, [])).toEqual(new Map());
  });
});
