// The ready server as an operator runs it: `bun src/main.ts` processes sharing Redis and one
// Postgres database. Each node listens on PORT=0 and logs `{"msg":"listening","port":N}` on stderr.
// Stopping is bounded: SIGTERM, then SIGKILL if the process has not exited within `stopWaitMs`.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JWT_SECRET } from "../support/app.ts";
import { redisUrl } from "../support/services.ts";

export interface ReadyNode {
  readonly pid: number;
  readonly url: string;
  readonly nodeId: string;
  /** Every stderr line so far (JSON log lines): shown when a test fails. */
  readonly lines: string[];
}

export interface ReadyCluster extends AsyncDisposable {
  readonly nodes: ReadyNode[];
}

const START_TIMEOUT_MS = 20_000;
const STOP_WAIT_MS = 5_000;

/** Starts `count` nodes; if one does not come up, the others are stopped before the error is thrown. */
export async function startReadyCluster(count: number, env: Record<string, string>): Promise<ReadyCluster> {
  const started: { child: Subprocess; node: ReadyNode; dataDir: string }[] = [];
  const stopAll = async () => {
    await Promise.all(started.map(({ child }) => stopProcess(child)));
    for (const { dataDir } of started) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const pending = Array.from({ length: count }, (_, i) => startNode(`node${i + 1}`, env, (entry) => started.push(entry)));
    const nodes = await Promise.all(pending);
    return { nodes, [Symbol.asyncDispose]: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startNode(
  nodeId: string,
  env: Record<string, string>,
  track: (entry: { child: Subprocess; node: ReadyNode; dataDir: string }) => void,
): Promise<ReadyNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `bunsen-${nodeId}-`));
  const child = Bun.spawn([process.execPath, "src/main.ts"], {
    cwd: join(import.meta.dir, "../.."),
    env: {
      ...process.env, PORT: "0", HOST: "127.0.0.1", REDIS_URL: redisUrl, JWT_SECRET, DATA_DIR: dataDir, NODE_ID: nodeId,
      // "listening" is logged at info.
      LOG_LEVEL: "info", RATE_LIMIT_EVENTS: "0", ...env,
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const node = { pid: child.pid, url: "", nodeId, lines };
  track({ child, node, dataDir });
  const listening = Promise.withResolvers<number>();
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    // Drained to the end: a full pipe would block the child.
    const reader = (child.stderr as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      rest += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = rest.indexOf("\n")) !== -1) {
        const line = rest.slice(0, newline);
        rest = rest.slice(newline + 1);
        lines.push(line);
        if (line.includes('"listening"')) listening.resolve(JSON.parse(line).port);
      }
    }
  })();
  void child.exited.then((code) => listening.reject(new Error(`${nodeId} exited (${code}) before listening:\n${lines.join("\n")}`)));
  const timer = setTimeout(() => listening.reject(new Error(`${nodeId} not listening after ${START_TIMEOUT_MS} ms:\n${lines.join("\n")}`)), START_TIMEOUT_MS);
  try {
    node.url = `http://127.0.0.1:${await listening.promise}`;
  } finally {
    clearTimeout(timer);
  }
  return node;
}

async function stopProcess(child: Subprocess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  let timer: Timer | undefined;
  const isExited = await Promise.race([
    child.exited.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS, false))),
  ]);
  clearTimeout(timer);
  if (!isExited) {
    child.kill("SIGKILL");
    await child.exited;
  }
}
