// A strict reader (and a small writer) of Python pickles, protocols 0–5, for python-socketio's
// message queue (pubsub_manager.py pickles its messages before 5.14). It builds plain data only:
// dict → object, list → array, tuple → frozen array (isTuple), str, bytes → Buffer, int, float,
// bool, None → null. Every opcode that names a global or builds an object (GLOBAL, STACK_GLOBAL,
// REDUCE, BUILD, INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT*, PERSID, out-of-band buffers) is refused with
// a PickleError: nothing in a hostile pickle ever runs. Each opcode consumes at least one byte and
// every length is checked against what is left, so any input ends (in linear time) with a value or
// a PickleError, never another exception.

export class PickleError extends Error {
  override readonly name = "PickleError";
}

const tuples = new WeakSet<object>();

/** A Python tuple read from a pickle (a frozen array). */
export function isTuple(value: unknown): value is readonly unknown[] {
  return typeof value === "object" && value !== null && tuples.has(value);
}

function tuple(items: unknown[]): readonly unknown[] {
  tuples.add(items);
  return Object.freeze(items);
}

const MARK = Symbol("mark");
const MAX_DEPTH = 100;

/** Names of the refused opcodes, for the error message (never the payload). */
const REFUSED: Record<number, string> = {
  0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x69: "INST", 0x6f: "OBJ",
  0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x50: "PERSID",
  0x51: "BINPERSID", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
};

export function decodePickle(input: Uint8Array): unknown {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const need = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > buf.length) throw new PickleError("truncated pickle");
    const start = pos;
    pos += n;
    return start;
  };
  const u8 = () => buf[need(1)]!;
  const u16 = () => buf.readUInt16LE(need(2));
  const u32 = () => buf.readUInt32LE(need(4));
  const u64 = () => {
    const n = buf.readBigUInt64LE(need(8));
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError("truncated pickle");
    return Number(n);
  };
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError("truncated pickle");
    const text = buf.toString("latin1", pos, end);
    pos = end + 1;
    return text;
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new PickleError("stack underflow");
    const v = stack.pop();
    if (v === MARK) throw new PickleError("stack underflow");
    return v;
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError("stack underflow");
    const v = stack[stack.length - 1];
    if (v === MARK) throw new PickleError("stack underflow");
    return v;
  };
  const popMark = () => {
    const at = marks.pop();
    if (at === undefined) throw new PickleError("no mark");
    return stack.splice(at).slice(1);
  };
  const list = (v: unknown): unknown[] => {
    if (!Array.isArray(v) || isTuple(v)) throw new PickleError("append to a non-list");
    return v;
  };
  const dict = (v: unknown): Record<string, unknown> => {
    if (typeof v !== "object" || v === null || Array.isArray(v) || Buffer.isBuffer(v)) throw new PickleError("setitem on a non-dict");
    return v as Record<string, unknown>;
  };
  const setItem = (d: Record<string, unknown>, key: unknown, value: unknown) => {
    let k: string;
    if (typeof key === "string") k = key;
    else if (typeof key === "number" || typeof key === "boolean" || key === null) k = key === null ? "None" : String(key);
    else throw new PickleError("unsupported dict key");
    Object.defineProperty(d, k, { value, writable: true, enumerable: true, configurable: true });
  };
  const text = (start: number, n: number) => buf.toString("utf8", start, start + n);
  const bytes = (start: number, n: number) => Buffer.from(buf.subarray(start, start + n));
  const signedLE = (start: number, n: number) => {
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[start + i]!);
    if (buf[start + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return Number(v);
  };
  const intText = (s: string) => {
    const t = s.trim().replace(/L$/, "");
    if (t === "01") return true;
    if (t === "00") return false;
    if (!/^[-+]?\d+$/.test(t)) throw new PickleError("bad int");
    return Number(t);
  };
  const pyStringLiteral = (s: string) => {
    const t = s.trim();
    const q = t[0];
    if ((q !== "'" && q !== '"') || t[t.length - 1] !== q || t.length < 2) throw new PickleError("bad string");
    return t.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|n|r|t|\\|'|")/g, (_, e: string) =>
      e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME (the frame's bytes follow inline)
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length > 0) throw new PickleError("bad stack at STOP");
        const result = stack[0];
        checkAcyclic(result, new Set(), 0);
        return result;
      }
      case 0x28: marks.push(stack.length); stack.push(MARK); break; // MARK
      case 0x7d: stack.push({}); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError("odd dict items");
        const d = {};
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: { const v = pop(); list(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); list(top()).push(...items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItem(dict(top()), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError("odd dict items");
        const d = dict(top());
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(buf.readInt32LE(need(4))); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { const n = u8(); stack.push(signedLE(need(n), n)); break; } // LONG1
      case 0x8b: { // LONG4
        const n = buf.length - pos >= 4 ? buf.readInt32LE(pos) : -1;
        need(4);
        if (n < 0) throw new PickleError("bad LONG4");
        if (n > 64) throw new PickleError("integer too large");
        stack.push(signedLE(need(n), n));
        break;
      }
      case 0x49: stack.push(intText(line())); break; // INT
      case 0x4c: stack.push(intText(line())); break; // LONG
      case 0x47: stack.push(buf.readDoubleBE(need(8))); break; // BINFLOAT
      case 0x46: { const f = Number(line().trim()); if (Number.isNaN(f)) throw new PickleError("bad float"); stack.push(f); break; } // FLOAT
      case 0x58: { const n = u32(); stack.push(text(need(n), n)); break; } // BINUNICODE
      case 0x8c: { const n = u8(); stack.push(text(need(n), n)); break; } // SHORT_BINUNICODE
      case 0x8d: { const n = u64(); stack.push(text(need(n), n)); break; } // BINUNICODE8
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))); break; // UNICODE
      case 0x42: { const n = u32(); stack.push(bytes(need(n), n)); break; } // BINBYTES
      case 0x43: { const n = u8(); stack.push(bytes(need(n), n)); break; } // SHORT_BINBYTES
      case 0x8e: case 0x96: { const n = u64(); stack.push(bytes(need(n), n)); break; } // BINBYTES8, BYTEARRAY8
      case 0x54: { const n = u32(); const s = need(n); stack.push(buf.toString("latin1", s, s + n)); break; } // BINSTRING (py2 str)
      case 0x55: { const n = u8(); const s = need(n); stack.push(buf.toString("latin1", s, s + n)); break; } // SHORT_BINSTRING
      case 0x53: stack.push(pyStringLiteral(line())); break; // STRING
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x70: memo.set(intText(line()) as number, top()); break; // PUT
      case 0x68: stack.push(recall(memo, u8())); break; // BINGET
      case 0x6a: stack.push(recall(memo, u32())); break; // LONG_BINGET
      case 0x67: stack.push(recall(memo, intText(line()) as number)); break; // GET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default: {
        const name = REFUSED[op];
        throw new PickleError(name ? `refused opcode ${name}: only plain data is accepted` : `unknown opcode 0x${op.toString(16)}`);
      }
    }
  }
}

function recall(memo: Map<number, unknown>, key: number): unknown {
  if (!memo.has(key)) throw new PickleError("memo key missing");
  return memo.get(key);
}

// Memo references may make a container hold itself: such data has no JSON form and is refused.
function checkAcyclic(value: unknown, path: Set<object>, depth: number): void {
  if (typeof value !== "object" || value === null || Buffer.isBuffer(value)) return;
  if (depth > MAX_DEPTH) throw new PickleError("nested too deep");
  if (path.has(value)) throw new PickleError("cyclic data");
  path.add(value);
  for (const v of Array.isArray(value) ? value : Object.values(value)) checkAcyclic(v, path, depth + 1);
  path.delete(value);
}

/** Pickles plain data (protocol 3): arrays as lists, `tuple()` values as tuples, Buffers as bytes. */
export function encodePickle(value: unknown): Buffer {
  const out: Buffer[] = [Buffer.from([0x80, 3])];
  const write = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new PickleError("nested too deep");
    if (v === null || v === undefined) out.push(Buffer.from([0x4e]));
    else if (v === true) out.push(Buffer.from([0x88]));
    else if (v === false) out.push(Buffer.from([0x89]));
    else if (typeof v === "number") {
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) {
        const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(v, 1); out.push(b);
      } else if (Number.isSafeInteger(v)) {
        const b = Buffer.alloc(10); b[0] = 0x8a; b[1] = 8; b.writeBigInt64LE(BigInt(v), 2); out.push(b);
      } else {
        const b = Buffer.alloc(9); b[0] = 0x47; b.writeDoubleBE(v, 1); out.push(b);
      }
    } else if (typeof v === "string") {
      const s = Buffer.from(v, "utf8");
      const h = Buffer.alloc(5); h[0] = 0x58; h.writeUInt32LE(s.length, 1); out.push(h, s);
    } else if (v instanceof Uint8Array) {
      const h = Buffer.alloc(5); h[0] = 0x42; h.writeUInt32LE(v.byteLength, 1); out.push(h, Buffer.from(v));
    } else if (Array.isArray(v)) {
      out.push(Buffer.from(isTuple(v) ? [0x28] : [0x5d, 0x28]));
      for (const item of v) write(item, depth + 1);
      out.push(Buffer.from([isTuple(v) ? 0x74 : 0x65]));
    } else if (typeof v === "object") {
      out.push(Buffer.from([0x7d, 0x28]));
      for (const [k, item] of Object.entries(v)) { write(k, depth + 1); write(item, depth + 1); }
      out.push(Buffer.from([0x75]));
    } else throw new PickleError(`cannot pickle a ${typeof v}`);
  };
  write(value, 0);
  out.push(Buffer.from([0x2e]));
  return Buffer.concat(out);
}

/** Marks an array as a tuple for encodePickle. */
export function asTuple(items: unknown[]): readonly unknown[] {
  return tuple(items);
}
