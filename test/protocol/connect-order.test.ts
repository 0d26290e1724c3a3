// What a client reads right after a CONNECT: the reply alone, then the connection handler's emits,
// in the order the server wrote them, and no ping in between (the official Socket.IO protocol
// suite reads it so). Bun writes everything sent in one turn as one TCP chunk; a reader that
// awaits each message (the suite's `ws` client) lost the handler's first emit that way.
import { describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../support/server.ts";
import { client as newClient, connect } from "../support/client.ts";
import { openWebSocket, parseOpen } from "../support/raw.ts";
import type { Socket } from "../../src/index.ts";

const reader = fileURLToPath(new URL("./fixtures/await-reader.mjs", import.meta.url));

describe("a reader that awaits each message", () => {
  for (const nsp of ["", "/custom"]) {
    test.concurrent(`gets the CONNECT reply, then the handler's emit, on ${nsp || "/"} (40 connects)`, async () => {
      // The suite's timings: a ping every 300 ms could otherwise fall between reply and emit.
      await using server = await startServer({ pingInterval: 300, pingTimeout: 200 }, (io) => {
        const hello = (socket: Socket) => socket.emit("hello", socket.handshake.auth);
        io.on("connection", hello);
        io.of("/custom").on("connection", hello);
      });
      const url = `ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`;
      const child = Bun.spawn(["node", reader, url, nsp, "40"], { stdout: "pipe", stderr: "inherit", cwd: import.meta.dir });
      const timer = setTimeout(() => child.kill(), 50_000);
      const output = await new Response(child.stdout).text();
      clearTimeout(timer);
      expect(await child.exited).toBe(0);
      expect(JSON.parse(output)).toEqual({ connects: 40, lost: [] });
    }, 60_000);
  }
});

describe("packets around a CONNECT keep the server's order", () => {
  test.concurrent("direct emits, room and namespace broadcasts, written in the handler and after it", async () => {
    await using server = await startServer({}, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.emit("order", 1);
        socket.join("r");
        io.to("r").emit("order", 2);
        io.emit("order", 3);
        socket.emit("order", 4);
        // Once the hold is over the socket rides Bun topics: still in order, and still reached.
        setTimeout(() => {
          io.to("r").emit("order", 5);
          socket.emit("order", 6);
          io.emit("order", 7);
        }, 60);
      });
    });
    for (const transport of ["websocket", "polling"] as const) {
      using client = newClient(server.url, { transports: [transport] });
      const seen: number[] = [];
      const done = Promise.withResolvers<void>();
      client.on("order", (n: number) => {
        seen.push(n);
        if (n === 7) done.resolve();
      });
      await done.promise;
      // Earlier clients in room r and the namespace see the later connections' broadcasts too.
      expect(seen.slice(0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
  });

  test.concurrent("a disconnect in the connection handler arrives after what was emitted before it", async () => {
    await using server = await startServer({}, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.emit("bye", "see you");
        socket.disconnect(true);
      });
    });
    using client = newClient(server.url, { transports: ["websocket"] });
    const bye = Promise.withResolvers<string>();
    const reason = Promise.withResolvers<string>();
    client.on("bye", (text: string) => bye.resolve(text));
    client.on("disconnect", (why: string) => reason.resolve(why));
    expect(await bye.promise).toBe("see you");
    expect(await reason.promise).toBe("io server disconnect");
  });

  test.concurrent("the hold ends as soon as the client sends: an ack round trip right after connect", async () => {
    await using server = await startServer({}, (io) => {
      io.on("connection", (socket: Socket) => {
        socket.on("ping!", (ack: (reply: string) => void) => ack("pong!"));
      });
    });
    using client = await connect(server.url, { transports: ["websocket"] });
    expect(await client.timeout(2000).emitWithAck("ping!")).toBe("pong!");
  });
});

describe("the first ping of a new session", () => {
  test.concurrent("never comes right after the open packet (20 sessions opened across a ping interval)", async () => {
    await using server = await startServer({ pingInterval: 300, pingTimeout: 200 });
    const firsts = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      await Bun.sleep(i * 16); // spread over one interval, so some open just before a tick
      using ws = await openWebSocket(server.url);
      parseOpen(await ws.next());
      const openedAt = performance.now();
      expect(await ws.next()).toBe("2");
      const after = performance.now() - openedAt;
      ws.send("3");
      return after;
    }));
    // The grace is half of pingTimeout (100 ms here); the deadline the client keeps is
    // pingInterval + pingTimeout (500 ms), which every first ping MUST beat.
    for (const ms of firsts) expect(ms).toBeGreaterThanOrEqual(95);
    for (const ms of firsts) expect(ms).toBeLessThan(500);
  });
});
