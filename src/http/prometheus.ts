// GET /metrics in the Prometheus text exposition format 0.0.4, through prom-client. Names are
// bunsen_*; counters end in _total; units are in the name (_seconds, _bytes). Every label set is
// bounded: namespaces come from config, reasons and codes from closed sets, event names from the
// handlers the modules register (anything else is "other"), routes from the route table.
//
// The data path never calls prom-client: it bumps plain numbers (modules/metrics.ts, engine and
// server counters), and each family's collect() copies them when Prometheus scrapes. Histograms
// are the exception: one observe() per chat confirmation, ack and HTTP request.
import { collectDefaultMetrics, Counter, Gauge, Registry, type CounterConfiguration, type GaugeConfiguration } from "prom-client";
import type { ModuleContext } from "../modules/context.ts";
import type { LabelCounts } from "../modules/metrics.ts";
import { getStats } from "../modules/stats.ts";
import type { EventThrottle } from "./throttle.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// Defaults that Bun answers with placeholders (every heap space 0, no handles or requests, no GC
// callbacks): exposing them would graph a lie. CPU, memory, fds, start time, event-loop lag and the
// heap totals are real on Bun (process_open_fds lists /proc/self/fd).
const DEFAULTS_WRONG_ON_BUN = [
  "nodejs_heap_space_size_total_bytes", "nodejs_heap_space_size_used_bytes", "nodejs_heap_space_size_available_bytes",
  "nodejs_active_handles", "nodejs_active_handles_total", "nodejs_active_requests", "nodejs_active_requests_total",
  "nodejs_active_resources", "nodejs_active_resources_total", "nodejs_gc_duration_seconds",
];

export type MetricsScrape = () => Promise<string>;

/** One registry per app (tests run several in one process): build once, scrape many times. */
export function createPrometheus(ctx: ModuleContext, throttle: EventThrottle): MetricsScrape {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of DEFAULTS_WRONG_ON_BUN) registry.removeSingleMetric(name);
  const { metrics, io } = ctx;
  const gauge = (config: Omit<GaugeConfiguration<string>, "registers">) => new Gauge({ ...config, registers: [registry] });
  const counter = (config: Omit<CounterConfiguration<string>, "registers">) => new Counter({ ...config, registers: [registry] });
  // A counter's collect sets it to the plain number's current value.
  function copy(this: Counter<string>, value: number, labels?: Record<string, string>): void {
    if (labels === undefined) this.inc(value);
    else this.inc(labels, value);
  }
  const copyCounts = (target: Counter<string>, label: string, counts: LabelCounts) => {
    target.reset();
    for (const [value, count] of counts.entries()) copy.call(target, count, { [label]: value });
  };
  const plain = (name: string, help: string, read: () => number) =>
    counter({ name, help, collect() { this.reset(); copy.call(this, read()); } });

  // Per namespace, from the live socket tables (O(sockets) per scrape, never per message).
  let stats = getStats(ctx);
  gauge({
    name: "bunsen_sockets", help: "Connected sockets on this node, per namespace.", labelNames: ["namespace"],
    collect() {
      stats = getStats(ctx); // the first family collected: the two below read the same snapshot
      for (const [namespace, n] of Object.entries(stats.namespaces)) this.set({ namespace }, n.sockets);
    },
  });
  gauge({ name: "bunsen_users", help: "Distinct users with a socket on this node, per namespace.", labelNames: ["namespace"], collect() {
    for (const [namespace, n] of Object.entries(stats.namespaces)) this.set({ namespace }, n.users);
  } });
  gauge({ name: "bunsen_rooms", help: "Rooms with members on this node, per namespace (socket id rooms excluded).", labelNames: ["namespace"], collect() {
    for (const [namespace, n] of Object.entries(stats.namespaces)) this.set({ namespace }, n.rooms);
  } });
  gauge({
    name: "bunsen_sockets_by_transport", help: "Connected sockets on this node by their current transport (polling or websocket).", labelNames: ["transport"],
    collect() {
      const counts = { polling: 0, websocket: 0 };
      for (const nsp of ctx.namespaces) for (const socket of nsp.sockets.values()) counts[socket.conn.transport.name]++;
      for (const [transport, n] of Object.entries(counts)) this.set({ transport }, n);
    },
  });

  counter({ name: "bunsen_connects_total", help: "Socket.IO connections accepted, per namespace.", labelNames: ["namespace"], collect() { copyCounts(this, "namespace", metrics.connects); } });
  counter({ name: "bunsen_disconnects_total", help: "Socket.IO disconnections, by reason (socket.io's reason strings).", labelNames: ["reason"], collect() { copyCounts(this, "reason", metrics.disconnects); } });
  counter({ name: "bunsen_auth_failures_total", help: "Connections refused by authentication, by code.", labelNames: ["code"], collect() { copyCounts(this, "code", metrics.authFailures); } });
  plain("bunsen_events_in_total", "Events received from clients.", () => metrics.eventsIn);
  counter({ name: "bunsen_events_received_total", help: "Events received from clients, by event name (names without a handler count as \"other\").", labelNames: ["event"], collect() { copyCounts(this, "event", metrics.eventsByName); } });
  plain("bunsen_events_out_total", "Events emitted by the server's modules and HTTP API (one per broadcast).", () => metrics.eventsOut);
  plain("bunsen_rate_limited_events_total", "Client events refused by the per-socket rate limit.", () => io.counters.eventsRateLimited);
  plain("bunsen_slow_consumer_dropped_frames_total", "Frames dropped on WebSockets whose unsent data passed maxBufferedBytes.", () => io.engine.counters.framesDropped);
  plain("bunsen_received_bytes_total", "Bytes received on WebSocket frames and polling bodies.", () => io.engine.counters.bytesIn);
  plain("bunsen_sent_bytes_total", "Bytes sent on WebSockets (a room broadcast once per member) and in polling responses.", () => io.engine.counters.bytesOut);
  plain("bunsen_messages_confirmed_total", "Chat messages persisted and confirmed.", () => metrics.messagesConfirmed);
  plain("bunsen_messages_failed_total", "Chat messages the database failed to store (after retries).", () => metrics.messagesFailed);
  counter({ name: "bunsen_messages_refused_total", help: "Chat messages refused before any write, by code (bad_request, not_a_member …).", labelNames: ["code"], collect() { copyCounts(this, "code", metrics.messagesRefused); } });
  registry.registerMetric(metrics.confirmSeconds);
  registry.registerMetric(metrics.ackSeconds);
  registry.registerMetric(metrics.httpSeconds);

  const writer = () => ctx.writer.stats();
  gauge({ name: "bunsen_persistence_queue_depth", help: "Writes waiting in the write-behind queue.", collect() { this.set(writer().depth); } });
  gauge({ name: "bunsen_persistence_in_flight", help: "Writes in the batch being written.", collect() { this.set(writer().inFlight); } });
  plain("bunsen_persistence_persisted_total", "Writes persisted.", () => writer().persisted);
  plain("bunsen_persistence_failed_total", "Writes that failed for good.", () => writer().failed);
  plain("bunsen_persistence_retries_total", "Batch retries after a transient database error.", () => writer().retries);
  gauge({ name: "bunsen_throttle_pending", help: "Throttled API events waiting for the end of their window.", collect() { this.set(throttle.size); } });
  const { isRedisReady, redisPublishErrors } = ctx;
  if (isRedisReady !== undefined && redisPublishErrors !== undefined) {
    gauge({ name: "bunsen_redis_up", help: "1 while the Redis adapter's connections are ready, 0 while it serves local sockets only.", collect() { this.set(isRedisReady() ? 1 : 0); } });
    plain("bunsen_redis_publish_errors_total", "Redis publishes (broadcasts, cluster requests) that failed.", redisPublishErrors);
  }
  return () => registry.metrics();
}
