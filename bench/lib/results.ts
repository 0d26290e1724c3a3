// The shape of bench/results.json, and the key figures read out of it (shared by report and chart).
import type { MachineInfo } from "./machine.ts";

export type Outcome =
  | { status: "ok"; result: Record<string, any> }
  | { status: "skipped" | "failed"; note: string };

export type Results = {
  meta: MachineInfo & {
    mode: "quick" | "full";
    durationS: number;
    servers: { name: string; label: string; note?: string }[];
    scenarios: string[];
  };
  /** outcomes[scenario][server] */
  outcomes: Record<string, Record<string, Outcome>>;
};

export type KeyMetric = {
  id: string;
  label: string;
  unit: string;
  isLowerBetter: boolean;
  scenario: string;
  get(result: Record<string, any>): number | null | undefined;
};

export const KEY_METRICS: KeyMetric[] = [
  { id: "fanoutCpu", label: "Fan-out, saturated: server CPU per delivery", unit: "µs", isLowerBetter: true,
    scenario: "fanout", get: (r) => r.saturated?.serverCpuUsPerDelivery },
  { id: "fanoutRateCpu", label: "Fan-out at 25k deliveries/s: server CPU per delivery", unit: "µs",
    isLowerBetter: true, scenario: "fanout", get: (r) => r.rate?.serverCpuUsPerDelivery },
  { id: "fanoutPerS", label: "Fan-out, saturated: deliveries per second", unit: "/s", isLowerBetter: false,
    scenario: "fanout", get: (r) => r.saturated?.deliveryPerS },
  { id: "fanoutP99", label: "Fan-out at 25k deliveries/s: end-to-end p99", unit: "ms", isLowerBetter: true,
    scenario: "fanout", get: (r) => r.rate?.latencyMs?.p99 },
  { id: "echoPerS", label: "Echo with ack, saturated: throughput", unit: "/s", isLowerBetter: false,
    scenario: "echo-saturated", get: (r) => r.echoPerS },
  { id: "echoCpu", label: "Echo with ack, saturated: server CPU per echo", unit: "µs", isLowerBetter: true,
    scenario: "echo-saturated", get: (r) => r.serverCpuUsPerEcho },
  { id: "echoP99", label: "Echo with ack at 2,000/s: p99 latency", unit: "ms", isLowerBetter: true,
    scenario: "echo-rate", get: (r) => r.latencyMs?.p99 },
  { id: "memPerConn", label: "Memory per idle connection (RSS)", unit: "KiB", isLowerBetter: true,
    scenario: "connections", get: (r) => r.rssPerConnKiB },
  { id: "connectPerS", label: "Connect rate (WebSocket + Socket.IO CONNECT)", unit: "/s", isLowerBetter: false,
    scenario: "connections", get: (r) => r.connectPerS },
  { id: "handshakeP99", label: "Handshake latency p99", unit: "ms", isLowerBetter: true,
    scenario: "connections", get: (r) => r.handshakeMs?.p99 },
];

/** The metric's value for a server, or null when the scenario did not produce it. */
export function metricOf(results: Results, metric: KeyMetric, server: string): number | null {
  const outcome = results.outcomes[metric.scenario]?.[server];
  if (outcome?.status !== "ok") return null;
  const value = metric.get(outcome.result);
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** value / reference; null if either is missing or the reference is 0. */
export function ratioOf(results: Results, metric: KeyMetric, server: string, reference: string): number | null {
  const value = metricOf(results, metric, server);
  const ref = metricOf(results, metric, reference);
  return value === null || ref === null || ref === 0 ? null : value / ref;
}
