/**
 * TiDB's row format v2 (`rowcodec`), the value of every record key TiDB writes since 4.0:
 *
 * `0x80 | flags | notNullCount u16 | nullCount u16 | column ids | end offsets | data`
 *
 * Little-endian counts; not-null column ids (sorted) come before null ones; ids are 1 byte and
 * offsets 2 bytes unless the row is "large" (an id > 255 or data > 65535 bytes, flag 0x01), then
 * 4 and 4. Offsets are the end of each not-null column's data. Integers are stored in their
 * shortest little-endian width, strings as raw bytes, floats and decimals as in keys.
 * @module
 */
import { type Datum, decimalToBin, writeFloat } from "./datum.ts";
import { ByteWriter } from "./_writer.ts";

/** The version byte that starts a v2 row (`rowcodec.CodecVer`). */
export const ROW_CODEC_VERSION = 128;
const FLAG_LARGE = 1;
const FLAG_CHECKSUM = 2;

/** One column of a row to encode. */
export interface RowColumn {
  id: number;
  datum: Datum;
}

const ROW = new ByteWriter();
const DATA = new ByteWriter();

function writeCompactInt(w: ByteWriter, v: bigint): void {
  if (v >= -0x80000000n && v <= 0x7fffffffn) {
    const n = Number(v);
    const width = n >= -0x80 && n <= 0x7f ? 1 : n >= -0x8000 && n <= 0x7fff ? 2 : 4;
    w.reserve(width);
    for (let i = 0; i < width; i++) w.buf[w.len++] = (n >> (8 * i)) & 0xff;
    return;
  }
  w.reserve(8);
  w.dv.setBigInt64(w.len, v, true);
  w.len += 8;
}

function writeCompactUint(w: ByteWriter, v: bigint): void {
  if (v <= 0xffffffffn) {
    const n = Number(v);
    const width = n <= 0xff ? 1 : n <= 0xffff ? 2 : 4;
    w.reserve(width);
    for (let i = 0; i < width; i++) w.buf[w.len++] = Math.floor(n / 2 ** (8 * i)) & 0xff;
    return;
  }
  w.reserve(8);
  w.dv.setBigUint64(w.len, v, true);
  w.len += 8;
}

/** Writes the v2 value bytes of one not-null datum (`encodeValueDatum`) into `w`. */
function writeColumnValue(w: ByteWriter, d: Datum): void {
  switch (d.kind) {
    case "int":
    case "duration":
      writeCompactInt(w, d.value);
      return;
    case "uint":
    case "time":
      writeCompactUint(w, d.value);
      return;
    case "string":
    case "bytes":
    case "json":
      w.bytes(d.value);
      return;
    case "float":
      writeFloat(w, d.value);
      return;
    case "decimal":
      w.u8(d.precision);
      w.u8(d.frac);
      w.bytes(decimalToBin(d.value, d.precision, d.frac));
      return;
    case "null":
      throw new Error("NULL has no column value; it is listed among the null columns");
  }
}

/** The v2 value bytes of one not-null datum (`encodeValueDatum`). */
export function encodeColumnValue(d: Datum): Uint8Array {
  const w = new ByteWriter();
  writeColumnValue(w, d);
  return w.finish();
}

/** Encodes a row in format v2. Column ids must be distinct and positive. */
export function encodeRow(columns: readonly RowColumn[]): Uint8Array {
  const notNull: RowColumn[] = [];
  const nulls: RowColumn[] = [];
  let maxId = 0;
  for (const c of columns) {
    (c.datum.kind === "null" ? nulls : notNull).push(c);
    if (c.id > maxId) maxId = c.id;
  }
  notNull.sort((a, b) => a.id - b.id);
  nulls.sort((a, b) => a.id - b.id);
  const data = DATA.reset();
  const ends: number[] = [];
  for (const c of notNull) {
    writeColumnValue(data, c.datum);
    ends.push(data.len);
  }
  const large = maxId > 255 || data.len > 0xffff;
  const w = ROW.reset();
  w.u8(ROW_CODEC_VERSION);
  w.u8(large ? FLAG_LARGE : 0);
  w.u16le(notNull.length);
  w.u16le(nulls.length);
  for (const list of [notNull, nulls]) {
    for (const c of list) {
      if (large) w.u32le(c.id);
      else w.u8(c.id);
    }
  }
  for (const e of ends) {
    if (large) w.u32le(e);
    else w.u16le(e);
  }
  w.reserve(data.len);
  w.buf.set(data.buf.subarray(0, data.len), w.len);
  w.len += data.len;
  return w.finish();
}

/** A decoded v2 row: each column id mapped to its value bytes, or null for a NULL column. */
export type DecodedRow = Map<number, Uint8Array | null>;

/** Decodes a v2 row into raw column values; throws when it is not a v2 row or is truncated. */
export function decodeRow(buf: Uint8Array): DecodedRow {
  if (buf.length < 6 || buf[0] !== ROW_CODEC_VERSION) {
    throw new Error(
      `value is not a TiDB row in format v2 (first byte ${buf[0]}, expected ${ROW_CODEC_VERSION})`,
    );
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const flags = buf[1]!;
  const large = (flags & FLAG_LARGE) !== 0;
  const notNullCount = dv.getUint16(2, true);
  const nullCount = dv.getUint16(4, true);
  const idSize = large ? 4 : 1;
  const offSize = large ? 4 : 2;
  const idsAt = 6;
  const offsAt = idsAt + (notNullCount + nullCount) * idSize;
  const dataAt = offsAt + notNullCount * offSize;
  const id = (i: number) => (large ? dv.getUint32(idsAt + i * 4, true) : buf[idsAt + i]!);
  const off = (i: number) =>
    large ? dv.getUint32(offsAt + i * 4, true) : dv.getUint16(offsAt + i * 2, true);
  const row: DecodedRow = new Map();
  let start = 0;
  for (let i = 0; i < notNullCount; i++) {
    const end = off(i);
    if (dataAt + end > buf.length) throw new Error(`row value is truncated at column ${id(i)}`);
    row.set(id(i), buf.subarray(dataAt + start, dataAt + end));
    start = end;
  }
  for (let i = notNullCount; i < notNullCount + nullCount; i++) row.set(id(i), null);
  if ((flags & FLAG_CHECKSUM) === 0 && dataAt + start !== buf.length) {
    throw new Error(`row value has ${buf.length - dataAt - start} unexpected trailing bytes`);
  }
  return row;
}

/** Reads a signed integer column value (any compact width). */
export function decodeIntColumn(v: Uint8Array): bigint {
  let n = 0n;
  for (let i = v.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(v[i]!);
  return BigInt.asIntN(v.length * 8, n);
}

/** Reads an unsigned integer column value (any compact width). */
export function decodeUintColumn(v: Uint8Array): bigint {
  let n = 0n;
  for (let i = v.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(v[i]!);
  return n;
}
