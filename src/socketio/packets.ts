// Socket.IO packets: encoded with socket.io-parser once per emit or broadcast, decoded per client.
// Spec: socket.io-protocol v5 "Packet format"; v4 (EIO3 clients) differs only in CONNECT payloads.
import { Decoder, Encoder, PacketType, type Packet } from "socket.io-parser";
import type { EncodedPacket } from "../rooms/adapter.ts";

export { PacketType, type Packet };

/** Event names a server MUST NOT emit: the client reserves them (socket.io lib/socket.ts). */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
]);

const encoder = new Encoder();

/** Encodes a packet into its engine text frame ("4…") and binary attachments. */
export function encodePacket(packet: Packet): EncodedPacket {
  const parts = encoder.encode(packet) as (string | ArrayBufferView | ArrayBuffer)[];
  const text = "4" + (parts[0] as string);
  if (parts.length === 1) return { text, attachments: null };
  const attachments: Uint8Array[] = [];
  for (let i = 1; i < parts.length; i++) attachments.push(toBytes(parts[i]!));
  return { text, attachments };
}

function toBytes(part: string | ArrayBufferView | ArrayBuffer): Uint8Array {
  if (part instanceof Uint8Array) return part;
  if (part instanceof ArrayBuffer) return new Uint8Array(part);
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  return new TextEncoder().encode(String(part));
}

export function assertEmittable(event: string): void {
  if (RESERVED_EVENTS.has(event)) throw new Error(`"${event}" is a reserved event name`);
}

/**
 * A per-connection decoder. `add` returns the completed packet, undefined while binary attachments
 * are outstanding, or null when the input is not a valid Socket.IO packet.
 */
export class PacketDecoder {
  #decoder: Decoder;
  #decoded: Packet | undefined = undefined;

  constructor(maxAttachments: number) {
    this.#decoder = new Decoder({ maxAttachments });
    this.#decoder.on("decoded", (packet: Packet) => {
      this.#decoded = packet;
    });
  }

  add(data: string | Uint8Array): Packet | undefined | null {
    try {
      // try/catch: socket.io-parser throws on malformed input (unknown type, bad JSON, attachments).
      this.#decoder.add(data);
    } catch {
      return null;
    }
    const packet = this.#decoded;
    this.#decoded = undefined;
    // socket.io-parser checks a payload only when there is one: `42` decodes to an EVENT without
    // data, which the spec forbids (an EVENT payload is a non-empty array) and handlers cannot take.
    if (packet !== undefined && (packet.type === PacketType.EVENT || packet.type === PacketType.BINARY_EVENT) && !Array.isArray(packet.data)) return null;
    return packet;
  }

  destroy(): void {
    this.#decoder.destroy();
  }
}
