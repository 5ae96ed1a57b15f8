/**
 * TiDB's binary JSON (`types.BinaryJSON`, pkg/types/json_binary.go): the bytes a JSON column
 * holds in a row, a type code followed by the value.
 *
 * - object: `count u32 | size u32 | (keyOffset u32, keyLen u16)* | (type u8, offset u32)* |
 *   keys | values`, keys sorted byte-wise; array: the same without key entries;
 * - literals (null/true/false) are inlined in their value entry; every other value, int64
 *   included (unlike MySQL), is stored at an offset from the start of its container;
 * - int64/uint64/double: 8 bytes little-endian; string: uvarint length and UTF-8 bytes;
 *   opaque: MySQL type byte, uvarint length, bytes; date/datetime/timestamp: packed uint64;
 *   time: int64 nanoseconds and a u32 fsp.
 *
 * `jsonToText` prints a document as TiDB does (`BinaryJSON.String`): `", "` and `": "` between
 * items, floats as in ES6 with a `.0` kept on integral values.
 * @module
 */
import { decodeVarU64, encodeVarU64 } from "../codec/varint.ts";
import { type MysqlTime, unpackTime } from "./datum.ts";

/** JSON type codes (`types.JSONTypeCodeXxx`). */
export const JsonTypeCode = {
  Object: 0x01,
  Array: 0x03,
  Literal: 0x04,
  Int64: 0x09,
  Uint64: 0x0a,
  Float64: 0x0b,
  String: 0x0c,
  Opaque: 0x0d,
  Date: 0x0e,
  Datetime: 0x0f,
  Timestamp: 0x10,
  Duration: 0x11,
} as const;

const LITERAL_NULL = 0;
const LITERAL_TRUE = 1;
const LITERAL_FALSE = 2;
const HEADER = 8; // element count + size
const KEY_ENTRY = 6;
const VALUE_ENTRY = 5;

/** A JSON number written with a fraction or exponent: stored as a double even when integral. */
export class JsonDouble {
  constructor(readonly value: number) {}
}

/**
 * A JSON value to encode. JS numbers that are safe integers become int64, others double;
 * bigints become int64, or uint64 above the int64 range.
 */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonDouble
  | JsonValue[]
  | { [key: string]: JsonValue };

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

class _Buf {
  buf = new Uint8Array(256);
  dv = new DataView(this.buf.buffer);
  len = 0;
  grow(n: number): number {
    if (this.len + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
}

function _append(b: _Buf, v: JsonValue): number {
  if (v === null || typeof v === "boolean") {
    const at = b.grow(1); // grow first: it may replace b.buf
    b.buf[at] = v === null ? LITERAL_NULL : v ? LITERAL_TRUE : LITERAL_FALSE;
    return JsonTypeCode.Literal;
  }
  if (v instanceof JsonDouble) v = v.value;
  else if (typeof v === "number" && Number.isSafeInteger(v)) v = BigInt(v);
  if (typeof v === "bigint") {
    const at = b.grow(8);
    if (v > 0x7fffffffffffffffn) {
      b.dv.setBigUint64(at, v, true);
      return JsonTypeCode.Uint64;
    }
    b.dv.setBigInt64(at, v, true);
    return JsonTypeCode.Int64;
  }
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`JSON cannot hold ${v}`);
    const at = b.grow(8);
    b.dv.setFloat64(at, v, true);
    return JsonTypeCode.Float64;
  }
  if (typeof v === "string") {
    const s = utf8.encode(v);
    const n = encodeVarU64(BigInt(s.length));
    const at = b.grow(n.length + s.length);
    b.buf.set(n, at);
    b.buf.set(s, at + n.length);
    return JsonTypeCode.String;
  }
  const doc = b.len;
  if (Array.isArray(v)) {
    b.grow(HEADER + v.length * VALUE_ENTRY);
    b.dv.setUint32(doc, v.length, true);
    v.forEach((e, i) => _appendElem(b, doc, doc + HEADER + i * VALUE_ENTRY, e));
    b.dv.setUint32(doc + 4, b.len - doc, true);
    return JsonTypeCode.Array;
  }
  const fields = Object.entries(v).map(([k, e]) => [utf8.encode(k), e] as const);
  fields.sort((x, y) => _cmp(x[0], y[0]));
  const n = fields.length;
  b.grow(HEADER + n * (KEY_ENTRY + VALUE_ENTRY));
  b.dv.setUint32(doc, n, true);
  fields.forEach(([k], i) => {
    if (k.length > 0xffff) throw new Error("JSON object key is longer than 65535 bytes");
    b.dv.setUint32(doc + HEADER + i * KEY_ENTRY, b.len - doc, true);
    b.dv.setUint16(doc + HEADER + i * KEY_ENTRY + 4, k.length, true);
    const at = b.grow(k.length);
    b.buf.set(k, at);
  });
  const valuesAt = doc + HEADER + n * KEY_ENTRY;
  fields.forEach(([, e], i) => _appendElem(b, doc, valuesAt + i * VALUE_ENTRY, e));
  b.dv.setUint32(doc + 4, b.len - doc, true);
  return JsonTypeCode.Object;
}

function _appendElem(b: _Buf, doc: number, entry: number, v: JsonValue): void {
  const at = b.len;
  const type = _append(b, v);
  b.buf[entry] = type;
  if (type === JsonTypeCode.Literal) {
    const lit = b.buf[at]!;
    b.len = at;
    b.dv.setUint32(entry + 1, lit, true);
    return;
  }
  b.dv.setUint32(entry + 1, at - doc, true);
}

function _cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The binary JSON of `v`: type code then value, as a JSON column stores it in a row. */
export function encodeJson(v: JsonValue): Uint8Array {
  const b = new _Buf();
  b.grow(1);
  const type = _append(b, v);
  b.buf[0] = type;
  return b.buf.slice(0, b.len);
}

/** `encodeJson` of the JSON text `text` (integers beyond 2^53 kept exact). */
export function encodeJsonText(text: string): Uint8Array {
  return encodeJson(parseJsonExact(text));
}

/**
 * Parses JSON text as TiDB does: integers exact (safe ones as numbers, larger ones as bigint),
 * numbers with a fraction or exponent as `JsonDouble`.
 */
export function parseJsonExact(text: string): JsonValue {
  return JSON.parse(
    text,
    function (_k: string, v: unknown, ctx?: { source?: string }) {
      if (typeof v === "number" && ctx?.source) {
        if (!/^-?\d+$/.test(ctx.source)) return new JsonDouble(v);
        return Number.isSafeInteger(v) ? v : BigInt(ctx.source);
      }
      return v;
    } as (k: string, v: unknown) => unknown,
  ) as JsonValue;
}

/** A JSON document decoded from its binary form, as text the way TiDB prints it. */
export function jsonToText(bytes: Uint8Array): string {
  if (bytes.length < 1) throw new Error("binary JSON is empty");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  _text(bytes, dv, bytes[0]!, 1, parts, 0);
  return parts.join("");
}

function _text(
  b: Uint8Array,
  dv: DataView,
  type: number,
  at: number,
  out: string[],
  depth: number,
): void {
  if (depth > 100) throw new Error("binary JSON is nested deeper than 100 levels");
  if (at > b.length) throw new Error("binary JSON is truncated");
  switch (type) {
    case JsonTypeCode.Literal: {
      const lit = b[at];
      out.push(lit === LITERAL_TRUE ? "true" : lit === LITERAL_FALSE ? "false" : "null");
      return;
    }
    case JsonTypeCode.Int64:
      out.push(dv.getBigInt64(at, true).toString());
      return;
    case JsonTypeCode.Uint64:
      out.push(dv.getBigUint64(at, true).toString());
      return;
    case JsonTypeCode.Float64:
      out.push(formatJsonFloat(dv.getFloat64(at, true)));
      return;
    case JsonTypeCode.String: {
      const { value: n, next } = decodeVarU64(b, at);
      out.push(quoteJsonString(utf8Decoder.decode(b.subarray(next, next + Number(n)))));
      return;
    }
    case JsonTypeCode.Opaque: {
      const typ = b[at]!;
      const { value: n, next } = decodeVarU64(b, at + 1);
      const data = b.subarray(next, next + Number(n));
      out.push(`"base64:type${typ}:${_base64(data)}"`);
      return;
    }
    case JsonTypeCode.Date:
    case JsonTypeCode.Datetime:
    case JsonTypeCode.Timestamp: {
      const t = unpackTime(dv.getBigUint64(at, true));
      out.push(`"${formatJsonTime(t, type === JsonTypeCode.Date)}"`);
      return;
    }
    case JsonTypeCode.Duration: {
      out.push(`"${formatDuration(dv.getBigInt64(at, true), 6)}"`);
      return;
    }
    case JsonTypeCode.Array:
    case JsonTypeCode.Object: {
      const count = dv.getUint32(at, true);
      const isObj = type === JsonTypeCode.Object;
      const valuesAt = at + HEADER + (isObj ? count * KEY_ENTRY : 0);
      out.push(isObj ? "{" : "[");
      for (let i = 0; i < count; i++) {
        if (i > 0) out.push(", ");
        if (isObj) {
          const ke = at + HEADER + i * KEY_ENTRY;
          const koff = at + dv.getUint32(ke, true);
          const klen = dv.getUint16(ke + 4, true);
          out.push(quoteJsonString(utf8Decoder.decode(b.subarray(koff, koff + klen))), ": ");
        }
        const ve = valuesAt + i * VALUE_ENTRY;
        const vt = b[ve]!;
        if (vt === JsonTypeCode.Literal) _text(b, dv, vt, ve + 1, out, depth + 1);
        else _text(b, dv, vt, at + dv.getUint32(ve + 1, true), out, depth + 1);
      }
      out.push(isObj ? "}" : "]");
      return;
    }
    default:
      throw new Error(`binary JSON has unknown type code ${type}`);
  }
}

/** A JSON string literal with Go's encoding/json escapes (no HTML escaping), as TiDB writes. */
export function quoteJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20) out += "\\u00" + c.toString(16).padStart(2, "0");
    else if (c === 0x2028 || c === 0x2029) out += "\\u" + c.toString(16);
    else out += ch;
  }
  return out + '"';
}

/** A double as TiDB prints it inside JSON: plain below 1e15 (with `.0` when integral), else `e`. */
export function formatJsonFloat(f: number): string {
  if (!Number.isFinite(f)) throw new Error(`JSON cannot hold ${f}`);
  const abs = Math.abs(f);
  if (abs !== 0 && (abs < 1e-15 || abs >= 1e15)) {
    // Go's 'e' with shortest digits, exponent without '+' and without leading zeros.
    const [m, e] = f.toExponential().split("e");
    return `${m}e${Number(e)}`;
  }
  let s = _plain(f);
  if (!s.includes(".")) s += ".0";
  return s;
}

function _plain(f: number): string {
  const s = String(f);
  if (!s.includes("e")) return s;
  // JS switches to exponent form below 1e-6; Go's 'f' does not.
  const [m, e] = s.split("e");
  const exp = Number(e);
  const neg = m!.startsWith("-");
  const digits = m!.replace("-", "").replace(".", "");
  const intLen = m!.replace("-", "").split(".")[0]!.length + exp;
  const body = intLen <= 0
    ? "0." + "0".repeat(-intLen) + digits
    : digits.length <= intLen
    ? digits + "0".repeat(intLen - digits.length)
    : digits.slice(0, intLen) + "." + digits.slice(intLen);
  return (neg ? "-" : "") + body;
}

function _base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return btoa(s);
}

function _p(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

function formatJsonTime(t: MysqlTime, dateOnly: boolean): string {
  const d = `${_p(t.year, 4)}-${_p(t.month, 2)}-${_p(t.day, 2)}`;
  if (dateOnly) return d;
  return `${d} ${_p(t.hour, 2)}:${_p(t.minute, 2)}:${_p(t.second, 2)}.${_p(t.microsecond, 6)}`;
}

/** A TIME value (nanoseconds) as MySQL prints it, `[-]HH:MM:SS[.frac]` with `fsp` digits. */
export function formatDuration(nanos: bigint, fsp: number): string {
  const neg = nanos < 0n;
  let n = neg ? -nanos : nanos;
  // MySQL rounds to the column's fsp; TiDB stores values already rounded.
  const micros = n / 1000n;
  n = micros;
  const frac = Number(n % 1_000_000n);
  const secs = n / 1_000_000n;
  const h = secs / 3600n;
  const m = Number((secs / 60n) % 60n);
  const s = Number(secs % 60n);
  let out = `${neg ? "-" : ""}${String(h).padStart(2, "0")}:${_p(m, 2)}:${_p(s, 2)}`;
  if (fsp > 0) out += "." + _p(frac, 6).slice(0, fsp);
  return out;
}
