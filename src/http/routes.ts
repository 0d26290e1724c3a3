// The HTTP router for every request outside the Socket.IO path: (req) => Response.
// A flat table of routes (method, path with :params, protected or not); no match → 404 JSON, a
// path that exists under another method → 405 JSON with Allow. Errors become Responses only in
// errors.ts.
import type { Redis } from "ioredis";
import type { ModuleContext } from "../modules/context.ts";
import { log } from "../log.ts";
import { apiRoutes } from "./api.ts";
import { conversationRoutes } from "./conversations.ts";
import { createApiAuth } from "./auth.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { opsRoutes, type DegradedChecks } from "./ops.ts";
import { pageRoutes } from "./pages.ts";
import { adminUiRoutes } from "./admin-ui.ts";
import { deliver, type EmitRequest } from "./emit.ts";
import { RedisThrottle } from "./redis-throttle.ts";
import { Throttle, type EventThrottle } from "./throttle.ts";

export type Params = Record<string, string>;
export type Handler = (req: Request, params: Params) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Literal segments and `:name` params: "/api/users/:id/emit". */
  path: string;
  /** true: needs the API key or an admin JWT (auth.ts). */
  isProtected: boolean;
  handler: Handler;
}

interface CompiledRoute extends Route {
  segments: string[];
}

export type Router = (req: Request) => Promise<Response>;

export interface RouterOptions {
  /**
   * Extra readiness checks for GET /readyz besides the database, e.g.
   * `{ redis: adapterFactory.isRedisReady }` when REDIS_URL is set (rooms/redis.ts).
   */
  readiness?: Record<string, () => boolean | Promise<boolean>>;
  /** Checks that keep /readyz at 200 but report `status: "degraded"` with their reason (the spool on a full disk). */
  degraded?: DegradedChecks;
  /** The cluster's Redis (REDIS_URL) and key prefix (REDIS_KEY): throttled emits coalesce cluster-wide. */
  redis?: { client: Redis; prefix: string };
}

export function createRouter(ctx: ModuleContext, options: RouterOptions = {}): Router {
  const throttle: EventThrottle = options.redis === undefined ? new Throttle() : new RedisThrottle({
    redis: options.redis.client,
    prefix: options.redis.prefix,
    // Whichever node sends a window, it emits the stored request through the adapter (every node).
    send: (request) => deliver(ctx, request as EmitRequest),
  });
  ctx.io.onShutdown(() => throttle.close());
  const auth = createApiAuth(ctx.config.apiKey, ctx.verifier);
  const routes: CompiledRoute[] = [...opsRoutes(ctx, throttle, options.readiness ?? {}, options.degraded), ...apiRoutes(ctx, throttle), ...conversationRoutes(ctx), ...pageRoutes(ctx), ...adminUiRoutes(ctx)].map((route) => ({
    ...route,
    segments: route.path.split("/").slice(1),
  }));

  const { httpSeconds } = ctx.metrics;
  return async (req) => {
    const started = performance.now();
    const matched: { route: string } = { route: "unmatched" };
    let response: Response;
    try {
      response = await dispatch(routes, req, auth.authorize, matched);
    } catch (error) {
      response = errorResponse(error, req);
    }
    const ms = performance.now() - started;
    // The route's pattern, never the raw path: the label set stays the route table's size.
    httpSeconds.observe({ method: HTTP_METHODS.has(req.method) ? req.method : "other", route: matched.route, status: String(response.status) }, ms / 1000);
    log.debug?.("http", { method: req.method, path: new URL(req.url).pathname, status: response.status, ms });
    return response;
  };
}

const HTTP_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

async function dispatch(routes: CompiledRoute[], req: Request, authorize: (req: Request) => Promise<unknown>, matched: { route: string }): Promise<Response> {
  const { pathname } = new URL(req.url);
  const segments = pathname.split("/").slice(1);
  // HEAD is GET without the body (health probes use it).
  const method = req.method === "HEAD" ? "GET" : req.method;
  const allowed: string[] = [];
  for (const route of routes) {
    const params = match(route.segments, segments);
    if (params === null) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    matched.route = route.path;
    if (route.isProtected) await authorize(req);
    const response = await route.handler(req, params);
    return req.method === "HEAD" ? new Response(null, response) : response;
  }
  if (allowed.length > 0) {
    const allow = [...new Set(allowed)].join(", ");
    throw new HttpError(405, `${req.method} is not allowed on ${pathname} (allowed: ${allow})`, { headers: { Allow: allow } });
  }
  throw new HttpError(404, `no route for ${req.method} ${pathname}`);
}

function match(pattern: string[], segments: string[]): Params | null {
  if (pattern.length !== segments.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = segments[i]!;
    if (expected.startsWith(":")) {
      if (actual === "") return null;
      try {
        params[expected.slice(1)] = decodeURIComponent(actual);
      } catch {
        throw new HttpError(400, `${expected.slice(1)}: invalid percent-encoding in the path`);
      }
    } else if (expected !== actual) return null;
  }
  return params;
}
