// Issue 5's done-when test for the ready server: three `bun src/main.ts` processes share Redis and
// one Postgres database, real socket.io-clients are spread over them. Room broadcasts, user and
// tenant emits, HTTP-API emits from any node and cross-node fetchSockets reach every node. The
// cluster's Redis channels and keys carry a unique REDIS_KEY: tests sharing the Redis stay apart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { tokenFor } from "../support/app.ts";
import { connect, type ClientSocket } from "../support/client.ts";
import { createTestDatabase } from "../support/services.ts";
import { API_KEY, call, record } from "../http/helpers.ts";
import { startReadyCluster, type ReadyCluster, type ReadyNode } from "./ready-nodes.ts";

let db: { url: string } & AsyncDisposable;
let cluster: ReadyCluster;
let n1: ReadyNode, n2: ReadyNode, n3: ReadyNode;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const redisKey = `bunsen-ready-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  cluster = await startReadyCluster(3, { DATABASE_URL: db.url, API_KEY, REDIS_KEY: redisKey });
  [n1, n2, n3] = cluster.nodes as [ReadyNode, ReadyNode, ReadyNode];
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  try {
    await cluster?.[Symbol.asyncDispose]();
  } finally {
    await db?.[Symbol.asyncDispose]();
  }
}, 30_000);

async function user(node: ReadyNode, sub: string, tenant?: string, nsp = "/"): Promise<ClientSocket> {
  const token = await tokenFor({ sub, name: sub, ...(tenant ? { tenant_id: tenant } : {}) });
  const socket = await connect(node.url + nsp, { auth: { token }, transports: ["websocket"] });
  sockets.push(socket);
  return socket;
}

describe("three ready-server processes on one Redis", () => {
  test("a room broadcast reaches members on every node; joinRoom's connectedUsers counts the cluster", async () => {
    const alice = await user(n1, "rc-alice");
    const bob = await user(n2, "rc-bob");
    const carol = await user(n3, "rc-carol");
    const joins = [];
    for (const socket of [alice, bob, carol]) joins.push(await socket.timeout(10_000).emitWithAck("joinRoom", { roomId: "rc-lobby" }));
    expect(joins.map((j) => j.data.connectedUsers)).toEqual([1, 2, 3]);

    const [b, c] = [record(bob), record(carol)];
    const ack = await alice.timeout(10_000).emitWithAck("roomMessage", { roomId: "rc-lobby", body: "hello cluster", tempId: "rc-1" });
    expect(ack.ok).toBe(true);
    await Promise.all([b.until("roomMessageConfirmed"), c.until("roomMessageConfirmed")]);
    for (const r of [b, c]) {
      expect(r.named("roomMessageRecieved")).toEqual([[expect.objectContaining({ tempId: "rc-1", roomId: "rc-lobby", body: "hello cluster", status: "pending" })]]);
      expect(r.named("roomMessageConfirmed")).toEqual([[expect.objectContaining({ tempId: "rc-1", id: ack.data.id, status: "confirmed" })]]);
    }
  }, 30_000);

  test("user and tenant emits sent to node 1 reach sockets on nodes 2 and 3; recipients counts the cluster", async () => {
    const dave2 = await user(n2, "rc-dave", "rc-acme");
    const dave3 = await user(n3, "rc-dave", "rc-acme");
    const erin3 = await user(n3, "rc-erin", "rc-acme");
    const other = await user(n2, "rc-frank", "rc-other");
    const [d2, d3, e3, o] = [dave2, dave3, erin3, other].map(record) as [ReturnType<typeof record>, ReturnType<typeof record>, ReturnType<typeof record>, ReturnType<typeof record>];

    const toUser = await call(n1.url, "/api/users/rc-dave/emit", { body: { event: "order:update", data: { id: 7 } } });
    expect(toUser).toMatchObject({ status: 202, body: { recipients: 2 } });
    const toTenant = await call(n1.url, "/api/tenants/rc-acme/emit", { body: { event: "tenant:news", data: { v: 1 } } });
    expect(toTenant).toMatchObject({ status: 202, body: { recipients: 3 } });
    await Promise.all([d2.until("order:update"), d3.until("order:update"), d2.until("tenant:news"), d3.until("tenant:news"), e3.until("tenant:news")]);
    expect(d2.named("order:update")).toEqual([[{ id: 7 }]]);
    expect(d3.named("order:update")).toEqual([[{ id: 7 }]]);
    expect(e3.named("order:update")).toEqual([]);

    // Nothing for the other tenant: a sentinel to it arrives after anything sent before.
    await call(n1.url, "/api/users/rc-frank/emit", { body: { event: "sentinel" } });
    await o.until("sentinel");
    expect(o.named("order:update")).toEqual([]);
    expect(o.named("tenant:news")).toEqual([]);
  }, 30_000);

  test("POST /api/emit from any node reaches rooms, users and tenants on all of them", async () => {
    const g1 = record(await user(n1, "rc-gina", "rc-zeta"));
    const h2 = record(await user(n2, "rc-hank", "rc-zeta"));
    const i3 = record(await user(n3, "rc-ivy"));
    for (const [i, node] of [n1, n2, n3].entries()) {
      const answer = await call(node.url, "/api/emit", {
        body: { event: "broadcast", data: { from: i + 1 }, to: { tenants: ["rc-zeta"], users: ["rc-ivy"] } },
      });
      expect(answer).toMatchObject({ status: 202, body: { recipients: 3 } });
    }
    await Promise.all([g1, h2, i3].map((r) => r.until("broadcast", 3)));
    for (const r of [g1, h2, i3]) expect(r.named("broadcast")).toEqual([[{ from: 1 }], [{ from: 2 }], [{ from: 3 }]]);
  }, 30_000);

  test("fetchSockets across nodes: a room's connected users and the API's recipients see every node", async () => {
    const members = [await user(n1, "rc-m1"), await user(n2, "rc-m2"), await user(n3, "rc-m3"), await user(n3, "rc-m1")];
    for (const socket of members.slice(0, 3)) await socket.timeout(10_000).emitWithAck("joinRoom", { roomId: "rc-fetch" });
    // The same user's second socket does not add a user.
    const last = await members[3]!.timeout(10_000).emitWithAck("joinRoom", { roomId: "rc-fetch" });
    expect(last.data.connectedUsers).toBe(3);
    const toRoom = await call(n2.url, "/api/rooms/rc-fetch/emit", { body: { event: "ping" } });
    expect(toRoom).toMatchObject({ status: 202, body: { recipients: 4 } });
    // A member leaving on node 2 is seen from node 1.
    members[1]!.disconnect();
    const seen = await call(n1.url, "/api/rooms/rc-fetch/emit", { body: { event: "ping" } });
    expect(seen.body.recipients).toBe(3);
  }, 30_000);
});

describe("conversations registered over HTTP, across nodes", () => {
  // The NestJS chat client's send (seed 004's chatSocketService.sendMessage).
  const sendMessage = (socket: ClientSocket, conversationId: string, content: string, mediaUrl?: string) =>
    socket.emit("message", { conversationId, content, mediaUrl });

  test("a /chat socket joins its conversations on any node; participants added or removed on one node move sockets on the others", async () => {
    const created = await call(n1.url, "/api/conversations", { body: { id: "rc-conv", participants: ["rc-ann", "rc-ben"] } });
    expect(created.status).toBe(201);
    const cat = record(await user(n3, "rc-cat", undefined, "/chat"));
    const annSocket = await user(n1, "rc-ann", undefined, "/chat");
    const benSocket = await user(n2, "rc-ben", undefined, "/chat");
    const [ann, ben] = [record(annSocket), record(benSocket)];

    sendMessage(annSocket, "rc-conv", "hi ben", "https://cdn.example.com/a.png");
    await ben.until("message");
    expect(ben.named("message")).toEqual([[expect.objectContaining({ conversationId: "rc-conv", content: "hi ben", mediaUrl: "https://cdn.example.com/a.png", senderId: "rc-ann" })]]);

    // Added through node 2: cat's socket on node 3 is in the room now, without reconnecting.
    expect((await call(n2.url, "/api/conversations/rc-conv/participants", { body: { participants: ["rc-cat"] } })).body.added).toEqual(["rc-cat"]);
    // Removed through node 3: ben's socket on node 2 leaves it.
    expect((await call(n3.url, "/api/conversations/rc-conv/participants/rc-ben", { method: "DELETE" })).body.removed).toEqual(["rc-ben"]);
    sendMessage(annSocket, "rc-conv", "hi cat");
    await cat.until("message");
    expect(cat.named("message")).toEqual([[expect.objectContaining({ conversationId: "rc-conv", content: "hi cat" })]]);
    await ann.until("message", 2);
    await call(n1.url, "/api/users/rc-ben/emit", { body: { namespace: "/chat", event: "sentinel" } });
    await ben.until("sentinel");
    expect(ben.named("message")).toHaveLength(1);
    sendMessage(benSocket, "rc-conv", "am I out?");
    await ben.until("exception");
    expect(ben.named("exception")).toEqual([[{ status: "error", message: "join the room before posting to it" }]]);
  }, 30_000);
});

describe("throttled API emits coalesce cluster-wide", () => {
  const liked = (key: string, count: number, ms: number, extra: Record<string, unknown> = {}) => ({
    event: "post_liked", data: { post_id: key, like_count: count }, to: { users: [`${key}-viewer`] }, throttle: { key, ms }, ...extra,
  });
  const pendingKeys = async (node: ReadyNode) => (await call(node.url, "/api/events/pending")).body.events.map((e: { key: string }) => e.key);

  test("one key submitted to three nodes is one window: every node lists it, its newest event is sent once", async () => {
    const viewer = record(await user(n2, "rc-burst-viewer"));
    const answers = [];
    for (const [i, node] of [n1, n2, n3].entries()) answers.push(await call(node.url, "/api/emit", { body: liked("rc-burst", i + 1, 1000) }));
    expect(answers.map((a) => [a.status, a.body.throttled.isReplaced])).toEqual([[202, false], [202, true], [202, true]]);
    expect(new Set(answers.map((a) => a.body.throttled.dueAt)).size).toBe(1);
    for (const node of [n1, n2, n3]) {
      const pending = await call(node.url, "/api/events/pending");
      expect(pending.body.events.filter((e: { key: string }) => e.key === "rc-burst")).toEqual([
        expect.objectContaining({ key: "rc-burst", event: "post_liked", data: { post_id: "rc-burst", like_count: 3 }, coalescedCount: 3 }),
      ]);
    }
    await viewer.until("post_liked");
    // Sent after the window closed: a second post_liked would have come before it.
    await call(n3.url, "/api/users/rc-burst-viewer/emit", { body: { event: "sentinel" } });
    await viewer.until("sentinel");
    expect(viewer.named("post_liked")).toEqual([[{ post_id: "rc-burst", like_count: 3 }]]);
    expect(await pendingKeys(n1)).not.toContain("rc-burst");
  }, 30_000);

  test("POST /api/events/flush on another node sends the window node 1 owns; force on node 3 supersedes one", async () => {
    const viewer = record(await user(n3, "rc-flush-viewer"));
    await call(n1.url, "/api/emit", { body: liked("rc-flush", 1, 600_000) });
    await call(n3.url, "/api/emit", { body: liked("rc-flush", 2, 600_000) });
    const flushed = await call(n2.url, "/api/events/flush", { method: "POST" });
    expect(flushed).toMatchObject({ status: 200, body: { flushed: 1 } });
    await viewer.until("post_liked");
    expect(viewer.named("post_liked")).toEqual([[{ post_id: "rc-flush", like_count: 2 }]]);
    for (const node of [n1, n2, n3]) expect(await pendingKeys(node)).not.toContain("rc-flush");

    const forcedViewer = record(await user(n1, "rc-force-viewer"));
    await call(n1.url, "/api/emit", { body: liked("rc-force", 1, 600_000) });
    const forced = await call(n3.url, "/api/emit", { body: liked("rc-force", 2, 600_000, { force: true }) });
    expect(forced).toMatchObject({ status: 202, body: { recipients: 1 } });
    await forcedViewer.until("post_liked");
    expect(forcedViewer.named("post_liked")).toEqual([[{ post_id: "rc-force", like_count: 2 }]]);
    expect(await pendingKeys(n2)).not.toContain("rc-force");
  }, 30_000);
});

describe("stats across the cluster", () => {
  test("/api/stats and the /admin feed add every node's totals to the node's own", async () => {
    const before = (await call(n1.url, "/api/stats")).body;
    expect(before.cluster).toMatchObject({ isComplete: true });
    expect(before.cluster.nodes.map((n: { nodeId: string }) => n.nodeId).sort()).toEqual(["node1", "node2", "node3"]);
    await user(n2, "rc-stats-a");
    await user(n3, "rc-stats-b");
    await user(n3, "rc-stats-c");
    const after = (await call(n1.url, "/api/stats")).body;
    expect(after.nodeId).toBe("node1");
    expect(after.sockets).toBe(before.sockets);
    expect(after.cluster.sockets).toBe(before.cluster.sockets + 3);
    expect(after.cluster.users).toBe(before.cluster.users + 3);
    const byNode = (body: any, id: string) => body.cluster.nodes.find((n: { nodeId: string }) => n.nodeId === id);
    expect(byNode(after, "node3").sockets).toBe(byNode(before, "node3").sockets + 2);
    expect(after.cluster.sockets).toBe(after.cluster.nodes.reduce((t: number, n: { sockets: number }) => t + n.sockets, 0));

    const admin = await connect(n2.url + "/admin", { auth: { token: await tokenFor({ sub: "rc-root", roles: ["admin"] }) }, transports: ["websocket"] });
    sockets.push(admin);
    const [fed] = await new Promise<any[]>((resolve) => admin.once("stats", (...args: any[]) => resolve(args)));
    expect(fed.nodeId).toBe("node2");
    expect(fed.cluster).toMatchObject({ isComplete: true, sockets: after.cluster.sockets + 1 });
    const asked = await admin.timeout(10_000).emitWithAck("stats");
    expect(asked.data.cluster.nodes).toHaveLength(3);
  }, 30_000);
});

describe("presence across the cluster", () => {
  test("a user is online while a socket on any node is; offline is announced once, after the last one", async () => {
    const watcher = await user(n2, "rc-watcher", "rc-pres");
    const w = record(watcher);
    const first = await user(n1, "rc-pat", "rc-pres");
    await w.until("user:online");
    const second = await user(n3, "rc-pat", "rc-pres");
    const ask = async () => (await watcher.timeout(10_000).emitWithAck("presence:get", { userIds: ["rc-pat"] })).data["rc-pat"];
    expect(await ask()).toMatchObject({ online: true });

    // Node 1 has no socket left for the user, node 3 has one: presence:get (asked on node 2) says online.
    first.disconnect();
    expect(await ask()).toMatchObject({ online: true });
    second.disconnect();
    await w.until("user:offline");
    // Both nodes' grace periods end about together, each finds no socket in the cluster: each may
    // announce (a known duplicate); what matters is that it is the same user, offline.
    expect(w.named("user:offline")[0]).toEqual([expect.objectContaining({ userId: "rc-pat", lastSeen: expect.any(String) })]);
    // Node 2 never held the user: its lastSeen comes from Postgres, written behind by the announcing node.
    expect(await ask()).toMatchObject({ online: false });
  }, 30_000);
});
