/**
 * Row values checked against a table's schema, for the semantic level: the row itself is decoded
 * by the shared `RowDecoder` (row format v2 or v1, handle columns from the key, origin defaults),
 * the one export uses; here each column's datum is checked against its field type and turned
 * into the datum its index keys encode.
 * @module
 */
import type { Datum } from "../tidb/datum.ts";
import { jsonValueSize } from "../tidb/row_decode.ts";
import type { ColumnInfo, TableInfo } from "../tidb/model.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";

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

/**
 * Whether tibr can build index keys over a column of this type. ENUM, SET and BIT index as
 * unsigned integers (the member number, the bit set, the bits: pingcap/tidb pkg/util/codec
 * `encode`, `encodeUnsignedInt`). JSON cannot be indexed as such: TiDB indexes it only through
 * a hidden generated column (expression and multi-valued indexes), which tibr does not evaluate.
 */
export function indexableType(tp: number): boolean {
  return INT_TYPES.has(tp) || TIME_TYPES.has(tp) || STRING_TYPES.has(tp) ||
    tp === MysqlType.NewDecimal || tp === MysqlType.Float || tp === MysqlType.Double ||
    tp === MysqlType.Duration || tp === MysqlType.Enum || tp === MysqlType.Set ||
    tp === MysqlType.Bit;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The datum an index key encodes for a column's (decoded) datum. */
export function indexDatum(col: ColumnInfo, d: Datum): Datum {
  if (d.kind !== "string") return d;
  // A binary collation or charset compares bytes: the key holds them as such.
  const collate = col.type.Collate || "binary";
  if (collate === "binary" || col.type.Charset === "binary") {
    return { kind: "bytes", value: d.value };
  }
  return collate === d.collation ? d : { ...d, collation: collate };
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

/** Why one column's datum does not fit its type, or undefined. */
function columnProblem(col: ColumnInfo, d: Datum): string | undefined {
  const tp = col.type.Tp;
  if (STRING_TYPES.has(tp) && d.kind === "string") {
    const v = d.value;
    let ascii = true;
    for (let i = 0; i < v.length; i++) {
      if (v[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      try {
        utf8.decode(v);
      } catch {
        return `a ${col.type.Charset || "utf8mb4"} string column holds invalid UTF-8`;
      }
    }
    // A character takes at least one byte: only a longer value can hold too many.
    if (tp === MysqlType.Varchar && col.type.Flen > 0 && v.length > col.type.Flen) {
      let chars = 0;
      for (let i = 0; i < v.length; i++) if ((v[i]! & 0xc0) !== 0x80) chars++;
      if (chars > col.type.Flen) {
        return `a varchar(${col.type.Flen}) column holds ${chars} characters`;
      }
    }
    return undefined;
  }
  if (TIME_TYPES.has(tp) && d.kind === "time") {
    const ymd = Number(d.value >> 41n);
    const month = (ymd >> 5) % 13;
    if (d.value !== 0n && (month > 12 || (ymd & 31) > 31)) {
      return `time value 0x${d.value.toString(16)} is not a date`;
    }
    return undefined;
  }
  if (tp === MysqlType.NewDecimal && d.kind === "decimal") {
    if (d.precision === 0 || d.precision > 65 || d.frac > 30 || d.frac > d.precision) {
      return `decimal(${d.precision},${d.frac}) is not a valid decimal header`;
    }
    return undefined;
  }
  if (tp === MysqlType.Enum && (d.kind === "uint" || d.kind === "int")) {
    const n = (col.type.Elems ?? []).length;
    if (d.value > BigInt(n)) return `enum value ${d.value} is beyond its ${n} members`;
    return undefined;
  }
  if (tp === MysqlType.Set && (d.kind === "uint" || d.kind === "int")) {
    const n = (col.type.Elems ?? []).length;
    if (n < 64 && d.value >> BigInt(n) !== 0n) {
      return `set value ${d.value} has bits beyond its ${n} members`;
    }
    return undefined;
  }
  if (tp === MysqlType.JSON && d.kind === "json") {
    if (d.value.length < 1) return "a JSON column is empty";
    try {
      if (1 + jsonValueSize(d.value, 1, d.value[0]!) !== d.value.length) {
        return "a JSON value's size does not match its bytes";
      }
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/**
 * Checks a decoded row against the table's public columns: every NOT NULL column holds a value
 * and every value fits its type. `datums` is `RowDecoder.datums` of the row (which already threw
 * on bytes that are no TiDB row). Returns the problem, or undefined.
 */
export function rowProblem(
  table: TableInfo,
  datums: Map<number, Datum>,
  publicCols: ColumnInfo[],
): string | undefined {
  for (const c of publicCols) {
    if (table.pk_is_handle && (c.type.Flag & ColumnFlag.PriKey) !== 0) continue;
    const d = datums.get(c.id);
    if (d === undefined) continue;
    if (d.kind === "null") {
      if ((c.type.Flag & ColumnFlag.NotNull) !== 0) return `NOT NULL column ${c.name.O} is NULL`;
      continue;
    }
    const why = columnProblem(c, d);
    if (why) return `column ${c.name.O}: ${why}`;
  }
  return undefined;
}
