// Scenario "chat" (issue 6): seed 002's chat flow on `/` of the ready server (src/main.ts) —
// `roomMessage` → `roomMessageRecieved` to the room at once (optimistic), then `roomMessageConfirmed`
// once the write-behind queue stored the row. The runner (lib/chat-runner.ts) runs this load
// generator three times: on Postgres, on the embedded PGlite, and against the persistence-off
// baseline (servers/bunsen-chat-nopersist.ts); env BENCH_CHAT_MODE names the run, BENCH_CHAT_DB_URL
// (Postgres only) lets the scenario count `messages` rows, BENCH_JWT_SECRET signs the tokens.
//
// ROOMS rooms × (1 sender + RECEIVERS receivers), each a raw WebSocket client with a JWT in CONNECT.
// tempId = "<seq>:<send time>", so every event carries what latency needs without a lookup.
//  1. fixed rate: RATE_PER_S messages/s in total, round-robin over the senders, 1 s warm-up excluded;
//     optimistic latency = send → roomMessageRecieved at each receiver; confirmation latency =
//     send → roomMessageConfirmed at the sender.
//  2. saturated: closed loop, each sender keeps WINDOW messages unconfirmed (persistence off: not yet
//     received back); rows/s from confirmations and, on Postgres, from count(*) before and after.
// Lost and out-of-order are counted per receiver over both phases (one sender per room, seq ascending).
import { SignJWT } from "jose";
import { CpuWindow } from "../lib/proc.ts";
import { Samples, round2 } from "../lib/stats.ts";
import { WsClient } from "../lib/client.ts";
import { countMessages } from "../lib/pgdb.ts";
import { mapLimit, sleep, waitUntil, type ScenarioContext, type ScenarioResult } from "./context.ts";

const ROOMS = 20;
const RECEIVERS = 4;
const BODY = "hello from the chat bench ".repeat(3); // ~80 characters, a typical chat line
const RECEIVED = '42["roomMessageRecieved",';
const CONFIRMED = '42["roomMessageConfirmed",';
const FAILED = '42["roomMessageFailed",';
const ERROR = '42["error",';

/** tempId "<seq>:<t>" out of a frame: the message object starts with it (chat.ts builds it first). */
function tempIdOf(frame: string): string {
  const start = frame.indexOf('"tempId":"') + 10;
  return frame.slice(start, frame.indexOf('"', start));
}

type Room = { id: string; sender: WsClient; receivers: WsClient[]; seq: number; unconfirmed: number };

export async function chat(ctx: ScenarioContext): Promise<ScenarioResult> {
  const mode = process.env.BENCH_CHAT_MODE ?? "postgres";
  const dbUrl = process.env.BENCH_CHAT_DB_URL;
  const secret = new TextEncoder().encode(process.env.BENCH_JWT_SECRET ?? "");
  const isPersistent = mode !== "nopersist";
  const ratePerS = ctx.isQuick ? 2_000 : 5_000;
  const warmupMs = 1000;
  const measureMs = ctx.isQuick ? 3000 : 10_000;
  const WINDOW = 50; // per sender in the saturated phase: 1,000 messages in flight in total

  const token = (sub: string) =>
    new SignJWT({ sub, name: sub }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1h").sign(secret);
  ctx.progress(`${mode}: connecting ${ROOMS * (RECEIVERS + 1)} clients`);
  const specs = Array.from({ length: ROOMS * (RECEIVERS + 1) }, (_, i) => i);
  const clients = await mapLimit(specs, 16, async (i) => WsClient.connect(ctx.url, 10_000, { token: await token(`bench-user-${i}`) }));
  try {
    const rooms: Room[] = [];
    for (let r = 0; r < ROOMS; r++) {
      const members = clients.slice(r * (RECEIVERS + 1), (r + 1) * (RECEIVERS + 1));
      rooms.push({ id: `bench-room-${r}`, sender: members[0]!, receivers: members.slice(1), seq: 0, unconfirmed: 0 });
    }
    await mapLimit(clients, 16, async (c) => {
      const i = clients.indexOf(c);
      const reply = await c.call("joinRoom", { roomId: `bench-room-${Math.floor(i / (RECEIVERS + 1))}` });
      if (!reply.includes('"ok":true')) throw new Error(`joinRoom refused: ${reply.slice(0, 200)}`);
    });

    // Measurement state, switched per phase.
    let optimistic = new Samples();
    let confirm = new Samples();
    let measureStart = Infinity;
    let measureEnd = Infinity;
    let confirmedCount = 0; // all phases, at senders
    let windowConfirmed = 0; // messages sent inside the current window and confirmed
    let failedCount = 0;
    let errorCount = 0;
    let lastError = "";
    let receivedCount = 0;
    let lostCount = 0;
    let outOfOrderCount = 0;
    let isSaturated = false;
    let isRunning = true;
    const inWindow = (t: number) => t >= measureStart && t < measureEnd;

    let totalSent = 0;
    const send = (room: Room) => {
      const t = performance.now();
      room.unconfirmed++;
      totalSent++;
      room.sender.emit("roomMessage", { roomId: room.id, body: BODY, tempId: `${room.seq++}:${t}` });
    };

    for (const room of rooms) {
      // Sender: confirmation latency; the closed loop of phase 2 sends the next message from here.
      room.sender.onEvent = (frame) => {
        const isConfirm = frame.startsWith(CONFIRMED);
        // Persistence off has no confirmation: the sender's own optimistic copy closes the loop.
        const closesLoop = isPersistent ? isConfirm : frame.startsWith(RECEIVED);
        if (isConfirm) {
          confirmedCount++;
          const t = Number(tempIdOf(frame).split(":")[1]);
          if (inWindow(t)) {
            confirm.add(performance.now() - t);
            windowConfirmed++;
          }
        } else if (frame.startsWith(FAILED)) {
          failedCount++;
          lastError = frame.slice(0, 300);
        } else if (frame.startsWith(ERROR)) {
          errorCount++;
          lastError = frame.slice(0, 300);
        }
        if (closesLoop) {
          if (!isPersistent) windowConfirmed += inWindow(Number(tempIdOf(frame).split(":")[1])) ? 1 : 0;
          room.unconfirmed--;
          if (isSaturated && isRunning) send(room);
        }
      };
      for (const receiver of room.receivers) {
        let expected = 0;
        receiver.onEvent = (frame) => {
          if (!frame.startsWith(RECEIVED)) return;
          const now = performance.now();
          const id = tempIdOf(frame);
          const colon = id.indexOf(":");
          const seq = Number(id.slice(0, colon));
          const t = Number(id.slice(colon + 1));
          receivedCount++;
          if (seq > expected) lostCount += seq - expected; // provisional; a late arrival undoes it
          else if (seq < expected) {
            outOfOrderCount++;
            lostCount--;
          }
          expected = Math.max(expected, seq + 1);
          if (inWindow(t)) optimistic.add(now - t);
        };
      }
    }

    // Phase 1: fixed rate (open loop), the loop wakes about every millisecond and sends what is due.
    let sentCount = 0;
    let windowSent = 0;
    const start = performance.now();
    const end = start + warmupMs + measureMs;
    let cpu: CpuWindow | undefined;
    let nextProgress = start + 1000;
    for (let now = start; now < end; now = performance.now()) {
      if (cpu === undefined && now >= start + warmupMs) {
        measureStart = now;
        cpu = new CpuWindow(ctx.serverPid);
      }
      const due = Math.floor(((now - start) * ratePerS) / 1000) - sentCount;
      for (let i = 0; i < due; i++) {
        send(rooms[sentCount++ % ROOMS]!);
        if (cpu) windowSent++;
      }
      if (now > nextProgress) {
        ctx.progress(`${mode}: ${Math.round((now - start) / 1000)}/${Math.round((end - start) / 1000)} s at ${ratePerS}/s, ${confirmedCount} confirmed`);
        nextProgress += 1000;
      }
      await sleep(1);
    }
    measureEnd = performance.now();
    const rateCpu = cpu!.stop();
    const expectedReceipts = () => totalSent * RECEIVERS;
    await waitUntil(() => receivedCount >= expectedReceipts() && (!isPersistent || windowConfirmed >= windowSent), 15_000);
    const rate = {
      ratePerS,
      measureMs,
      sentCount: windowSent,
      optimisticMs: optimistic.summary(),
      confirmMs: isPersistent ? confirm.summary() : null,
      confirmedCount: isPersistent ? windowConfirmed : null,
      unconfirmedCount: isPersistent ? windowSent - windowConfirmed : null,
      serverCpuUsPerMessage: round2(rateCpu.serverCpuUs / Math.max(1, windowSent)),
      serverUtil: round2(rateCpu.serverUtil),
      loadgenUtil: round2(rateCpu.loadgenUtil),
      otherLoad: round2(rateCpu.otherLoad),
    };

    // Phase 2: saturated, WINDOW unconfirmed per sender.
    optimistic = new Samples();
    confirm = new Samples();
    windowConfirmed = 0;
    isSaturated = true;
    for (const room of rooms) for (let i = room.unconfirmed; i < WINDOW; i++) send(room);
    await sleep(warmupMs);
    const rowsBefore = dbUrl ? await countMessages(dbUrl) : null;
    measureStart = performance.now();
    measureEnd = Infinity;
    const satCpu = new CpuWindow(ctx.serverPid);
    for (let s = 1; s * 1000 <= measureMs; s++) {
      await sleep(1000);
      ctx.progress(`${mode}: saturated ${s}/${measureMs / 1000} s, ${Math.round(windowConfirmed / s)} confirmed/s`);
    }
    const satWindow = satCpu.stop();
    const rowsAfter = dbUrl ? await countMessages(dbUrl) : null;
    const countedMs = performance.now() - measureStart; // includes the count(*) round trips
    measureEnd = performance.now();
    const satConfirmed = windowConfirmed;
    isRunning = false;
    // Drain: everything sent must be delivered to every receiver and confirmed (or failed).
    await waitUntil(() => receivedCount >= expectedReceipts() && rooms.every((r) => r.unconfirmed === 0), 20_000);
    const saturated = {
      windowPerSender: WINDOW,
      measureMs,
      confirmedPerS: Math.round((satConfirmed / satWindow.wallMs) * 1000),
      rowsPerS: rowsBefore === null || rowsAfter === null ? null : Math.round(((rowsAfter - rowsBefore) / countedMs) * 1000),
      optimisticMs: optimistic.summary(),
      confirmMs: isPersistent ? confirm.summary() : null,
      serverCpuUsPerMessage: round2(satWindow.serverCpuUs / Math.max(1, satConfirmed)),
      serverUtil: round2(satWindow.serverUtil),
      loadgenUtil: round2(satWindow.loadgenUtil),
      otherLoad: round2(satWindow.otherLoad),
    };
    const rowsTotal = dbUrl ? await countMessages(dbUrl) : null;
    return {
      mode,
      roomCount: ROOMS,
      receiversPerRoom: RECEIVERS,
      messageCount: totalSent,
      deliveryCount: receivedCount,
      lostCount: Math.max(0, expectedReceipts() - receivedCount),
      gapCount: lostCount,
      outOfOrderCount,
      confirmedTotal: isPersistent ? confirmedCount : null,
      unconfirmedTotal: isPersistent ? totalSent - confirmedCount - failedCount : null,
      failedCount,
      errorCount,
      lastError: lastError || null,
      rowsInTable: rowsTotal,
      rate,
      saturated,
    };
  } finally {
    for (const c of clients) c.close();
  }
}
