// Engine.IO request checks: which requests get a session, and the error answered otherwise.
// Codes and messages are the reference server's (engine.io lib/server.ts `errorMessages`), so
// clients and operators see what they already know.
import type { Protocol } from "./packets.ts";

export const ENGINE_ERRORS = {
  UNKNOWN_TRANSPORT: 0,
  UNKNOWN_SID: 1,
  BAD_HANDSHAKE_METHOD: 2,
  BAD_REQUEST: 3,
  FORBIDDEN: 4,
  UNSUPPORTED_PROTOCOL_VERSION: 5,
} as const;
export type EngineErrorCode = (typeof ENGINE_ERRORS)[keyof typeof ENGINE_ERRORS];

const MESSAGES: Record<EngineErrorCode, string> = {
  0: "Transport unknown",
  1: "Session ID unknown",
  2: "Bad handshake method",
  3: "Bad request",
  4: "Forbidden",
  5: "Unsupported protocol version",
};

export interface EngineError {
  code: EngineErrorCode;
  /** HTTP status; 400 unless stated (403 for FORBIDDEN, 413 for an oversized body, 503 when full). */
  status?: number;
  message?: string;
  context?: Record<string, unknown>;
}

export type TransportName = "polling" | "websocket";

export interface HandshakeQuery {
  protocol: Protocol;
  transport: TransportName;
  sid: string | null;
  /** v3 clients that cannot receive binary ask for base64 with `b64=1`. */
  isBase64: boolean;
}

/** Checks the Engine.IO query of a request; returns the parsed query or the error to answer. */
export function checkQuery(url: URL, allowEIO3: boolean, transports: readonly TransportName[]): HandshakeQuery | EngineError {
  const params = url.searchParams;
  const eio = params.get("EIO");
  const protocol = eio === "4" ? 4 : eio === "3" && allowEIO3 ? 3 : null;
  if (protocol === null) return { code: ENGINE_ERRORS.UNSUPPORTED_PROTOCOL_VERSION, context: { EIO: eio } };
  const transport = params.get("transport");
  if (transport !== "polling" && transport !== "websocket") {
    return { code: ENGINE_ERRORS.UNKNOWN_TRANSPORT, context: { transport } };
  }
  if (!transports.includes(transport)) return { code: ENGINE_ERRORS.UNKNOWN_TRANSPORT, context: { transport } };
  return { protocol, transport, sid: params.get("sid"), isBase64: params.has("b64") };
}

export function errorBody(error: EngineError): { code: EngineErrorCode; message: string } {
  return { code: error.code, message: error.message ?? MESSAGES[error.code] };
}

export function errorStatus(error: EngineError): number {
  return error.status ?? (error.code === ENGINE_ERRORS.FORBIDDEN ? 403 : 400);
}
