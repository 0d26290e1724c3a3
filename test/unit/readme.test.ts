// The README documents every environment variable src/config.ts reads (scripts/readme-env.ts).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DEFAULTS } from "../../src/config.ts";
import { envTable, withEnvTable } from "../../scripts/readme-env.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

test("the README's configuration table is current (run `bun scripts/readme-env.ts`)", () => {
  const table = envTable(readFileSync(new URL("../../src/config.ts", import.meta.url), "utf8"));
  expect(withEnvTable(readme, table)).toBe(readme);
});

test("every variable in DEFAULTS is in the README", () => {
  const missing = Object.keys(DEFAULTS).filter((name) => !readme.includes("`" + name + "`"));
  expect(missing).toEqual([]);
});
