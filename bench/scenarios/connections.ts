// Scenario "connections": connect rate, handshake latency, and server memory per idle connection.
// Handshake latency = new WebSocket → Socket.IO CONNECT reply ("40{…}"): what a client waits for.
import { CpuWindow, readRssBytes } from "../lib/proc.ts";
import { Samples, round1, round2 } from "../lib/stats.ts";
import { WsClient } from "../lib/client.ts";
import { mapLimit, sleep, type ScenarioContext, type ScenarioResult } from "./context.ts";

export async function connections(ctx: ScenarioContext): Promise<ScenarioResult> {
  const connCount = ctx.isQuick ? 500 : 2000;
  const concurrency = 64; // handshakes in flight: enough to keep the server busy, not a SYN flood
  const settleMs = ctx.isQuick ? 1000 : 2000;
  const clients: WsClient[] = [];
  try {
    // Warm-up: load the server's code paths (JIT, lazy modules) before the baseline.
    const warm = await mapLimit(range(100), concurrency, () => WsClient.connect(ctx.url));
    for (const c of warm) c.close();
    await sleep(settleMs);
    const rssBeforeBytes = readRssBytes(ctx.serverPid);

    const handshake = new Samples();
    let failedCount = 0;
    const cpu = new CpuWindow(ctx.serverPid);
    await mapLimit(range(connCount), concurrency, async (i) => {
      const start = performance.now();
      try {
        clients.push(await WsClient.connect(ctx.url));
        handshake.add(performance.now() - start);
      } catch {
        failedCount++;
      }
      if (i % 250 === 0) ctx.progress(`${clients.length}/${connCount} connected`);
    });
    const window = cpu.stop();

    ctx.progress(`${clients.length} idle, settling ${settleMs} ms`);
    await sleep(settleMs);
    const rssAfterBytes = readRssBytes(ctx.serverPid);
    const openCount = clients.filter((c) => c.isOpen).length;

    return {
      connCount,
      connectedCount: clients.length,
      failedCount,
      stillOpenAfterSettleCount: openCount,
      connectPerS: round1((clients.length / window.wallMs) * 1000),
      handshakeMs: handshake.summary(),
      serverCpuUsPerConn: round1(window.serverCpuUs / Math.max(1, clients.length)),
      serverUtil: round2(window.serverUtil),
      loadgenUtil: round2(window.loadgenUtil),
      otherLoad: round2(window.otherLoad),
      rssBeforeMiB: round1(rssBeforeBytes / 2 ** 20),
      rssAfterMiB: round1(rssAfterBytes / 2 ** 20),
      rssPerConnKiB: round1((rssAfterBytes - rssBeforeBytes) / 1024 / Math.max(1, clients.length)),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
