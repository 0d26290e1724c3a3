// Interoperability with the ecosystem over the classic Redis adapter format: @socket.io/redis-emitter
// publishing to Bunsen, and a Node socket.io 4.8 server with @socket.io/redis-adapter in the cluster.
import { Emitter } from "@socket.io/redis-emitter";
import { describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { connect, nextEvent } from "../support/client.ts";
import { redisUrl } from "../support/services.ts";
import { startCluster, startNode, stopNode, uniqueKey } from "./cluster.ts";
import type { Server } from "../../src/index.ts";

function handlers(io: Server): void {
  io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
    socket.on("say", (room: string, ...args: unknown[]) => socket.to(room).emit("msg", ...args));
  });
}

describe("@socket.io/redis-emitter", () => {
  test.concurrent("reaches sockets on Bunsen nodes: rooms, namespaces, binary, socketsJoin", async () => {
    await using cluster = await startCluster(2, {}, (io) => {
      handlers(io);
      io.of("/admin");
    });
    const [a, b] = cluster.nodes;
    await using redis = Object.assign(new Redis(redisUrl), { [Symbol.asyncDispose]: async () => void redis.disconnect() });
    const emitter = new Emitter(redis, { key: cluster.key });
    using alice = await connect(a!.url);
    using bob = await connect(b!.url);
    using admin = await connect(b!.url + "/admin");
    await alice.emitWithAck("join", "news");

    let bobGotNews = false;
    bob.on("news", () => (bobGotNews = true));
    const news = nextEvent(alice, "news");
    emitter.to("news").emit("news", { title: "t" }, Buffer.from([7, 8]));
    const [payload, bytes] = await news;
    expect({ payload, bytes: [...new Uint8Array(bytes)] }).toEqual({ payload: { title: "t" }, bytes: [7, 8] });

    const adminGot = nextEvent(admin, "alert");
    emitter.of("/admin").emit("alert", 1);
    expect(await adminGot).toEqual([1]);

    const everyone = Promise.all([nextEvent(alice, "hello"), nextEvent(bob, "hello")]);
    emitter.emit("hello", "all");
    expect(await everyone).toEqual([["all"], ["all"]]);
    expect(bobGotNews).toBe(false);

    // Requests without a uid (the emitter's) are applied too.
    emitter.in(bob.id!).socketsJoin("news");
    const bobNews = nextEvent(bob, "news");
    emitter.to("news").emit("news", "second");
    expect(await bobNews).toEqual(["second"]);
  });
});

async function startNodeServer(key: string) {
  const child = Bun.spawn(["node", import.meta.dir + "/fixtures/node-server.cjs", redisUrl, key], {
    stdin: "pipe", stdout: "pipe", stderr: "inherit", cwd: import.meta.dir + "/../..",
  });
  const lines = readLines(child.stdout);
  const first = await lines.next();
  const port = Number(String(first.value).split(" ")[1]);
  return {
    url: `http://127.0.0.1:${port}`,
    send(line: string) {
      child.stdin.write(line + "\n");
      child.stdin.flush();
    },
    async nextLine(): Promise<string> {
      return String((await lines.next()).value);
    },
    [Symbol.dispose]() {
      child.kill();
    },
  };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let index: number;
    while ((index = buffer.indexOf("\n")) !== -1) {
      yield buffer.slice(0, index);
      buffer = buffer.slice(index + 1);
    }
  }
}

describe("a Node socket.io server with @socket.io/redis-adapter in the cluster", () => {
  test("broadcasts flow both ways, and Node's fetchSockets sees Bunsen's sockets without timing out", async () => {
    const key = uniqueKey();
    const bunsen = await startNode(key, {}, handlers);
    try {
      using node = await startNodeServer(key);
      using onBunsen = await connect(bunsen.url);
      using onNode = await connect(node.url);
      await Promise.all([onBunsen, onNode].map((s) => s.emitWithAck("join", "mixed")));

      const toNode = nextEvent(onNode, "msg");
      onBunsen.emit("say", "mixed", "from bunsen", new Uint8Array([1]));
      const [text, bytes] = await toNode;
      expect({ text, bytes: [...new Uint8Array(bytes)] }).toEqual({ text: "from bunsen", bytes: [1] });

      const toBunsen = nextEvent(onBunsen, "msg");
      onNode.emit("say", "mixed", "from node");
      expect(await toBunsen).toEqual(["from node"]);

      node.send("fetch");
      expect(await node.nextLine()).toBe("fetched " + JSON.stringify([onBunsen.id, onNode.id].sort()));

      const fetched = await bunsen.io.fetchSockets();
      expect(fetched.map((s) => s.id).sort()).toEqual([onBunsen.id!, onNode.id!].sort());

      // Broadcasts with acks, started on either side, collect the answers of both servers' clients.
      onBunsen.on("question", (q: string, ack: (a: string) => void) => ack(q + ":bunsen"));
      onNode.on("question", (q: string, ack: (a: string) => void) => ack(q + ":node"));
      expect(((await bunsen.io.timeout(3_000).emitWithAck("question", "b")) as string[]).sort()).toEqual(["b:bunsen", "b:node"]);
      node.send('ask question "n"');
      expect(await node.nextLine()).toBe("asked " + JSON.stringify({ err: null, responses: ["n:bunsen", "n:node"] }));
    } finally {
      await stopNode(bunsen);
    }
  });
});
