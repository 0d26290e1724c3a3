// Connection state recovery is opt-in per namespace: only those namespaces append the offset
// argument, which clients unaware of recovery (Flutter's) would pass to their handlers.
import { expect, test } from "bun:test";
import { connect, nextEvent } from "../support/client.ts";
import { startServer } from "../support/server.ts";

test("only the namespaces listed in connectionStateRecovery.namespaces carry offsets", async () => {
  await using server = await startServer({ connectionStateRecovery: { namespaces: ["/chat"] } }, (io) => io.of("/chat"));
  using main = await connect(server.url, { transports: ["websocket"] });
  using chat = await connect(server.url + "/chat", { transports: ["websocket"] });
  const onMain = nextEvent(main, "news");
  const onChat = nextEvent(chat, "news");
  server.io.emit("news", 1);
  server.io.of("/chat").emit("news", 1);
  expect(await onMain).toEqual([1]);
  const chatArgs = await onChat;
  expect(chatArgs).toHaveLength(2);
  expect(chatArgs[0]).toBe(1);
  expect(typeof chatArgs[1]).toBe("string");
});

test("the ready server's RECOVERY_NAMESPACES turns recovery on for those namespaces only", async () => {
  const { startApp, tokenFor } = await import("../support/app.ts");
  await using server = await startApp({ env: { RECOVERY_NAMESPACES: "/orders" } });
  const token = await tokenFor({ sub: "u1" });
  using orders = await connect(server.url + "/orders", { auth: { token }, transports: ["websocket"] });
  using main = await connect(server.url, { auth: { token }, transports: ["websocket"] });
  const onOrders = nextEvent(orders, "order_status_changed");
  const onMain = nextEvent(main, "order_status_changed");
  server.app.io.of("/orders").to("user:u1").emit("order_status_changed", { id: 7 });
  server.app.io.of("/").to("user:u1").emit("order_status_changed", { id: 7 });
  expect((await onOrders).length).toBe(2);
  expect(await onMain).toEqual([{ id: 7 }]);
});
