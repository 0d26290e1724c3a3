// Soak run (issue 7): steady load with connects and disconnects churning, memory sampled after GC.
// Standalone: bun bench/soak.ts  (SOAK_SECONDS=600 SOAK_CLIENTS=200 SOAK_RATE=5 events/s/client,
// SOAK_CHURN=0.05 of the clients replaced per second; SOAK_OUT=bench/SOAK.md). Not a test.
import { writeFileSync } from "node:fs";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { Server, type Socket } from "../src/index.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 200);
const RATE = Number(process.env.SOAK_RATE ?? 5);
const CHURN = Number(process.env.SOAK_CHURN ?? 0.05);
const OUT = process.env.SOAK_OUT ?? "bench/SOAK.md";
const ROOMS = 10;

const io = new Server({ pingInterval: 10_000, pingTimeout: 5_000 });
io.on("connection", (socket: Socket) => {
  const room = `room-${Number(socket.handshake.auth.n ?? 0) % ROOMS}`;
  socket.join(room);
  socket.on("echo", (value: unknown, ack: unknown) => { if (typeof ack === "function") ack(value); });
  socket.on("say", (text: unknown) => { socket.to(room).emit("said", text); });
});
const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
const url = `http://127.0.0.1:${bun.port}`;

const stats = { connects: 0, disconnects: 0, acks: 0, ackTimeouts: 0, acksCutByDisconnect: 0, broadcastsIn: 0, errors: 0 };
const clients: ClientSocket[] = [];
let next = 0;

function open(): ClientSocket {
  const n = next++;
  const socket = ioc(url, { forceNew: true, reconnection: false, auth: { n }, transports: n % 4 === 0 ? ["polling"] : ["websocket"] });
  socket.on("connect", () => stats.connects++);
  socket.on("connect_error", () => stats.errors++);
  socket.on("said", () => stats.broadcastsIn++);
  return socket;
}

for (let i = 0; i < CLIENTS; i++) clients.push(open());

const samples: { s: number; rssMb: number; heapMb: number; sessions: number }[] = [];
const started = performance.now();
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

const load = setInterval(() => {
  for (const socket of clients) {
    if (!socket.connected) continue;
    if (Math.random() < RATE / 10) {
      // socket.io-client answers pending acks with "socket has been disconnected" when we churn it.
      socket.timeout(5_000).emit("echo", Date.now(), (err: Error | null) => {
        if (err === null) stats.acks++;
        else if (err.message.includes("disconnected")) stats.acksCutByDisconnect++;
        else stats.ackTimeouts++;
      });
    }
    if (Math.random() < RATE / 100) socket.emit("say", "hello");
  }
}, 100);

const churn = setInterval(() => {
  const count = Math.max(1, Math.round(CLIENTS * CHURN));
  for (let i = 0; i < count; i++) {
    const index = Math.floor(Math.random() * clients.length);
    clients[index]!.disconnect();
    stats.disconnects++;
    clients[index] = open();
  }
}, 1_000);

const sampler = setInterval(() => {
  Bun.gc(true);
  const usage = process.memoryUsage();
  const s = Math.round((performance.now() - started) / 1000);
  samples.push({ s, rssMb: mb(usage.rss), heapMb: mb(usage.heapUsed), sessions: io.engine.connectionCount() });
  console.log(JSON.stringify({ ...samples.at(-1), ...stats }));
}, Math.max(1_000, (SECONDS * 1000) / 30));

await Bun.sleep(SECONDS * 1000);
clearInterval(load);
clearInterval(churn);
clearInterval(sampler);
for (const socket of clients) socket.disconnect();
await io.close();

const first = samples[Math.min(1, samples.length - 1)]!; // after warm-up
const last = samples.at(-1)!;
const report = `# Soak run

\`bun bench/soak.ts\` — ${SECONDS} s, ${CLIENTS} clients (¼ long-polling), ~${RATE} echo/s each, ${Math.round(CHURN * 100)} % of clients replaced per second, room broadcasts.
Run on ${new Date().toISOString()}, Bun ${Bun.version}.

| figure | value |
|---|---|
| connects / disconnects | ${stats.connects} / ${stats.disconnects} |
| echo acks / ack timeouts (no answer within 5 s) | ${stats.acks} / ${stats.ackTimeouts} |
| pending acks cut when a client was churned (socket.io-client: "socket has been disconnected") | ${stats.acksCutByDisconnect} |
| broadcasts received | ${stats.broadcastsIn} |
| connect errors | ${stats.errors} |
| RSS after GC, after warm-up → end | ${first.rssMb} MB → ${last.rssMb} MB |
| heap used after GC, after warm-up → end | ${first.heapMb} MB → ${last.heapMb} MB |

| t (s) | RSS (MB) | heap (MB) | sessions |
|---|---|---|---|
${samples.map((x) => `| ${x.s} | ${x.rssMb} | ${x.heapMb} | ${x.sessions} |`).join("\n")}
`;
writeFileSync(OUT, report);
console.log(`soak: written to ${OUT}`);
process.exit(0);
