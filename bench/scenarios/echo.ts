// Scenarios "echo-rate" and "echo-saturated": emit("echo", payload, ack) → ack(payload).
// The send time travels inside the payload, so an ack needs no lookup: latency = now − payload.t.
import { CpuWindow } from "../lib/proc.ts";
import { Samples, round1, round2 } from "../lib/stats.ts";
import { WsClient } from "../lib/client.ts";
import { mapLimit, sleep, waitUntil, type ScenarioContext, type ScenarioResult } from "./context.ts";

const CLIENT_COUNT = 50;
const PAD = "x".repeat(64); // ~100-byte payload: a typical small chat/RPC message

/** 42<id>["echo",{"t":<ms>,"pad":"…"}] without JSON.stringify per message. */
const encodeEcho = (t: number) => `["echo",{"t":${t},"pad":"${PAD}"}]`;

/** Reads t back out of 43<id>[{"t":<ms>,…}]. */
function sentAtOf(frame: string): number {
  const start = frame.indexOf('"t":') + 4;
  return Number.parseFloat(frame.slice(start, frame.indexOf(",", start)));
}

async function connectClients(ctx: ScenarioContext): Promise<WsClient[]> {
  return mapLimit(Array.from({ length: CLIENT_COUNT }), 16, () => WsClient.connect(ctx.url));
}

/** Fixed (open-loop) rate: latency as users feel it when the server is not saturated. */
export async function echoRate(ctx: ScenarioContext): Promise<ScenarioResult> {
  const ratePerS = 2000;
  const warmupMs = 1000;
  const measureMs = ctx.isQuick ? 3000 : 10_000;
  const clients = await connectClients(ctx);
  try {
    const latency = new Samples();
    let measureStart = Infinity;
    let ackedCount = 0;
    for (const c of clients)
      c.onAck = (_id, frame) => {
        const sentAt = sentAtOf(frame);
        if (sentAt >= measureStart) {
          latency.add(performance.now() - sentAt);
          ackedCount++;
        }
      };

    // The loop wakes about every millisecond and sends whatever is due, round-robin over clients.
    let sentCount = 0;
    let measuredSentCount = 0;
    let maxLagMs = 0;
    const start = performance.now();
    const end = start + warmupMs + measureMs;
    let cpu: CpuWindow | undefined;
    let nextProgress = start + 1000;
    for (let now = start; now < end; now = performance.now()) {
      if (cpu === undefined && now >= start + warmupMs) {
        measureStart = now;
        cpu = new CpuWindow(ctx.serverPid);
      }
      const dueCount = Math.floor(((now - start) * ratePerS) / 1000) - sentCount;
      if (dueCount > 2) maxLagMs = Math.max(maxLagMs, (dueCount * 1000) / ratePerS);
      for (let i = 0; i < dueCount; i++) {
        const t = performance.now();
        clients[sentCount++ % CLIENT_COUNT]!.emitRawWithAck(encodeEcho(t));
        if (t >= measureStart) measuredSentCount++;
      }
      if (now > nextProgress) {
        ctx.progress(`${Math.round((now - start) / 1000)}/${Math.round((end - start) / 1000)} s at ${ratePerS}/s`);
        nextProgress += 1000;
      }
      await sleep(1);
    }
    const window = cpu!.stop();
    await waitUntil(() => ackedCount >= measuredSentCount, 3000);

    return {
      ratePerS,
      clientCount: CLIENT_COUNT,
      measureMs,
      sentCount: measuredSentCount,
      unansweredCount: measuredSentCount - ackedCount,
      latencyMs: latency.summary(),
      schedulerMaxLagMs: round1(maxLagMs),
      serverCpuUsPerEcho: round2(window.serverCpuUs / Math.max(1, measuredSentCount)),
      serverUtil: round2(window.serverUtil),
      loadgenUtil: round2(window.loadgenUtil),
      otherLoad: round2(window.otherLoad),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

/** Closed loop with many outstanding acks: each ack immediately sends the next echo on its client. */
export async function echoSaturated(ctx: ScenarioContext): Promise<ScenarioResult> {
  const outstandingPerClient = 20; // 1,000 acks in flight in total
  const warmupMs = 1000;
  const measureMs = ctx.isQuick ? 3000 : 10_000;
  const clients = await connectClients(ctx);
  try {
    const latency = new Samples();
    let isRunning = true;
    let measureStart = Infinity;
    let ackedCount = 0;
    for (const c of clients)
      c.onAck = (_id, frame) => {
        const now = performance.now();
        const sentAt = sentAtOf(frame);
        if (sentAt >= measureStart) {
          latency.add(now - sentAt);
          ackedCount++;
        }
        if (isRunning) c.emitRawWithAck(encodeEcho(now));
      };
    for (const c of clients)
      for (let i = 0; i < outstandingPerClient; i++) c.emitRawWithAck(encodeEcho(performance.now()));

    await sleep(warmupMs);
    measureStart = performance.now();
    const cpu = new CpuWindow(ctx.serverPid);
    for (let s = 1; s * 1000 <= measureMs; s++) {
      await sleep(1000);
      ctx.progress(`${s}/${measureMs / 1000} s, ${Math.round(ackedCount / s)} echo/s`);
    }
    const window = cpu.stop();
    const measuredCount = ackedCount; // acks for echoes sent inside the window
    isRunning = false;

    return {
      clientCount: CLIENT_COUNT,
      outstandingCount: CLIENT_COUNT * outstandingPerClient,
      measureMs,
      echoPerS: Math.round((measuredCount / window.wallMs) * 1000),
      latencyMs: latency.summary(),
      serverCpuUsPerEcho: round2(window.serverCpuUs / Math.max(1, measuredCount)),
      serverUtil: round2(window.serverUtil),
      loadgenUtil: round2(window.loadgenUtil),
      otherLoad: round2(window.otherLoad),
    };
  } finally {
    for (const c of clients) c.close();
  }
}
