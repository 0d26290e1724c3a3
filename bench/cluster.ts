// The cluster benchmark: room fan-out across nodes that share one Redis, for Bunsen (classic Redis
// adapter) and Socket.IO 4.8 on Node (@socket.io/redis-adapter), each as one node without Redis and
// as three nodes. The sender is on node 1, the receivers are spread over the nodes round robin, so
// two thirds of the deliveries cross Redis. Server CPU per delivery is summed over every node and the
// Redis server. Writes bench/CLUSTER.md and bench/cluster.json.
//
//   bun bench/cluster.ts [--quick] [--servers bunsen,socketio-node] [--nodes 3]
//   bun bench/cluster.ts --report-only      rewrite CLUSTER.md from cluster.json
//
// Targets: Bunsen's cross-node CPU per delivery ≤ 1.5× its single node's; ≥ 5× less CPU per
// delivery than the Socket.IO cluster.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { hasTaskset, machineInfo } from "./lib/machine.ts";
import { pinned, runLoadgen, startServer, stop, stopAll, type RunningServer } from "./lib/processes.ts";
import { SERVERS } from "./servers/index.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    servers: { type: "string", default: "bunsen,socketio-node" },
    nodes: { type: "string", default: "3" },
    "report-only": { type: "boolean", default: false },
  },
});
const isQuick = values.quick ?? false;
const nodeCount = Number(values.nodes);
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const canPin = hasTaskset() && navigator.hardwareConcurrency >= 2;
const SERVER_CORE = canPin ? 0 : null;
const LOADGEN_CORE = canPin ? 1 : null;
const OUT_DIR = import.meta.dir;

type Run = { server: string; nodes: number; result?: Record<string, any>; error?: string };

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

function redisPid(): number | undefined {
  const info = Bun.spawnSync(["redis-cli", "-u", redisUrl, "info", "server"]).stdout.toString();
  const match = /process_id:(\d+)/.exec(info);
  return match ? Number(match[1]) : undefined;
}

async function runCase(serverName: string, nodes: number): Promise<Run> {
  const spec = SERVERS.find((s) => s.name === serverName);
  if (!spec) return { server: serverName, nodes, error: "unknown server" };
  const key = `bench-cluster-${crypto.randomUUID().slice(0, 8)}`;
  const env: Record<string, string> = nodes > 1 ? { REDIS_URL: redisUrl, BENCH_REDIS_KEY: key } : {};
  const running: RunningServer[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const port = await freePort();
      ports.push(port);
      running.push(await startServer(pinned(SERVER_CORE, spec.command(port, process.execPath)), port, 15_000, env));
    }
    await Bun.sleep(500); // every node's subscriptions in place before the first join
    const pids = running.map((r) => r.pid);
    const redis = nodes > 1 ? redisPid() : undefined;
    if (redis !== undefined) pids.push(redis);
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const argv = [process.execPath, `${import.meta.dir}/loadgen.ts`, "fanout", "--url", urls[0]!, "--pid", String(running[0]!.pid),
      "--urls", urls.join(","), "--pids", pids.join(",")];
    if (isQuick) argv.push("--quick");
    const outcome = await runLoadgen(pinned(LOADGEN_CORE, argv), 180_000, (text) => process.stderr.write(`\r${serverName} × ${nodes}: ${text}`.padEnd(90)));
    process.stderr.write("\n");
    return outcome.ok ? { server: serverName, nodes, result: { ...outcome.result, redisCounted: redis !== undefined } } : { server: serverName, nodes, error: outcome.error };
  } catch (err) {
    return { server: serverName, nodes, error: (err as Error).message };
  } finally {
    await Promise.all(running.map((r) => stop(r.proc)));
  }
}

function cpu(run: Run | undefined, phase: "rate" | "saturated"): number | undefined {
  return run?.result?.[phase]?.serverCpuUsPerDelivery;
}

function fmt(value: unknown, digits = 2): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value >= 1000 ? Math.round(value).toLocaleString("en-US") : value.toFixed(digits);
}

function report(runs: Run[]): string {
  const rows = runs.map((run) => {
    const r = run.result;
    if (!r) return `| ${run.server} | ${run.nodes} | failed: ${run.error} | | | | | | |`;
    return `| ${run.server} | ${run.nodes} | ${fmt(r.rate.deliveryPerS, 0)} | ${fmt(r.rate.latencyMs?.p50)} / ${fmt(r.rate.latencyMs?.p99)} | ${fmt(r.rate.serverCpuUsPerDelivery)} | ${fmt(r.saturated?.deliveryPerS, 0)} | ${fmt(r.saturated?.serverCpuUsPerDelivery)} | ${r.lostCount} / ${r.outOfOrderCount} | ${fmt(r.saturated?.loadgenUtil)} |`;
  });
  const find = (server: string, nodes: number) => runs.find((r) => r.server === server && r.nodes === nodes);
  const bunsenOne = find("bunsen", 1);
  const bunsenMany = find("bunsen", nodeCount);
  const sioMany = find("socketio-node", nodeCount);
  const target = (label: string, value: number | undefined, goal: string, ok: boolean | undefined) =>
    `| ${label} | ${value === undefined ? "—" : value.toFixed(2) + "×"} | ${goal} | ${ok === undefined ? "—" : ok ? "met" : "missed"} |`;
  const crossRate = cpu(bunsenMany, "rate") !== undefined && cpu(bunsenOne, "rate") ? cpu(bunsenMany, "rate")! / cpu(bunsenOne, "rate")! : undefined;
  const crossSat = cpu(bunsenMany, "saturated") !== undefined && cpu(bunsenOne, "saturated") ? cpu(bunsenMany, "saturated")! / cpu(bunsenOne, "saturated")! : undefined;
  const vsRate = cpu(sioMany, "rate") !== undefined && cpu(bunsenMany, "rate") ? cpu(sioMany, "rate")! / cpu(bunsenMany, "rate")! : undefined;
  const vsSat = cpu(sioMany, "saturated") !== undefined && cpu(bunsenMany, "saturated") ? cpu(sioMany, "saturated")! / cpu(bunsenMany, "saturated")! : undefined;
  const machine = machineInfo(canPin ? "servers on core 0, load generator on core 1" : "none");
  return [
    "# Cluster benchmark",
    "",
    `Written by \`bun bench/cluster.ts${isQuick ? " --quick" : ""}\` on ${machine.date} (${machine.nproc} cores, ${machine.cpuModel}; Bun ${machine.bun}, Node ${machine.node}, commit ${machine.gitCommit}). Pinning: ${machine.pinning}.`,
    "",
    `Room fan-out: one sender on node 1, ${runs[0]?.result?.receiverCount ?? "?"} WebSocket receivers spread round robin over the nodes (with ${nodeCount} nodes, ${Math.round((100 * (nodeCount - 1)) / nodeCount)} % of the deliveries cross Redis). One node runs without Redis; ${nodeCount} nodes share one Redis (\`${redisUrl}\`). Server CPU is the sum over every node${runs.some((r) => r.result?.redisCounted) ? " and the Redis server" : ""}, per delivery; every node shares core 0, so the saturated figures are those of ${nodeCount} nodes on one core.`,
    "",
    "| server | nodes | deliveries/s (rate) | latency p50 / p99 ms | CPU µs/delivery (rate) | deliveries/s (saturated) | CPU µs/delivery (saturated) | lost / out of order | load generator util (saturated) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    "The rate phase sends only ~125 messages a second, so its CPU per delivery is mostly what a node spends per message and while idle (timers, heartbeats, the Redis connection); the saturated phase is the cost of a delivery under load. Per process (saturated, CPU µs per delivery): " +
      runs.filter((r) => r.result?.saturated?.cpuUsPerDeliveryByProcess).map((r) => `${r.server} × ${r.nodes}: ${r.result!.saturated.cpuUsPerDeliveryByProcess.join(" + ")}${r.result!.redisCounted ? " (the last is Redis)" : ""}`).join("; ") + ".",
    "",
    "| target | measured | goal | |",
    "|---|---:|---|---|",
    target(`Bunsen cross-node CPU per delivery ÷ single node (rate)`, crossRate, "≤ 1.5×", crossRate === undefined ? undefined : crossRate <= 1.5),
    target(`Bunsen cross-node CPU per delivery ÷ single node (saturated)`, crossSat, "≤ 1.5×", crossSat === undefined ? undefined : crossSat <= 1.5),
    target(`Socket.IO cluster CPU per delivery ÷ Bunsen cluster (rate)`, vsRate, "≥ 5×", vsRate === undefined ? undefined : vsRate >= 5),
    target(`Socket.IO cluster CPU per delivery ÷ Bunsen cluster (saturated)`, vsSat, "≥ 5×", vsSat === undefined ? undefined : vsSat >= 5),
    "",
  ].join("\n");
}

if (values["report-only"]) {
  const saved = JSON.parse(readFileSync(`${OUT_DIR}/cluster.json`, "utf8")) as { runs: Run[] };
  writeFileSync(`${OUT_DIR}/CLUSTER.md`, report(saved.runs));
  process.exit(0);
}

try {
  const runs: Run[] = [];
  for (const server of (values.servers ?? "").split(",").filter(Boolean)) {
    for (const nodes of [1, nodeCount]) runs.push(await runCase(server, nodes));
  }
  writeFileSync(`${OUT_DIR}/cluster.json`, JSON.stringify({ quick: isQuick, nodes: nodeCount, runs }, null, 2) + "\n");
  const text = report(runs);
  writeFileSync(`${OUT_DIR}/CLUSTER.md`, text);
  console.log(text);
} finally {
  await stopAll();
}
