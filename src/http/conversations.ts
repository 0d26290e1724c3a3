// Conversations for backends (seed 004's ChatService, seed 003's conversations): create one, read it,
// replace, add or remove its participants. Membership and the rooms of connected sockets follow
// (modules/conversations.ts). Every route is protected: API key or admin JWT (auth.ts).
import type { ModuleContext } from "../modules/context.ts";
import { changeParticipants, createConversation, getConversation, type ParticipantsView } from "../modules/conversations.ts";
import { log } from "../log.ts";
import { idList, idString, onlyFields, optionalString, readJson, type Fields } from "./body.ts";
import { HttpError } from "./errors.ts";
import type { Route } from "./routes.ts";

const MAX_PARTICIPANTS = 1_000;
// Room names the room policy reserves (modules/rooms.ts): a conversation cannot take them.
const RESERVED_PREFIXES = ["user:", "tenant:"];

export function conversationRoutes(ctx: ModuleContext): Route[] {
  const maxBytes = ctx.config.maxPayloadBytes;
  const participantsChanged = (changed: ParticipantsView | "not_found", id: string) => {
    if (changed === "not_found") throw notFound(id);
    return Response.json(changed);
  };
  return [
    {
      method: "POST", path: "/api/conversations", isProtected: true,
      handler: async (req) => {
        const input = conversationOf(await readJson(req, maxBytes));
        const created = await stored(() => createConversation(ctx, input));
        if (created === "exists") throw new HttpError(409, `id: conversation "${input.id}" exists; change its participants with PUT /api/conversations/{id}/participants`);
        return Response.json({ conversation: created }, { status: 201 });
      },
    },
    {
      method: "GET", path: "/api/conversations/:id", isProtected: true,
      handler: async (_req, { id }) => {
        const conversation = await stored(() => getConversation(ctx, id!));
        if (conversation === undefined) throw notFound(id!);
        return Response.json({ conversation });
      },
    },
    {
      method: "PUT", path: "/api/conversations/:id/participants", isProtected: true,
      handler: async (req, { id }) => {
        const set = participantsOf(await readJson(req, maxBytes));
        return participantsChanged(await stored(() => changeParticipants(ctx, id!, { set })), id!);
      },
    },
    {
      method: "POST", path: "/api/conversations/:id/participants", isProtected: true,
      handler: async (req, { id }) => {
        const add = participantsOf(await readJson(req, maxBytes));
        return participantsChanged(await stored(() => changeParticipants(ctx, id!, { add })), id!);
      },
    },
    {
      method: "DELETE", path: "/api/conversations/:id/participants/:userId", isProtected: true,
      handler: async (_req, { id, userId }) => participantsChanged(await stored(() => changeParticipants(ctx, id!, { remove: [userId!] })), id!),
    },
  ];
}

function notFound(id: string): HttpError {
  return new HttpError(404, `conversation "${id}" does not exist`);
}

function conversationOf(body: Fields) {
  onlyFields(body, ["id", "name", "tenantId", "participants"]);
  const id = optionalString(body.id, "id");
  const prefix = id === undefined ? undefined : RESERVED_PREFIXES.find((p) => id.startsWith(p));
  if (prefix !== undefined) throw new HttpError(400, `id: "${prefix}…" names are reserved for user and tenant rooms`);
  return {
    id,
    name: optionalString(body.name, "name", 500) ?? null,
    tenantId: optionalString(body.tenantId, "tenantId") ?? null,
    participants: participantList(body.participants ?? [], "participants"),
  };
}

function participantsOf(body: Fields): string[] {
  onlyFields(body, ["participants"]);
  if (body.participants === undefined) throw new HttpError(400, "participants: required, a list of user ids");
  return participantList(body.participants, "participants");
}

function participantList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new HttpError(400, `${field}: expected a list of user ids`);
  return [...new Set(idList(value, field, MAX_PARTICIPANTS))];
}

// A database that fails or is unreachable is a 503 the backend can retry, not a 500.
async function stored<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    log.warn?.("conversation store unavailable", { err: String(err) });
    throw new HttpError(503, "database: unavailable; retry later");
  }
}
