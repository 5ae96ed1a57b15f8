/**
 * Row values read back against a table's schema: a record value (row format v2, or the v1
 * datum list older TiDB wrote) split into columns, each column checked against its field type
 * and turned into the datum its index keys encode.
 * @module
 */
import { decodeInt, decodeUint } from "../codec/bytes.ts";
import { binToDecimal, type Datum, DatumFlag, decodeFloat } from "../tidb/datum.ts";
import type { ColumnInfo, TableInfo } from "../tidb/model.ts";
import {
  decodeIntColumn,
  decodeRow,
  decodeUintColumn,
  ROW_CODEC_VERSION,
} from "../tidb/rowcodec.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";

/** A row's columns: value bytes (v2) or an already decoded datum (v1); null for SQL NULL. */
export type RowColumns = Map<number, Uint8Array | Datum | null>;

const INT_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Tiny,
  MysqlType.Short,
  MysqlType.Int24,
  MysqlType.Long,
  MysqlType.Longlong,
  MysqlType.Year,
]);
const TIME_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Date,
  MysqlType.Datetime,
  MysqlType.Timestamp,
  MysqlType.NewDate,
]);
const STRING_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Varchar,
  MysqlType.VarString,
  MysqlType.String,
  MysqlType.TinyBlob,
  MysqlType.MediumBlob,
  MysqlType.LongBlob,
  MysqlType.Blob,
]);

/** Whether tibr can build index keys over a column of this type. */
export function indexableType(tp: number): boolean {
  return INT_TYPES.has(tp) || TIME_TYPES.has(tp) || STRING_TYPES.has(tp) ||
    tp === MysqlType.NewDecimal || tp === MysqlType.Float || tp === MysqlType.Double ||
    tp === MysqlType.Duration;
}

function readVarint(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: result, next: i + 1 };
    shift += 7n;
  }
  throw new Error(`varint at ${pos} is truncated`);
}

/** One datum of TiDB's value encoding (`codec.DecodeOne`), as row format v1 stores columns. */
function decodeValueDatum(buf: Uint8Array, pos: number): { datum: Datum; next: number } {
  const flag = buf[pos];
  const at = pos + 1;
  const need = (n: number) => {
    if (at + n > buf.length) throw new Error(`datum at ${pos} is truncated`);
  };
  switch (flag) {
    case DatumFlag.Nil:
      return { datum: { kind: "null" }, next: at };
    case DatumFlag.Int:
      need(8);
      return { datum: { kind: "int", value: decodeInt(buf, at) }, next: at + 8 };
    case DatumFlag.Uint:
      need(8);
      return { datum: { kind: "uint", value: decodeUint(buf, at) }, next: at + 8 };
    case DatumFlag.Float:
      need(8);
      return { datum: { kind: "float", value: decodeFloat(buf, at) }, next: at + 8 };
    case DatumFlag.Duration:
      need(8);
      return { datum: { kind: "duration", value: decodeInt(buf, at) }, next: at + 8 };
    case DatumFlag.Varint: {
      const { value, next } = readVarint(buf, at);
      // Zigzag, as Go's binary.PutVarint.
      const v = (value >> 1n) ^ -(value & 1n);
      return { datum: { kind: "int", value: BigInt.asIntN(64, v) }, next };
    }
    case DatumFlag.Uvarint: {
      const { value, next } = readVarint(buf, at);
      return { datum: { kind: "uint", value }, next };
    }
    case DatumFlag.CompactBytes:
    case DatumFlag.Json: {
      const { value, next } = readVarint(buf, at);
      const len = Number((value >> 1n) ^ -(value & 1n));
      if (len < 0 || next + len > buf.length) throw new Error(`bytes at ${pos} overrun the value`);
      return { datum: { kind: "bytes", value: buf.subarray(next, next + len) }, next: next + len };
    }
    case DatumFlag.Decimal: {
      need(2);
      const precision = buf[at]!;
      const frac = buf[at + 1]!;
      const { value, next } = binToDecimal(buf, at + 2, precision, frac);
      return { datum: { kind: "decimal", value, precision, frac }, next };
    }
    default:
      throw new Error(`unknown datum flag ${flag} at offset ${pos}`);
  }
}

/** Splits a record value into its columns (row format v2, or v1's id/value datum pairs). */
export function rowColumns(value: Uint8Array): RowColumns {
  if (value[0] === ROW_CODEC_VERSION) return decodeRow(value);
  const out: RowColumns = new Map();
  // v1: an empty row is a single Nil datum.
  if (value.length === 1 && value[0] === DatumFlag.Nil) return out;
  if (value.length === 0) throw new Error("the record value is empty");
  let pos = 0;
  while (pos < value.length) {
    const id = decodeValueDatum(value, pos);
    if (id.datum.kind !== "int" && id.datum.kind !== "uint") {
      throw new Error(`row format v1: expected a column id at offset ${pos}`);
    }
    if (id.next >= value.length) {
      throw new Error(`row format v1: column ${id.datum.value} has no value`);
    }
    const v = decodeValueDatum(value, id.next);
    out.set(Number(id.datum.value), v.datum.kind === "null" ? null : v.datum);
    pos = v.next;
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function stringDatumOf(col: ColumnInfo, bytes: Uint8Array): Datum {
  const collate = col.type.Collate || "binary";
  if (collate === "binary" || col.type.Charset === "binary") return { kind: "bytes", value: bytes };
  return { kind: "string", value: bytes, collation: collate };
}

/**
 * The datum of one column value as an index key encodes it; throws when the bytes do not fit
 * the column's type (the row does not decode against its schema).
 */
export function columnDatum(col: ColumnInfo, v: Uint8Array | Datum | null): Datum {
  const tp = col.type.Tp;
  if (v === null) return { kind: "null" };
  if (!(v instanceof Uint8Array)) return v1Datum(col, v);
  const unsigned = (col.type.Flag & ColumnFlag.Unsigned) !== 0;
  if (INT_TYPES.has(tp) || tp === MysqlType.Bit || tp === MysqlType.Enum || tp === MysqlType.Set) {
    if (![1, 2, 4, 8].includes(v.length)) {
      throw new Error(`an integer column holds ${v.length} bytes (1, 2, 4 or 8 expected)`);
    }
    return unsigned || tp === MysqlType.Bit || tp === MysqlType.Enum || tp === MysqlType.Set
      ? { kind: "uint", value: decodeUintColumn(v) }
      : { kind: "int", value: decodeIntColumn(v) };
  }
  if (TIME_TYPES.has(tp)) {
    if (![1, 2, 4, 8].includes(v.length)) throw new Error(`a time column holds ${v.length} bytes`);
    const packed = decodeUintColumn(v);
    const ymd = Number(packed >> 41n);
    const month = (ymd >> 5) % 13;
    if (packed !== 0n && (month > 12 || (ymd & 31) > 31)) {
      throw new Error(`time value 0x${packed.toString(16)} is not a date`);
    }
    return { kind: "time", value: packed };
  }
  if (tp === MysqlType.Duration) {
    if (![1, 2, 4, 8].includes(v.length)) throw new Error(`a TIME column holds ${v.length} bytes`);
    return { kind: "duration", value: decodeIntColumn(v) };
  }
  if (tp === MysqlType.Float || tp === MysqlType.Double) {
    if (v.length !== 8) throw new Error(`a float column holds ${v.length} bytes (8 expected)`);
    return { kind: "float", value: decodeFloat(v, 0) };
  }
  if (tp === MysqlType.NewDecimal) {
    if (v.length < 2) throw new Error(`a decimal column holds ${v.length} bytes`);
    const precision = v[0]!;
    const frac = v[1]!;
    if (precision === 0 || precision > 65 || frac > 30 || frac > precision) {
      throw new Error(`decimal(${precision},${frac}) is not a valid decimal header`);
    }
    const { value, next } = binToDecimal(v, 2, precision, frac);
    if (next !== v.length) {
      throw new Error(`a decimal(${precision},${frac}) value holds ${v.length - next} extra bytes`);
    }
    return { kind: "decimal", value, precision, frac };
  }
  if (STRING_TYPES.has(tp)) {
    const binary = col.type.Charset === "binary" || col.type.Collate === "binary";
    if (!binary) {
      let text: string;
      try {
        text = utf8.decode(v);
      } catch {
        throw new Error(`a ${col.type.Charset || "utf8mb4"} string column holds invalid UTF-8`);
      }
      if (tp === MysqlType.Varchar && col.type.Flen > 0 && [...text].length > col.type.Flen) {
        throw new Error(`a varchar(${col.type.Flen}) column holds ${[...text].length} characters`);
      }
    }
    return stringDatumOf(col, v);
  }
  if (tp === MysqlType.JSON) {
    if (v.length < 1) throw new Error("a JSON column is empty");
    return { kind: "bytes", value: v };
  }
  return { kind: "bytes", value: v };
}

/** A v1 datum as the column's index key would encode it. */
function v1Datum(col: ColumnInfo, d: Datum): Datum {
  const tp = col.type.Tp;
  if (TIME_TYPES.has(tp) && (d.kind === "uint" || d.kind === "int")) {
    return { kind: "time", value: BigInt.asUintN(64, d.value) };
  }
  if (STRING_TYPES.has(tp) && d.kind === "bytes") return stringDatumOf(col, d.value);
  if (tp === MysqlType.Duration && d.kind === "int") return { kind: "duration", value: d.value };
  return d;
}

/** The prefix of a string value an index with a column length keeps (characters, or bytes). */
export function prefixOf(d: Datum, length: number): Datum {
  if (length < 0 || (d.kind !== "string" && d.kind !== "bytes")) return d;
  if (d.kind === "bytes") return { kind: "bytes", value: d.value.subarray(0, length) };
  let pos = 0;
  for (let chars = 0; chars < length && pos < d.value.length; chars++) {
    const b = d.value[pos]!;
    pos += b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
  }
  return { ...d, value: d.value.subarray(0, Math.min(pos, d.value.length)) };
}

/**
 * Checks a row against the table's public columns: every NOT NULL column holds a value (where
 * the row has it at all; columns added later read their default) and every value fits its type.
 * Returns the problem, or undefined.
 */
export function rowProblem(
  table: TableInfo,
  cols: RowColumns,
  publicCols: ColumnInfo[],
): string | undefined {
  for (const c of publicCols) {
    if (table.pk_is_handle && (c.type.Flag & ColumnFlag.PriKey) !== 0) continue;
    const v = cols.get(c.id);
    if (v === undefined) continue;
    if (v === null) {
      if ((c.type.Flag & ColumnFlag.NotNull) !== 0) return `NOT NULL column ${c.name.O} is NULL`;
      continue;
    }
    try {
      columnDatum(c, v);
    } catch (err) {
      return `column ${c.name.O}: ${(err as Error).message}`;
    }
  }
  return undefined;
}
