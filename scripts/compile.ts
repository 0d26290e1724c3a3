// `npm run compile`: one self-contained `bunsen` executable (dist/bunsen, or the path given as the
// first argument) holding the Bun runtime, the server, its migrations, its pages, socket.io-client's
// browser bundle and the embedded database's WebAssembly and data files (see src/assets.ts).
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const outfile = resolve(process.argv[2] ?? join(root, "dist", "bunsen"));
const packageDir = (name: string) => relative(root, dirname(Bun.resolveSync(`${name}/package.json`, root)));
const pglite = packageDir("@electric-sql/pglite");
const assets = [
  "drizzle",
  "src/http/pages",
  join(packageDir("socket.io-client"), "dist", "socket.io.min.js"),
  ...["pglite.wasm", "initdb.wasm", "pglite.data"].map((file) => join(pglite, "dist", file)),
];
for (const asset of assets) {
  if (asset.startsWith("..")) throw new Error(`${asset} lies outside ${root}: install the dependencies in the project first`);
}
const args = [process.execPath, "build", "--compile", "--minify-syntax", "src/cli.ts", "--outfile", outfile, ...assets.flatMap((a) => ["--asset", a])];
const build = Bun.spawnSync(args, { cwd: root, stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(build.exitCode ?? 1);
console.log(`built ${outfile} (${((Bun.file(outfile).size) / 2 ** 20).toFixed(0)} MiB)`);
