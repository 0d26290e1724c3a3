// GET /metrics after real traffic: socket.io-client over WebSocket and long-polling, a refused
// token, a rate-limited socket, chat messages (one refused), an HTTP API call, on a node with Redis.
// The text is read by the official Python client's parser (Debian python3-prometheus-client), so
// the format is checked by a parser we did not write.
import { describe, expect, test } from "bun:test";
import { startApp, tokenFor } from "../support/app.ts";
import { connect, client } from "../support/client.ts";
import { redisUrl } from "../support/services.ts";
import { API_KEY, call } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const hasParser = Bun.spawnSync([PYTHON, "-c", "import prometheus_client.parser"], { stderr: "pipe" }).exitCode === 0;

// Families by name: type and samples (histograms as their _bucket/_sum/_count samples).
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
print(json.dumps(out))
`;

interface Family { type: string; samples: { name: string; labels: Record<string, string>; value: number }[] }

async function parsePrometheus(text: string): Promise<Map<string, Family>> {
  const run = Bun.spawn([PYTHON, "-c", PARSE], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  if (code !== 0) throw new Error(`the Prometheus parser refused the text: ${err}`);
  return new Map(Object.entries(JSON.parse(out) as Record<string, Family>));
}

async function scrape(url: string) {
  const res = await fetch(url + "/metrics");
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const byName = await parsePrometheus(await res.text());
  // The python parser names a counter's family without its _total suffix.
  const family = (name: string) => {
    const found = byName.get(name) ?? byName.get(name.replace(/_total$/, ""));
    if (found === undefined) throw new Error(`no metric family ${name}`);
    return found;
  };
  const matches = (labels: Record<string, string>) => (s: Family["samples"][number]) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  /** The value of the sample `name` (a family's own name, or its _bucket/_sum/_count) whose labels include `labels`. */
  const value = (familyName: string, labels: Record<string, string> = {}, sampleName = familyName) =>
    family(familyName).samples.find((s) => s.name === sampleName && matches(labels)(s))?.value;
  const histogram = (name: string, labels: Record<string, string> = {}) => ({
    count: value(name, labels, `${name}_count`), sum: value(name, labels, `${name}_sum`), infBucket: value(name, { ...labels, le: "+Inf" }, `${name}_bucket`),
  });
  const has = (name: string) => byName.has(name) || byName.has(name.replace(/_total$/, ""));
  return { family, value, histogram, has };
}

describe("/metrics", () => {
  if (!hasParser) {
    test.skip("SKIPPED LOUDLY: /usr/bin/python3 cannot import prometheus_client (apt-get install -y python3-prometheus-client)", () => {});
    console.warn("\n*** metrics.test.ts: python3-prometheus-client is NOT installed: the /metrics test is SKIPPED ***\n");
    return;
  }
  test("exposes histograms, process and runtime metrics and bounded counters that follow real traffic", async () => {
    await using server = await startApp({ env: { API_KEY, REDIS_URL: redisUrl, RATE_LIMIT_EVENTS: "5", RATE_LIMIT_WINDOW_MS: "60000" } });
    const token = await tokenFor({ sub: "alice", name: "alice" });
    using ws = await connect(server.url, { auth: { token }, transports: ["websocket"] });
    using polling = await connect(server.url, { auth: { token: await tokenFor({ sub: "bob" }) }, transports: ["polling"] });
    // A token signed with another secret is refused at the handshake.
    using refused = client(server.url, { auth: { token: await tokenFor({ sub: "mallory" }, "1h", "another-secret-that-is-long-enough!!") }, transports: ["websocket"], reconnection: false });
    const connectError = await new Promise<Error & { data?: unknown }>((resolve) => refused.once("connect_error", resolve));
    expect(connectError.data).toEqual({ code: "token_invalid" });

    expect(await ws.emitWithAck("joinRoom", { roomId: "r1" })).toMatchObject({ ok: true });
    expect(await polling.emitWithAck("joinRoom", { roomId: "r1" })).toMatchObject({ ok: true });
    const confirmed = new Promise((resolve) => ws.once("roomMessageConfirmed", resolve));
    ws.emit("roomMessage", { roomId: "r1", body: "hi" });
    await confirmed;
    // Not a member of r2: refused before any write, not a database failure.
    expect(await ws.emitWithAck("roomMessage", { roomId: "r2", body: "hi" })).toMatchObject({ ok: false, error: { code: "not_a_member" } });
    ws.emit("no-such-event-name", 1);
    // The polling socket has spent 1 of its 5 tokens: the 5th of these is over the limit.
    const replies = await Promise.all([1, 2, 3, 4, 5].map(() => polling.emitWithAck("joinRoom", { roomId: "r1" })));
    expect(replies.at(-1)).toMatchObject({ ok: false, error: { code: "rate_limited" } });
    expect((await call(server.url, "/api/rooms/r1/emit", { body: { event: "note", data: { hi: 1 } } })).status).toBeLessThan(300);

    const m = await scrape(server.url);

    // Histograms in seconds: _bucket/_sum/_count, cumulative up to +Inf.
    expect(m.family("bunsen_confirm_latency_seconds").type).toBe("histogram");
    const confirm = m.histogram("bunsen_confirm_latency_seconds");
    expect({ count: confirm.count, inf: confirm.infBucket }).toEqual({ count: 1, inf: 1 });
    expect(confirm.sum).toBeGreaterThan(0);
    expect(confirm.sum).toBeLessThan(10);
    // joinRoom ×6, the refused roomMessage (the rate-limit refusal included).
    expect(m.histogram("bunsen_ack_latency_seconds").count).toBeGreaterThanOrEqual(8);
    expect(m.histogram("bunsen_http_request_duration_seconds", { method: "POST", route: "/api/rooms/:id/emit" }).count).toBe(1);
    expect(m.has("bunsen_confirm_latency_milliseconds")).toBe(false);

    // Standard process and runtime metrics, as prom-client's defaults name them.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds"]) {
      expect(m.value(name)).toBeGreaterThan(name === "nodejs_eventloop_lag_seconds" ? -1 : 0);
    }
    expect(m.has("nodejs_heap_space_size_used_bytes")).toBe(false); // all zeros on Bun: left out
    expect(m.value("process_start_time_seconds")).toBeLessThanOrEqual(Date.now() / 1000);

    expect({
      connects: m.value("bunsen_connects_total", { namespace: "/" }),
      authFailures: m.value("bunsen_auth_failures_total", { code: "token_invalid" }),
      forbidden: m.value("bunsen_auth_failures_total", { code: "forbidden" }),
      rateLimited: m.value("bunsen_rate_limited_events_total"),
      websocket: m.value("bunsen_sockets_by_transport", { transport: "websocket" }),
      polling: m.value("bunsen_sockets_by_transport", { transport: "polling" }),
      joinRoom: m.value("bunsen_events_received_total", { event: "joinRoom" }),
      other: m.value("bunsen_events_received_total", { event: "other" }),
      invented: m.value("bunsen_events_received_total", { event: "no-such-event-name" }),
      confirmed: m.value("bunsen_messages_confirmed_total"),
      refused: m.value("bunsen_messages_refused_total", { code: "not_a_member" }),
      failed: m.value("bunsen_messages_failed_total"),
      redisUp: m.value("bunsen_redis_up"),
      redisPublishErrors: m.value("bunsen_redis_publish_errors_total"),
      droppedFrames: m.value("bunsen_slow_consumer_dropped_frames_total"),
    }).toEqual({
      connects: 2, authFailures: 1, forbidden: 0, rateLimited: 1, websocket: 1, polling: 1, joinRoom: 6, other: 1, invented: undefined,
      confirmed: 1, refused: 1, failed: 0, redisUp: 1, redisPublishErrors: 0, droppedFrames: 0,
    });
    expect(m.value("bunsen_received_bytes_total")).toBeGreaterThan(100);
    expect(m.value("bunsen_sent_bytes_total")).toBeGreaterThan(100);
    expect(m.family("bunsen_disconnects_total").type).toBe("counter");

    // A disconnect shows up under its reason.
    const gone = new Promise((resolve) => ws.once("disconnect", resolve));
    ws.disconnect();
    await gone;
    let reasons: number | undefined;
    for (let i = 0; i < 50 && reasons === undefined; i++) {
      const again = await scrape(server.url);
      reasons = again.value("bunsen_disconnects_total", { reason: "client namespace disconnect" });
      if (reasons === undefined) await Bun.sleep(20);
    }
    expect(reasons).toBe(1);
  });
});
