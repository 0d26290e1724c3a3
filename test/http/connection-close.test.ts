// `Connection: close` answered the HTTP way (RFC 9112 §9.6): node-fetch sends it on every request,
// and Node's keep-alive agent (the default since Node 19) reuses a socket unless the response says
// `Connection: close`. Run in a real `node` process, as a worker or a Node client would be.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApp, type TestApp } from "../support/app.ts";
import { API_KEY, userSocket, record } from "./helpers.ts";

// One keep-alive agent for every request, node-fetch's way: `connection: close` on each.
const NODE_SCRIPT = `
const http = require("node:http");
const [base, apiKey] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, agent, headers: { connection: "close", ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => resolve({ status: res.statusCode, connection: res.headers.connection, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
(async () => {
  const results = [];
  const open = await request("GET", "/socket.io/?EIO=4&transport=polling");
  results.push(open);
  const sid = JSON.parse(open.body.slice(1)).sid;
  const q = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
  results.push(await request("POST", q, "40", { "content-type": "text/plain;charset=UTF-8" }));
  results.push(await request("GET", q));
  for (let i = 0; i < 3; i++) {
    results.push(await request("POST", "/api/emit", JSON.stringify({ event: "job_done", data: { n: i }, to: { users: ["cc-user"] } }),
      { "content-type": "application/json", authorization: "Bearer " + apiKey }));
  }
  results.push(await request("GET", "/healthz"));
  process.stdout.write(JSON.stringify(results));
})().catch((err) => { process.stdout.write(JSON.stringify({ error: String(err && err.code || err) })); });
`;

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ env: { API_KEY } });
});
afterAll(async () => {
  await server[Symbol.asyncDispose]();
});

describe("Connection: close", () => {
  test("polling and /api/emit answer it with Connection: close, so Node's keep-alive agent never reuses a closed socket", async () => {
    using socket = await userSocket(server.url, "cc-user");
    const events = record(socket);
    const child = Bun.spawn(["node", "-e", NODE_SCRIPT, server.url, API_KEY], { stdout: "pipe", stderr: "inherit", env: {} as Record<string, string> });
    const output = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const results = JSON.parse(output);
    expect(results.error).toBeUndefined();
    expect(results.map((r: { status: number; connection: string }) => [r.status, r.connection])).toEqual([
      [200, "close"], [200, "close"], [200, "close"], [202, "close"], [202, "close"], [202, "close"], [200, "close"],
    ]);
    expect(results[0].body).toStartWith("0{");
    // No token: the app refuses the namespace with a CONNECT_ERROR, which is still an answer on this socket.
    expect(results[2].body).toStartWith("44{");
    await events.until("job_done", 3);
    expect(events.named("job_done")).toEqual([[{ n: 0 }], [{ n: 1 }], [{ n: 2 }]]);
  });

  test("a keep-alive request keeps its connection", async () => {
    const res = await fetch(server.url + "/healthz");
    expect(res.headers.get("connection")).not.toBe("close");
    await res.text();
  });
});
