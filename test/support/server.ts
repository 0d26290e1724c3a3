// startServer(): a real Bunsen Server on Bun.serve, port 0, disposed with `await using`.
import type { Server as BunServer } from "bun";
import { Server, type ServerOptions } from "../../src/index.ts";

export interface TestServer extends AsyncDisposable {
  io: Server;
  bun: BunServer<any>;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
}

export async function startServer(options: ServerOptions = {}, setup?: (io: Server) => void): Promise<TestServer> {
  const io = new Server(options);
  setup?.(io);
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${bun.port}`;
  return {
    io, bun, port: bun.port!, url,
    async [Symbol.asyncDispose]() {
      await io.close();
    },
  };
}
