// The chat scenario's "persistence off" baseline (issue 6: "optimistic delivery p99 within 10 % of the
// same flow with persistence off"). Bunsen's library API (src/index.ts) serving seed 002's chat events
// on `/` exactly as src/modules/chat.ts does — JWT from the CONNECT payload, `joinRoom {roomId}` with
// ack, `roomMessage {roomId, body, tempId}` validated, the same message object built, then
// `io.to(roomId).emit("roomMessageRecieved", message)` and the same ack — but with no database: no
// write-behind queue, no spool, no `roomMessageConfirmed`.
//
// Why this is the fair baseline: the target is about the hot path never waiting for the database, so
// the baseline must do everything the ready server does between reading `roomMessage` and writing
// `roomMessageRecieved` (parse, validate, membership check, build, one room emit) and nothing that
// persistence adds. Anything persistence costs the hot path (enqueue, spool journal, the confirm
// emit and the INSERTs competing for the same core) is then exactly the difference between the two
// runs. The ready server has no "persistence off" switch (DATABASE_URL unset means PGlite, not none),
// so this is a separate script; it skips the ready server's other modules (typing, presence, stats),
// whose handlers do not run for `roomMessage` apart from the one `onAny` counter, kept here too.
// Usage: bun bench/servers/bunsen-chat-nopersist.ts [port]  (JWT_SECRET from env, as src/main.ts)
import { jwtVerify } from "jose";
import { Server, type Socket } from "../../src/index.ts";
import { ackOf, fail, ok, payloadOf, stringField } from "../../src/modules/context.ts";

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const secret = new TextEncoder().encode(process.env.JWT_SECRET ?? "");
const io = new Server({ path: "/socket.io/" });
const MAX_BODY_CHARS = 10_000;
type User = { id: string; name?: string; avatar?: string; tenantId?: string };

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown })?.token;
  if (typeof token !== "string") return next(Object.assign(new Error("unauthorized"), { data: { code: "token_missing" } }));
  jwtVerify(token, secret, { algorithms: ["HS256"] }).then(
    ({ payload }) => {
      socket.data.user = { id: String(payload.sub), name: payload.name as string | undefined, tenantId: payload.tenant_id as string | undefined } satisfies User;
      next();
    },
    () => next(Object.assign(new Error("unauthorized"), { data: { code: "token_invalid" } })),
  );
});

let eventsIn = 0;
io.on("connection", (socket: Socket) => {
  const user = socket.data.user as User;
  socket.join(`user:${user.id}`);
  socket.onAny(() => { eventsIn++; });
  socket.emit("connected", { message: "connected", user_id: user.id, tenant_id: user.tenantId ?? null });
  socket.on("joinRoom", (...args: unknown[]) => {
    const roomId = stringField(payloadOf(args[0]), "roomId");
    if (roomId === undefined) return ackOf(args)?.(fail("bad_request", "roomId is required"));
    socket.join(roomId);
    ackOf(args)?.(ok({ roomId, connectedUsers: io.of("/").adapter.rooms.get(roomId)?.size ?? 0 }));
  });
  socket.on("roomMessage", (...args: unknown[]) => {
    const ack = ackOf(args);
    const payload = payloadOf(args[0]);
    const tempId = stringField(payload, "tempId") ?? `tmp-${Bun.randomUUIDv7()}`;
    const roomId = stringField(payload, "roomId");
    const body = payload.body;
    const refuse = (code: string, message: string) => {
      socket.emit("roomMessageFailed", { tempId, roomId: roomId ?? null, error: { code, message } });
      ack?.(fail(code, message));
    };
    if (roomId === undefined) return refuse("bad_request", "roomId is required");
    if (typeof body !== "string" || body.length === 0 || body.length > MAX_BODY_CHARS) return refuse("bad_request", "the message text is required");
    if (!socket.rooms.has(roomId)) return refuse("not_a_member", "join the room before posting to it");
    const id = Bun.randomUUIDv7();
    const createdAt = new Date();
    const message = {
      tempId, roomId, body, content: body,
      sender: { id: user.id, name: user.name ?? null, avatar: user.avatar ?? null }, senderId: user.id,
      tenantId: user.tenantId ?? null, createdAt: createdAt.toISOString(), status: "pending",
    };
    io.to(roomId).emit("roomMessageRecieved", message);
    ack?.(ok({ tempId, id }));
  });
});

io.listen({ port, hostname: "127.0.0.1" });
console.log(`listening ${port}`);
process.on("SIGTERM", () => process.exit(0));
