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
