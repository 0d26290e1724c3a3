// Redis unreachable from one node (a TCP proxy in front of Redis is cut, Redis itself keeps running
// for everyone else): the node keeps serving its own sockets, and cross-node traffic resumes.
import { expect, test } from "bun:test";
import type { Server } from "../../src/index.ts";
import { connect, nextEvent } from "../support/client.ts";
import { redisUrl } from "../support/services.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { startNode, stopNode, uniqueKey } from "./cluster.ts";

function handlers(io: Server): void {
  io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      socket.join(room);
      ack();
    });
    socket.on("say", (room: string, ...args: unknown[]) => socket.to(room).emit("msg", ...args));
  });
}

test("local traffic continues while Redis is unreachable, and cross-node traffic resumes when it is back", async () => {
  const target = new URL(redisUrl);
  await using proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 6379) });
  const key = uniqueKey();
  const a = await startNode(key, {}, handlers, `redis://127.0.0.1:${proxy.port}`);
  const b = await startNode(key, {}, handlers);
  try {
    using alice = await connect(a.url);
    using ann = await connect(a.url);
    using bob = await connect(b.url);
    await Promise.all([alice, ann, bob].map((s) => s.emitWithAck("join", "r")));
    const crossed = nextEvent(alice, "msg");
    bob.emit("say", "r", "before");
    expect(await crossed).toEqual(["before"]);

    const isDown = Promise.all([nextEvent(a.pub, "reconnecting"), nextEvent(a.sub, "reconnecting")]);
    proxy.setMode("reset");
    await isDown;
    expect(a.adapter.isRedisReady()).toBe(false);
    const local = nextEvent(ann, "msg");
    alice.emit("say", "r", "during");
    expect(await local).toEqual(["during"]);
    expect((await a.io.fetchSockets()).length).toBe(2); // no waiting on unreachable peers

    const isBack = Promise.all([nextEvent(a.pub, "ready"), nextEvent(a.sub, "ready")]);
    proxy.setMode("up");
    await isBack;
    await a.sub.subscribe(key + "-barrier"); // after ioredis' resubscriptions on this connection
    expect(a.adapter.isRedisReady()).toBe(true);
    const fromB = nextEvent(alice, "msg");
    bob.emit("say", "r", "after");
    expect(await fromB).toEqual(["after"]);
    const fromA = nextEvent(bob, "msg");
    alice.emit("say", "r", "after too");
    expect(await fromA).toEqual(["after too"]);
  } finally {
    await Promise.all([stopNode(a), stopNode(b)]);
  }
});
