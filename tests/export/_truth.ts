/**
 * Private helpers of the export tests: the playground's ground truth of every sample table as
 * canonical text per value, and readers of Dumpling's SQL and CSV that turn an export back into
 * the same canonical text. Neither side goes through tibr's row decoder.
 * @module
 */
import { type Datum, unpackTime } from "../../src/tidb/datum.ts";
import { JsonDouble, type JsonValue, parseJsonExact } from "../../src/tidb/json_binary.ts";
import type { ColumnInfo, TableInfo } from "../../src/tidb/model.ts";
import { MysqlType } from "../../src/tidb/types.ts";
import type { Catalog, CatalogTable } from "../../src/playground/sample.ts";
import { type TruthValue, typesRow } from "../../src/playground/sample_types.ts";

/** How a column's values are compared. */
export type Canon = "int" | "f32" | "f64" | "text" | "bytes" | "json";

/** The comparison class of a column, from its MySQL type. */
export function canonOf(c: ColumnInfo): Canon {
  const tp = c.type.Tp;
  if (
    [
      MysqlType.Tiny,
      MysqlType.Short,
      MysqlType.Int24,
      MysqlType.Long,
      MysqlType.Longlong,
      MysqlType.Year,
    ].includes(tp as 1)
  ) return "int";
  if (tp === MysqlType.Float) return "f32";
  if (tp === MysqlType.Double) return "f64";
  if (tp === MysqlType.JSON) return "json";
  if (tp === MysqlType.Bit) return "bytes";
  const stringy = [MysqlType.String, MysqlType.Varchar, MysqlType.Blob] as number[];
  if (stringy.includes(tp) && c.type.Charset === "binary") return "bytes";
  return "text";
}

const dec = new TextDecoder();

function _hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function _normJson(v: unknown): unknown {
  if (v instanceof JsonDouble) return v.value;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : `big:${v}`;
  if (Array.isArray(v)) return v.map(_normJson);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, _normJson((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Canonical text of a JSON document (key order, number forms normalized). */
export function canonJson(v: JsonValue): string {
  return JSON.stringify(_normJson(v));
}

/** Canonical text of a truth value of a column compared as `canon`. */
export function canonTruth(v: TruthValue, canon: Canon): string {
  if (v === null) return "~";
  if (typeof v === "object" && !(v instanceof Uint8Array)) return canonJson(v.json);
  switch (canon) {
    case "int":
      return BigInt(v as bigint).toString();
    case "f32":
      return Math.fround(Number(v)).toPrecision(6);
    case "f64":
      return Number(v).toPrecision(14);
    case "bytes":
      return _hex(v as Uint8Array);
    case "json":
      return canonJson(parseJsonExact(String(v)));
    default:
      return String(v);
  }
}

/** Canonical text of an exported value (`null` = SQL NULL; bytes as written). */
export function canonOut(v: Uint8Array | null, canon: Canon): string {
  if (v === null) return "~";
  switch (canon) {
    case "int":
      return BigInt(dec.decode(v)).toString();
    case "f32":
      return Math.fround(Number(dec.decode(v))).toPrecision(6);
    case "f64":
      return Number(dec.decode(v)).toPrecision(14);
    case "bytes":
      return _hex(v);
    case "json":
      return canonJson(parseJsonExact(dec.decode(v)));
    default:
      return dec.decode(v);
  }
}

function _p(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Truth of a datum of the simple sample kinds (int, decimal, varchar, datetime). */
function _simpleTruth(d: Datum): TruthValue {
  switch (d.kind) {
    case "null":
      return null;
    case "int":
    case "uint":
      return d.value;
    case "string":
    case "bytes":
      return dec.decode(d.value);
    case "decimal":
      return d.value;
    case "time": {
      const t = unpackTime(d.value);
      return `${_p(t.year, 4)}-${_p(t.month, 2)}-${_p(t.day, 2)} ${_p(t.hour, 2)}:${
        _p(t.minute, 2)
      }:${_p(t.second, 2)}`;
    }
    default:
      throw new Error(`no truth for a ${d.kind} datum in the simple kinds`);
  }
}

/** A table's truth: column list (all public ones, table order) and one canonical row per row. */
export interface TableTruth {
  db: string;
  table: string;
  info: TableInfo;
  columns: ColumnInfo[];
  canons: Canon[];
  /** Canonical rows, every column (generated ones included). */
  rows: string[][];
}

/** The truth of every table of `catalog` as it is now. */
export function snapshotTruth(catalog: Catalog): TableTruth[] {
  return catalog.tables.map((t) => tableTruth(catalog, t));
}

function tableTruth(catalog: Catalog, t: CatalogTable): TableTruth {
  const columns = [...t.info.cols].sort((a, b) => a.offset - b.offset);
  const canons = columns.map(canonOf);
  const rows: string[][] = [];
  for (let id = 1n; id <= t.maxId; id++) {
    if (t.deleted.has(id)) continue;
    let truth: TruthValue[];
    if (t.kind === "types") {
      truth = typesRow(catalog.seed, t.info.id, id, t.versions.get(id) ?? 0).truth;
    } else {
      truth = catalog.rowOf(t, id)!.map(_simpleTruth);
    }
    rows.push(truth.map((v, i) => canonTruth(v, canons[i]!)));
  }
  return { db: t.db.db_name.O, table: t.info.name.O, info: t.info, columns, canons, rows };
}

/** Rows as sorted joined strings, for multiset comparison. */
export function sortedRows(rows: string[][]): string[] {
  return rows.map((r) => r.join("\u241f")).sort();
}

/** A parsed INSERT: its column names and rows of raw values (null = NULL). */
export interface ParsedInsert {
  table: string;
  columns: string[];
  rows: (Uint8Array | null)[][];
}

const enc = new TextEncoder();

/** Reads Dumpling-style SQL: `INSERT INTO t (cols) VALUES (...),(...);` with MySQL escapes. */
export function parseSqlInserts(buf: Uint8Array): ParsedInsert[] {
  const out: ParsedInsert[] = [];
  let i = 0;
  const startsWith = (s: string) => {
    for (let k = 0; k < s.length; k++) if (buf[i + k] !== s.charCodeAt(k)) return false;
    return true;
  };
  const skipWs = () => {
    while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  };
  const ident = () => {
    if (buf[i] !== 0x60) throw new Error(`expected an identifier at ${i}`);
    i++;
    let s = "";
    for (;;) {
      if (buf[i] === 0x60 && buf[i + 1] === 0x60) {
        s += "`";
        i += 2;
      } else if (buf[i] === 0x60) {
        i++;
        return s;
      } else {
        const start = i;
        while (buf[i] !== 0x60) i++;
        s += dec.decode(buf.subarray(start, i));
      }
    }
  };
  const ESC: Record<number, number> = {
    0x30: 0,
    0x6e: 0x0a,
    0x72: 0x0d,
    0x5a: 0x1a,
    0x74: 0x09,
    0x62: 0x08,
  };
  const value = (): Uint8Array | null => {
    if (startsWith("NULL")) {
      i += 4;
      return null;
    }
    if (buf[i] === 0x78 && buf[i + 1] === 0x27) {
      i += 2;
      const start = i;
      while (buf[i] !== 0x27) i++;
      const hex = dec.decode(buf.subarray(start, i));
      i++;
      return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
    }
    if (buf[i] === 0x27) {
      i++;
      const bytes: number[] = [];
      for (;;) {
        const c = buf[i++]!;
        if (c === 0x5c) {
          const e = buf[i++]!;
          bytes.push(ESC[e] ?? e);
        } else if (c === 0x27) {
          if (buf[i] === 0x27) {
            bytes.push(0x27);
            i++;
          } else break;
        } else bytes.push(c);
      }
      return Uint8Array.from(bytes);
    }
    const start = i;
    while (i < buf.length && buf[i] !== 0x2c && buf[i] !== 0x29) i++;
    return buf.slice(start, i);
  };
  while (i < buf.length) {
    skipWs();
    if (i >= buf.length) break;
    if (startsWith("/*")) {
      while (!(buf[i] === 0x2a && buf[i + 1] === 0x2f)) i++;
      i += 2;
      while (buf[i] !== 0x0a) i++;
      continue;
    }
    if (!startsWith("INSERT INTO ")) {
      throw new Error(`unexpected SQL at ${i}: ${dec.decode(buf.subarray(i, i + 40))}`);
    }
    i += "INSERT INTO ".length;
    const table = ident();
    skipWs();
    const columns: string[] = [];
    if (buf[i++] !== 0x28) throw new Error("expected a column list");
    for (;;) {
      columns.push(ident());
      if (buf[i++] === 0x29) break;
    }
    skipWs();
    if (!startsWith("VALUES")) throw new Error("expected VALUES");
    i += 6;
    const rows: (Uint8Array | null)[][] = [];
    for (;;) {
      skipWs();
      if (buf[i++] !== 0x28) throw new Error(`expected a row at ${i}`);
      const row: (Uint8Array | null)[] = [];
      for (;;) {
        row.push(value());
        const c = buf[i++];
        if (c === 0x29) break;
        if (c !== 0x2c) throw new Error(`expected , or ) at ${i - 1}`);
      }
      rows.push(row);
      const c = buf[i++];
      if (c === 0x3b) break;
      if (c !== 0x2c) throw new Error(`expected , or ; after a row at ${i - 1}`);
    }
    out.push({ table, columns, rows });
  }
  return out;
}

/** Reads CSV as Dumpling writes it; `escape` = backslash escapes, else RFC 4180 doubling. */
export function parseCsv(
  buf: Uint8Array,
  o: { separator?: string; delimiter?: string; nullValue?: string; escape?: boolean } = {},
): (Uint8Array | null)[][] {
  const sep = (o.separator ?? ",").charCodeAt(0);
  const delim = (o.delimiter ?? '"').charCodeAt(0);
  const nullBytes = enc.encode(o.nullValue ?? "\\N");
  const escape = o.escape ?? true;
  const ESC: Record<number, number> = { 0x30: 0, 0x6e: 0x0a, 0x72: 0x0d, 0x5a: 0x1a };
  const rows: (Uint8Array | null)[][] = [];
  let row: (Uint8Array | null)[] = [];
  let i = 0;
  while (i < buf.length) {
    let field: Uint8Array | null;
    if (buf[i] === delim) {
      i++;
      const bytes: number[] = [];
      for (;;) {
        if (i >= buf.length) throw new Error("unterminated quoted field");
        const c = buf[i++]!;
        if (escape && c === 0x5c) {
          const e = buf[i++]!;
          bytes.push(ESC[e] ?? e);
        } else if (c === delim) {
          if (!escape && buf[i] === delim) {
            bytes.push(delim);
            i++;
          } else break;
        } else bytes.push(c);
      }
      field = Uint8Array.from(bytes);
    } else {
      const start = i;
      while (i < buf.length && buf[i] !== sep && buf[i] !== 0x0d && buf[i] !== 0x0a) i++;
      const raw = buf.subarray(start, i);
      field = raw.length === nullBytes.length && raw.every((b, k) => b === nullBytes[k])
        ? null
        : raw.slice();
    }
    row.push(field);
    if (buf[i] === sep) {
      i++;
      continue;
    }
    if (buf[i] === 0x0d) i++;
    if (buf[i] === 0x0a) i++;
    rows.push(row);
    row = [];
  }
  return rows;
}
