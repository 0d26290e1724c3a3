// The ready server as a library (`import { createApp, loadConfig } from "bunsen/server"`): the same
// composition the `bunsen` command runs, for embedding it in your own process. Needs the optional
// peer dependencies (jose, drizzle-orm, postgres or @electric-sql/pglite, ioredis, socket.io-client).
export { createApp, type App, type AppOptions } from "./app.ts";
export { loadConfig, ConfigError, type Config } from "./config.ts";
export { runCli } from "./cli.ts";
