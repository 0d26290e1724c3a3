// Bunsen nodes sharing a real Redis, for cluster tests: each node has its own pub/sub connections and
// every cluster its own channel prefix, so concurrent tests never hear each other.
import Redis from "ioredis";
import { Server, type ServerOptions } from "../../src/index.ts";
import { createRedisAdapter, type RedisAdapterFactory } from "../../src/rooms/redis.ts";
import { redisUrl } from "../support/services.ts";

export interface Node {
  io: Server;
  url: string;
  pub: Redis;
  sub: Redis;
  adapter: RedisAdapterFactory;
}

export interface Cluster extends AsyncDisposable {
  nodes: Node[];
  key: string;
}

export function uniqueKey(): string {
  return "bt" + crypto.randomUUID().slice(0, 8);
}

/** Starts a node; resolves once its subscriptions are active (a barrier command on the sub connection). */
export async function startNode(key: string, options: ServerOptions = {}, setup?: (io: Server) => void, url = redisUrl): Promise<Node> {
  const pub = new Redis(url);
  const sub = new Redis(url);
  pub.on("error", () => {});
  sub.on("error", () => {});
  const adapter = createRedisAdapter({ pub, sub, key, requestsTimeoutMs: 2000 });
  const io = new Server({ ...options, adapter });
  setup?.(io);
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
  // Commands on one connection run in order: once this resolves, the adapters' subscriptions are active.
  await Promise.all([sub.subscribe(key + "-barrier"), pub.ping()]); // pub ready: publishes are not dropped
  return { io, url: `http://127.0.0.1:${bun.port}`, pub, sub, adapter };
}

export async function stopNode(node: Node): Promise<void> {
  await node.io.close();
  node.pub.disconnect();
  node.sub.disconnect();
}

export async function startCluster(count: number, options: ServerOptions = {}, setup?: (io: Server) => void): Promise<Cluster> {
  const key = uniqueKey();
  const nodes = await Promise.all(Array.from({ length: count }, () => startNode(key, options, setup)));
  return {
    nodes, key,
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map(stopNode));
    },
  };
}
