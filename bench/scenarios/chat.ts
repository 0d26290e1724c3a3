// Scenario "chat" (issue 6): the ready server's chat flow with persistence on and off —
// optimistic delivery p99, confirmation latency, rows persisted per second (Postgres, PGlite).
// Runs only for servers that declare `supports: ["chat"]` in bench/servers/index.ts. None does yet:
// Bunsen's chat server is src/main.ts, and its event names and auth are not written yet.
import type { ScenarioContext, ScenarioResult } from "./context.ts";

export async function chat(_ctx: ScenarioContext): Promise<ScenarioResult> {
  throw new Error("the chat scenario waits for src/main.ts (modules/chat) to define its events");
}
