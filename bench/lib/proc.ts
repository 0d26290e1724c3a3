// Server resource sampling from /proc: CPU time (utime + stime of every thread) and resident memory.
// Reading another process's /proc entries costs the server nothing, so sampling does not skew results.
import { readFileSync } from "node:fs";

// USER_HZ is 100 on every mainstream Linux build; `getconf CLK_TCK` confirms it when available.
const CLOCK_TICKS_PER_S = (() => {
  try {
    const out = Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim();
    return Number(out) || 100;
  } catch {
    return 100;
  }
})();

export const cpuResolutionMs = 1000 / CLOCK_TICKS_PER_S;

/** Server CPU time consumed so far, in microseconds (user + system, all threads). */
export function readCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name, fields restart at index 0 = field 3 (state); utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS_PER_S;
}

/** Resident set size in bytes (VmRSS). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** CPU time all cores spent busy so far (every state but idle and iowait), in microseconds. */
export function readMachineBusyMicros(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  const ticks = user! + nice! + system! + irq! + softirq! + steal!;
  return (ticks * 1e6) / CLOCK_TICKS_PER_S;
}

/** CPU and wall time across a measurement window. */
export class CpuWindow {
  readonly #pids: readonly number[];
  readonly #cpuStart: number;
  readonly #perPidStart: number[];
  readonly #wallStart = performance.now();
  readonly #selfStart = process.cpuUsage();
  readonly #machineStart = readMachineBusyMicros();

  /** `pid`: the server, or every node of a cluster (their CPU is summed). */
  constructor(pid: number | readonly number[]) {
    this.#pids = typeof pid === "number" ? [pid] : pid;
    this.#perPidStart = this.#pids.map(readCpuMicros);
    this.#cpuStart = this.#perPidStart.reduce((a, b) => a + b, 0);
  }

  /**
   * serverCpuUs: server CPU µs. serverUtil, loadgenUtil: fraction of one core. otherLoad: cores
   * used by every other process (other engineers' tests, databases): the window's noise.
   */
  stop(): { wallMs: number; serverCpuUs: number; serverUtil: number; loadgenUtil: number; otherLoad: number; perPidCpuUs: number[] } {
    const perPidCpuUs = this.#pids.map((pid, i) => readCpuMicros(pid) - this.#perPidStart[i]!);
    const serverCpuUs = perPidCpuUs.reduce((a, b) => a + b, 0);
    const machineUs = readMachineBusyMicros() - this.#machineStart;
    const wallMs = performance.now() - this.#wallStart;
    const self = process.cpuUsage(this.#selfStart);
    const loadgenUs = self.user + self.system;
    return {
      wallMs,
      serverCpuUs,
      serverUtil: serverCpuUs / 1000 / wallMs,
      loadgenUtil: loadgenUs / 1000 / wallMs,
      otherLoad: Math.max(0, machineUs - serverCpuUs - loadgenUs) / 1000 / wallMs,
      perPidCpuUs,
    };
  }
}
