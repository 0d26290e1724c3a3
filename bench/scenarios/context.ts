// What every scenario receives from the load generator, and what it returns.

export type ScenarioContext = {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The server process, for /proc sampling. */
  serverPid: number;
  /** A cluster run (bench/cluster.ts): every node's URL (receivers spread over them; `url` is the sender's). */
  urls?: string[];
  /** A cluster run: every node's pid and Redis's, whose CPU is summed as the server's. */
  serverPids?: number[];
  isQuick: boolean;
  /** One short line for the runner's progress display. */
  progress(text: string): void;
};

/** A scenario's figures: flat, JSON-serializable, units in the names. */
export type ScenarioResult = Record<string, number | string | boolean | null | Record<string, unknown>>;

export const sleep = (ms: number) => Bun.sleep(ms);

/** Runs `task` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Waits until `isDone()` or the deadline; true if done. Polls: the scenarios own no other signal. */
export async function waitUntil(isDone: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!isDone()) {
    if (performance.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}
