// The sharded adapter on a real Redis Cluster (three redis-server nodes): Bunsen nodes reach each
// other's sockets through SSUBSCRIBE/SPUBLISH, rooms get their own channels while they have members,
// and a Node socket.io 4.8 server with @socket.io/redis-adapter's createShardedAdapter shares the cluster.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cluster } from "ioredis";
import { Server } from "../../src/index.ts";
import { createShardedRedisAdapter } from "../../src/rooms/sharded.ts";
import { connect, nextEvent } from "../support/client.ts";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.ts";
import { tokenFor } from "../support/app.ts";
import { createTestDatabase } from "../support/services.ts";
import { uniqueKey } from "./cluster.ts";
import { startReadyCluster } from "./ready-nodes.ts";

let redis: RedisCluster;
beforeAll(async () => {
  redis = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await redis?.[Symbol.asyncDispose]();
});

interface ShardedNode extends AsyncDisposable {
  io: Server;
  url: string;
  pub: Cluster;
}

function handlers(io: Server): void {
  io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
    socket.on("leave", (room: string, ack: () => void) => {
      socket.leave(room);
      ack();
    });
    socket.on("say", (room: string, ...args: unknown[]) => socket.to(room).emit("msg", ...args));
  });
}

async function startShardedNode(key: string): Promise<ShardedNode> {
  const pub = new Cluster(redis.nodes);
  const sub = new Cluster(redis.nodes, { shardedSubscribers: true });
  const io = new Server({ adapter: createShardedRedisAdapter({ pub, sub, key, requestsTimeoutMs: 3_000 }) });
  handlers(io);
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
  await Promise.all([pub.ping(), waitUntil(() => pub.status === "ready" && sub.status === "ready", "cluster connections ready")]);
  return {
    io, url: `http://127.0.0.1:${bun.port}`, pub,
    async [Symbol.asyncDispose]() {
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not before the deadline`);
    await Bun.sleep(25);
  }
}

/** Subscribers of one sharded channel, over the cluster's masters. */
async function shardNumSub(pub: Cluster, channel: string): Promise<number> {
  const counts = await Promise.all(pub.nodes("master").map(async (node) => Number(((await node.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number])[1])));
  return counts.reduce((a, b) => a + b, 0);
}

describe("Bunsen nodes on a Redis Cluster with the sharded adapter", () => {
  test("rooms, private rooms, the whole namespace, fetchSockets, socketsJoin, serverSideEmit and broadcast acks cross nodes", async () => {
    const key = uniqueKey();
    await using a = await startShardedNode(key);
    await using b = await startShardedNode(key);
    await waitUntil(async () => (await a.io.of("/").adapter.serverCount()) === 2, "both nodes subscribed");

    using alice = await connect(a.url, { transports: ["websocket"] });
    using bob = await connect(b.url);
    using carol = await connect(b.url, { transports: ["websocket"] });
    await alice.emitWithAck("join", "news");
    await bob.emitWithAck("join", "news");
    // A public room has a channel of its own while this node has members in it.
    await waitUntil(async () => (await shardNumSub(a.pub, `${key}#/#news#`)) === 2, "news channel subscribed on both nodes");

    let carolGotNews = false;
    carol.on("msg", () => (carolGotNews = true));
    const toBob = nextEvent(bob, "msg");
    alice.emit("say", "news", "hello", new Uint8Array([1, 2]));
    const [text, bytes] = await toBob;
    expect({ text, bytes: [...new Uint8Array(bytes)] }).toEqual({ text: "hello", bytes: [1, 2] });

    const direct = nextEvent(carol, "direct");
    a.io.to(carol.id!).emit("direct", "to your own room");
    expect(await direct).toEqual(["to your own room"]);
    expect(carolGotNews).toBe(false);

    const everyone = Promise.all([alice, bob, carol].map((s) => nextEvent(s, "all")));
    a.io.emit("all", 1);
    expect(await everyone).toEqual([[1], [1], [1]]);

    const fetched = await a.io.fetchSockets();
    expect(fetched.map((s) => s.id).sort()).toEqual([alice.id!, bob.id!, carol.id!].sort());

    a.io.in(carol.id!).socketsJoin("news");
    await waitUntil(async () => (await b.io.in("news").fetchSockets()).some((s) => s.id === carol.id), "carol joined remotely");
    const carolNews = nextEvent(carol, "news");
    a.io.to("news").emit("news", "second");
    expect(await carolNews).toEqual(["second"]);

    b.io.sockets.on("ping-nodes", (n: number, ack: (reply: string) => void) => ack(`b:${n}`));
    const replies = await new Promise((resolve, reject) =>
      a.io.serverSideEmit("ping-nodes", 7, (err: Error | null, responses: unknown[]) => (err ? reject(err) : resolve(responses))));
    expect(replies).toEqual(["b:7"]);

    for (const [socket, name] of [[alice, "alice"], [bob, "bob"], [carol, "carol"]] as const)
      socket.on("question", (q: string, ack: (reply: string) => void) => ack(`${q}:${name}`));
    const answers = (await a.io.timeout(3_000).emitWithAck("question", "q")) as string[];
    expect(answers.sort()).toEqual(["q:alice", "q:bob", "q:carol"]);

    // The last member here leaving ends that node's room channel.
    await bob.emitWithAck("leave", "news");
    await b.io.in(carol.id!).socketsLeave("news");
    await waitUntil(async () => (await shardNumSub(a.pub, `${key}#/#news#`)) === 1, "b's news channel unsubscribed");
  }, 60_000);
});

describe("a Node socket.io server with createShardedAdapter in the same Redis Cluster", () => {
  test("broadcasts flow both ways, binary included, and Bunsen's fetchSockets and broadcast acks include Node's clients", async () => {
    const key = uniqueKey();
    await using bunsen = await startShardedNode(key);
    const node = Bun.spawn(["node", import.meta.dir + "/fixtures/node-sharded-server.cjs", JSON.stringify(redis.nodes), key], {
      stdin: "pipe", stdout: "pipe", stderr: "inherit", cwd: import.meta.dir + "/../..",
    });
    try {
      const lines = readLines(node.stdout);
      const port = Number(String((await lines.next()).value).split(" ")[1]);
      await waitUntil(async () => (await bunsen.io.of("/").adapter.serverCount()) === 2, "the Node server subscribed");
      using onBunsen = await connect(bunsen.url, { transports: ["websocket"] });
      using onNode = await connect(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
      await Promise.all([onBunsen, onNode].map((s) => s.emitWithAck("join", "mixed")));
      await waitUntil(async () => (await shardNumSub(bunsen.pub, `${key}#/#mixed#`)) === 2, "mixed channel on both servers");

      const toNode = nextEvent(onNode, "msg");
      onBunsen.emit("say", "mixed", "from bunsen", new Uint8Array([9]));
      const [text, bytes] = await toNode;
      expect({ text, bytes: [...new Uint8Array(bytes)] }).toEqual({ text: "from bunsen", bytes: [9] });

      const toBunsen = nextEvent(onBunsen, "msg");
      onNode.emit("say", "mixed", "from node");
      expect(await toBunsen).toEqual(["from node"]);

      const everyone = Promise.all([nextEvent(onBunsen, "all"), nextEvent(onNode, "all")]);
      bunsen.io.emit("all", "x");
      expect(await everyone).toEqual([["x"], ["x"]]);

      const fetched = await bunsen.io.fetchSockets();
      expect(fetched.map((s) => s.id).sort()).toEqual([onBunsen.id!, onNode.id!].sort());

      onBunsen.on("question", (q: string, ack: (a: string) => void) => ack(q + ":bunsen"));
      onNode.on("question", (q: string, ack: (a: string) => void) => ack(q + ":node"));
      expect(((await bunsen.io.timeout(3_000).emitWithAck("question", "b")) as string[]).sort()).toEqual(["b:bunsen", "b:node"]);
    } finally {
      node.kill();
      await node.exited;
    }
  }, 60_000);
});

describe("the ready server with REDIS_ADAPTER=sharded on a Redis Cluster", () => {
  test("two `bun src/main.ts` nodes, configured only by environment, carry the chat flow across nodes", async () => {
    await using db = await createTestDatabase();
    const seed = redis.nodes[1]!; // any node: the others are discovered
    const key = uniqueKey();
    await using cluster = await startReadyCluster(2, {
      REDIS_URL: `redis://${seed.host}:${seed.port}`, REDIS_CLUSTER: "true", REDIS_ADAPTER: "sharded",
      REDIS_KEY: key, DATABASE_URL: db.url,
    });
    const [one, two] = cluster.nodes;
    using ada = await connect(one!.url, { auth: { token: await tokenFor({ sub: "ada" }) }, transports: ["websocket"] });
    using bob = await connect(two!.url, { auth: { token: await tokenFor({ sub: "bob" }) } });
    await ada.emitWithAck("joinRoom", { roomId: "sharded-lobby" });
    await bob.emitWithAck("joinRoom", { roomId: "sharded-lobby" });
    // A join's room channel is subscribed right after the join (as with Node's sharded adapter):
    // wait until both nodes hear it, then every message must arrive.
    const pub = new Cluster(redis.nodes);
    try {
      await waitUntil(async () => (await shardNumSub(pub, `${key}#/#sharded-lobby#`)) === 2, "room channel on both nodes");
    } finally {
      pub.disconnect();
    }
    const next = nextEvent(bob, "roomMessageRecieved");
    ada.emit("roomMessage", { roomId: "sharded-lobby", body: "across shards", tempId: "t-1" });
    const [received] = await next;
    expect(received).toMatchObject({ senderId: "ada", roomId: "sharded-lobby", status: "pending" });
  }, 60_000);
});

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
