// Engine.IO packets and payloads on the wire: v4, and v3 where it differs.
// Spec: engine.io-protocol v4 "Packet encoding" / "Payloads"; v3 length-prefixed payloads
// (engine.io-parser 2.x) for socket.io-client v2 and older Flutter/Java/Swift clients.
import { decodePayload as decodePayloadV4 } from "engine.io-parser";

export const OPEN = 0, CLOSE = 1, PING = 2, PONG = 3, MESSAGE = 4, UPGRADE = 5, NOOP = 6;
export type EnginePacketType = 0 | 1 | 2 | 3 | 4 | 5 | 6;
export type Protocol = 3 | 4;

/** An outgoing engine packet as it is buffered: a full text packet ("4…", "2", "6") or a binary message. */
export type Frame = string | Uint8Array;

/** A decoded incoming packet. `data` is the payload after the type character. */
export interface EnginePacket {
  type: EnginePacketType;
  data: string | Uint8Array;
}

const RECORD_SEPARATOR = "\x1e";
const TYPE_BY_NAME: Record<string, EnginePacketType> = {
  open: OPEN, close: CLOSE, ping: PING, pong: PONG, message: MESSAGE, upgrade: UPGRADE, noop: NOOP,
};

/** Decodes one WebSocket frame; null when it is not a valid Engine.IO packet. */
export function decodeFrame(frame: string | Uint8Array, protocol: Protocol): EnginePacket | null {
  if (typeof frame === "string") return decodeText(frame);
  if (protocol === 4) return { type: MESSAGE, data: frame };
  // v3: a binary frame starts with its packet type as a byte (4 = message).
  if (frame.length === 0 || frame[0] !== MESSAGE) return null;
  return { type: MESSAGE, data: frame.subarray(1) };
}

function decodeText(text: string): EnginePacket | null {
  const type = text.charCodeAt(0) - 48;
  if (!(type >= 0 && type <= 6)) return null;
  return { type: type as EnginePacketType, data: text.length === 1 ? "" : text.slice(1) };
}

/** v3 over WebSocket prefixes binary messages with the message type byte; v4 sends them raw. */
export function binaryFrameV3(data: Uint8Array): Uint8Array {
  const framed = new Uint8Array(data.length + 1);
  framed[0] = MESSAGE;
  framed.set(data, 1);
  return framed;
}

/** Joins buffered frames into one long-polling response body. */
export function encodePayload(frames: Frame[], protocol: Protocol): string {
  if (protocol === 4) {
    let body = "";
    for (let i = 0; i < frames.length; i++) {
      if (i > 0) body += RECORD_SEPARATOR;
      const frame = frames[i]!;
      body += typeof frame === "string" ? frame : "b" + Buffer.from(frame).toString("base64");
    }
    return body;
  }
  let body = "";
  for (const frame of frames) {
    const packet = typeof frame === "string" ? frame : "b4" + Buffer.from(frame).toString("base64");
    body += packet.length + ":" + packet;
  }
  return body;
}

/** Decodes a long-polling POST body; null when any part of it is malformed. */
export function decodePayload(body: string | Uint8Array, protocol: Protocol): EnginePacket[] | null {
  if (protocol === 4) {
    if (typeof body !== "string") body = new TextDecoder().decode(body);
    const packets: EnginePacket[] = [];
    for (const packet of decodePayloadV4(body, "nodebuffer")) {
      const type = TYPE_BY_NAME[packet.type];
      if (type === undefined) return null; // engine.io-parser yields {type: "error"} on bad input
      const data = packet.data;
      packets.push({ type, data: data === undefined ? "" : data }); // binary arrives as a Buffer
    }
    return packets;
  }
  return typeof body === "string" ? decodeStringPayloadV3(body) : decodeBinaryPayloadV3(body);
}

// v3 text payload: `<length>:<packet>` repeated, the length counted in UTF-16 code units.
function decodeStringPayloadV3(body: string): EnginePacket[] | null {
  const packets: EnginePacket[] = [];
  let i = 0;
  while (i < body.length) {
    const colon = body.indexOf(":", i);
    if (colon <= i) return null;
    const lengthText = body.slice(i, colon);
    const length = Number(lengthText);
    if (!/^\d+$/.test(lengthText) || length < 1 || colon + 1 + length > body.length) return null;
    const packet = body.slice(colon + 1, colon + 1 + length);
    const decoded = packet[0] === "b" ? decodeBase64V3(packet) : decodeText(packet);
    if (decoded === null) return null;
    packets.push(decoded);
    i = colon + 1 + length;
  }
  return packets;
}

function decodeBase64V3(packet: string): EnginePacket | null {
  if (packet[1] !== "4") return null;
  return { type: MESSAGE, data: Buffer.from(packet.slice(2), "base64") };
}

// v3 binary payload: per packet a 0 (text) or 1 (binary) byte, the length as decimal digit bytes,
// 255, then the packet (text packets UTF-8 encoded; binary packets start with their type byte).
function decodeBinaryPayloadV3(body: Uint8Array): EnginePacket[] | null {
  const packets: EnginePacket[] = [];
  let i = 0;
  while (i < body.length) {
    const isBinary = body[i] === 1;
    if (body[i] !== 0 && !isBinary) return null;
    let length = 0;
    let digits = 0;
    for (i++; i < body.length && body[i] !== 255; i++) {
      const digit = body[i]!;
      if (digit > 9 || ++digits > 9) return null;
      length = length * 10 + digit;
    }
    i++; // the 255 separator
    if (digits === 0 || length < 1 || i + length > body.length) return null;
    const content = body.subarray(i, i + length);
    i += length;
    const packet = isBinary
      ? content[0] === MESSAGE ? { type: MESSAGE, data: Buffer.from(content.subarray(1)) } as EnginePacket : null
      : decodeText(new TextDecoder().decode(content));
    if (packet === null) return null;
    packets.push(packet);
  }
  return packets;
}
