// Authentication for every namespace: the JWT from CONNECT `auth.token`, the `token` query
// parameter or `Authorization: Bearer`, verified with jose; claims become `socket.data.user`.
// Without a token, the handshake's `auth.userId`/`?userId=` (or anonymous) when trusted: always in
// development mode, with JWT keys only under TRUST_HANDSHAKE_IDENTITY=true.
// Refusal is a connect_error {message: "unauthorized", data: {code}} (seeds 001, 004).
import { extractToken, handshakeIdentity, isAuthError, type UserIdentity } from "../auth/jwt.ts";
import type { ConnectError, Namespace, Socket } from "../index.ts";
import { ackOf, fail, ok, payloadOf, type ModuleContext } from "./context.ts";
import { log } from "../log.ts";

export function userRoom(userId: string): string {
  return `user:${userId}`;
}

export function tenantRoom(tenantId: string): string {
  return `tenant:${tenantId}`;
}

export function userOf(socket: Socket): UserIdentity {
  return socket.data.user as UserIdentity;
}

function unauthorized(code: string): ConnectError {
  const err: ConnectError = new Error("unauthorized");
  err.data = { code };
  return err;
}

// setTimeout holds at most 2^31-1 ms (~24.8 days); a later expiry is re-armed when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;
const expiryTimers = new WeakMap<Socket, Timer>();

function scheduleExpiry(socket: Socket, exp: number | undefined): void {
  clearTimeout(expiryTimers.get(socket));
  if (exp === undefined) return;
  const delay = exp * 1000 - Date.now();
  const timer = setTimeout(() => {
    if (!socket.connected) return;
    if (exp * 1000 > Date.now()) return scheduleExpiry(socket, exp);
    // "error" is an ordinary event name to clients: the seeds' clients listen for it.
    socket.emit("error", { code: "token_expired", message: "token expired" });
    socket.disconnect();
  }, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
  expiryTimers.set(socket, timer);
}

export function registerAuth(ctx: ModuleContext): void {
  const { verifier } = ctx;
  const isTrusting = ctx.config.auth.trustHandshakeIdentity;
  if (isTrusting && ctx.config.auth.mode === "jwt")
    log.warn?.("TRUST_HANDSHAKE_IDENTITY=true: clients without a token are let in as whichever user their handshake names (auth.userId, ?userId=); anyone can impersonate anyone. UNSAFE on the public internet", {});
  for (const nsp of ctx.namespaces) {
    nsp.use((socket, next) => {
      const token = extractToken({ auth: socket.handshake.auth, query: socket.handshake.query, headers: socket.handshake.headers });
      // No token at all: the handshake's own claim, when trusted. A token that fails is never bypassed.
      const identified = token === undefined && isTrusting
        ? Promise.resolve(handshakeIdentity({ auth: socket.handshake.auth, query: socket.handshake.query }))
        : verifier.identify(token);
      const refuse = (code: string) => {
        ctx.metrics.authFailures.inc(code);
        next(unauthorized(code));
      };
      identified.then((identity) => {
        if (isAuthError(identity)) return refuse(identity.code);
        if (nsp.name === "/admin" && !identity.roles.includes("admin")) return refuse("forbidden");
        socket.data.user = identity;
        next();
      }, (err) => {
        log.error?.("token verification failed", { err });
        refuse("token_invalid");
      });
    });
    nsp.on("connection", (socket: Socket) => onConnection(ctx, nsp, socket));
  }
}

function onConnection(ctx: ModuleContext, nsp: Namespace, socket: Socket): void {
  const user = userOf(socket);
  const rooms = [userRoom(user.id)];
  if (user.tenantId !== undefined) rooms.push(tenantRoom(user.tenantId));
  socket.join(rooms);
  scheduleExpiry(socket, user.exp);
  socket.on("disconnect", () => clearTimeout(expiryTimers.get(socket)));
  log.info?.("connected", { nsp: nsp.name, sid: socket.id, userId: user.id, transport: socket.conn.transport.name });
  socket.on("disconnect", (reason: string) => log.info?.("disconnected", { nsp: nsp.name, sid: socket.id, userId: user.id, reason }));
  socket.emit("connected", { message: "connected", user_id: user.id, tenant_id: user.tenantId ?? null });

  // Application-level keepalive (ERPMax clients): `ping` is answered with `pong`, and its ack if any.
  socket.on("ping", (...args: unknown[]) => {
    socket.emit("pong");
    ackOf(args)?.(ok({}));
  });

  // Token refresh without reconnecting: the new token must verify and name the same user.
  socket.on("auth:refresh", (...args: unknown[]) => {
    const ack = ackOf(args);
    const token = payloadOf(args[0]).token;
    ctx.verifier.identify(typeof token === "string" ? token : undefined).then((identity) => {
      if (isAuthError(identity)) return ack?.(fail(identity.code, "token refused"));
      if (identity.id !== userOf(socket).id) return ack?.(fail("user_mismatch", "the token names another user"));
      socket.data.user = identity;
      scheduleExpiry(socket, identity.exp);
      ack?.(ok({ exp: identity.exp ?? null }));
    }, () => ack?.(fail("token_invalid", "token refused")));
  });
}
