// GET /metrics in the Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then samples.
// Names are bunsen_*; counters end in _total; units are in the name (_seconds, _milliseconds).
import type { ModuleContext } from "../modules/context.ts";
import { getStats } from "../modules/stats.ts";
import type { EventThrottle } from "./throttle.ts";

type Labels = Record<string, string>;
type Sample = { labels?: Labels; value: number | null };

class Exposition {
  #lines: string[] = [];

  metric(name: string, type: "counter" | "gauge", help: string, samples: Sample[] | number | null): this {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const list = Array.isArray(samples) ? samples : [{ value: samples }];
    for (const sample of list) this.#lines.push(`${name}${labelsOf(sample.labels)} ${valueOf(sample.value)}`);
    return this;
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function labelsOf(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`);
  return `{${pairs.join(",")}}`;
}

// A missing percentile (no sample yet) is NaN, which Prometheus accepts and graphs as a gap.
function valueOf(value: number | null): string {
  if (value === null || Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export function prometheusText(ctx: ModuleContext, throttle: EventThrottle): string {
  const { metrics } = ctx;
  const writer = ctx.writer.stats();
  const latency = metrics.confirmLatency.percentiles();
  const out = new Exposition();
  const stats = Object.entries(getStats(ctx).namespaces);
  const per = (key: "sockets" | "users" | "rooms") => stats.map(([namespace, n]) => ({ labels: { namespace }, value: n[key] }));
  out
    .metric("bunsen_sockets", "gauge", "Connected sockets on this node, per namespace.", per("sockets"))
    .metric("bunsen_users", "gauge", "Distinct users with a socket on this node, per namespace.", per("users"))
    .metric("bunsen_rooms", "gauge", "Rooms with members on this node, per namespace (socket id rooms excluded).", per("rooms"))
    .metric("bunsen_events_in_total", "counter", "Events received from clients.", metrics.eventsIn)
    .metric("bunsen_events_out_total", "counter", "Events emitted by the server (one per broadcast).", metrics.eventsOut)
    .metric("bunsen_messages_confirmed_total", "counter", "Chat messages persisted and confirmed.", metrics.messagesConfirmed)
    .metric("bunsen_messages_failed_total", "counter", "Chat messages refused or failed to persist.", metrics.messagesFailed)
    .metric("bunsen_confirm_latency_milliseconds", "gauge", "Optimistic emit to database confirmation, over the recent samples.", [
      { labels: { quantile: "0.5" }, value: latency.p50 },
      { labels: { quantile: "0.99" }, value: latency.p99 },
    ])
    .metric("bunsen_persistence_queue_depth", "gauge", "Writes waiting in the write-behind queue.", writer.depth)
    .metric("bunsen_persistence_in_flight", "gauge", "Writes in the batch being written.", writer.inFlight)
    .metric("bunsen_persistence_persisted_total", "counter", "Writes persisted.", writer.persisted)
    .metric("bunsen_persistence_failed_total", "counter", "Writes that failed for good.", writer.failed)
    .metric("bunsen_persistence_retries_total", "counter", "Batch retries after a transient database error.", writer.retries)
    .metric("bunsen_throttle_pending", "gauge", "Throttled API events waiting for the end of their window.", throttle.size)
    .metric("bunsen_uptime_seconds", "gauge", "Seconds since the server started.", (Date.now() - metrics.startedAt) / 1000)
    .metric("bunsen_resident_memory_bytes", "gauge", "Resident set size of the process.", process.memoryUsage.rss());
  return out.toString();
}
