// Events and acks both ways with socket.io-client 4.8: callbacks, emitWithAck, timeouts,
// per-packet middleware, catch-all listeners, reserved names. Over every transport.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { nextEvent } from "../support/client.ts";
import { startPair } from "../support/server.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

describe.each(TRANSPORTS)("events over %s", (_mode, transport) => {
  test.concurrent("delivers client events with every JSON type and answers the client's ack", async () => {
    const { server, socket } = await startPair(transport, (s) => {
      s.on("echo", (...args: unknown[]) => {
        const ack = args.pop() as (...a: unknown[]) => void;
        ack("got", ...args);
      });
    });
    await using _server = server;
    using _socket = socket;
    const args = [1, "two", null, true, { a: [1, { b: "c" }] }, [], 3.5];
    const got = Promise.withResolvers<unknown[]>();
    socket.emit("echo", ...args, (...reply: unknown[]) => got.resolve(reply));
    expect(await got.promise).toEqual(["got", ...args]);
  });

  test.concurrent("resolves the client's emitWithAck with the server's answer", async () => {
    const { server, socket } = await startPair(transport, (s) => {
      s.on("sum", (a: number, b: number, ack: (n: number) => void) => ack(a + b));
    });
    await using _server = server;
    using _socket = socket;
    expect(await Promise.all([socket.emitWithAck("sum", 1, 2), socket.emitWithAck("sum", 40, 2)])).toEqual([3, 42]);
  });

  test.concurrent("delivers server events and calls the server's ack callback with the client's answer", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    socket.on("hello", (name: string, ack: (...a: unknown[]) => void) => ack(`hi ${name}`, { n: 2 }));
    const got = Promise.withResolvers<unknown[]>();
    serverSocket.emit("hello", "ada", (...reply: unknown[]) => got.resolve(reply));
    expect(await got.promise).toEqual(["hi ada", { n: 2 }]);
  });

  test.concurrent("resolves the server's emitWithAck, with and without a timeout", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    socket.on("double", (n: number, ack: (n: number) => void) => ack(n * 2));
    expect(await serverSocket.emitWithAck("double", 21)).toBe(42);
    expect(await serverSocket.timeout(2_000).emitWithAck("double", 5)).toBe(10);
  });

  test.concurrent("times out the server's ack when the client never answers", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    const received = nextEvent(socket, "silent");
    const started = performance.now();
    const got = Promise.withResolvers<unknown[]>();
    serverSocket.timeout(100).emit("silent", 1, (...args: unknown[]) => got.resolve(args));
    const [err, ...rest] = await got.promise;
    expect({ message: (err as Error).message, rest, args: await received }).toEqual({ message: "operation has timed out", rest: [], args: [1, expect.any(Function)] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    await expect(serverSocket.timeout(50).emitWithAck("silent", 2)).rejects.toThrow("operation has timed out");
  });

  test.concurrent("passes null as the error to a timed ack that was answered in time", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    socket.on("q", (ack: (v: string) => void) => ack("a"));
    const got = Promise.withResolvers<unknown[]>();
    serverSocket.timeout(1_000).emit("q", (...args: unknown[]) => got.resolve(args));
    expect(await got.promise).toEqual([null, "a"]);
  });

  test.concurrent("rejects the client's timeout().emitWithAck when the server never answers", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    const received = nextEvent(serverSocket, "ignored");
    await expect(socket.timeout(100).emitWithAck("ignored", "x")).rejects.toThrow("operation has timed out");
    expect((await received)[0]).toBe("x");
  });

  test.concurrent("answers an ack only once even if the handler calls it twice", async () => {
    const { server, socket } = await startPair(transport, (s) => {
      s.on("twice", (ack: (n: number) => void) => { ack(1); ack(2); });
      s.on("after", (ack: (v: string) => void) => ack("after"));
    });
    await using _server = server;
    using _socket = socket;
    const acks: unknown[] = [];
    socket.emit("twice", (n: number) => acks.push(n));
    // The second event's ack arrives after any stray second ack would have.
    expect(await socket.emitWithAck("after")).toBe("after");
    expect(acks).toEqual([1]);
  });

  test.concurrent("runs socket.use middlewares in order, blocking an event with an error event", async () => {
    const seenEvents: string[] = [];
    const errors = Promise.withResolvers<Error>();
    const { server, socket } = await startPair(transport, (s) => {
      s.use(([event], next) => {
        if (event === "forbidden") return next(new Error("not allowed"));
        next();
      });
      s.use((packet, next) => {
        seenEvents.push(packet[0]);
        next();
      });
      s.on("error", (err: Error) => errors.resolve(err));
      s.on("forbidden", () => seenEvents.push("forbidden ran"));
      s.on("allowed", (ack: (v: string) => void) => ack("ok"));
    });
    await using _server = server;
    using _socket = socket;
    socket.emit("forbidden");
    expect((await errors.promise).message).toBe("not allowed");
    expect(await socket.emitWithAck("allowed")).toBe("ok");
    expect(seenEvents).toEqual(["allowed"]);
  });

  test.concurrent("calls onAny/prependAny in order, stops after offAny, and onAnyOutgoing sees emits", async () => {
    const calls: string[] = [];
    const outgoing: unknown[][] = [];
    const first = (event: string) => calls.push(`first:${event}`);
    const { server, socket, serverSocket } = await startPair(transport, (s) => {
      s.onAny((event: string) => calls.push(`any:${event}`));
      s.prependAny(first);
      s.onAnyOutgoing((...args: unknown[]) => outgoing.push(args));
      s.on("ping", (ack: (v: string) => void) => ack("pong"));
    });
    await using _server = server;
    using _socket = socket;
    expect(await socket.emitWithAck("ping")).toBe("pong");
    serverSocket.offAny(first);
    expect(await socket.emitWithAck("ping")).toBe("pong");
    serverSocket.offAny();
    expect(await socket.emitWithAck("ping")).toBe("pong");
    const pushed = nextEvent(socket, "news");
    serverSocket.emit("news", { id: 7 });
    expect(await pushed).toEqual([{ id: 7 }]);
    expect({ calls, outgoing }).toEqual({ calls: ["first:ping", "any:ping", "any:ping"], outgoing: [["news", { id: 7 }]] });
  });

  test.concurrent("refuses reserved event names at emit, on a socket and on the server", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    expect(() => serverSocket.emit("disconnect")).toThrow("reserved");
    expect(() => serverSocket.emit("connect_error", "x")).toThrow("reserved");
    expect(() => server.io.emit("connect")).toThrow("reserved");
    expect(() => server.io.to("room").emit("disconnecting")).toThrow("reserved");
    // The connection is unaffected.
    const got = nextEvent(socket, "fine");
    serverSocket.emit("fine", 1);
    expect(await got).toEqual([1]);
  });

  test.concurrent("keeps the order of many events sent back to back in both directions", async () => {
    const received: number[] = [];
    const done = Promise.withResolvers<void>();
    const { server, socket, serverSocket } = await startPair(transport, (s) => {
      s.on("n", (n: number) => {
        received.push(n);
        if (n === 199) done.resolve();
      });
    });
    await using _server = server;
    using _socket = socket;
    for (let n = 0; n < 200; n++) socket.emit("n", n);
    await done.promise;
    const back: number[] = [];
    const allBack = Promise.withResolvers<void>();
    socket.on("m", (n: number) => {
      back.push(n);
      if (n === 199) allBack.resolve();
    });
    for (let n = 0; n < 200; n++) serverSocket.emit("m", n);
    await allBack.promise;
    const expected = Array.from({ length: 200 }, (_, n) => n);
    expect({ received, back }).toEqual({ received: expected, back: expected });
  });
});
