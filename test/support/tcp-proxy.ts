// A real TCP proxy on an ephemeral port whose link can fail on demand, so persistence tests can take
// Postgres away without stopping it: "reset" refuses with a TCP RST, "blackhole" accepts and never answers.
import type { Socket } from "bun";

export type LinkMode = "up" | "reset" | "blackhole";

// `pending` holds bytes this socket received that its peer could not take yet.
type Pipe = { peer?: Socket<Pipe>; pending: Uint8Array[] };

export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** Every change cuts the connections open so far, as a real outage (or its end) would. */
  setMode(mode: LinkMode): void;
}

export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  let mode: LinkMode = "up";
  const open = new Set<Socket<Pipe>>();
  const forward = (to: Socket<Pipe> | undefined, pending: Uint8Array[], data: Uint8Array) => {
    if (mode === "blackhole") return;
    if (to && pending.length === 0) {
      const written = to.write(data);
      if (written < data.byteLength) pending.push(data.subarray(written));
    } else pending.push(data.slice());
  };
  const flush = (to: Socket<Pipe>, pending: Uint8Array[]) => {
    while (pending.length > 0) {
      const chunk = pending[0]!;
      const written = to.write(chunk);
      if (written < chunk.byteLength) {
        pending[0] = chunk.subarray(written);
        return;
      }
      pending.shift();
    }
  };
  const listener = Bun.listen<Pipe>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        // terminate(), not end(): postgres-js on Bun never settles a query whose socket got a FIN
        // before the startup reply (observed with Bun 1.4.5).
        if (mode === "reset") return void client.terminate();
        client.data = { pending: [] };
        open.add(client);
        if (mode === "blackhole") return;
        void Bun.connect<Pipe>({
          hostname: target.hostname,
          port: target.port,
          socket: {
            open(upstream) {
              upstream.data = { peer: client, pending: [] };
              client.data.peer = upstream;
              open.add(upstream);
              flush(upstream, client.data.pending);
            },
            data: (upstream, data) => forward(client, upstream.data.pending, data),
            drain: (upstream) => flush(upstream, client.data.pending),
            close(upstream) {
              open.delete(upstream);
              client.end();
            },
            connectError: () => void client.terminate(),
          },
        });
      },
      data: (client, data) => forward(client.data.peer, client.data.pending, data),
      drain: (client) => client.data.peer && flush(client, client.data.peer.data.pending),
      close(client) {
        open.delete(client);
        client.data?.peer?.end();
      },
    },
  });
  return {
    port: listener.port,
    setMode(next) {
      if (next === mode) return;
      mode = next;
      for (const socket of open) socket.terminate();
    },
    async [Symbol.asyncDispose]() {
      for (const socket of open) socket.terminate();
      listener.stop(true);
    },
  };
}
