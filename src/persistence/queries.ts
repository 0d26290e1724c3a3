// The queries the modules need, one small function each. Expected outcomes (not a participant, bad
// cursor, not found) are values; a database failure throws and the caller maps it to an error event.
import { and, count, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import {
  conversationParticipants,
  conversations,
  messageReceipts,
  messages,
  notifications,
  presence,
  type Message,
  type NewMessage,
  type NewNotification,
  type NewReceipt,
  type Notification,
  type PresenceRow,
} from "./schema.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Ids arrive from clients: a malformed one is "not found", not a Postgres 22P02 error.
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

export async function createConversation(
  db: Db,
  row: { id: string; tenantId?: string; title?: string; participantIds: readonly string[] },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(conversations).values({ id: row.id, tenantId: row.tenantId, title: row.title }).onConflictDoNothing();
    if (row.participantIds.length > 0)
      await tx
        .insert(conversationParticipants)
        .values(row.participantIds.map((userId) => ({ conversationId: row.id, userId })))
        .onConflictDoNothing();
  });
}

/** A conversation as the backend registered it, with its participants sorted. */
export interface ConversationRecord {
  id: string;
  tenantId: string | null;
  title: string | null;
  createdAt: Date;
  participantIds: string[];
}

/** Creates a conversation and its participants in one transaction; an id already taken is "exists". */
export async function insertConversation(
  db: Db,
  row: { id: string; tenantId?: string | null; title?: string | null; participantIds: readonly string[] },
): Promise<ConversationRecord | "exists"> {
  return db.transaction(async (tx) => {
    const [created] = await tx
      .insert(conversations)
      .values({ id: row.id, tenantId: row.tenantId ?? null, title: row.title ?? null })
      .onConflictDoNothing()
      .returning();
    if (!created) return "exists";
    const participantIds = [...new Set(row.participantIds)].sort();
    if (participantIds.length > 0)
      await tx.insert(conversationParticipants).values(participantIds.map((userId) => ({ conversationId: row.id, userId })));
    return { ...created, participantIds };
  });
}

export async function findConversation(db: Db, id: string): Promise<ConversationRecord | undefined> {
  const [conversation] = await db.select().from(conversations).where(eq(conversations.id, id));
  if (!conversation) return undefined;
  return { ...conversation, participantIds: await participantsOf(db, id) };
}

async function participantsOf(db: Pick<Db, "select">, conversationId: string): Promise<string[]> {
  const rows = await db
    .select({ userId: conversationParticipants.userId })
    .from(conversationParticipants)
    .where(eq(conversationParticipants.conversationId, conversationId));
  // Sorted in JS, not by the database's collation: the same order changeParticipants answers with.
  return rows.map((r) => r.userId).sort();
}

/** `set` replaces the participants; `add` and `remove` change them. */
export type ParticipantChange = { set: readonly string[] } | { add: readonly string[] } | { remove: readonly string[] };

export interface ParticipantsChanged {
  conversation: ConversationRecord;
  /** Who became a participant, and who stopped being one: the sockets to move. */
  added: string[];
  removed: string[];
}

/**
 * Changes who takes part, in one transaction that locks the conversation's row, so concurrent
 * changes apply one after the other and `added`/`removed` describe exactly what each one did.
 */
export async function changeParticipants(db: Db, id: string, change: ParticipantChange): Promise<ParticipantsChanged | "not_found"> {
  return db.transaction(async (tx) => {
    const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, id)).for("update");
    if (!conversation) return "not_found";
    const current = new Set(await participantsOf(tx, id));
    let added: string[] = [];
    let removed: string[] = [];
    if ("set" in change) {
      const wanted = new Set(change.set);
      added = [...wanted].filter((userId) => !current.has(userId));
      removed = [...current].filter((userId) => !wanted.has(userId));
    } else if ("add" in change) {
      added = [...new Set(change.add)].filter((userId) => !current.has(userId));
    } else {
      removed = [...new Set(change.remove)].filter((userId) => current.has(userId));
    }
    if (removed.length > 0)
      await tx
        .delete(conversationParticipants)
        .where(and(eq(conversationParticipants.conversationId, id), inArray(conversationParticipants.userId, removed)));
    if (added.length > 0)
      await tx.insert(conversationParticipants).values(added.map((userId) => ({ conversationId: id, userId })));
    for (const userId of removed) current.delete(userId);
    for (const userId of added) current.add(userId);
    return { conversation: { ...conversation, participantIds: [...current].sort() }, added: added.sort(), removed: removed.sort() };
  });
}

/** The conversations a user takes part in (served by conversation_participants_user_idx), at most `limit`. */
export async function conversationIdsOf(db: Db, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: conversationParticipants.conversationId })
    .from(conversationParticipants)
    .where(eq(conversationParticipants.userId, userId))
    .orderBy(conversationParticipants.conversationId)
    .limit(limit);
  return rows.map((r) => r.id);
}

export async function isParticipant(db: Db, conversationId: string, userId: string): Promise<boolean | "no-such-conversation"> {
  const [row] = await db
    .select({ participant: conversationParticipants.userId })
    .from(conversations)
    .leftJoin(
      conversationParticipants,
      and(eq(conversationParticipants.conversationId, conversations.id), eq(conversationParticipants.userId, userId)),
    )
    .where(eq(conversations.id, conversationId));
  if (!row) return "no-such-conversation";
  return row.participant !== null;
}

/**
 * Multi-row insert; a replayed id is skipped, which makes retries exactly-once.
 *
 * The rows travel as ONE json parameter unpacked by json_to_recordset, not as a VALUES list with a
 * parameter per column per row: JSON.stringify is one native call, where building and binding
 * 11 parameters a row cost ~25 µs of the server's CPU per message (bench/writer.ts, RESULTS.md) —
 * on the core that also runs the optimistic emit. The record's column names are the rows' own
 * (camelCase) keys; missing keys are NULL, so the columns' defaults are applied with coalesce.
 * A row the database refuses still fails the whole statement (the writer then splits the batch).
 */
export async function insertMessages(db: Db, rows: NewMessage[]): Promise<void> {
  if (rows.length === 0) return;
  await db.execute(sql`
    insert into messages (id, room_id, sender_id, tenant_id, body, type, metadata, temp_id, created_at, edited_at, deleted_at)
    select r.id, r."roomId", r."senderId", r."tenantId", r.body, coalesce(r.type, 'text'), r.metadata, r."tempId",
           coalesce(r."createdAt", now()), r."editedAt", r."deletedAt"
    from json_to_recordset(${JSON.stringify(rows)}::json) as r(
      id uuid, "roomId" text, "senderId" text, "tenantId" text, body text, type text, metadata jsonb, "tempId" text,
      "createdAt" timestamptz, "editedAt" timestamptz, "deletedAt" timestamptz)
    on conflict (id) do nothing`);
}

export type HistoryMessage = Omit<Message, "body"> & { body: string | null };
export interface HistoryPage {
  messages: HistoryMessage[];
  /** Pass back as `before` for the next (older) page; undefined on the last page. */
  nextCursor?: string;
}

/** Newest first, keyset-paged on (created_at, id). Deleted messages keep their place with a null body. */
export async function history(
  db: Db,
  roomId: string,
  page: { before?: string; limit: number },
): Promise<HistoryPage | { code: "invalid_cursor" }> {
  const cursor = page.before === undefined ? undefined : decodeCursor(page.before);
  if (cursor === null) return { code: "invalid_cursor" };
  const rows = await db
    .select({ message: messages, cursorAt: sql<string>`${messages.createdAt}::text` })
    .from(messages)
    .where(
      and(
        eq(messages.roomId, roomId),
        cursor ? sql`(${messages.createdAt}, ${messages.id}) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(page.limit + 1);
  const hasMore = rows.length > page.limit;
  const shown = hasMore ? rows.slice(0, page.limit) : rows;
  const last = shown.at(-1);
  return {
    messages: shown.map(({ message }) => (message.deletedAt ? { ...message, body: null } : message)),
    nextCursor: hasMore && last ? encodeCursor(last.cursorAt, last.message.id) : undefined,
  };
}

// Postgres' timestamptz output, e.g. "2025-03-01 12:00:00.123456+00" (the offset follows TimeZone).
const PG_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2}){0,2}|Z)?$/;

// created_at travels as Postgres' own text form: microseconds survive, which a JS Date would drop.
function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString("base64url");
}

function decodeCursor(cursor: string): { at: string; id: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [at, id] = value;
    return typeof at === "string" && PG_TIMESTAMPTZ.test(at) && isUuid(id) ? { at, id } : null;
  } catch {
    return null;
  }
}

export type EditOutcome = Pick<Message, "id" | "roomId" | "body" | "editedAt"> | "not_found" | "forbidden";

/** Only the sender may edit; a deleted message counts as not found. */
export async function editMessage(db: Db, edit: { id: string; senderId: string; body: string }): Promise<EditOutcome> {
  if (!isUuid(edit.id)) return "not_found";
  const [row] = await db
    .update(messages)
    .set({ body: edit.body, editedAt: sql`now()` })
    .where(and(eq(messages.id, edit.id), eq(messages.senderId, edit.senderId), isNull(messages.deletedAt)))
    .returning({ id: messages.id, roomId: messages.roomId, body: messages.body, editedAt: messages.editedAt });
  return row ?? ownershipOutcome(db, edit.id);
}

export type DeleteOutcome = Pick<Message, "id" | "roomId" | "deletedAt"> | "not_found" | "forbidden";

/** Soft delete by the sender; deleting twice answers the first deletion. */
export async function deleteMessage(db: Db, target: { id: string; senderId: string }): Promise<DeleteOutcome> {
  if (!isUuid(target.id)) return "not_found";
  const [row] = await db
    .update(messages)
    .set({ deletedAt: sql`coalesce(${messages.deletedAt}, now())` })
    .where(and(eq(messages.id, target.id), eq(messages.senderId, target.senderId)))
    .returning({ id: messages.id, roomId: messages.roomId, deletedAt: messages.deletedAt });
  return row ?? ownershipOutcome(db, target.id);
}

async function ownershipOutcome(db: Db, id: string): Promise<"not_found" | "forbidden"> {
  const [row] = await db.select({ deletedAt: messages.deletedAt }).from(messages).where(eq(messages.id, id));
  return row && row.deletedAt === null ? "forbidden" : "not_found";
}

/** Receipts only move forward: a timestamp once set is kept; a read implies delivered. */
export async function upsertReceipts(db: Db, rows: NewReceipt[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(messageReceipts)
    .values(mergeReceipts(rows))
    .onConflictDoUpdate({
      target: [messageReceipts.messageId, messageReceipts.userId],
      set: {
        deliveredAt: sql`coalesce(${messageReceipts.deliveredAt}, excluded.delivered_at, excluded.read_at)`,
        readAt: sql`coalesce(${messageReceipts.readAt}, excluded.read_at)`,
      },
    });
}

// ON CONFLICT DO UPDATE refuses to touch one row twice in a statement (SQLSTATE 21000).
function mergeReceipts(rows: NewReceipt[]): NewReceipt[] {
  const byKey = new Map<string, NewReceipt>();
  for (const row of rows) {
    const key = `${row.messageId}\u0000${row.userId}`;
    const seen = byKey.get(key);
    byKey.set(key, {
      messageId: row.messageId,
      userId: row.userId,
      deliveredAt: seen?.deliveredAt ?? row.deliveredAt ?? row.readAt,
      readAt: seen?.readAt ?? row.readAt,
    });
  }
  return [...byKey.values()];
}

export async function upsertPresence(db: Db, rows: PresenceRow[]): Promise<void> {
  if (rows.length === 0) return;
  const latest = new Map<string, PresenceRow>();
  for (const row of rows) {
    const seen = latest.get(row.userId);
    if (!seen || !seen.lastSeen || (row.lastSeen && row.lastSeen > seen.lastSeen)) latest.set(row.userId, row);
  }
  await db
    .insert(presence)
    .values([...latest.values()])
    .onConflictDoUpdate({
      target: presence.userId,
      set: { lastSeen: sql`greatest(${presence.lastSeen}, excluded.last_seen)` },
    });
}

export async function lastSeen(db: Db, userIds: readonly string[]): Promise<Map<string, Date>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.select().from(presence).where(inArray(presence.userId, [...userIds]));
  return new Map(rows.map((row) => [row.userId, row.lastSeen]));
}

export async function createNotification(db: Db, row: NewNotification): Promise<Notification> {
  const [created] = await db
    .insert(notifications)
    .values({ ...row, id: Bun.randomUUIDv7() })
    .returning();
  if (!created) throw new Error("insert returned no row");
  return created;
}

/** Newest first; `unreadOnly` serves the bell's dropdown; `before` (a notification id) pages on. */
export async function listNotifications(
  db: Db,
  userId: string,
  options: { limit: number; unreadOnly?: boolean; before?: string },
): Promise<Notification[]> {
  if (options.before !== undefined && !isUuid(options.before)) return [];
  const before = options.before === undefined
    ? undefined
    : sql`(${notifications.createdAt}, ${notifications.id}) < (select b.created_at, b.id from notifications b where b.id = ${options.before}::uuid and b.user_id = ${userId})`;
  return db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), options.unreadOnly ? isNull(notifications.readAt) : undefined, before))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(options.limit);
}

export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
  return row?.n ?? 0;
}

/** Idempotent: reading twice answers the first read time. Another user's notification is not found. */
export async function markNotificationRead(db: Db, id: string, userId: string): Promise<{ readAt: Date } | "not_found"> {
  if (!isUuid(id)) return "not_found";
  const [row] = await db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .returning({ readAt: notifications.readAt });
  return row?.readAt ? { readAt: row.readAt } : "not_found";
}

/** Deletes one of the user's notifications (seed 003's `notification:delete`). */
export async function deleteNotification(db: Db, id: string, userId: string): Promise<{ id: string } | "not_found"> {
  if (!isUuid(id)) return "not_found";
  const [row] = await db
    .delete(notifications)
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .returning({ id: notifications.id });
  return row ?? "not_found";
}

/** Returns how many notifications changed from unread to read. */
export async function markAllRead(db: Db, userId: string): Promise<number> {
  const rows = await db
    .update(notifications)
    .set({ readAt: sql`now()` })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)))
    .returning({ id: notifications.id });
  return rows.length;
}
