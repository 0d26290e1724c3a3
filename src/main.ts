#!/usr/bin/env bun
// `npm start` / `bun src/main.ts [command]` / the installed package's `bunsen` command: the
// command line of cli.ts. A library-only install lacks the ready server's packages (they are
// optional peer dependencies); the command then says which to install instead of a stack trace.
import pkg from "../package.json" with { type: "json" };

/** The packages the ready server loads beside the library's own dependencies. */
const READY_SERVER_PACKAGES = ["jose", "drizzle-orm", "postgres", "@electric-sql/pglite", "ioredis", "prom-client", "socket.io-client"];

const argv = Bun.argv.slice(2);
const missing = READY_SERVER_PACKAGES.filter((name) => {
  try {
    Bun.resolveSync(name, import.meta.dir);
    return false;
  } catch {
    return true;
  }
});
if (argv.includes("--version") || argv.includes("-v")) {
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
if (missing.length > 0) {
  process.stderr.write(`bunsen: the ready server needs packages this install does not have: ${missing.join(", ")}.\n` +
    `Install them beside bunsen: npm install ${missing.map((name) => name === "postgres" ? "postgres@3" : name).join(" ")}\n` +
    `(The library, import { Server } from "bunsen", works without them.)\n`);
  process.exit(1);
}
const { runCli } = await import("./cli.ts");
const code = await runCli(argv);
if (code !== undefined) process.exit(code);
