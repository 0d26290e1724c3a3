// A real Redis Cluster for the sharded adapter's tests: three `redis-server --cluster-enabled yes`
// on loopback ports (each also needs its port + 10000 for the cluster bus), joined by
// `redis-cli --cluster create`, and stopped (by PID) and removed on dispose.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisCluster extends AsyncDisposable {
  /** The masters' addresses, as ioredis' Cluster takes them. */
  readonly nodes: { host: string; port: number }[];
}

function isFree(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

function freePorts(count: number): number[] {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 21_000 + Math.floor(Math.random() * 8_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.every((p) => isFree(p) && isFree(p + 10_000))) return ports;
  }
  throw new Error("no free ports for a Redis Cluster");
}

export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "bunsen-redis-cluster-"));
  const ports = freePorts(size);
  const servers = ports.map((port) =>
    Bun.spawn([
      "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
      "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--dir", dir, "--save", "", "--appendonly", "no",
      "--protected-mode", "no", "--loglevel", "warning",
    ], { stdout: "ignore", stderr: "ignore" }),
  );
  const stop = async () => {
    for (const server of servers) server.kill();
    await Promise.all(servers.map((s) => s.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitFor(() => run(["redis-cli", "-p", String(port), "ping"]).includes("PONG"), `redis on ${port}`);
    const create = Bun.spawnSync(["redis-cli", "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
    if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout.toString()}${create.stderr.toString()}`);
    for (const port of ports) await waitFor(() => run(["redis-cli", "-p", String(port), "cluster", "info"]).includes("cluster_state:ok"), `cluster state on ${port}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((port) => ({ host: "127.0.0.1", port })), [Symbol.asyncDispose]: stop };
}

function run(command: string[]): string {
  return Bun.spawnSync(command).stdout.toString();
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not before the deadline`);
    await Bun.sleep(100);
  }
}
