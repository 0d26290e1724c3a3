// HttpError: the one exception type of the HTTP layer, and the one place it becomes a Response
// `{error: {code, message}}` (issue 4). Anything else thrown by a handler is a bug: 500, logged.
import { log } from "../log.ts";

/** Closed set of error codes the HTTP API answers with, by status. */
export const HTTP_ERROR_CODES = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "too_many_requests",
  500: "internal",
  503: "not_ready",
} as const;

export type HttpStatus = keyof typeof HTTP_ERROR_CODES;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[HttpStatus];

export class HttpError extends Error {
  readonly status: HttpStatus;
  readonly code: HttpErrorCode;
  /** Extra fields of the error object (e.g. readiness checks); never secrets. */
  readonly details: Record<string, unknown> | undefined;
  /** Extra response headers (Allow on 405, WWW-Authenticate on 401). */
  readonly headers: Record<string, string> | undefined;

  constructor(status: HttpStatus, message: string, extra: { details?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = HTTP_ERROR_CODES[status];
    this.details = extra.details;
    this.headers = extra.headers;
  }
}

/** The only place an error becomes a Response. */
export function errorResponse(error: unknown, req: Request): Response {
  if (error instanceof HttpError) {
    const body = { error: { code: error.code, message: error.message, ...error.details } };
    return Response.json(body, { status: error.status, headers: error.headers });
  }
  log.error?.("http handler failed", { method: req.method, path: new URL(req.url).pathname, err: String(error) });
  return Response.json({ error: { code: HTTP_ERROR_CODES[500], message: "internal error" } }, { status: 500 });
}
