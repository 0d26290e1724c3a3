// Operations endpoints, public like any load balancer's probes: GET /healthz (the process answers),
// GET /readyz (the database, and Redis when configured, answer; 503 otherwise — 200 with status
// "degraded" and the reasons while a degraded check reports one, e.g. the spool on a full disk), GET /metrics
// (Prometheus text format 0.0.4: bunsen_*, process_* and nodejs_* names; http/prometheus.ts).
import type { ModuleContext } from "../modules/context.ts";
import { HttpError } from "./errors.ts";
import { createPrometheus, PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import type { Route } from "./routes.ts";
import type { EventThrottle } from "./throttle.ts";

export type ReadinessChecks = Record<string, () => boolean | Promise<boolean>>;
/** Serving, but with less than promised: a reason while it lasts, undefined when healthy. */
export type DegradedChecks = Record<string, () => object | undefined>;

export function opsRoutes(ctx: ModuleContext, throttle: EventThrottle, readiness: ReadinessChecks, degradedChecks: DegradedChecks = {}): Route[] {
  const scrape = createPrometheus(ctx, throttle);
  return [
    { method: "GET", path: "/healthz", isProtected: false, handler: () => Response.json({ status: "ok" }) },
    { method: "GET", path: "/readyz", isProtected: false, handler: () => ready(ctx, readiness, degradedChecks) },
    {
      method: "GET", path: "/metrics", isProtected: false,
      handler: async () => new Response(await scrape(), { headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE } }),
    },
  ];
}

async function ready(ctx: ModuleContext, readiness: ReadinessChecks, degradedChecks: DegradedChecks): Promise<Response> {
  const checks: Record<string, boolean> = { database: await ctx.database.ping() };
  for (const [name, check] of Object.entries(readiness)) {
    try {
      checks[name] = await check();
    } catch {
      checks[name] = false;
    }
  }
  const failing = Object.keys(checks).filter((name) => !checks[name]);
  if (failing.length > 0) throw new HttpError(503, `not ready: ${failing.join(", ")} unreachable`, { details: { checks } });
  const degraded: Record<string, object> = {};
  for (const [name, check] of Object.entries(degradedChecks)) {
    const reason = check();
    if (reason !== undefined) degraded[name] = reason;
  }
  if (Object.keys(degraded).length > 0) return Response.json({ status: "degraded", checks, degraded });
  return Response.json({ status: "ready", checks });
}
