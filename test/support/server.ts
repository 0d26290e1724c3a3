// startServer(): a real Bunsen Server on Bun.serve, port 0, disposed with `await using`.
import type { Server as BunServer } from "bun";
import { Server, type ServerOptions, type Socket } from "../../src/index.ts";
import { connect, type ClientOptions } from "./client.ts";

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

/** A server, one socket.io-client connected to it, and the server-side socket of that client. */
export async function startPair(clientOptions: ClientOptions, setup?: (socket: Socket) => void, serverOptions: ServerOptions = {}) {
  const seen = Promise.withResolvers<Socket>();
  const server = await startServer(serverOptions, (io) => io.on("connection", (s: Socket) => {
    setup?.(s);
    seen.resolve(s);
  }));
  const socket = await connect(server.url, clientOptions);
  return { server, socket, serverSocket: await seen.promise };
}
