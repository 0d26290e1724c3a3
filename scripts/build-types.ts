// `npm run build:types` (run by `npm pack` through prepack): the library's declarations in
// dist/types, for users whose tsconfig does not allow importing .ts files (TypeScript's default).
// tsc keeps the sources' "./x.ts" specifiers in .d.ts files; they are rewritten to "./x.js",
// which TypeScript resolves to the "./x.d.ts" beside them.
import { Glob } from "bun";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const outDir = join(root, "dist/types");
await Bun.$`rm -rf ${outDir}`;
const tsc = Bun.spawnSync([process.execPath, join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdout: "inherit", stderr: "inherit" });
if (tsc.exitCode !== 0) process.exit(tsc.exitCode ?? 1);

const relativeTs = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g;
let files = 0;
for await (const path of new Glob("**/*.d.ts").scan(outDir)) {
  const file = join(outDir, path);
  const text = await Bun.file(file).text();
  const rewritten = text.replace(relativeTs, (_all, lead: string, quote: string, spec: string) => `${lead}${quote}${spec}.js${quote}`);
  if (rewritten !== text) await Bun.write(file, rewritten);
  files++;
}
console.log(`declarations: ${files} files in ${outDir}`);
