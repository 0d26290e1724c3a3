// Loaded before every test file (bunfig.toml): quiet logs unless LOG_LEVEL asks for them.
import { configureLog, type LogLevel } from "../../src/log.ts";

configureLog((process.env.LOG_LEVEL as LogLevel | undefined) ?? "error");
