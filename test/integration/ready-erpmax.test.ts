// The ERPMax clients as written: `io('…/ws', {path: '/socket.io'})`, namespaces /ws/provisioning and
// /ws/notifications, the proxy-prefixed endpoint /ws/socket.io, and the `ping` → `pong` keepalive.
import { expect, test } from "bun:test";
import { startApp, tokenFor } from "../support/app.ts";
import { client, nextEvent } from "../support/client.ts";

const API_KEY = "erp-key";

async function api(url: string, path: string, body: unknown) {
  const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

test("ERPMax: /ws connects on path /socket.io, ping is answered with pong, provisioning and notifications arrive on /ws/…", async () => {
  await using server = await startApp({ embedded: true, env: { API_KEY } });
  const token = await tokenFor({ sub: "u-1", tenant_id: "t-1" });

  using socket = client(server.url + "/ws", { path: "/socket.io", auth: { token } });
  expect(await nextEvent(socket, "connected")).toEqual([{ message: "connected", user_id: "u-1", tenant_id: "t-1" }]);
  const pong = nextEvent(socket, "pong");
  socket.emit("ping");
  expect(await pong).toEqual([]);

  using provisioningSocket = client(server.url + "/ws/provisioning", { path: "/socket.io", auth: { token } });
  await nextEvent(provisioningSocket, "connected");
  const update = nextEvent(provisioningSocket, "status:update");
  const sent = await api(server.url, "/api/tenants/t-1/emit", { namespace: "/ws/provisioning", event: "status:update", data: { tenant_id: "t-1", status: "installing", progress: 40, message: "Installing apps" } });
  expect(sent.status).toBe(202);
  expect(await update).toEqual([{ tenant_id: "t-1", status: "installing", progress: 40, message: "Installing apps" }]);

  using notificationsSocket = client(server.url + "/ws/notifications", { path: "/socket.io", auth: { token } });
  await nextEvent(notificationsSocket, "connected");
  const fresh = nextEvent(notificationsSocket, "notification:new");
  const created = await api(server.url, "/api/notifications", { userId: "u-1", type: "info", title: "Site ready", body: "erp.example.com is live" });
  expect(created.status).toBe(201);
  const [data] = await fresh;
  expect(data).toMatchObject({ id: created.body.notification.id, title: "Site ready", message: "erp.example.com is live", type: "info" });
  expect(typeof data.created_at).toBe("string");
  const confirmed = nextEvent(notificationsSocket, "notification_read_confirmed");
  notificationsSocket.emit("notification_read", { notification_id: data.id });
  expect((await confirmed)[0]).toMatchObject({ notification_id: data.id });
});

test("ERPMax: the documented endpoint /ws/socket.io serves the root namespace over WebSocket and polling", async () => {
  await using server = await startApp({ embedded: true });
  const token = await tokenFor({ sub: "u-2" });
  for (const transports of [["websocket"], ["polling"]]) {
    using socket = client(server.url, { path: "/ws/socket.io", transports, auth: { token } });
    expect(await nextEvent(socket, "connected")).toEqual([{ message: "connected", user_id: "u-2", tenant_id: null }]);
  }
});
