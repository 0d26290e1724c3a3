// Machine and version facts printed with every result, so figures are never read without context.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";

export type MachineInfo = {
  date: string;
  nproc: number;
  cpuModel: string;
  memTotalMiB: number;
  kernel: string;
  bun: string;
  node: string;
  packages: Record<string, string>;
  gitCommit: string;
  pinning: string;
};

const PACKAGES = ["socket.io", "@socket.io/bun-engine", "engine.io", "ws", "socket.io-parser", "engine.io-parser"];

export function hasTaskset(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v taskset"]).exitCode === 0;
}

export function machineInfo(pinning: string): MachineInfo {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const path = `node_modules/${name}/package.json`;
    packages[name] = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")).version as string) : "missing";
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    bun: Bun.version,
    node: run(["node", "--version"]),
    packages,
    gitCommit: run(["git", "rev-parse", "--short", "HEAD"]),
    pinning,
  };
}

function run(argv: string[]): string {
  try {
    const out = Bun.spawnSync(argv);
    return out.exitCode === 0 ? out.stdout.toString().trim() : "unavailable";
  } catch {
    return "unavailable";
  }
}
