/**
 * Decodes TiDB record values back into column values, for any table as its `TableInfo` says:
 *
 * - row format v2 (`rowcodec`, first byte 0x80) and the older v1 (datum pairs `colID value`,
 *   `tablecodec.EncodeOldRow`), a lone Nil flag being an empty v1 row;
 * - handle columns come from the key where the value does not hold them: the int primary key
 *   of a pk-is-handle table, the primary-key columns of a clustered table (`EncodeKey` in the
 *   key, restored values in the row preferred as TiDB's decoder does); `_tidb_rowid` is not a
 *   column;
 * - columns missing from a row (added after it was written) take their `origin_default`;
 * - virtual generated columns are not stored and not returned.
 *
 * Two levels: `RowDecoder.datums` gives column id → `Datum` (what the row stores, typed by the
 * column: the shape `encodeRow` re-encodes), `RowDecoder.decode` gives `SqlValue`s in column
 * order, the way a MySQL client would read them:
 *
 * | column type                           | SqlValue                                       |
 * | ------------------------------------- | ---------------------------------------------- |
 * | TINYINT..BIGINT (signed/unsigned), YEAR | bigint                                       |
 * | FLOAT, DOUBLE                         | number (FLOAT rounded to float32)              |
 * | DECIMAL                               | string, e.g. "-12.50"                          |
 * | CHAR/VARCHAR/TEXT (non-binary charset)| string (TiDB stores every charset as UTF-8)    |
 * | BINARY/VARBINARY/BLOB, BIT            | Uint8Array (BIT: (M+7)/8 bytes, big-endian)    |
 * | ENUM, SET                             | string (member names, SET joined by ",")       |
 * | JSON                                  | string, TiDB's text form                       |
 * | DATE, DATETIME, TIMESTAMP, TIME       | string; TIMESTAMP converted from UTC to `tz`   |
 * | NULL                                  | null                                           |
 *
 * Sources: pingcap/tidb pkg/util/rowcodec/decoder.go, pkg/tablecodec/tablecodec.go
 * (DecodeRowWithMap, DecodeHandleToDatumMap), pkg/util/codec/codec.go (DecodeOne).
 *
 * @example
 * ```ts
 * const dec = new RowDecoder(tableInfo, { tz: "UTC" });
 * const values = dec.decode(recordKey, recordValue); // one per dec.columns
 * ```
 * @module
 */
import { decodeBytes, decodeInt, decodeUint } from "../codec/bytes.ts";
import { decodeVarU64 } from "../codec/varint.ts";
import {
  binToDecimal,
  type Datum,
  DatumFlag,
  decodeFloat,
  decodeKeyDatum,
  type MysqlTime,
  NULL_DATUM,
  unpackTime,
} from "./datum.ts";
import { formatDuration, jsonToText, JsonTypeCode } from "./json_binary.ts";
import { type ColumnInfo, type FieldType, primaryIndex, type TableInfo } from "./model.ts";
import { ROW_CODEC_VERSION } from "./rowcodec.ts";
import { isRecordKey } from "./tablecodec.ts";
import { ColumnFlag, MysqlType, SchemaState } from "./types.ts";

/** A column value as a MySQL client reads it (see the module doc for the mapping). */
export type SqlValue = null | bigint | number | string | Uint8Array;

/** Options of `RowDecoder`. */
export interface RowDecoderOptions {
  /**
   * Time zone TIMESTAMP values are shown in (stored in UTC): "UTC" (default), an offset like
   * "+08:00", or an IANA name like "Asia/Shanghai".
   */
  tz?: string;
}

/** How a column's values are typed, from its FieldType. */
export type ValueClass =
  | "int"
  | "uint"
  | "float32"
  | "float64"
  | "decimal"
  | "string"
  | "binary"
  | "enum"
  | "set"
  | "bit"
  | "json"
  | "date"
  | "datetime"
  | "timestamp"
  | "duration"
  | "year";

const INT_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Tiny,
  MysqlType.Short,
  MysqlType.Int24,
  MysqlType.Long,
  MysqlType.Longlong,
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

/** The value class of a FieldType; throws for types TiDB cannot store in a table. */
export function valueClass(ft: FieldType): ValueClass {
  const tp = ft.Tp;
  if (INT_TYPES.has(tp)) return (ft.Flag & ColumnFlag.Unsigned) !== 0 ? "uint" : "int";
  if (STRING_TYPES.has(tp)) return ft.Charset === "binary" ? "binary" : "string";
  switch (tp) {
    case MysqlType.Year:
      return "year";
    case MysqlType.Float:
      return "float32";
    case MysqlType.Double:
      return "float64";
    case MysqlType.NewDecimal:
    case MysqlType.Decimal:
      return "decimal";
    case MysqlType.Enum:
      return "enum";
    case MysqlType.Set:
      return "set";
    case MysqlType.Bit:
      return "bit";
    case MysqlType.JSON:
      return "json";
    case MysqlType.Date:
    case MysqlType.NewDate:
      return "date";
    case MysqlType.Datetime:
      return "datetime";
    case MysqlType.Timestamp:
      return "timestamp";
    case MysqlType.Duration:
      return "duration";
  }
  throw new Error(`column type ${tp} is not supported by the row decoder`);
}

/** True for a generated column whose value is computed on read, never stored. */
export function isVirtualGenerated(c: ColumnInfo): boolean {
  return c.generated_expr_string !== "" && !c.generated_stored;
}

/** The columns a record holds values for: public, not virtual generated, in table order. */
export function storedColumns(table: TableInfo): ColumnInfo[] {
  return table.cols
    .filter((c) => c.state === SchemaState.Public && !isVirtualGenerated(c))
    .sort((a, b) => a.offset - b.offset);
}

interface _Col {
  info: ColumnInfo;
  cls: ValueClass;
  /** Position of the column among the primary-key datums of a clustered key, or -1. */
  keyPos: number;
  /** The column is the int handle of a pk-is-handle table. */
  intHandle: boolean;
  /** The origin default, already typed. */
  dflt: Datum;
}

const utf8Decoder = new TextDecoder();
const utf8 = new TextEncoder();
const RECORD_PREFIX_LEN = 11; // t{tableID}_r

/** Decodes the record values of one table; build one per table and reuse it for every row. */
export class RowDecoder {
  /** The table being decoded. */
  readonly table: TableInfo;
  /** The columns `decode` returns values for, in order (see `storedColumns`). */
  readonly columns: readonly ColumnInfo[];
  readonly #cols: _Col[];
  readonly #byId: Map<number, number>;
  readonly #sortedIds: Int32Array;
  readonly #sortedIdx: Int32Array;
  readonly #tz: _Zone;
  readonly #clustered: boolean;

  constructor(table: TableInfo, opts: RowDecoderOptions = {}) {
    this.table = table;
    this.columns = storedColumns(table);
    this.#tz = _zone(opts.tz ?? "UTC");
    this.#clustered = table.is_common_handle;
    const pk = primaryIndex(table);
    this.#cols = this.columns.map((info) => {
      const cls = valueClass(info.type);
      const keyPos = table.is_common_handle && pk
        ? pk.idx_cols.findIndex((ic) => ic.name.L === info.name.L)
        : -1;
      const intHandle = table.pk_is_handle && (info.type.Flag & ColumnFlag.PriKey) !== 0;
      return { info, cls, keyPos, intHandle, dflt: _originDefault(info, cls) };
    });
    this.#byId = new Map(this.columns.map((c, i) => [c.id, i]));
    const order = this.columns.map((_, i) => i).sort((a, b) =>
      this.columns[a]!.id - this.columns[b]!.id
    );
    this.#sortedIds = Int32Array.from(order, (i) => this.columns[i]!.id);
    this.#sortedIdx = Int32Array.from(order);
  }

  /**
   * Column id → datum of every column in `columns`: from the value (v1 or v2), else from the
   * key (handle columns), else the column's origin default. Throws one line on a value that is
   * not a TiDB row or a key that is not a record key.
   */
  datums(key: Uint8Array, value: Uint8Array): Map<number, Datum> {
    const list = this.#datumList(key, value);
    const out = new Map<number, Datum>();
    for (let i = 0; i < list.length; i++) out.set(this.columns[i]!.id, list[i]!);
    return out;
  }

  /** The values of `columns` for one record, typed as the module doc says. */
  decode(key: Uint8Array, value: Uint8Array): SqlValue[] {
    const list = this.#datumList(key, value);
    const out: SqlValue[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) out[i] = this.#toSql(this.#cols[i]!, list[i]!);
    return out;
  }

  /** One datum as a `SqlValue` of the column with id `colId`. */
  toSqlValue(colId: number, d: Datum): SqlValue {
    const i = this.#byId.get(colId);
    if (i === undefined) throw new Error(`table ${this.table.name.O} has no column id ${colId}`);
    return this.#toSql(this.#cols[i]!, d);
  }

  #datumList(key: Uint8Array, value: Uint8Array): (Datum | undefined)[] {
    const n = this.#cols.length;
    const out: (Datum | undefined)[] = new Array(n);
    if (value.length > 0 && value[0] === ROW_CODEC_VERSION) this.#fromV2(value, out);
    else this.#fromV1(value, out);
    let keyDatums: Datum[] | undefined;
    for (let i = 0; i < n; i++) {
      if (out[i] !== undefined) continue;
      const c = this.#cols[i]!;
      if (c.intHandle) {
        out[i] = _intHandleDatum(key, c);
      } else if (c.keyPos >= 0) {
        keyDatums ??= _clusteredKey(key);
        const kd = keyDatums[c.keyPos];
        if (kd === undefined) {
          throw new Error(`record key holds no value for primary-key column ${c.info.name.O}`);
        }
        out[i] = _fromKeyDatum(kd, c);
      } else {
        out[i] = c.dflt;
      }
    }
    return out;
  }

  #fromV2(buf: Uint8Array, out: (Datum | undefined)[]): void {
    if (buf.length < 6) throw new Error("row value in format v2 is truncated");
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const large = (buf[1]! & 1) !== 0;
    const notNull = dv.getUint16(2, true);
    const nulls = dv.getUint16(4, true);
    const idSize = large ? 4 : 1;
    const idsAt = 6;
    const offsAt = idsAt + (notNull + nulls) * idSize;
    const dataAt = offsAt + notNull * (large ? 4 : 2);
    if (dataAt > buf.length) throw new Error("row value in format v2 is truncated");
    const idAt = (i: number) => (large ? dv.getUint32(idsAt + i * 4, true) : buf[idsAt + i]!);
    const endAt = (i: number) =>
      large ? dv.getUint32(offsAt + i * 4, true) : dv.getUint16(offsAt + i * 2, true);
    // Both id lists are sorted, as are the wanted ids: one merge pass over each.
    const ids = this.#sortedIds;
    let j = 0;
    for (let i = 0; i < notNull && j < ids.length; i++) {
      const id = idAt(i);
      while (j < ids.length && ids[j]! < id) j++;
      if (j < ids.length && ids[j] === id) {
        const start = i === 0 ? 0 : endAt(i - 1);
        const end = endAt(i);
        if (dataAt + end > buf.length || start > end) {
          throw new Error(`row value is truncated at column ${id}`);
        }
        const idx = this.#sortedIdx[j]!;
        out[idx] = _v2Datum(buf.subarray(dataAt + start, dataAt + end), this.#cols[idx]!);
        j++;
      }
    }
    j = 0;
    for (let i = notNull; i < notNull + nulls && j < ids.length; i++) {
      const id = idAt(i);
      while (j < ids.length && ids[j]! < id) j++;
      if (j < ids.length && ids[j] === id) out[this.#sortedIdx[j++]!] = NULL_DATUM;
    }
  }

  #fromV1(buf: Uint8Array, out: (Datum | undefined)[]): void {
    if (buf.length === 0) throw new Error("record value is empty; it is not a TiDB row");
    if (buf.length === 1 && buf[0] === DatumFlag.Nil) return;
    let pos = 0;
    while (pos < buf.length) {
      const idDatum = buf[pos] === DatumFlag.Varint ? decodeValueDatum(buf, pos) : undefined;
      if (idDatum?.datum.kind !== "int") {
        throw new Error(
          `record value is neither row format v2 nor v1 (byte ${buf[pos]} at ${pos} is not a ` +
            "column id)",
        );
      }
      const v = decodeValueDatum(buf, idDatum.next);
      pos = v.next;
      const idx = this.#byId.get(Number(idDatum.datum.value));
      if (idx === undefined) continue;
      out[idx] = _unflatten(v.datum, this.#cols[idx]!);
    }
  }

  #toSql(c: _Col, d: Datum): SqlValue {
    if (d.kind === "null") return null;
    switch (c.cls) {
      case "int":
      case "uint":
      case "year":
        return _intOf(d);
      case "float32":
        return Math.fround(_floatOf(d));
      case "float64":
        return _floatOf(d);
      case "decimal":
        if (d.kind === "decimal") return d.value;
        return String(_anyText(d));
      case "string":
        return d.kind === "string" || d.kind === "bytes"
          ? utf8Decoder.decode(d.value)
          : _anyText(d);
      case "binary":
        return d.kind === "string" || d.kind === "bytes" ? d.value : utf8.encode(_anyText(d));
      case "enum": {
        if (d.kind === "string") return utf8Decoder.decode(d.value);
        const v = Number(_intOf(d));
        if (v === 0) return "";
        const name = c.info.type.Elems?.[v - 1];
        if (name === undefined) {
          throw new Error(`enum value ${v} of column ${c.info.name.O} is out of its members`);
        }
        return name;
      }
      case "set": {
        if (d.kind === "string") return utf8Decoder.decode(d.value);
        const bits = BigInt.asUintN(64, _intOf(d));
        const elems = c.info.type.Elems ?? [];
        const names: string[] = [];
        for (let i = 0; i < elems.length; i++) if ((bits >> BigInt(i)) & 1n) names.push(elems[i]!);
        return names.join(",");
      }
      case "bit": {
        if (d.kind === "bytes" || d.kind === "string") return d.value;
        const width = Math.max(1, (Math.max(c.info.type.Flen, 1) + 7) >> 3);
        let v = BigInt.asUintN(64, _intOf(d));
        const b = new Uint8Array(width);
        for (let i = width - 1; i >= 0; i--) {
          b[i] = Number(v & 0xffn);
          v >>= 8n;
        }
        return b;
      }
      case "json":
        if (d.kind === "json") return jsonToText(d.value);
        return _anyText(d);
      case "date":
      case "datetime":
      case "timestamp": {
        if (d.kind === "string") return utf8Decoder.decode(d.value);
        const t = unpackTime(d.kind === "time" ? d.value : BigInt.asUintN(64, _intOf(d)));
        const shown = c.cls === "timestamp" ? this.#tz(t) : t;
        return formatTime(shown, c.cls === "date" ? -1 : Math.max(0, c.info.type.Decimal));
      }
      case "duration":
        if (d.kind === "string") return utf8Decoder.decode(d.value);
        return formatDuration(
          d.kind === "duration" ? d.value : _intOf(d),
          Math.max(0, c.info.type.Decimal),
        );
    }
  }
}

/** `RowDecoder.decode` for a single record (build a `RowDecoder` to decode many). */
export function decodeRecord(
  table: TableInfo,
  key: Uint8Array,
  value: Uint8Array,
  opts: RowDecoderOptions = {},
): SqlValue[] {
  return new RowDecoder(table, opts).decode(key, value);
}

/** `RowDecoder.datums` for a single record. */
export function decodeRowDatums(
  table: TableInfo,
  key: Uint8Array,
  value: Uint8Array,
): Map<number, Datum> {
  return new RowDecoder(table).datums(key, value);
}

/**
 * A DATE (`fsp` -1), DATETIME or TIMESTAMP as MySQL prints it: `YYYY-MM-DD[ HH:MM:SS[.f]]`
 * with `fsp` fraction digits.
 */
export function formatTime(t: MysqlTime, fsp: number): string {
  const d = `${_p(t.year, 4)}-${_p(t.month, 2)}-${_p(t.day, 2)}`;
  if (fsp < 0) return d;
  let s = `${d} ${_p(t.hour, 2)}:${_p(t.minute, 2)}:${_p(t.second, 2)}`;
  if (fsp > 0) s += "." + _p(t.microsecond, 6).slice(0, fsp);
  return s;
}

function _p(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

function _intOf(d: Datum): bigint {
  switch (d.kind) {
    case "int":
    case "uint":
    case "time":
    case "duration":
      return d.value;
    case "float":
      return BigInt(Math.trunc(d.value));
    case "string":
    case "bytes":
      return BigInt(utf8Decoder.decode(d.value));
    case "decimal":
      return BigInt(d.value.split(".")[0]!);
  }
  throw new Error(`a ${d.kind} value cannot be read as an integer`);
}

function _floatOf(d: Datum): number {
  if (d.kind === "float") return d.value;
  if (d.kind === "int" || d.kind === "uint") return Number(d.value);
  if (d.kind === "decimal") return Number(d.value);
  if (d.kind === "string" || d.kind === "bytes") return Number(utf8Decoder.decode(d.value));
  throw new Error(`a ${d.kind} value cannot be read as a float`);
}

function _anyText(d: Datum): string {
  switch (d.kind) {
    case "string":
    case "bytes":
      return utf8Decoder.decode(d.value);
    case "json":
      return jsonToText(d.value);
    case "null":
      return "";
    default:
      return String(d.value);
  }
}

/** The v2 column bytes of one not-null column, typed by the column (`decodeColDatum`). */
function _v2Datum(v: Uint8Array, c: _Col): Datum {
  switch (c.cls) {
    case "int":
    case "year":
      return { kind: "int", value: _leInt(v, true) };
    case "uint":
    case "enum":
    case "set":
    case "bit":
      return { kind: "uint", value: _leInt(v, false) };
    case "float32":
    case "float64":
      if (v.length !== 8) throw new Error(`float column ${c.info.name.O} holds ${v.length} bytes`);
      return { kind: "float", value: decodeFloat(v, 0) };
    case "decimal": {
      if (v.length < 2) throw new Error(`decimal column ${c.info.name.O} is truncated`);
      const { value } = binToDecimal(v, 2, v[0]!, v[1]!);
      return { kind: "decimal", value, precision: v[0]!, frac: v[1]! };
    }
    case "string":
      return { kind: "string", value: v, collation: c.info.type.Collate };
    case "binary":
      return { kind: "bytes", value: v };
    case "json":
      return { kind: "json", value: v };
    case "date":
    case "datetime":
    case "timestamp":
      return { kind: "time", value: _leInt(v, false) };
    case "duration":
      return { kind: "duration", value: _leInt(v, true) };
  }
}

function _leInt(v: Uint8Array, signed: boolean): bigint {
  const n = v.length;
  if (n !== 1 && n !== 2 && n !== 4 && n !== 8) {
    throw new Error(`integer column value has ${n} bytes; expected 1, 2, 4 or 8`);
  }
  if (n <= 4) {
    let x = 0;
    for (let i = n - 1; i >= 0; i--) x = x * 256 + v[i]!;
    if (signed && x >= 2 ** (8 * n - 1)) x -= 2 ** (8 * n);
    return BigInt(x);
  }
  const dv = new DataView(v.buffer, v.byteOffset, 8);
  return signed ? dv.getBigInt64(0, true) : dv.getBigUint64(0, true);
}

/** A v1 value datum (`codec.DecodeOne`) typed by its column (`tablecodec.Unflatten`). */
function _unflatten(d: Datum, c: _Col): Datum {
  if (d.kind === "null") return d;
  switch (c.cls) {
    case "string":
      if (d.kind === "bytes") {
        return { kind: "string", value: d.value, collation: c.info.type.Collate };
      }
      return d;
    case "date":
    case "datetime":
    case "timestamp":
      if (d.kind === "uint" || d.kind === "int") {
        return { kind: "time", value: BigInt.asUintN(64, d.value) };
      }
      return d;
    case "duration":
      if (d.kind === "int" || d.kind === "uint") return { kind: "duration", value: d.value };
      return d;
    case "uint":
    case "enum":
    case "set":
    case "bit":
      if (d.kind === "int") return { kind: "uint", value: BigInt.asUintN(64, d.value) };
      return d;
    case "int":
    case "year":
      if (d.kind === "uint") return { kind: "int", value: BigInt.asIntN(64, d.value) };
      return d;
    default:
      return d;
  }
}

/**
 * One datum of a v1 row or any `codec.EncodeValue`/`EncodeKey` output (`codec.DecodeOne`):
 * value encodings (compact bytes, zigzag varints, JSON) as well as key encodings.
 */
export function decodeValueDatum(buf: Uint8Array, offset: number): { datum: Datum; next: number } {
  const flag = buf[offset];
  const at = offset + 1;
  switch (flag) {
    case DatumFlag.CompactBytes: {
      const { value: n, next } = _varint(buf, at);
      const end = next + Number(n);
      if (n < 0n || end > buf.length) throw new Error(`compact bytes at ${offset} are truncated`);
      return { datum: { kind: "bytes", value: buf.subarray(next, end) }, next: end };
    }
    case DatumFlag.Varint: {
      const { value, next } = _varint(buf, at);
      return { datum: { kind: "int", value }, next };
    }
    case DatumFlag.Uvarint: {
      const { value, next } = decodeVarU64(buf, at);
      return { datum: { kind: "uint", value }, next };
    }
    case DatumFlag.Json: {
      const size = jsonValueSize(buf, at + 1, buf[at]!);
      return {
        datum: { kind: "json", value: buf.subarray(at, at + 1 + size) },
        next: at + 1 + size,
      };
    }
    case DatumFlag.Int:
      return { datum: { kind: "int", value: decodeInt(buf, at) }, next: at + 8 };
    case DatumFlag.Uint:
      return { datum: { kind: "uint", value: decodeUint(buf, at) }, next: at + 8 };
    case DatumFlag.Bytes: {
      const { value, next } = decodeBytes(buf, at);
      return { datum: { kind: "bytes", value }, next };
    }
    default:
      if (flag === undefined) throw new Error(`datum at ${offset} is past the end of the value`);
      return decodeKeyDatum(buf, offset);
  }
}

/** Go's `binary.Varint`: zigzag LEB128. */
function _varint(buf: Uint8Array, at: number): { value: bigint; next: number } {
  const { value: ux, next } = decodeVarU64(buf, at);
  const x = ux >> 1n;
  return { value: (ux & 1n) !== 0n ? ~x : x, next };
}

/** Bytes of a binary JSON value of `type` at `at` (`PeekBytesAsJSON`). */
export function jsonValueSize(buf: Uint8Array, at: number, type: number): number {
  switch (type) {
    case JsonTypeCode.Object:
    case JsonTypeCode.Array:
      return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(at + 4, true);
    case JsonTypeCode.Literal:
      return 1;
    case JsonTypeCode.Int64:
    case JsonTypeCode.Uint64:
    case JsonTypeCode.Float64:
    case JsonTypeCode.Date:
    case JsonTypeCode.Datetime:
    case JsonTypeCode.Timestamp:
      return 8;
    case JsonTypeCode.Duration:
      return 12;
    case JsonTypeCode.String: {
      const { value, next } = decodeVarU64(buf, at);
      return next - at + Number(value);
    }
    case JsonTypeCode.Opaque: {
      const { value, next } = decodeVarU64(buf, at + 1);
      return next - at + Number(value);
    }
  }
  throw new Error(`binary JSON has unknown type code ${type}`);
}

function _intHandleDatum(key: Uint8Array, c: _Col): Datum {
  if (!isRecordKey(key) || key.length !== 19) {
    throw new Error("key is not an int-handle record key t{tableID}_r{handle}");
  }
  const h = decodeInt(key, RECORD_PREFIX_LEN);
  return c.cls === "uint"
    ? { kind: "uint", value: BigInt.asUintN(64, h) }
    : { kind: "int", value: h };
}

function _clusteredKey(key: Uint8Array): Datum[] {
  if (!isRecordKey(key)) throw new Error("key is not a record key t{tableID}_r{handle}");
  const out: Datum[] = [];
  let pos = RECORD_PREFIX_LEN;
  while (pos < key.length) {
    const { datum, next } = decodeKeyDatum(key, pos);
    out.push(datum);
    pos = next;
  }
  return out;
}

function _fromKeyDatum(d: Datum, c: _Col): Datum {
  if (d.kind === "bytes" && c.cls === "string") {
    return { kind: "string", value: d.value, collation: c.info.type.Collate };
  }
  return _unflatten(d, c);
}

/** The origin default of a column, typed; NOT NULL columns without one get the zero value. */
function _originDefault(c: ColumnInfo, cls: ValueClass): Datum {
  let v = c.origin_default;
  if (cls === "bit" && typeof c.origin_default_bit === "string" && c.origin_default_bit !== "") {
    const raw = atob(c.origin_default_bit);
    return { kind: "bytes", value: Uint8Array.from(raw, (ch) => ch.charCodeAt(0)) };
  }
  if (v === null || v === undefined) {
    if ((c.type.Flag & ColumnFlag.NotNull) === 0) return NULL_DATUM;
    v = _zeroText(cls, c);
  }
  const text = typeof v === "string" ? v : JSON.stringify(v);
  switch (cls) {
    case "float32":
    case "float64":
      return { kind: "float", value: Number(text) };
    case "decimal":
      return { kind: "decimal", value: text, precision: c.type.Flen, frac: c.type.Decimal };
    case "binary":
      return { kind: "bytes", value: utf8.encode(text) };
    default:
      // Kept as text and converted by the column's class when shown.
      return { kind: "string", value: utf8.encode(text), collation: c.type.Collate };
  }
}

function _zeroText(cls: ValueClass, c: ColumnInfo): string {
  switch (cls) {
    case "int":
    case "uint":
    case "year":
    case "float32":
    case "float64":
    case "bit":
      return "0";
    case "decimal":
      return c.type.Decimal > 0 ? "0." + "0".repeat(c.type.Decimal) : "0";
    case "date":
      return "0000-00-00";
    case "datetime":
    case "timestamp":
      return "0000-00-00 00:00:00";
    case "duration":
      return "00:00:00";
    case "json":
      return "null";
    case "enum":
      return c.type.Elems?.[0] ?? "";
    default:
      return "";
  }
}

type _Zone = (t: MysqlTime) => MysqlTime;

/** A converter from UTC to the zone `tz`; zero dates stay as they are. */
function _zone(tz: string): _Zone {
  const m = /^([+-])(\d{1,2}):(\d{2})$/.exec(tz.trim());
  if (tz.toUpperCase() === "UTC" || tz === "+00:00" || tz === "Z") return (t) => t;
  let offsetOf: (ms: number) => number;
  if (m) {
    const off = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
    offsetOf = () => off;
  } else {
    let fmt: Intl.DateTimeFormat;
    try {
      fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: tz,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new Error(`unknown time zone "${tz}"; use UTC, an offset like +08:00 or an IANA name`);
    }
    offsetOf = (ms) => {
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(new Date(ms))) p[part.type] = Number(part.value);
      const local = _utcMs(p.year!, p.month!, p.day!, p.hour!, p.minute!, p.second!);
      return local - Math.floor(ms / 1000) * 1000;
    };
  }
  return (t) => {
    if (t.year === 0 || t.month === 0 || t.day === 0) return t;
    const utc = _utcMs(t.year, t.month, t.day, t.hour, t.minute, t.second);
    const d = new Date(utc + offsetOf(utc));
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      microsecond: t.microsecond,
    };
  };
}

/** Milliseconds since the epoch of a UTC wall time; years below 100 are not shifted to 19xx. */
function _utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d);
  dt.setUTCHours(h, mi, s, 0);
  return dt.getTime();
}
