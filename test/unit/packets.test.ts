// The hand-written EVENT/ACK decoder (src/socketio/packets.ts decodeEventFast) against
// socket.io-parser on the same inputs: hand-picked edge cases plus seeded random mutations.
import { expect, test } from "bun:test";
import { Decoder, type Packet } from "socket.io-parser";
import { decodeEventFast, PacketDecoder } from "../../src/socketio/packets.ts";

function reference(text: string): Packet | null {
  const decoder = new Decoder();
  let decoded: Packet | null = null;
  decoder.on("decoded", (packet: Packet) => { decoded = packet; });
  try {
    decoder.add(text);
  } catch {
    return null;
  }
  return decoded;
}

const CASES = [
  '2["hello"]', '2["hello",1,{"a":[1,2]}]', '21["echo","x"]', '2123456789["e"]', '3[]', '31[]', '37["a",null]',
  '2/chat,["m"]', '2/chat,5["m",1]', '3/chat,5[1]', '2/a/b,["x"]', '2/,["x"]', '2/chat["m"]', '2/chat',
  '2[', '2[1', '2{"a":1}', '2"str"', '2[]', '2["disconnect"]', '2["connect"]', '2[42]', '2[true]', '2[null]',
  '2 ["x"]', '21 ["x"]', '2x["x"]', '2-1["x"]', '2["x"] ', '2 ', '2', '3', '3{"a":1}', '3"x"', '31[1', '2/x,',
  '2/x,1', '299999999999999999999["x"]', '2["\\u0000"]', '2["a","\\ud800"]', '2[1e400]', '2["newListener"]',
];

test("decodes EVENT and ACK exactly as socket.io-parser does, or leaves the input to it", () => {
  let handled = 0;
  const check = (text: string) => {
    const fast = decodeEventFast(text);
    if (fast === undefined) return;
    handled++;
    expect({ text, packet: fast }).toEqual({ text, packet: reference(text) });
  };
  CASES.forEach(check);
  // Seeded mutations of valid packets (mulberry32): inserted, deleted and replaced characters.
  let seed = 0x5eed;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const alphabet = '0123456789[]{}",:/ abcnux\\-.e';
  for (let n = 0; n < 20_000; n++) {
    let text = CASES[Math.floor(random() * 7)]!;
    for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
      const at = Math.floor(random() * (text.length + 1));
      const char = alphabet[Math.floor(random() * alphabet.length)]!;
      const kind = random();
      text = kind < 0.4 ? text.slice(0, at) + char + text.slice(at) : kind < 0.7 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + char + text.slice(at + 1);
    }
    check(text);
  }
  expect(handled).toBeGreaterThan(5_000); // the fast path really is exercised
});

test("PacketDecoder still hands other packet types and binary packets to socket.io-parser", () => {
  const decoder = new PacketDecoder(10);
  expect(decoder.add('0{"token":"t"}')).toEqual({ type: 0, nsp: "/", data: { token: "t" } });
  expect(decoder.add("1")).toEqual({ type: 1, nsp: "/" });
  expect(decoder.add('51-["bin",{"_placeholder":true,"num":0}]')).toBeUndefined();
  const bytes = Buffer.from([1, 2, 3]);
  expect(decoder.add(bytes)).toEqual({ type: 2, nsp: "/", data: ["bin", bytes] }); // socket.io-parser reports it as an EVENT once whole
  expect(decoder.add("2")).toBeNull(); // an EVENT without payload
  expect(decoder.add('2["ok",1]')).toEqual({ type: 2, nsp: "/", data: ["ok", 1] });
});
