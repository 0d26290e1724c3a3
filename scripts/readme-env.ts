// Regenerates the README's configuration table from src/config.ts's DEFAULTS block (names,
// defaults and their one-line comments), so the README lists every variable the server reads.
// Usage: bun scripts/readme-env.ts        (test/unit/readme.test.ts fails when it is stale)
import { readFileSync, writeFileSync } from "node:fs";

const START = "<!-- env-table:start -->";
const END = "<!-- env-table:end -->";

export function envTable(configSource: string): string {
  const block = configSource.slice(configSource.indexOf("export const DEFAULTS"), configSource.indexOf("} as const satisfies"));
  const rows = ["| variable | default | meaning |", "|---|---|---|"];
  for (const line of block.split("\n").slice(1)) {
    const match = /^\s*(\w+): (undefined|"[^"]*"),?\s*(?:\/\/\s*(.*))?$/.exec(line);
    if (!match) continue;
    const [, name, value, comment] = match;
    const shown = value === "undefined" ? "—" : "`" + value!.slice(1, -1) + "`";
    rows.push(`| \`${name}\` | ${shown} | ${(comment ?? "").replaceAll("|", "\\|")} |`);
  }
  return rows.join("\n");
}

export function withEnvTable(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1) throw new Error("README.md has no env-table markers");
  return readme.slice(0, start + START.length) + "\n" + table + "\n" + readme.slice(end);
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url);
  const readmePath = new URL("README.md", root);
  const table = envTable(readFileSync(new URL("src/config.ts", root), "utf8"));
  writeFileSync(readmePath, withEnvTable(readFileSync(readmePath, "utf8"), table));
}
