/**
 * The `types` sample table: one column of every TiDB column type, and rows that reach their
 * edges (minimums, maximums, all NULL, empty and zero values, multi-byte text, binary bytes,
 * long blobs in the default CF, large JSON), then seeded random rows.
 *
 * Each row comes with its ground truth: the values as a MySQL client reads them (see
 * `SqlValue` in src/tidb/row_decode.ts for the shapes), built from the generator's own inputs,
 * never by decoding what was written. JSON truth is the document itself (`{ json }`).
 * @module
 */
import {
  bytesDatum,
  type Datum,
  decimalDatum,
  durationDatum,
  floatDatum,
  intDatum,
  type MysqlTime,
  NULL_DATUM,
  stringDatum,
  timeDatum,
  uintDatum,
} from "../tidb/datum.ts";
import { encodeJson, type JsonValue } from "../tidb/json_binary.ts";
import { type ColumnInfo, newColumn, newTable, type TableInfo } from "../tidb/model.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";
import { mulberry32 } from "../random.ts";

/** A ground-truth value: a client's view of the column, or a JSON document. */
export type TruthValue = null | bigint | number | string | Uint8Array | { json: JsonValue };

/** One generated row: what is written, and what reading it must give. */
export interface TypesRow {
  /** Indexed by column offset (the virtual generated column holds NULL: it is not stored). */
  datums: Datum[];
  /** Indexed by column offset; the generated column's truth is `c_int + 1` (or NULL). */
  truth: TruthValue[];
}

const ENUM = ["small", "medium", "large"];
const SET = ["read", "write", "exec", "admin"];
const WORDS = [
  "alpha",
  "βήτα",
  "гамма",
  "デルタ",
  "엡실론",
  "ζ🎉",
  "eta's",
  'th"eta',
  "io\\ta",
  "kappa",
];
const F32_MAX = 3.4028234663852886e38;

/** The TableInfo of a `types` table: `id` BIGINT primary key (the handle) and 26 more columns. */
export function buildTypesTable(id: number, name: string, updateTs: bigint): TableInfo {
  let n = 0;
  const c = (cname: string, tp: number, o: Partial<Parameters<typeof newColumn>[0]> = {}) => {
    n++;
    return newColumn({ id: n, name: cname, offset: n - 1, tp, ...o });
  };
  const bin = { charset: "binary", collate: "binary" };
  const utf8 = { charset: "utf8mb4", collate: "utf8mb4_bin" };
  const B = ColumnFlag.Binary;
  const U = ColumnFlag.Unsigned;
  const cols: ColumnInfo[] = [
    c("id", MysqlType.Longlong, {
      flen: 20,
      flag: ColumnFlag.NotNull | ColumnFlag.PriKey | ColumnFlag.NoDefaultValue,
    }),
    c("c_tinyint", MysqlType.Tiny, { flen: 4 }),
    c("c_smallint_u", MysqlType.Short, { flen: 5, flag: U }),
    c("c_mediumint", MysqlType.Int24, { flen: 9 }),
    c("c_int", MysqlType.Long, { flen: 11 }),
    c("c_bigint_u", MysqlType.Longlong, { flen: 20, flag: U }),
    c("c_bigint", MysqlType.Longlong, { flen: 20 }),
    c("c_float", MysqlType.Float, { flen: 12, decimal: -1 }),
    c("c_double", MysqlType.Double, { flen: 22, decimal: -1 }),
    c("c_decimal", MysqlType.NewDecimal, { flen: 30, decimal: 10 }),
    c("c_char", MysqlType.String, { flen: 16 }),
    c("c_varchar", MysqlType.Varchar, { flen: 255 }),
    c("c_text", MysqlType.Blob, { flen: 65535 }),
    c("c_binary", MysqlType.String, { flen: 8, flag: ColumnFlag.Binary, ...bin }),
    c("c_varbinary", MysqlType.Varchar, { flen: 64, flag: ColumnFlag.Binary, ...bin }),
    c("c_blob", MysqlType.Blob, { flen: 65535, flag: ColumnFlag.Binary, ...bin }),
    c("c_enum", MysqlType.Enum, { ...utf8 }),
    c("c_set", MysqlType.Set, { ...utf8 }),
    c("c_bit", MysqlType.Bit, { flen: 10, flag: U }),
    c("c_json", MysqlType.JSON, { ...bin, flag: ColumnFlag.Binary }),
    c("c_date", MysqlType.Date, { flen: 10, flag: B, ...bin }),
    c("c_datetime", MysqlType.Datetime, { flen: 26, decimal: 6, flag: B, ...bin }),
    c("c_timestamp", MysqlType.Timestamp, { flen: 23, decimal: 3, flag: B, ...bin }),
    c("c_time", MysqlType.Duration, { flen: 13, decimal: 2, flag: B, ...bin }),
    c("c_year", MysqlType.Year, { flen: 4, flag: U | ColumnFlag.Zerofill }),
    c("c_latin1", MysqlType.Varchar, { flen: 32, charset: "latin1", collate: "latin1_bin" }),
    c("c_gen", MysqlType.Longlong, { flen: 20 }),
  ];
  cols[16]!.type.Elems = ENUM;
  cols[17]!.type.Elems = SET;
  cols[26]!.generated_expr_string = "`c_int` + 1";
  cols[26]!.dependences = { c_int: {} };
  for (const col of cols.slice(1)) col.type.Flag &= ~ColumnFlag.NotNull;
  return newTable({ id, name, columns: cols, pkIsHandle: true, updateTs });
}

function _p(v: number, w: number): string {
  return String(v).padStart(w, "0");
}

function _time(t: MysqlTime, fsp: number): string {
  const d = `${_p(t.year, 4)}-${_p(t.month, 2)}-${_p(t.day, 2)}`;
  if (fsp < 0) return d;
  const s = `${d} ${_p(t.hour, 2)}:${_p(t.minute, 2)}:${_p(t.second, 2)}`;
  return fsp === 0 ? s : `${s}.${_p(t.microsecond, 6).slice(0, fsp)}`;
}

function _dur(neg: boolean, h: number, m: number, s: number, centis: number): [bigint, string] {
  const nanos = (BigInt(h * 3600 + m * 60 + s) * 1_000_000_000n) + BigInt(centis) * 10_000_000n;
  return [
    neg ? -nanos : nanos,
    `${neg ? "-" : ""}${_p(h, 2)}:${_p(m, 2)}:${_p(s, 2)}.${_p(centis, 2)}`,
  ];
}

const ZERO: MysqlTime = {
  year: 0,
  month: 0,
  day: 0,
  hour: 0,
  minute: 0,
  second: 0,
  microsecond: 0,
};

/** Row `id` (at `version`) of a `types` table of `tableId` under `seed`. */
export function typesRow(seed: number, tableId: number, id: bigint, version: number): TypesRow {
  const d: Datum[] = [];
  const t: TruthValue[] = [];
  const put = (datum: Datum, truth: TruthValue) => {
    d.push(datum);
    t.push(truth);
  };
  const nul = () => put(NULL_DATUM, null);
  const str = (s: string, coll = "utf8mb4_bin") => put(stringDatum(s, coll), s);
  const bytes = (b: Uint8Array) => put(bytesDatum(b), b);
  const json = (v: JsonValue) => put({ kind: "json", value: encodeJson(v) }, { json: v });
  const time = (tm: MysqlTime, fsp: number) => put(timeDatum(tm), _time(tm, fsp));
  const dur = ([nanos, text]: [bigint, string]) => put(durationDatum(nanos), text);
  put(intDatum(id), id);
  let cInt: bigint | null = null;
  if (id === 1n) {
    put(intDatum(-128), -128n);
    put(uintDatum(0), 0n);
    put(intDatum(-8388608), -8388608n);
    put(intDatum(-2147483648), -2147483648n);
    cInt = -2147483648n;
    put(uintDatum(0), 0n);
    put(intDatum(-9223372036854775808n), -9223372036854775808n);
    put(floatDatum(-F32_MAX), -F32_MAX);
    put(floatDatum(-Number.MAX_VALUE), -Number.MAX_VALUE);
    const dec = "-99999999999999999999.9999999999";
    put(decimalDatum(dec, 30, 10), dec);
    str("");
    str("");
    str("");
    bytes(new Uint8Array(8));
    bytes(new Uint8Array(0));
    bytes(new Uint8Array(0));
    put(uintDatum(1), "small");
    put(uintDatum(0), "");
    put(uintDatum(0), Uint8Array.of(0, 0));
    json({});
    time(ZERO, -1);
    time(ZERO, 6);
    time(ZERO, 3);
    dur(_dur(true, 838, 59, 59, 0));
    put(intDatum(1901), 1901n);
    str("", "latin1_bin");
  } else if (id === 2n) {
    put(intDatum(127), 127n);
    put(uintDatum(65535), 65535n);
    put(intDatum(8388607), 8388607n);
    put(intDatum(2147483646), 2147483646n);
    cInt = 2147483646n;
    put(uintDatum(18446744073709551615n), 18446744073709551615n);
    put(intDatum(9223372036854775807n), 9223372036854775807n);
    put(floatDatum(F32_MAX), F32_MAX);
    put(floatDatum(Number.MAX_VALUE), Number.MAX_VALUE);
    const dec = "99999999999999999999.9999999999";
    put(decimalDatum(dec, 30, 10), dec);
    str("日本語テキスト🎉ok");
    str('it\'s "quoted" \\ back\nslash\r\ttab \0 nul \x1a sub, comma; end ');
    str("长".repeat(3000));
    bytes(new Uint8Array(8).fill(0xff));
    bytes(Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff));
    bytes(Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff));
    put(uintDatum(3), "large");
    put(uintDatum(15), "read,write,exec,admin");
    put(uintDatum(1023), Uint8Array.of(0x03, 0xff));
    json({
      name: 'large "doc" with ünïcödé and \\ \n',
      nums: Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? i * 1.5 : i - 150)),
      nested: { a: { b: { c: [true, false, null, "x"] } }, big: 9007199254740993n, neg: -1 },
      empty: { list: [], obj: {} },
    });
    time({ year: 9999, month: 12, day: 31, hour: 0, minute: 0, second: 0, microsecond: 0 }, -1);
    time(
      { year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59, microsecond: 999999 },
      6,
    );
    time({ year: 2038, month: 1, day: 19, hour: 3, minute: 14, second: 7, microsecond: 999000 }, 3);
    dur(_dur(false, 838, 59, 59, 0));
    put(intDatum(2155), 2155n);
    str("ascii ~!@#$%^&*()_+{}|:<>?", "latin1_bin");
  } else if (id === 3n) {
    for (let i = 1; i < 26; i++) nul();
  } else if (id === 4n) {
    put(intDatum(0), 0n);
    put(uintDatum(0), 0n);
    put(intDatum(0), 0n);
    put(intDatum(0), 0n);
    cInt = 0n;
    put(uintDatum(1), 1n);
    put(intDatum(-1), -1n);
    put(floatDatum(0), 0);
    put(floatDatum(2.2250738585072014e-308), 2.2250738585072014e-308);
    const dec = "0.0000000001";
    put(decimalDatum(dec, 30, 10), dec);
    str("a");
    str(" ");
    str("\\N");
    bytes(Uint8Array.of(0x27, 0x5c, 0x22, 0x0a, 0x0d, 0x00, 0x2c, 0x1a));
    bytes(Uint8Array.of(0x5c, 0x4e));
    bytes(new TextEncoder().encode("NULL"));
    put(uintDatum(0), "");
    put(uintDatum(5), "read,exec");
    put(uintDatum(1), Uint8Array.of(0, 1));
    json(null);
    time({ year: 1000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 }, -1);
    time({ year: 1000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 1 }, 6);
    time({ year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 1, microsecond: 0 }, 3);
    dur(_dur(false, 0, 0, 0, 0));
    put(intDatum(0), 0n);
    str("NULL", "latin1_bin");
  } else {
    const r = mulberry32(
      (seed * 0x9e3779b1) ^ (tableId * 0x85ebca6b) ^ Number(id) ^ (version * 0xc2b2ae35),
    );
    const maybe = (f: () => void) => (r() < 0.08 ? nul() : f());
    const int = (lo: number, hi: number) => Math.floor(lo + r() * (hi - lo + 1));
    const word = () => WORDS[int(0, WORDS.length - 1)]!;
    maybe(() => {
      const v = int(-128, 127);
      put(intDatum(v), BigInt(v));
    });
    maybe(() => {
      const v = int(0, 65535);
      put(uintDatum(v), BigInt(v));
    });
    maybe(() => {
      const v = int(-8388608, 8388607);
      put(intDatum(v), BigInt(v));
    });
    if (r() < 0.08) nul();
    else {
      const v = int(-2147483648, 2147483646);
      cInt = BigInt(v);
      put(intDatum(v), cInt);
    }
    maybe(() => {
      const v = BigInt(int(0, 2 ** 31)) * BigInt(int(0, 2 ** 31)) * 3n + BigInt(version);
      put(uintDatum(v), v);
    });
    maybe(() => {
      const v = BigInt(int(-(2 ** 31), 2 ** 31)) * BigInt(int(0, 2 ** 31));
      put(intDatum(v), v);
    });
    maybe(() => {
      const v = Math.fround((r() - 0.5) * 10 ** int(-5, 30));
      put(floatDatum(v), v);
    });
    maybe(() => {
      const v = (r() - 0.5) * 10 ** int(-300, 300);
      put(floatDatum(v), v);
    });
    maybe(() => {
      const ip = String(int(0, 999999999)) + String(int(0, 99999999999)).slice(0, int(0, 11));
      const fp = Array.from({ length: 10 }, () => int(0, 9)).join("");
      const neg = r() < 0.5 && /[1-9]/.test(ip + fp);
      const text = `${neg ? "-" : ""}${ip.replace(/^0+(?=\d)/, "")}.${fp}`;
      put(decimalDatum(text, 30, 10), text);
    });
    maybe(() => str(word().slice(0, 16)));
    maybe(() => str(Array.from({ length: int(0, 12) }, word).join(" ")));
    maybe(() => str(Array.from({ length: int(0, 80) }, word).join("\n")));
    maybe(() => {
      const b = Uint8Array.from({ length: 8 }, () => int(0, 255));
      bytes(b);
    });
    maybe(() => bytes(Uint8Array.from({ length: int(0, 64) }, () => int(0, 255))));
    maybe(() => bytes(Uint8Array.from({ length: int(0, 600) }, () => int(0, 255))));
    maybe(() => {
      const v = int(0, 3);
      put(uintDatum(v), v === 0 ? "" : ENUM[v - 1]!);
    });
    maybe(() => {
      const v = int(0, 15);
      put(uintDatum(v), SET.filter((_, i) => (v >> i) & 1).join(","));
    });
    maybe(() => {
      const v = int(0, 1023);
      put(uintDatum(v), Uint8Array.of(v >> 8, v & 0xff));
    });
    maybe(() =>
      json({
        id: Number(id),
        v: version,
        w: word(),
        f: int(0, 1000) / 8 + 0.125,
        tags: Array.from({ length: int(0, 5) }, word),
        ok: r() < 0.5,
      })
    );
    const ymd = () => ({ year: int(1000, 9999), month: int(1, 12), day: int(1, 28) });
    maybe(() => time({ ...ymd(), hour: 0, minute: 0, second: 0, microsecond: 0 }, -1));
    maybe(() =>
      time({
        ...ymd(),
        hour: int(0, 23),
        minute: int(0, 59),
        second: int(0, 59),
        microsecond: int(0, 999999),
      }, 6)
    );
    maybe(() =>
      time({
        year: int(1971, 2037),
        month: int(1, 12),
        day: int(1, 28),
        hour: int(0, 23),
        minute: int(0, 59),
        second: int(0, 59),
        microsecond: int(0, 999) * 1000,
      }, 3)
    );
    maybe(() => dur(_dur(r() < 0.3, int(0, 838), int(0, 59), int(0, 59), int(0, 99))));
    maybe(() => {
      const v = int(1901, 2155);
      put(intDatum(v), BigInt(v));
    });
    maybe(() => str(`latin ${id} v${version}`, "latin1_bin"));
  }
  // c_gen: virtual, never stored; its truth is what the server computes on load.
  d.push(NULL_DATUM);
  t.push(cInt === null ? null : cInt + 1n);
  return { datums: d, truth: t };
}
