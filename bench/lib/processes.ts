// Child processes for the runner: a server (waits for its "listening" line) and a load generator
// (reads its progress lines and its one-line JSON result). Every child is tracked so that the
// runner's finally block can stop exactly the processes it started, by pid.
import type { Subprocess } from "bun";

const started = new Set<Subprocess>();

/** Prefixes argv with `taskset -c <core>` when pinning is on. */
export const pinned = (core: number | null, argv: string[]) =>
  core === null ? argv : ["taskset", "-c", String(core), ...argv];

export type RunningServer = { proc: Subprocess<"ignore", "pipe", "pipe">; pid: number; stderrTail(): string };

// src/main.ts (the ready server) logs JSON lines on stderr: {"level":"info","msg":"listening",...}.
const JSON_LISTENING = '"msg":"listening"';

/**
 * Starts a server and resolves once it prints "listening" on stdout (bench servers) or logs
 * {"msg":"listening"} on stderr (src/main.ts); rejects with its stderr if it exits first.
 * `env` adds to the inherited environment (the chat runs' DATABASE_URL, JWT_SECRET, …).
 */
export async function startServer(argv: string[], port: number, timeoutMs = 15_000, env: Record<string, string> = {}): Promise<RunningServer> {
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PORT: String(port), NODE_ENV: "production", ...env },
  });
  started.add(proc);
  // Keeps draining stdout and stderr after "listening": a closed pipe would fail the server's later writes.
  const listening = Promise.withResolvers<boolean>();
  let stderr = "";
  let isJsonListening = false;
  void (async () => {
    for await (const chunk of textChunks(proc.stderr)) {
      stderr = (stderr + chunk).slice(-4000);
      if (!isJsonListening && stderr.includes(JSON_LISTENING)) {
        isJsonListening = true;
        listening.resolve(true);
      }
    }
  })().catch(() => {});
  const stderrTail = () => stderr.trim().split("\n").slice(-6).join("\n");
  void (async () => {
    let out = "";
    for await (const chunk of textChunks(proc.stdout)) {
      if (out.length < 4000) out += chunk;
      if (out.includes("listening")) listening.resolve(true);
    }
    listening.resolve(false);
  })().catch(() => listening.resolve(false));
  const ready = listening.promise;
  let timer: Timer | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
  const isReady = await Promise.race([ready, timeout, proc.exited.then(() => false)]);
  clearTimeout(timer);
  if (!isReady) {
    await stop(proc);
    throw new Error(`failed to start (exit ${proc.exitCode ?? "none"}): ${stderrTail() || "no output"}`);
  }
  return { proc, pid: proc.pid, stderrTail };
}

export type LoadgenOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

/** Runs the load generator for one scenario; `onProgress` gets each progress line. */
export async function runLoadgen(
  argv: string[],
  timeoutMs: number,
  onProgress: (text: string) => void,
  env: Record<string, string> = {},
): Promise<LoadgenOutcome> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  started.add(proc);
  let errors = "";
  const progress = (async () => {
    let buffered = "";
    for await (const chunk of textChunks(proc.stderr)) {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("progress ")) onProgress(line.slice(9));
        else errors = (errors + line + "\n").slice(-2000);
      }
    }
  })().catch(() => {});
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const stdout = await new Response(proc.stdout).text();
    await proc.exited;
    await progress;
    const last = stdout.trim().split("\n").at(-1) ?? "";
    try {
      return JSON.parse(last) as LoadgenOutcome;
    } catch {
      const why = proc.signalCode === "SIGKILL" ? `timed out after ${timeoutMs / 1000} s` : `exit ${proc.exitCode}`;
      return { ok: false, error: `load generator ${why}: ${errors.trim().split("\n").slice(-3).join(" | ")}` };
    }
  } finally {
    clearTimeout(timer);
    started.delete(proc);
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. */
export async function stop(proc: Subprocess, graceMs = 3000): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }
  started.delete(proc);
}

/** Stops every child this runner started and has not stopped yet. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => stop(p, 1000)));
}

/** A child's pipe as decoded text chunks, until it closes. */
async function* textChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield decoder.decode(value, { stream: true });
  }
}
