// Scenarios "fanout" and "fanout-polling": one sender (not in the room) emits "broadcast"; the server
// emits "msg" to every room member. Every message carries a sequence number and its send time, so each
// receiver counts gaps (lost) and regressions (out of order) — both MUST be 0 — and end-to-end latency.
//
// Phase "rate": a fixed message rate every server sustains → latency and CPU per delivery.
// Phase "saturated" (WebSocket-only runs): the sender keeps at most WINDOW messages ahead of the
// receivers as a whole (in-flight deliveries ≤ WINDOW × receivers) → deliveries per second.
import { CpuWindow } from "../lib/proc.ts";
import { Samples, round2 } from "../lib/stats.ts";
import { PollingClient, WsClient, type SioClient } from "../lib/client.ts";
import { mapLimit, sleep, waitUntil, type ScenarioContext, type ScenarioResult } from "./context.ts";

const ROOM = "bench";
const WINDOW = 32;
const PAD = "y".repeat(32);

type Options = { wsCount: number; pollingCount: number; hasSaturatedPhase: boolean };

export const fanout = (ctx: ScenarioContext) =>
  run(ctx, { wsCount: ctx.isQuick ? 200 : 500, pollingCount: 0, hasSaturatedPhase: true });

export const fanoutPolling = (ctx: ScenarioContext) =>
  run(ctx, ctx.isQuick
    ? { wsCount: 180, pollingCount: 20, hasSaturatedPhase: false }
    : { wsCount: 450, pollingCount: 50, hasSaturatedPhase: false });

/** Reads `"<key>":<number>` out of a frame without parsing the whole frame. */
function numberAfter(frame: string, key: string): number {
  const start = frame.indexOf(key) + key.length;
  let end = start;
  while (end < frame.length && frame.charCodeAt(end) !== 0x2c /* , */ && frame.charCodeAt(end) !== 0x7d /* } */)
    end++;
  return Number.parseFloat(frame.slice(start, end));
}

async function run(ctx: ScenarioContext, opts: Options): Promise<ScenarioResult> {
  const receiverCount = opts.wsCount + opts.pollingCount;
  // The same delivery rate in every mode (~25,000/s), low enough that Socket.IO on Node keeps up.
  const ratePerS = Math.round(25_000 / receiverCount);
  const warmupMs = 1000;
  const measureMs = ctx.isQuick ? 3000 : 10_000;
  const clients: SioClient[] = [];
  try {
    ctx.progress(`connecting ${opts.wsCount} ws + ${opts.pollingCount} polling receivers`);
    // A cluster run spreads the receivers over the nodes, round robin; the sender stays on `url`.
    const urls = ctx.urls ?? [ctx.url];
    const ws = await mapLimit(Array.from({ length: opts.wsCount }, (_, i) => urls[i % urls.length]!), 32, (url) => WsClient.connect(url));
    clients.push(...ws);
    const polling = await mapLimit(Array.from({ length: opts.pollingCount }, (_, i) => urls[i % urls.length]!), 8, (url) =>
      PollingClient.connect(url),
    );
    clients.push(...polling);
    await mapLimit(clients, 32, (c) => c.call("join", ROOM));
    const sender = await WsClient.connect(ctx.url);
    clients.push(sender);

    // Per-receiver delivery state, indexed by receiver number.
    const expectedSeq = new Int32Array(receiverCount);
    let lostCount = 0;
    let outOfOrderCount = 0;
    let deliveredCount = 0;
    let latency = { ws: new Samples(), polling: new Samples() };
    let recordFrom = Infinity; // send time from which latencies count (excludes warm-up)
    let onDelivered = () => {};
    for (let r = 0; r < receiverCount; r++) {
      const client = clients[r]!;
      const samples = () => (client.transport === "websocket" ? latency.ws : latency.polling);
      client.onEvent = (frame) => {
        const now = performance.now();
        const seq = numberAfter(frame, '"seq":');
        const sentAt = numberAfter(frame, '"t":');
        deliveredCount++;
        if (seq === expectedSeq[r]) expectedSeq[r]++;
        else if (seq > expectedSeq[r]!) {
          lostCount += seq - expectedSeq[r]!;
          expectedSeq[r] = seq + 1;
        } else outOfOrderCount++;
        if (sentAt >= recordFrom) samples().add(now - sentAt);
        onDelivered();
      };
    }

    let sentCount = 0;
    const send = () =>
      sender.emit("broadcast", { room: ROOM, payload: { seq: sentCount++, t: performance.now(), pad: PAD } });

    // Phase "rate": open loop, woken about every millisecond.
    const start = performance.now();
    const end = start + warmupMs + measureMs;
    let cpu: CpuWindow | undefined;
    let deliveredAtMeasureStart = 0;
    let nextProgress = start + 1000;
    for (let now = start; now < end; now = performance.now()) {
      if (cpu === undefined && now >= start + warmupMs) {
        recordFrom = now;
        deliveredAtMeasureStart = deliveredCount;
        cpu = new CpuWindow(ctx.serverPids ?? ctx.serverPid);
      }
      const dueCount = Math.floor(((now - start) * ratePerS) / 1000) - sentCount;
      for (let i = 0; i < dueCount; i++) send();
      if (now > nextProgress) {
        ctx.progress(`rate ${Math.round((now - start) / 1000)}/${Math.round((end - start) / 1000)} s, ${deliveredCount} deliveries`);
        nextProgress += 1000;
      }
      await sleep(1);
    }
    const rateWindow = cpu!.stop();
    const rateDeliveredCount = deliveredCount - deliveredAtMeasureStart;
    const isDrained = () => deliveredCount + lostCount >= sentCount * receiverCount;
    await waitUntil(isDrained, 5000);
    const rate = {
      ratePerS,
      measureMs,
      deliveryPerS: Math.round((rateDeliveredCount / rateWindow.wallMs) * 1000),
      latencyMs: latency.ws.summary(),
      pollingLatencyMs: opts.pollingCount > 0 ? latency.polling.summary() : null,
      serverCpuUsPerDelivery: round2(rateWindow.serverCpuUs / Math.max(1, rateDeliveredCount)),
      serverUtil: round2(rateWindow.serverUtil),
      loadgenUtil: round2(rateWindow.loadgenUtil),
      otherLoad: round2(rateWindow.otherLoad),
    };

    let saturated: Record<string, unknown> | null = null;
    if (opts.hasSaturatedPhase) saturated = await saturate();

    await waitUntil(isDrained, 5000);
    // Whatever a receiver never got at the end is lost too.
    for (let r = 0; r < receiverCount; r++) lostCount += sentCount - expectedSeq[r]!;

    return {
      receiverCount,
      wsReceiverCount: opts.wsCount,
      pollingReceiverCount: opts.pollingCount,
      messageCount: sentCount,
      expectedDeliveryCount: sentCount * receiverCount,
      deliveredCount,
      lostCount,
      outOfOrderCount,
      rate,
      saturated,
    };

    async function saturate(): Promise<Record<string, unknown>> {
      latency = { ws: new Samples(), polling: new Samples() };
      recordFrom = performance.now();
      const maxInFlight = WINDOW * receiverCount;
      let isRunning = true;
      const pump = () => {
        while (isRunning && sentCount * receiverCount - deliveredCount - lostCount < maxInFlight) send();
      };
      onDelivered = pump;
      const deliveredBefore = deliveredCount;
      const cpu = new CpuWindow(ctx.serverPids ?? ctx.serverPid);
      pump();
      for (let s = 1; s * 1000 <= measureMs; s++) {
        await sleep(1000);
        ctx.progress(`saturated ${s}/${measureMs / 1000} s, ${Math.round((deliveredCount - deliveredBefore) / s)} deliveries/s`);
      }
      const window = cpu.stop();
      isRunning = false;
      onDelivered = () => {};
      const count = deliveredCount - deliveredBefore;
      return {
        windowMessages: WINDOW,
        measureMs,
        deliveryPerS: Math.round((count / window.wallMs) * 1000),
        latencyMs: latency.ws.summary(),
        serverCpuUsPerDelivery: round2(window.serverCpuUs / Math.max(1, count)),
        serverUtil: round2(window.serverUtil),
        loadgenUtil: round2(window.loadgenUtil),
        otherLoad: round2(window.otherLoad),
        // A cluster run: each counted process's CPU µs per delivery (the nodes, then Redis).
        cpuUsPerDeliveryByProcess: window.perPidCpuUs.map((us) => round2(us / Math.max(1, count))),
      };
    }
  } finally {
    for (const c of clients) c.close();
  }
}
