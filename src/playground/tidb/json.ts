/**
 * TiDB's binary JSON (`pkg/types/json_binary.go`), the bytes a JSON column holds in a row: a
 * type code, then the value. Objects and arrays: element count and total size (u32 LE), then
 * key entries (offset u32, length u16; objects only, keys sorted by bytes), value entries (type
 * code, then the literal inline or the value's offset as u32), then keys and values. Strings are
 * a uvarint length and UTF-8; int64/uint64/float64 are 8 bytes LE; literals one byte.
 * @module
 */

/** JSON type codes (`JSONTypeCode...`). */
export const JsonType = {
  Object: 0x01,
  Array: 0x03,
  Literal: 0x04,
  Int64: 0x09,
  Uint64: 0x0a,
  Float64: 0x0b,
  String: 0x0c,
} as const;

const LITERAL_NULL = 0x00;
const LITERAL_TRUE = 0x01;
const LITERAL_FALSE = 0x02;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** A JSON number written with a fraction or exponent: a float64 even when integral (3.0). */
class JsonFloat {
  constructor(readonly value: number) {}
}

type Json =
  | null
  | boolean
  | number
  | bigint
  | JsonFloat
  | string
  | Json[]
  | { [k: string]: Json };

/**
 * Parses JSON text as TiDB does: integers exact (int64/uint64), numbers with a fraction or an
 * exponent as float64. Uses the reviver's source text where the runtime gives it.
 */
export function parseJsonText(text: string): Json {
  return JSON.parse(
    text,
    function (_k: string, v: unknown, ctx?: { source?: string }) {
      if (typeof v !== "number" || !ctx?.source) return v;
      return /^-?\d+$/.test(ctx.source) ? BigInt(ctx.source) : new JsonFloat(v);
    } as (k: string, v: unknown) => unknown,
  ) as Json;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function encodeValue(v: Json): { type: number; bytes: Uint8Array } {
  if (v === null) return { type: JsonType.Literal, bytes: Uint8Array.of(LITERAL_NULL) };
  if (v === true) return { type: JsonType.Literal, bytes: Uint8Array.of(LITERAL_TRUE) };
  if (v === false) return { type: JsonType.Literal, bytes: Uint8Array.of(LITERAL_FALSE) };
  if (
    typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v) && !Object.is(v, -0))
  ) {
    const n = BigInt(v);
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    if (n >= -(1n << 63n) && n < 1n << 63n) {
      dv.setBigInt64(0, n, true);
      return { type: JsonType.Int64, bytes: b };
    }
    if (n >= 0n && n < 1n << 64n) {
      dv.setBigUint64(0, n, true);
      return { type: JsonType.Uint64, bytes: b };
    }
    return encodeValue(Number(n));
  }
  if (typeof v === "number" || v instanceof JsonFloat) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, typeof v === "number" ? v : v.value, true);
    return { type: JsonType.Float64, bytes: b };
  }
  if (typeof v === "string") {
    const s = utf8.encode(v);
    const len: number[] = [];
    let n = s.length;
    do {
      len.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    return { type: JsonType.String, bytes: new Uint8Array([...len, ...s]) };
  }
  const isArray = Array.isArray(v);
  const entries: [Uint8Array | undefined, Json][] = isArray
    ? (v as Json[]).map((x) => [undefined, x])
    : Object.entries(v as Record<string, Json>)
      .map(([k, x]) => [utf8.encode(k), x] as [Uint8Array, Json])
      .sort((a, b) => compareBytes(a[0], b[0]));
  const count = entries.length;
  const header = 8;
  const keyEntries = isArray ? 0 : count * 6;
  const valEntries = count * 5;
  let off = header + keyEntries + valEntries;
  const keyOffsets: number[] = [];
  for (const [k] of entries) {
    if (k) {
      keyOffsets.push(off);
      off += k.length;
    }
  }
  const values = entries.map(([, x]) => encodeValue(x));
  const valOffsets: number[] = [];
  for (const val of values) {
    if (val.type === JsonType.Literal) {
      valOffsets.push(-1);
      continue;
    }
    valOffsets.push(off);
    off += val.bytes.length;
  }
  const out: number[] = [...u32(count), ...u32(off)];
  entries.forEach(([k], i) => {
    if (k) out.push(...u32(keyOffsets[i]!), k.length & 0xff, (k.length >>> 8) & 0xff);
  });
  values.forEach((val, i) => {
    out.push(val.type);
    if (val.type === JsonType.Literal) out.push(val.bytes[0]!, 0, 0, 0);
    else out.push(...u32(valOffsets[i]!));
  });
  for (const [k] of entries) if (k) out.push(...k);
  for (const val of values) if (val.type !== JsonType.Literal) out.push(...val.bytes);
  return { type: isArray ? JsonType.Array : JsonType.Object, bytes: new Uint8Array(out) };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The bytes a JSON column stores for JSON text (type code, then the binary value). */
export function encodeJson(text: string): Uint8Array {
  let v: Json;
  try {
    v = parseJsonText(text);
  } catch (err) {
    throw new Error(`Invalid JSON text: ${(err as Error).message}`);
  }
  const e = encodeValue(v);
  return new Uint8Array([e.type, ...e.bytes]);
}

function decodeValue(type: number, b: Uint8Array, at: number): Json {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (type) {
    case JsonType.Literal:
      return b[at] === LITERAL_TRUE ? true : b[at] === LITERAL_FALSE ? false : null;
    case JsonType.Int64:
      return dv.getBigInt64(at, true);
    case JsonType.Uint64:
      return dv.getBigUint64(at, true);
    case JsonType.Float64:
      return new JsonFloat(dv.getFloat64(at, true));
    case JsonType.String: {
      let n = 0;
      let shift = 0;
      let i = at;
      for (;;) {
        const c = b[i++]!;
        n |= (c & 0x7f) << shift;
        if (c < 0x80) break;
        shift += 7;
      }
      return utf8d.decode(b.subarray(i, i + n));
    }
    case JsonType.Object:
    case JsonType.Array: {
      const count = dv.getUint32(at, true);
      const isArray = type === JsonType.Array;
      const valAt = at + 8 + (isArray ? 0 : count * 6);
      const vals: Json[] = [];
      for (let i = 0; i < count; i++) {
        const e = valAt + i * 5;
        const t = b[e]!;
        vals.push(
          t === JsonType.Literal
            ? decodeValue(t, b, e + 1)
            : decodeValue(t, b, at + dv.getUint32(e + 1, true)),
        );
      }
      if (isArray) return vals;
      const obj: Record<string, Json> = {};
      for (let i = 0; i < count; i++) {
        const e = at + 8 + i * 6;
        const ko = dv.getUint32(e, true);
        const kl = dv.getUint16(e + 4, true);
        obj[utf8d.decode(b.subarray(at + ko, at + ko + kl))] = vals[i]!;
      }
      return obj;
    }
  }
  throw new Error(`unknown JSON type code ${type}`);
}

function toText(v: Json): string {
  if (v === null) return "null";
  if (typeof v === "bigint" || typeof v === "number") return String(v);
  if (v instanceof JsonFloat) {
    return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
  }
  if (typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toText).join(", ")}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${toText(x)}`).join(", ")}}`;
}

/** The JSON text TiDB prints for stored bytes (`{"a": 1, "b": [true, null]}`). */
export function decodeJson(bytes: Uint8Array): string {
  return toText(decodeValue(bytes[0]!, bytes, 1));
}
