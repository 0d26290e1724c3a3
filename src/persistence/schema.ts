// Drizzle tables for Postgres and embedded PGlite. `drizzle-kit generate` turns this into drizzle/*.sql.
// Message ids are UUIDv7 chosen by the server before the insert, so a retried insert is idempotent.
import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const conversations = pgTable("conversations", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id"),
  title: text("title"),
  createdAt: createdAt(),
});

export const conversationParticipants = pgTable(
  "conversation_participants",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index("conversation_participants_user_idx").on(t.userId)],
);

export const messages = pgTable(
  "messages",
  {
    id: uuid("id").primaryKey(),
    roomId: text("room_id").notNull(),
    senderId: text("sender_id").notNull(),
    tenantId: text("tenant_id"),
    body: text("body").notNull(),
    // The seeds send `messageType` (text|image|video|file) and media descriptors with a message.
    type: text("type").notNull().default("text"),
    metadata: jsonb("metadata"),
    tempId: text("temp_id"),
    createdAt: createdAt(),
    editedAt: timestamp("edited_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  // Serves history(): WHERE room_id = $1 AND (created_at, id) < cursor ORDER BY created_at DESC, id DESC.
  // NULLS FIRST is DESC's default; drizzle-kit would otherwise emit NULLS LAST and the planner could not use it.
  (t) => [index("messages_room_created_idx").on(t.roomId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst())],
);

export const messageReceipts = pgTable(
  "message_receipts",
  {
    messageId: uuid("message_id").notNull(),
    userId: text("user_id").notNull(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    readAt: timestamp("read_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.userId] })],
);

export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey(),
    userId: text("user_id").notNull(),
    tenantId: text("tenant_id"),
    type: text("type").notNull(),
    title: text("title"),
    body: text("body"),
    data: jsonb("data"),
    readAt: timestamp("read_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    index("notifications_user_read_idx").on(t.userId, t.readAt),
    index("notifications_user_created_idx").on(t.userId, t.createdAt.desc().nullsFirst()),
  ],
);

export const presence = pgTable("presence", {
  userId: text("user_id").primaryKey(),
  lastSeen: timestamp("last_seen", { withTimezone: true }).notNull().default(sql`now()`),
});

export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;
export type NewReceipt = typeof messageReceipts.$inferInsert;
export type Notification = typeof notifications.$inferSelect;
export type NewNotification = Omit<typeof notifications.$inferInsert, "id" | "readAt" | "createdAt">;
export type PresenceRow = typeof presence.$inferInsert;
