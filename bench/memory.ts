// Memory per idle connection, from inside the server: JS heap and object counts (bun:jsc
// heapStats after a full GC) and RSS, before and after N idle WebSocket connections opened by a
// separate client process. Usage: bun bench/memory.ts [connections=3000]. Figures: bench/ANALYSIS.md.
import { heapStats } from "bun:jsc";
import { Server } from "../src/index.ts";

if (Bun.argv[2] === "--client") await client(Bun.argv[3]!, Number(Bun.argv[4]));
else await server(Number(Bun.argv[2] ?? 3000));

async function server(connections: number): Promise<void> {
  const io = new Server();
  io.on("connection", (socket) => {
    socket.on("echo", (payload: unknown, ack?: (p: unknown) => void) => ack?.(payload));
  });
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" }, () => {
    Bun.gc(true);
    const stats = heapStats();
    return Response.json({ heap: stats.heapSize, rss: process.memoryUsage().rss, counts: stats.objectTypeCounts });
  });
  const url = `http://127.0.0.1:${bun.port}`;
  const child = Bun.spawn([process.execPath, import.meta.path, "--client", url, String(connections)], { stdout: "inherit", stderr: "inherit" });
  await child.exited;
  await io.close();
  process.exit(child.exitCode ?? 1);
}

async function client(url: string, connections: number): Promise<void> {
  const stats = async () => (await fetch(url + "/stats")).json() as Promise<{ heap: number; rss: number; counts: Record<string, number> }>;
  const open = async () => {
    const ws = new WebSocket(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
    await new Promise<void>((resolve, reject) => {
      ws.onerror = () => reject(new Error("WebSocket failed"));
      ws.onmessage = (e) => {
        const frame = String(e.data);
        if (frame[0] === "0") ws.send("40");
        else if (frame.startsWith("40")) resolve();
      };
    });
    ws.onmessage = (e) => { if (e.data === "2") ws.send("3"); };
    return ws;
  };
  for (let i = 0; i < 100; i++) (await open()).close(); // warm-up: JIT and lazily loaded code
  await Bun.sleep(500);
  const before = await stats();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < connections; i++) sockets.push(await open());
  await Bun.sleep(500);
  const after = await stats();
  const perConnection = (a: number, b: number) => Math.round((a - b) / connections);
  const objects = Object.entries(after.counts)
    .map(([type, count]) => [type, (count - (before.counts[type] ?? 0)) / connections] as const)
    .filter(([, count]) => count >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([type, count]) => `${type} ${count.toFixed(1)}`);
  console.log(JSON.stringify({ connections, heapBytesPerConnection: perConnection(after.heap, before.heap), rssBytesPerConnection: perConnection(after.rss, before.rss), objectsPerConnection: objects }));
  for (const ws of sockets) ws.close();
}
