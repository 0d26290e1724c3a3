// `npm start` / `bun src/main.ts [command]`: the `bunsen` command (cli.ts) run from a checkout.
import { runCli } from "./cli.ts";

const code = await runCli(Bun.argv.slice(2));
if (code !== undefined) process.exit(code);
