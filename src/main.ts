// Composition root: loadConfig() → createApp() → Bun.serve → SIGTERM/SIGINT → graceful shutdown.
import { ConfigError, loadConfig } from "./config.ts";
import { createApp } from "./app.ts";
import { configureLog, log } from "./log.ts";

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(err.message + "\n");
  process.exit(1);
}
configureLog(config.logLevel);

const app = await createApp(config);
const server = app.io.listen({ port: config.port, hostname: config.host }, app.fetch);
log.info?.("listening", { port: server.port, host: config.host, nodeId: config.nodeId, path: config.path });

let isStopping = false;
async function shutdown(signal: string): Promise<void> {
  if (isStopping) return;
  isStopping = true;
  log.info?.("shutting down", { signal });
  await app.close();
  log.info?.("stopped", { signal });
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
