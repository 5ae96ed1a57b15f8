/**
 * TiDB datums and their memcomparable key encoding (`codec.EncodeKey`): the bytes that follow
 * an index prefix in an index key, or form a clustered (common) handle. Each datum is a flag byte
 * followed by an order-preserving encoding, so encoded keys sort like the values.
 *
 * Also the building blocks the row format shares: MySQL's binary decimal (`decimal2bin`), the
 * packed datetime `uint64`, and the order-preserving float.
 * @module
 */
import { decodeBytes, decodeInt, decodeUint } from "../codec/bytes.ts";
import { ByteWriter, KEY_WRITER } from "./_writer.ts";
import { DEFAULT_COLLATION } from "./types.ts";

/** A packed MySQL DATETIME/DATE/TIMESTAMP (`Time.ToPackedUint`). */
export interface MysqlTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

/** One SQL value, as TiDB's `types.Datum` distinguishes them for encoding. */
export type Datum =
  | { kind: "null" }
  | { kind: "int"; value: bigint }
  | { kind: "uint"; value: bigint }
  /** A character string; `collation` decides its sort key in index keys. */
  | { kind: "string"; value: Uint8Array; collation: string }
  /** A binary string (BINARY/VARBINARY/BLOB): compared byte-wise. */
  | { kind: "bytes"; value: Uint8Array }
  | { kind: "float"; value: number }
  /** A DECIMAL(precision, frac); `value` is its decimal text, e.g. "-12.50". */
  | { kind: "decimal"; value: string; precision: number; frac: number }
  /** DATETIME/DATE/TIMESTAMP as the packed uint64 (see `packTime`). */
  | { kind: "time"; value: bigint }
  /** TIME as nanoseconds. */
  | { kind: "duration"; value: bigint }
  /** JSON as TiDB's binary JSON: type code then value (see json_binary.ts). */
  | { kind: "json"; value: Uint8Array };

/** Flag bytes that start each datum of `encodeKey` (`codec.xxxFlag`). */
export const DatumFlag = {
  Nil: 0,
  Bytes: 1,
  CompactBytes: 2,
  Int: 3,
  Uint: 4,
  Float: 5,
  Decimal: 6,
  Duration: 7,
  Varint: 8,
  Uvarint: 9,
  Json: 10,
  Max: 250,
} as const;

/** SQL NULL. */
export const NULL_DATUM: Datum = { kind: "null" };

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A signed integer datum. */
export function intDatum(v: bigint | number): Datum {
  return { kind: "int", value: BigInt(v) };
}

/** An unsigned integer datum. */
export function uintDatum(v: bigint | number): Datum {
  return { kind: "uint", value: BigInt(v) };
}

/** A character string datum (UTF-8) under `collation`. */
export function stringDatum(s: string, collation: string = DEFAULT_COLLATION): Datum {
  return { kind: "string", value: utf8.encode(s), collation };
}

/** A binary string datum. */
export function bytesDatum(b: Uint8Array): Datum {
  return { kind: "bytes", value: b };
}

/** A DOUBLE/FLOAT datum. */
export function floatDatum(v: number): Datum {
  return { kind: "float", value: v };
}

/** A DECIMAL(precision, frac) datum from its text ("-12.5" is stored as -12.50 for frac 2). */
export function decimalDatum(value: string, precision: number, frac: number): Datum {
  return { kind: "decimal", value, precision, frac };
}

/** A DATETIME datum. */
export function timeDatum(t: MysqlTime): Datum {
  return { kind: "time", value: packTime(t) };
}

/** A TIME datum from nanoseconds. */
export function durationDatum(nanos: bigint): Datum {
  return { kind: "duration", value: nanos };
}

/** The text of a string datum (for tests and tools). */
export function datumText(d: Datum): string {
  if (d.kind === "string" || d.kind === "bytes") return utf8Decoder.decode(d.value);
  if (d.kind === "null") return "NULL";
  return String(d.value);
}

/** MySQL's packed time: `((ymd << 17 | hms) << 24) | microsecond`, ymd = (y*13+m) << 5 | d. */
export function packTime(t: MysqlTime): bigint {
  const ymd = (BigInt(t.year * 13 + t.month) << 5n) | BigInt(t.day);
  const hms = BigInt((t.hour << 12) | (t.minute << 6) | t.second);
  return (((ymd << 17n) | hms) << 24n) | BigInt(t.microsecond);
}

/** Inverse of `packTime`. */
export function unpackTime(packed: bigint): MysqlTime {
  const microsecond = Number(packed & 0xffffffn);
  const ymdhms = packed >> 24n;
  const hms = Number(ymdhms & 0x1ffffn);
  const ymd = Number(ymdhms >> 17n);
  const ym = ymd >> 5;
  return {
    year: Math.floor(ym / 13),
    month: ym % 13,
    day: ymd & 31,
    hour: hms >> 12,
    minute: (hms >> 6) & 63,
    second: hms & 63,
    microsecond,
  };
}

const SIGN_MASK = 1n << 63n;
const U64_MASK = (1n << 64n) - 1n;

/** Order-preserving 8 bytes of a float64 (`codec.EncodeFloat`). */
export function encodeFloat(v: number): Uint8Array {
  const w = new ByteWriter();
  writeFloat(w, v);
  return w.finish();
}

/** Inverse of `encodeFloat`, reading 8 bytes at `offset`. */
export function decodeFloat(buf: Uint8Array, offset = 0): number {
  let bits = decodeUint(buf, offset);
  bits = (bits & SIGN_MASK) !== 0n ? bits & ~SIGN_MASK : ~bits & U64_MASK;
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, bits, false);
  return dv.getFloat64(0, false);
}

const DIGITS_PER_WORD = 9;
// Bytes MySQL's binary decimal uses for a group of 0..9 digits.
const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/**
 * MySQL's `decimal2bin` of `value` as DECIMAL(precision, frac): integer then fraction digits in
 * 9-digit big-endian words (partial groups at both ends take fewer bytes), every byte inverted
 * for negatives, and the top bit of the first byte flipped so the bytes sort like the numbers.
 * Throws when the value has more integer or fraction digits than the type allows.
 */
export function decimalToBin(value: string, precision: number, frac: number): Uint8Array {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(value);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) {
    throw new Error(`"${value}" is not a decimal number`);
  }
  if (precision < 1 || precision > 65 || frac < 0 || frac > 30 || frac > precision) {
    throw new Error(`DECIMAL(${precision}, ${frac}) is not a valid decimal type`);
  }
  let intDigits = (m[2] ?? "").replace(/^0+/, "");
  let fracDigits = m[3] ?? "";
  if (fracDigits.length > frac) {
    if (/[1-9]/.test(fracDigits.slice(frac))) {
      throw new Error(
        `"${value}" has more than ${frac} fraction digits for DECIMAL(${precision}, ${frac})`,
      );
    }
    fracDigits = fracDigits.slice(0, frac);
  }
  fracDigits = fracDigits.padEnd(frac, "0");
  const intg = precision - frac;
  if (intDigits.length > intg) {
    throw new Error(
      `"${value}" has more than ${intg} integer digits for DECIMAL(${precision}, ${frac})`,
    );
  }
  intDigits = intDigits.padStart(intg, "0");
  const negative = m[1] === "-" && /[1-9]/.test(intDigits + fracDigits);

  const intg0 = Math.floor(intg / DIGITS_PER_WORD);
  const intg0x = intg % DIGITS_PER_WORD;
  const frac0 = Math.floor(frac / DIGITS_PER_WORD);
  const frac0x = frac % DIGITS_PER_WORD;
  const size = DIG2BYTES[intg0x]! + intg0 * 4 + frac0 * 4 + DIG2BYTES[frac0x]!;
  const out = new Uint8Array(size);
  let pos = 0;
  const put = (digits: string, bytes: number) => {
    let v = digits === "" ? 0 : Number(digits);
    for (let i = bytes - 1; i >= 0; i--) {
      out[pos + i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    pos += bytes;
  };
  put(intDigits.slice(0, intg0x), DIG2BYTES[intg0x]!);
  for (let w = 0; w < intg0; w++) {
    const at = intg0x + w * DIGITS_PER_WORD;
    put(intDigits.slice(at, at + DIGITS_PER_WORD), 4);
  }
  for (let w = 0; w < frac0; w++) {
    put(fracDigits.slice(w * DIGITS_PER_WORD, (w + 1) * DIGITS_PER_WORD), 4);
  }
  put(fracDigits.slice(frac0 * DIGITS_PER_WORD), DIG2BYTES[frac0x]!);
  if (negative) { for (let i = 0; i < size; i++) out[i] = out[i]! ^ 0xff; }
  if (size > 0) out[0] = out[0]! ^ 0x80;
  return out;
}

/** Inverse of `decimalToBin`: the decimal text and the offset after it. */
export function binToDecimal(
  buf: Uint8Array,
  offset: number,
  precision: number,
  frac: number,
): { value: string; next: number } {
  const intg = precision - frac;
  const intg0 = Math.floor(intg / DIGITS_PER_WORD);
  const intg0x = intg % DIGITS_PER_WORD;
  const frac0 = Math.floor(frac / DIGITS_PER_WORD);
  const frac0x = frac % DIGITS_PER_WORD;
  const size = DIG2BYTES[intg0x]! + intg0 * 4 + frac0 * 4 + DIG2BYTES[frac0x]!;
  if (offset + size > buf.length) {
    throw new Error(`binary decimal at offset ${offset} is truncated`);
  }
  const b = buf.slice(offset, offset + size);
  const negative = (b[0]! & 0x80) === 0;
  b[0] = b[0]! ^ 0x80;
  if (negative) { for (let i = 0; i < size; i++) b[i] = b[i]! ^ 0xff; }
  let pos = 0;
  const take = (bytes: number, digits: number) => {
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + b[pos + i]!;
    pos += bytes;
    return digits === 0 ? "" : String(v).padStart(digits, "0");
  };
  let intText = take(DIG2BYTES[intg0x]!, intg0x);
  for (let w = 0; w < intg0; w++) intText += take(4, DIGITS_PER_WORD);
  let fracText = "";
  for (let w = 0; w < frac0; w++) fracText += take(4, DIGITS_PER_WORD);
  fracText += take(DIG2BYTES[frac0x]!, frac0x);
  intText = intText.replace(/^0+/, "") || "0";
  const text = (negative ? "-" : "") + intText + (frac > 0 ? "." + fracText : "");
  return { value: text, next: offset + size };
}

/** `codec.EncodeDecimal`: precision byte, frac byte, then `decimalToBin`. */
export function encodeDecimal(value: string, precision: number, frac: number): Uint8Array {
  const bin = decimalToBin(value, precision, frac);
  const out = new Uint8Array(2 + bin.length);
  out[0] = precision;
  out[1] = frac;
  out.set(bin, 2);
  return out;
}

/**
 * The sort key of a string under a collation, as TiDB's new-collation framework builds index
 * keys: `binary` keeps the bytes; the `_bin` padding collations drop trailing spaces. Other
 * collations are not modelled and throw.
 */
export function collationKey(value: Uint8Array, collation: string): Uint8Array {
  if (collation === "binary") return value;
  if (collation.endsWith("_bin")) {
    let end = value.length;
    while (end > 0 && value[end - 1] === 0x20) end--;
    return value.subarray(0, end);
  }
  throw new Error(
    `collation ${collation} is not supported by the playground's key encoder; ` +
      `use binary or a _bin collation`,
  );
}

/** Writes the memcomparable encoding of one datum (`codec.EncodeKey`) into `w`. */
export function writeKeyDatum(w: ByteWriter, d: Datum): void {
  switch (d.kind) {
    case "null":
      w.u8(DatumFlag.Nil);
      return;
    case "int":
      w.u8(DatumFlag.Int);
      w.int64Cmp(d.value);
      return;
    case "uint":
      w.u8(DatumFlag.Uint);
      w.uint64(d.value);
      return;
    case "string":
      w.u8(DatumFlag.Bytes);
      w.memcmpBytes(collationKey(d.value, d.collation));
      return;
    case "bytes":
      w.u8(DatumFlag.Bytes);
      w.memcmpBytes(d.value);
      return;
    case "float":
      w.u8(DatumFlag.Float);
      writeFloat(w, d.value);
      return;
    case "decimal":
      w.u8(DatumFlag.Decimal);
      w.u8(d.precision);
      w.u8(d.frac);
      w.bytes(decimalToBin(d.value, d.precision, d.frac));
      return;
    case "time":
      w.u8(DatumFlag.Uint);
      w.uint64(d.value);
      return;
    case "duration":
      w.u8(DatumFlag.Duration);
      w.int64Cmp(d.value);
      return;
    case "json":
      throw new Error("a JSON value cannot be part of a key");
  }
}

/** Writes the order-preserving 8 bytes of a float64 (`codec.EncodeFloat`) into `w`. */
export function writeFloat(w: ByteWriter, v: number): void {
  w.reserve(8);
  const at = w.len;
  w.dv.setFloat64(at, v, false);
  if (v >= 0) w.buf[at] = w.buf[at]! | 0x80;
  else for (let i = at; i < at + 8; i++) w.buf[i] = ~w.buf[i]! & 0xff;
  w.len += 8;
}

/** The memcomparable encoding of `datums`, concatenated (`codec.EncodeKey`). */
export function encodeKey(datums: readonly Datum[]): Uint8Array {
  const w = KEY_WRITER.reset();
  for (const d of datums) writeKeyDatum(w, d);
  return w.finish();
}

/**
 * Decodes one `encodeKey` datum at `offset`. Strings come back as `bytes` (a key holds only the
 * collation sort key, not the original text) and times as `uint` (the key does not say which).
 */
export function decodeKeyDatum(buf: Uint8Array, offset = 0): { datum: Datum; next: number } {
  const flag = buf[offset];
  const at = offset + 1;
  switch (flag) {
    case DatumFlag.Nil:
      return { datum: NULL_DATUM, next: at };
    case DatumFlag.Int:
      return { datum: { kind: "int", value: decodeInt(buf, at) }, next: at + 8 };
    case DatumFlag.Uint:
      return { datum: { kind: "uint", value: decodeUint(buf, at) }, next: at + 8 };
    case DatumFlag.Bytes: {
      const { value, next } = decodeBytes(buf, at);
      return { datum: { kind: "bytes", value }, next };
    }
    case DatumFlag.Float:
      return { datum: { kind: "float", value: decodeFloat(buf, at) }, next: at + 8 };
    case DatumFlag.Duration:
      return { datum: { kind: "duration", value: decodeInt(buf, at) }, next: at + 8 };
    case DatumFlag.Decimal: {
      const precision = buf[at]!;
      const frac = buf[at + 1]!;
      const { value, next } = binToDecimal(buf, at + 2, precision, frac);
      return { datum: { kind: "decimal", value, precision, frac }, next };
    }
    default:
      throw new Error(
        `unsupported datum flag ${flag} at offset ${offset}; the key is not a TiDB-encoded key`,
      );
  }
}

/** Decodes every datum of an `encodeKey` result. */
export function decodeKey(buf: Uint8Array, offset = 0): Datum[] {
  const out: Datum[] = [];
  let pos = offset;
  while (pos < buf.length) {
    const { datum, next } = decodeKeyDatum(buf, pos);
    out.push(datum);
    pos = next;
  }
  return out;
}
