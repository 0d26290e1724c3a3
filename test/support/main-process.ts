// The ready server as its own process (`bun src/main.ts`), as an operator runs it: PORT=0, the
// JSON log read from stderr (drained for the child's whole life, so a chatty child never blocks
// on a full pipe), and the port taken from the `listening` line.
import { join } from "node:path";

export interface MainProcess extends AsyncDisposable {
  url: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Every log line so far, parsed (a line that is not JSON is kept as `{msg: line}`). */
  logs: Record<string, unknown>[];
  /** Everything written to stdout so far (drained like stderr). */
  stdout: string[];
  /** Settles once stderr closed: every line the process wrote is in `logs`. */
  logsDone: Promise<void>;
}

const ROOT = join(import.meta.dir, "../..");

export interface StartOptions {
  /** The working directory (a fresh folder, as a new user's clone has no .data). @default the repository */
  cwd?: string;
  /** The command line. @default bun <repository>/src/main.ts */
  command?: string[];
}

/** Starts `bun src/main.ts` with `env` (on PORT=0, HOST=127.0.0.1 unless `env` says otherwise) and resolves once it logged `listening`. */
export async function startMainProcess(env: Record<string, string>, timeoutMs = 20_000, options: StartOptions = {}): Promise<MainProcess> {
  const proc = Bun.spawn(options.command ?? [process.execPath, join(ROOT, "src/main.ts")], {
    cwd: options.cwd ?? ROOT, env: { PORT: "0", HOST: "127.0.0.1", ...env }, // an ephemeral port on loopback by default
    stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  void (async () => {
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream()) as unknown as AsyncIterable<string>) stdout.push(chunk);
  })();
  const listening = Promise.withResolvers<number>();
  const logsDone = (async () => {
    let rest = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream()) as unknown as AsyncIterable<string>) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === "listening") listening.resolve(entry.port as number);
        } catch {
          logs.push({ msg: line });
        }
      }
    }
    listening.reject(new Error(`server exited before listening: ${JSON.stringify(logs)}`));
  })();
  const timer = setTimeout(() => listening.reject(new Error(`server not listening within ${timeoutMs} ms`)), timeoutMs);
  try {
    const port = await listening.promise;
    return {
      url: `http://127.0.0.1:${port}`, proc, logs, stdout, logsDone,
      async [Symbol.asyncDispose]() {
        proc.kill("SIGKILL");
        await proc.exited;
      },
    };
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
