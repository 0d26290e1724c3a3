// Binary payloads with socket.io-client 4.8: Buffer and Uint8Array, nested in objects and arrays,
// several attachments in one packet, binary acks, binary broadcasts. Over every transport.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "../../src/index.ts";
import { connect, nextEvent } from "../support/client.ts";
import { startPair, startServer } from "../support/server.ts";
import { TRANSPORTS } from "../support/transports.ts";

setDefaultTimeout(5_000);

const bytes = (...values: number[]) => new Uint8Array(values);
/** Bytes as a plain array, whatever view (Buffer, Uint8Array, ArrayBuffer) carried them. */
const plain = (value: unknown): number[] => {
  if (value instanceof ArrayBuffer) return [...new Uint8Array(value)];
  if (ArrayBuffer.isView(value)) return [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
  throw new Error(`not binary: ${String(value)}`);
};

describe.each(TRANSPORTS)("binary over %s", (_mode, transport) => {
  test.concurrent("receives a client Buffer and Uint8Array as bytes on the server", async () => {
    const got = Promise.withResolvers<unknown[]>();
    const { server, socket } = await startPair(transport, (s) => s.on("upload", (...args: unknown[]) => got.resolve(args)));
    await using _server = server;
    using _socket = socket;
    socket.emit("upload", Buffer.from([1, 2, 3]), bytes(0, 255, 128), "label");
    const [a, b, label] = await got.promise;
    expect({ a: plain(a), b: plain(b), label, isBuffer: Buffer.isBuffer(a) })
      .toEqual({ a: [1, 2, 3], b: [0, 255, 128], label: "label", isBuffer: true });
  });

  test.concurrent("receives binary nested in objects and arrays, several attachments in one packet", async () => {
    const got = Promise.withResolvers<any>();
    const { server, socket } = await startPair(transport, (s) => s.on("nested", (payload: unknown) => got.resolve(payload)));
    await using _server = server;
    using _socket = socket;
    socket.emit("nested", {
      name: "photo",
      parts: [bytes(1), { inner: bytes(2, 2) }, "text", bytes()],
      meta: { thumb: Buffer.from("thumb"), size: 3 },
    });
    const p = await got.promise;
    expect({
      name: p.name, size: p.meta.size, text: p.parts[2],
      part0: plain(p.parts[0]), inner: plain(p.parts[1].inner), empty: plain(p.parts[3]),
      thumb: Buffer.from(plain(p.meta.thumb)).toString(),
    }).toEqual({ name: "photo", size: 3, text: "text", part0: [1], inner: [2, 2], empty: [], thumb: "thumb" });
  });

  test.concurrent("sends server binary nested in objects to the client", async () => {
    const { server, socket, serverSocket } = await startPair(transport);
    await using _server = server;
    using _socket = socket;
    const got = nextEvent(socket, "file");
    serverSocket.emit("file", { chunks: [Buffer.from([9, 8]), bytes(7)], body: { data: bytes(6, 5, 4) } }, Buffer.from("tail"));
    const [file, tail] = await got;
    expect({
      chunks: file.chunks.map(plain), data: plain(file.body.data), tail: Buffer.from(plain(tail)).toString(),
    }).toEqual({ chunks: [[9, 8], [7]], data: [6, 5, 4], tail: "tail" });
  });

  test.concurrent("carries a large binary payload intact", async () => {
    const got = Promise.withResolvers<unknown>();
    const { server, socket, serverSocket } = await startPair(transport, (s) => s.on("big", (b: unknown) => got.resolve(b)));
    await using _server = server;
    using _socket = socket;
    const big = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
    socket.emit("big", big);
    expect(Buffer.from(plain(await got.promise)).equals(Buffer.from(big))).toBe(true);
    const back = nextEvent(socket, "big");
    serverSocket.emit("big", Buffer.from(big));
    expect(Buffer.from(plain((await back)[0])).equals(Buffer.from(big))).toBe(true);
  });

  test.concurrent("answers a client's ack with binary, and a server ack gets the client's binary", async () => {
    const { server, socket, serverSocket } = await startPair(transport, (s) => {
      s.on("invert", (data: Uint8Array, ack: (...a: unknown[]) => void) => {
        ack({ inverted: Buffer.from(plain(data).map((v) => 255 - v)) }, bytes(42));
      });
    });
    await using _server = server;
    using _socket = socket;
    const reply = Promise.withResolvers<unknown[]>();
    socket.emit("invert", bytes(0, 1, 254), (...args: unknown[]) => reply.resolve(args));
    const [result, extra] = await reply.promise as [{ inverted: unknown }, unknown];
    expect({ inverted: plain(result.inverted), extra: plain(extra) }).toEqual({ inverted: [255, 254, 1], extra: [42] });

    socket.on("sign", (payload: { data: unknown }, ack: (...a: unknown[]) => void) => ack([plain(payload.data).length, bytes(1, 2)]));
    const answer = await serverSocket.timeout(2_000).emitWithAck("sign", { data: Buffer.alloc(5) }) as [number, unknown];
    expect({ length: answer[0], signature: plain(answer[1]) }).toEqual({ length: 5, signature: [1, 2] });
  });

  test.concurrent("broadcasts binary to a room, encoded once, to every member", async () => {
    await using server = await startServer({}, (io) => io.on("connection", (s: Socket) => s.join("bin")));
    using a = await connect(server.url, transport);
    using b = await connect(server.url, transport);
    const got = [nextEvent(a, "blob"), nextEvent(b, "blob")];
    server.io.to("bin").emit("blob", { id: 1, data: bytes(3, 1, 4) }, Buffer.from([1, 5]));
    const results = (await Promise.all(got)).map(([blob, extra]) => ({ id: blob.id, data: plain(blob.data), extra: plain(extra) }));
    expect(results).toEqual([{ id: 1, data: [3, 1, 4], extra: [1, 5] }, { id: 1, data: [3, 1, 4], extra: [1, 5] }]);
  });

  test.concurrent("interleaves binary and text events without mixing their attachments", async () => {
    const received: unknown[] = [];
    const done = Promise.withResolvers<void>();
    const { server, socket } = await startPair(transport, (s) => {
      s.onAny((event: string, payload: unknown) => {
        received.push(event === "bin" ? plain(payload) : payload);
        if (received.length === 6) done.resolve();
      });
    });
    await using _server = server;
    using _socket = socket;
    socket.emit("bin", bytes(1));
    socket.emit("text", "a");
    socket.emit("bin", bytes(2, 2));
    socket.emit("text", "b");
    socket.emit("bin", bytes(3, 3, 3));
    socket.emit("text", "c");
    await done.promise;
    expect(received).toEqual([[1], "a", [2, 2], "b", [3, 3, 3], "c"]);
  });
});
