// Load generator: runs ONE scenario against a running server and prints its result as one JSON line.
// The runner starts it pinned to its own core; progress goes to stderr as "progress <text>" lines.
// Usage: bun bench/loadgen.ts <scenario> --url http://127.0.0.1:<port> --pid <server pid> [--quick]
//        [--urls <url,url,…> --pids <pid,pid,…>]   (a cluster run: every node, and every pid whose CPU counts)
import { parseArgs } from "node:util";
import type { ScenarioContext, ScenarioResult } from "./scenarios/context.ts";
import { connections } from "./scenarios/connections.ts";
import { echoRate, echoSaturated } from "./scenarios/echo.ts";
import { fanout, fanoutPolling } from "./scenarios/fanout.ts";
import { chat } from "./scenarios/chat.ts";

export const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  connections,
  "echo-rate": echoRate,
  "echo-saturated": echoSaturated,
  fanout,
  "fanout-polling": fanoutPolling,
  chat,
};

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      url: { type: "string" }, pid: { type: "string" }, quick: { type: "boolean", default: false },
      urls: { type: "string" }, pids: { type: "string" },
    },
    allowPositionals: true,
  });
  const name = positionals[0] ?? "";
  const scenario = SCENARIOS[name];
  if (!scenario || !values.url || !values.pid) {
    console.error(`usage: bun bench/loadgen.ts <${Object.keys(SCENARIOS).join("|")}> --url URL --pid PID [--quick]`);
    process.exit(2);
  }
  const ctx: ScenarioContext = {
    url: values.url,
    serverPid: Number(values.pid),
    isQuick: values.quick ?? false,
    urls: values.urls?.split(","),
    serverPids: values.pids?.split(",").map(Number),
    progress: (text) => process.stderr.write(`progress ${text}\n`),
  };
  try {
    const result = await scenario(ctx);
    process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
  }
  // Sockets may still be closing; the result is out, so leave now.
  process.exit(0);
}
