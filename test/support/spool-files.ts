// Polling and spool reading for tests that run `bun src/main.ts` and look at what it left on disk.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** temp ids with a message line in the spool: what a kill -9 cannot take away any more. */
export function spooledTempIds(dataDir: string, prefix: string): Set<string> {
  const dir = join(dataDir, "spool");
  const found = new Set<string>();
  for (const name of readdirSync(dir)) {
    let text = "";
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      continue; // deleted between the listing and the read
    }
    for (const line of text.split("\n")) {
      try {
        const tempId = (JSON.parse(line) as { m?: { tempId?: string } }).m?.tempId;
        if (tempId?.startsWith(prefix)) found.add(tempId);
      } catch {}
    }
  }
  return found;
}

/** For conditions that raise no event (a file's content, a table's rows); bounded by a deadline. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not before the deadline`);
    await Bun.sleep(10);
  }
}

