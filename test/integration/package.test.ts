// The package as a user gets it: `npm pack`, the tarball installed into a fresh project with npm,
// the README's library example copied from README.md and run with Bun against a real
// socket.io-client, its types checked with the user's own tsc under `tsc --init`'s defaults and
// under `bun init`'s, and the `bunsen` command from node_modules/.bin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pkg from "../../package.json" with { type: "json" };

const ROOT = join(import.meta.dir, "../..");
const BUN = process.execPath;
const ENV = { PATH: `${dirname(BUN)}:${process.env.PATH ?? ""}`, HOME: process.env.HOME ?? "", npm_config_update_notifier: "false" };
let work = "";
let project = "";
let tarball = "";
let entries: string[] = [];

async function run(command: string[], cwd: string, timeoutMs = 300_000) {
  const proc = Bun.spawn(command, { cwd, env: ENV, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code, text: stdout + stderr };
}

/** The first ```ts block of a README.md section, as a user would copy it. */
function readmeExample(heading = "## The library"): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error(`README.md has no example under ${heading}`);
  return match[1]!;
}

const readmeLibraryExample = () => readmeExample();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "bunsen-pack-"));
  const packed = await run(["npm", "pack", "--pack-destination", work, "--json"], ROOT);
  expect(packed.code).toBe(0);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));
  tarball = join(work, info.filename);
  entries = info.files.map((file: { path: string }) => file.path);

  project = join(work, "app");
  await Bun.$`mkdir -p ${project}`;
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-chat", private: true, type: "module" }, null, 2));
  const installed = await run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", tarball, "socket.io-client@^4.8.0", "typescript@^5.9.0", "@types/bun"], project);
  if (installed.code !== 0) console.error(installed.text);
  expect(installed.code).toBe(0);
}, 600_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
  test("holds the library, its declarations and the migrations, and no tests or benchmarks", () => {
    expect(entries).toContain("src/index.ts");
    expect(entries).toContain("dist/types/index.d.ts");
    expect(entries).toContain("dist/types/ready.d.ts");
    expect(entries.some((path) => path.startsWith("drizzle/"))).toBe(true);
    expect(entries.filter((path) => path.startsWith("test/") || path.startsWith("bench/") || path.includes("node_modules"))).toEqual([]);
    // Declarations import each other as .js, which TypeScript's defaults accept (no TS5097).
    const declarations = readFileSync(join(project, "node_modules/bunsen/dist/types/index.d.ts"), "utf8");
    expect(declarations).not.toMatch(/from "\.[^"]*\.ts"/);
  });

  test("a library-only install brings neither the ready server's database, auth and Redis packages nor Bun itself", () => {
    for (const heavy of ["@electric-sql/pglite", "drizzle-orm", "postgres", "jose", "ioredis", "prom-client", "bun"]) {
      expect({ heavy, installed: existsSync(join(project, "node_modules", heavy)) }).toEqual({ heavy, installed: false });
    }
  });

  test("the README's example runs with Bun from the installed package, and socket.io-client talks to it", async () => {
    writeFileSync(join(project, "chat.ts"), readmeLibraryExample());
    writeFileSync(join(project, "try.ts"), `
import { io } from "socket.io-client";
import { chatServer } from "./chat.js";
const server = chatServer();
const bun = server.listen({ port: 0, hostname: "127.0.0.1" });
const client = io("http://127.0.0.1:" + bun.port, { auth: { name: "ada" }, reconnection: false });
const said = new Promise((resolve) => client.once("said", resolve));
const joined = await client.timeout(5000).emitWithAck("join", "lobby");
client.emit("say", "lobby", "hello");
console.log(JSON.stringify({ joined, said: await said }));
client.close();
await server.close();
`);
    const result = await run([BUN, "try.ts"], project, 30_000);
    if (result.code !== 0) console.error(result.text);
    expect(result.code).toBe(0);
    const line = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    expect(line.joined).toEqual({ ok: true });
    expect(line.said).toMatchObject({ from: "ada", text: "hello" });
  });

  test("its types pass the user's tsc under tsc --init's defaults and under bun init's settings", async () => {
    writeFileSync(join(project, "chat.ts"), readmeLibraryExample());
    // The typed-events example: the generics work from the installed declarations.
    writeFileSync(join(project, "typed.ts"), readmeExample("### Typed events"));
    const tsc = join(project, "node_modules/typescript/bin/tsc");
    const init = await run([BUN, tsc, "--init"], project);
    expect(init.code).toBe(0);
    const strictDefault = await run([BUN, tsc, "--noEmit", "-p", "."], project);
    expect(strictDefault.text).toBe("");
    expect(strictDefault.code).toBe(0);

    writeFileSync(join(project, "tsconfig.bun.json"), JSON.stringify({
      compilerOptions: {
        lib: ["ESNext"], target: "ESNext", module: "Preserve", moduleDetection: "force", moduleResolution: "bundler",
        allowImportingTsExtensions: true, verbatimModuleSyntax: true, noEmit: true, strict: true, skipLibCheck: true,
        noFallthroughCasesInSwitch: true, noUncheckedIndexedAccess: true, noImplicitOverride: true, types: ["bun"],
      },
      files: ["chat.ts", "typed.ts"],
    }));
    const bunInit = await run([BUN, tsc, "-p", "tsconfig.bun.json"], project);
    expect(bunInit.text).toBe("");
    expect(bunInit.code).toBe(0);

    // The check can fail: a wrong call in the user's code is reported, and so is a wrong typed event.
    writeFileSync(join(project, "wrong.ts"), [
      `import { Server } from "bunsen";`,
      `new Server({ pingInterval: "soon" });`,
      `new Server<{ hi: (n: number) => void }>().on("connection", (socket) => socket.emit("hi", "one"));`,
      ``,
    ].join("\n"));
    const wrong = await run([BUN, tsc, "--noEmit", "-p", "."], project);
    expect(wrong.code).not.toBe(0);
    expect(wrong.text).toContain("wrong.ts(2,");
    expect(wrong.text).toContain("wrong.ts(3,");
    rmSync(join(project, "wrong.ts"));
  }, 120_000);

  test("the bunsen command is installed in node_modules/.bin, and names the ready server's packages it lacks", async () => {
    const bunsen = join(project, "node_modules/.bin/bunsen");
    const version = await run([bunsen, "--version"], project, 30_000);
    expect([version.code, version.stdout.trim()]).toEqual([0, pkg.version]);
    const start = await run([bunsen], project, 30_000);
    expect(start.code).toBe(1);
    // socket.io-client is there (this project installed it for its own use); the rest is not.
    expect(start.stderr).toContain("npm install jose drizzle-orm postgres@3 @electric-sql/pglite ioredis prom-client\n");
    expect(start.stderr).not.toContain("    at ");
  });

  test("with the ready server's packages added, the bunsen command runs the server's own commands", async () => {
    const added = await run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", "jose@^6", "drizzle-orm@^0.45.4", "postgres@^3.4.9", "@electric-sql/pglite@^0.5.16", "ioredis@^6", "prom-client@^15"], project);
    if (added.code !== 0) console.error(added.text);
    expect(added.code).toBe(0);
    const check = await run([join(project, "node_modules/.bin/bunsen"), "check-config"], project, 30_000);
    if (check.code !== 0) console.error(check.text);
    expect(check.code).toBe(0);
    const token = await run([join(project, "node_modules/.bin/bunsen"), "token", "--sub", "alice"], project, 30_000);
    expect(token.code).toBe(0);
    expect(token.stdout.trim().split(".")).toHaveLength(3);
  }, 300_000);
});
