/**
 * SQL values of the playground's TiDB: evaluating literal expressions, converting them to a
 * column's type (the datum TiDB stores), the text of stored defaults, decoding row-format v2
 * column bytes and printing values the way the MySQL text protocol carries them.
 * @module
 */
import type { Expr } from "./ast.ts";
import { notSupported, SqlError } from "./errors.ts";
import {
  binToDecimal,
  type Datum,
  decodeFloat,
  NULL_DATUM,
  packTime,
  unpackTime,
} from "../../tidb/datum.ts";
import type { ColumnInfo } from "../../tidb/model.ts";
import { decodeIntColumn, decodeUintColumn } from "../../tidb/rowcodec.ts";
import { ColumnFlag, MysqlType } from "../../tidb/types.ts";
import { decodeJson, encodeJson } from "./json.ts";

/** An evaluated value: NULL, integer, float, exact decimal text, string or bytes. */
export type Value =
  | null
  | { t: "int"; v: bigint }
  | { t: "float"; v: number }
  | { t: "dec"; v: string }
  | { t: "str"; v: string }
  | { t: "bytes"; v: Uint8Array };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Column values by lower-case name, for expressions that read columns. */
export type RowScope = (name: string) => Value;

function truthy(v: Value): boolean | null {
  if (v === null) return null;
  if (v.t === "int") return v.v !== 0n;
  if (v.t === "str") return Number(v.v) !== 0 && !Number.isNaN(Number(v.v));
  return Number(valueText(v)) !== 0;
}

function num(v: Value): number {
  if (v === null) return NaN;
  if (v.t === "int") return Number(v.v);
  if (v.t === "float") return v.v;
  return Number(valueText(v));
}

/** A value's text (strings as is, numbers in decimal). */
export function valueText(v: Exclude<Value, null>): string {
  switch (v.t) {
    case "int":
      return v.v.toString();
    case "float":
      return String(v.v);
    case "dec":
    case "str":
      return v.v;
    case "bytes":
      return utf8d.decode(v.v);
  }
}

function compare(a: Value, b: Value): number | null {
  if (a === null || b === null) return null;
  if (a.t === "int" && b.t === "int") return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  const numeric = (x: Value) => x !== null && (x.t === "int" || x.t === "float" || x.t === "dec");
  if (numeric(a) || numeric(b)) {
    const x = num(a);
    const y = num(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = valueText(a);
  const y = valueText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function boolValue(b: boolean | null): Value {
  return b === null ? null : { t: "int", v: b ? 1n : 0n };
}

/** Evaluates an expression of literals, operators, a few functions and (with `scope`) columns. */
export function evalExpr(e: Expr, scope?: RowScope): Value {
  const ev = (x: Expr) => evalExpr(x, scope);
  switch (e.k) {
    case "num":
      if (/^-?\d+$/.test(e.text)) return { t: "int", v: BigInt(e.text) };
      if (/[eE]/.test(e.text)) return { t: "float", v: Number(e.text) };
      return { t: "dec", v: e.text };
    case "str":
      return { t: "str", v: e.value };
    case "hex":
    case "bit":
      return { t: "bytes", v: e.bytes };
    case "null":
      return null;
    case "bool":
      return { t: "int", v: e.value ? 1n : 0n };
    case "col":
      if (!scope) throw new SqlError(1054, "42S22", `Unknown column '${e.name}' in 'field list'`);
      return scope(e.name.toLowerCase());
    case "unary": {
      const v = ev(e.e);
      if (e.op === "not") {
        const b = truthy(v);
        return boolValue(b === null ? null : !b);
      }
      if (v === null) return null;
      if (e.op === "-") {
        if (v.t === "int") return { t: "int", v: -v.v };
        if (v.t === "dec") return { t: "dec", v: v.v.startsWith("-") ? v.v.slice(1) : "-" + v.v };
        return { t: "float", v: -num(v) };
      }
      if (e.op === "~") return { t: "int", v: BigInt.asUintN(64, ~BigInt(num(v))) };
      break;
    }
    case "binary": {
      if (e.op === "and" || e.op === "or") {
        const a = truthy(ev(e.l));
        const b = truthy(ev(e.r));
        if (e.op === "and") {
          return boolValue(
            a === false || b === false ? false : a === null || b === null ? null : true,
          );
        }
        return boolValue(a === true || b === true ? true : a === null || b === null ? null : false);
      }
      const l = ev(e.l);
      const r = ev(e.r);
      if (e.op === "<=>") {
        if (l === null || r === null) return boolValue(l === null && r === null);
        return boolValue(compare(l, r) === 0);
      }
      if (["=", "!=", "<", ">", "<=", ">="].includes(e.op)) {
        const c = compare(l, r);
        if (c === null) return null;
        const ok = {
          "=": c === 0,
          "!=": c !== 0,
          "<": c < 0,
          ">": c > 0,
          "<=": c <= 0,
          ">=": c >= 0,
        }[e.op]!;
        return boolValue(ok);
      }
      if (l === null || r === null) return null;
      if (
        l.t === "int" && r.t === "int" &&
        ["+", "-", "*", "div", "%", "mod", "&", "|", "<<", ">>"].includes(e.op)
      ) {
        const a = l.v;
        const b = r.v;
        switch (e.op) {
          case "+":
            return { t: "int", v: a + b };
          case "-":
            return { t: "int", v: a - b };
          case "*":
            return { t: "int", v: a * b };
          case "div":
            return b === 0n ? null : { t: "int", v: a / b };
          case "%":
          case "mod":
            return b === 0n ? null : { t: "int", v: a % b };
          case "&":
            return { t: "int", v: a & b };
          case "|":
            return { t: "int", v: a | b };
          case "<<":
            return { t: "int", v: BigInt.asUintN(64, a << b) };
          case ">>":
            return { t: "int", v: a >> b };
        }
      }
      const a = num(l);
      const b = num(r);
      switch (e.op) {
        case "+":
          return { t: "float", v: a + b };
        case "-":
          return { t: "float", v: a - b };
        case "*":
          return { t: "float", v: a * b };
        case "/":
          return b === 0 ? null : { t: "float", v: a / b };
        case "%":
        case "mod":
          return b === 0 ? null : { t: "float", v: a % b };
        case "div":
          return b === 0 ? null : { t: "int", v: BigInt(Math.trunc(a / b)) };
      }
      break;
    }
    case "in": {
      const v = ev(e.e);
      if (v === null) return null;
      let sawNull = false;
      for (const x of e.list) {
        const c = compare(v, ev(x));
        if (c === 0) return boolValue(!e.not);
        if (c === null) sawNull = true;
      }
      return sawNull ? null : boolValue(e.not);
    }
    case "isnull": {
      const isNull = ev(e.e) === null;
      return boolValue(e.not ? !isNull : isNull);
    }
    case "func":
      return evalFunc(e.name, e.args.map(ev));
    case "var":
    case "maxvalue":
    case "default":
      break;
  }
  throw notSupported(`expression ${e.k === "binary" || e.k === "unary" ? e.op : e.k}`);
}

function evalFunc(name: string, args: Value[]): Value {
  const s = (i: number) => (args[i] === null ? null : valueText(args[i]!));
  switch (name) {
    case "lower":
    case "lcase":
      return s(0) === null ? null : { t: "str", v: s(0)!.toLowerCase() };
    case "upper":
    case "ucase":
      return s(0) === null ? null : { t: "str", v: s(0)!.toUpperCase() };
    case "concat":
      return args.some((a) => a === null)
        ? null
        : { t: "str", v: args.map((a) => valueText(a!)).join("") };
    case "length":
      return s(0) === null ? null : { t: "int", v: BigInt(utf8.encode(s(0)!).length) };
    case "char_length":
      return s(0) === null ? null : { t: "int", v: BigInt([...s(0)!].length) };
    case "abs":
      if (args[0] === null) return null;
      if (args[0]!.t === "int") return { t: "int", v: args[0]!.v < 0n ? -args[0]!.v : args[0]!.v };
      return { t: "float", v: Math.abs(num(args[0]!)) };
    case "ifnull":
    case "coalesce":
      return args.find((a) => a !== null) ?? null;
    case "date":
    case "timestamp":
    case "time":
      return args[0] ?? null;
  }
  throw notSupported(`function ${name.toUpperCase()}`);
}

// ---- conversion to a column's type ----

const INT_RANGE: Record<number, [bigint, bigint, bigint]> = {
  [MysqlType.Tiny]: [-128n, 127n, 255n],
  [MysqlType.Short]: [-32768n, 32767n, 65535n],
  [MysqlType.Int24]: [-8388608n, 8388607n, 16777215n],
  [MysqlType.Long]: [-2147483648n, 2147483647n, 4294967295n],
  [MysqlType.Longlong]: [-(1n << 63n), (1n << 63n) - 1n, (1n << 64n) - 1n],
};

function outOfRange(col: ColumnInfo): SqlError {
  return new SqlError(1264, "22003", `Out of range value for column '${col.name.O}' at row 1`);
}

function truncated(col: ColumnInfo, v: string): SqlError {
  return new SqlError(
    1366,
    "HY000",
    `Incorrect ${typeName(col)} value: '${v}' for column '${col.name.O}' at row 1`,
  );
}

function typeName(col: ColumnInfo): string {
  const tp = col.type.Tp;
  if (INT_RANGE[tp]) return "int";
  if (tp === MysqlType.NewDecimal) return "decimal";
  if (tp === MysqlType.Float || tp === MysqlType.Double) return "double";
  if (tp === MysqlType.Date) return "date";
  if (tp === MysqlType.Datetime || tp === MysqlType.Timestamp) return "datetime";
  if (tp === MysqlType.Duration) return "time";
  return "string";
}

/** Rounds decimal text half away from zero to `frac` digits; null when it is not a number. */
export function roundDecimal(text: string, frac: number): string | null {
  let t = text.trim();
  if (/[eE]/.test(t)) {
    const n = Number(t);
    if (!Number.isFinite(n)) return null;
    t = n.toFixed(Math.min(100, Math.max(frac + 1, 20)));
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === "" && !m[3])) return null;
  const neg = m[1] === "-";
  const intPart = m[2] || "0";
  const fracPart = (m[3] ?? "").padEnd(frac + 1, "0");
  let digits = BigInt(intPart + fracPart.slice(0, frac));
  if (Number(fracPart[frac]) >= 5) digits += 1n;
  let s = digits.toString().padStart(frac + 1, "0");
  if (frac > 0) s = s.slice(0, -frac) + "." + s.slice(-frac);
  const zero = digits === 0n;
  return (neg && !zero ? "-" : "") + s;
}

/** Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (or a time's parts) rounded to `fsp`. */
export function parseDatetime(text: string, fsp: number, dateOnly: boolean) {
  const m =
    /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{0,9}))?)?\s*$/
      .exec(text) ??
      /^\s*(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})(?:\.(\d{0,9}))?)?\s*$/.exec(text);
  if (!m) return undefined;
  const t = {
    year: +m[1]!,
    month: +m[2]!,
    day: +m[3]!,
    hour: dateOnly ? 0 : +(m[4] ?? 0),
    minute: dateOnly ? 0 : +(m[5] ?? 0),
    second: dateOnly ? 0 : +(m[6] ?? 0),
    microsecond: 0,
  };
  if (!dateOnly && m[7]) {
    const us = Number((m[7] + "000000").slice(0, 7)) / 10;
    const scale = 10 ** (6 - fsp);
    t.microsecond = Math.round(us / scale) * scale;
    if (t.microsecond >= 1_000_000) {
      // A carry past the second goes through Date to roll over minutes, days and months.
      const d = new Date(Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second + 1));
      return { ...partsOf(d), microsecond: 0 };
    }
  }
  if (t.month > 12 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59) return undefined;
  if (t.month === 0 && t.day === 0 && t.year === 0) return t;
  if (t.month < 1 || t.day < 1) return undefined;
  return t;
}

function partsOf(d: Date) {
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    microsecond: d.getUTCMilliseconds() * 1000,
  };
}

function parseDuration(text: string, fsp: number): bigint | undefined {
  const m = /^\s*(-)?(?:(\d+) )?(\d{1,3}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{0,9}))?)?\s*$/.exec(text);
  if (!m) {
    const n = /^\s*(-)?(\d+)\s*$/.exec(text);
    if (!n) return undefined;
    const v = n[2]!.padStart(6, "0");
    return parseDuration(`${n[1] ?? ""}${v.slice(0, -4)}:${v.slice(-4, -2)}:${v.slice(-2)}`, fsp);
  }
  const hours = BigInt(m[2] ?? 0) * 24n + BigInt(m[3]!);
  let us = 0n;
  if (m[6]) {
    const scale = 10 ** (6 - fsp);
    us = BigInt(Math.round(Number((m[6] + "000000").slice(0, 6)) / scale) * scale);
  }
  const secs = (hours * 60n + BigInt(m[4]!)) * 60n + BigInt(m[5] ?? 0);
  const nanos = (secs * 1_000_000n + us) * 1000n;
  return m[1] ? -nanos : nanos;
}

function formatTime(col: ColumnInfo, packed: bigint): string {
  const t = unpackTime(packed);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const date = `${String(t.year).padStart(4, "0")}-${p2(t.month)}-${p2(t.day)}`;
  if (col.type.Tp === MysqlType.Date) return date;
  let s = `${date} ${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)}`;
  const fsp = Math.max(0, col.type.Decimal);
  if (fsp > 0) s += "." + String(t.microsecond).padStart(6, "0").slice(0, fsp);
  return s;
}

function formatDuration(col: ColumnInfo, nanos: bigint): string {
  const neg = nanos < 0n;
  let us = (neg ? -nanos : nanos) / 1000n;
  const frac = us % 1_000_000n;
  us /= 1_000_000n;
  const s = us % 60n;
  const m = (us / 60n) % 60n;
  const h = us / 3600n;
  const p2 = (n: bigint) => n.toString().padStart(2, "0");
  let out = `${neg ? "-" : ""}${p2(h)}:${p2(m)}:${p2(s)}`;
  const fsp = Math.max(0, col.type.Decimal);
  if (fsp > 0) out += "." + frac.toString().padStart(6, "0").slice(0, fsp);
  return out;
}

function isStringCol(col: ColumnInfo): boolean {
  const tp = col.type.Tp;
  return tp === MysqlType.Varchar || tp === MysqlType.String || tp === MysqlType.VarString ||
    tp === MysqlType.Blob || tp === MysqlType.TinyBlob || tp === MysqlType.MediumBlob ||
    tp === MysqlType.LongBlob;
}

/** The datum TiDB stores for `v` in column `col` (strict SQL mode: bad values are errors). */
export function toDatum(col: ColumnInfo, v: Value): Datum {
  if (v === null) {
    if (col.type.Flag & ColumnFlag.NotNull) {
      throw new SqlError(1048, "23000", `Column '${col.name.O}' cannot be null`);
    }
    return NULL_DATUM;
  }
  const tp = col.type.Tp;
  const unsigned = (col.type.Flag & ColumnFlag.Unsigned) !== 0;
  const range = INT_RANGE[tp];
  if (range || tp === MysqlType.Year) {
    let n: bigint;
    if (v.t === "int") n = v.v;
    else {
      const text = valueText(v).trim();
      const r = roundDecimal(text, 0);
      if (r === null) throw truncated(col, text);
      n = BigInt(r);
    }
    if (tp === MysqlType.Year) {
      if (n > 0n && n < 70n) n += 2000n;
      else if (n >= 70n && n < 100n) n += 1900n;
      if (n !== 0n && (n < 1901n || n > 2155n)) throw outOfRange(col);
      return { kind: "int", value: n };
    }
    if (unsigned) {
      if (n < 0n || n > range![2]) throw outOfRange(col);
      return { kind: "uint", value: n };
    }
    if (n < range![0] || n > range![1]) throw outOfRange(col);
    return { kind: "int", value: n };
  }
  if (tp === MysqlType.Float || tp === MysqlType.Double) {
    const f = v.t === "float" ? v.v : Number(valueText(v));
    if (!Number.isFinite(f)) throw truncated(col, valueText(v));
    return { kind: "float", value: tp === MysqlType.Float ? Math.fround(f) : f };
  }
  if (tp === MysqlType.NewDecimal) {
    const r = roundDecimal(valueText(v), col.type.Decimal);
    if (r === null) throw truncated(col, valueText(v));
    const intDigits = r.replace(/^-/, "").split(".")[0]!.replace(/^0+/, "").length;
    if (intDigits > col.type.Flen - col.type.Decimal) throw outOfRange(col);
    return { kind: "decimal", value: r, precision: col.type.Flen, frac: col.type.Decimal };
  }
  if (tp === MysqlType.Date || tp === MysqlType.Datetime || tp === MysqlType.Timestamp) {
    const text = valueText(v);
    const t = parseDatetime(text, Math.max(0, col.type.Decimal), tp === MysqlType.Date);
    if (!t) {
      throw new SqlError(
        1292,
        "22007",
        `Incorrect ${typeName(col)} value: '${text}' for column '${col.name.O}' at row 1`,
      );
    }
    return { kind: "time", value: packTime(t) };
  }
  if (tp === MysqlType.Duration) {
    const text = valueText(v);
    const d = parseDuration(text, Math.max(0, col.type.Decimal));
    if (d === undefined) {
      throw new SqlError(
        1292,
        "22007",
        `Incorrect time value: '${text}' for column '${col.name.O}' at row 1`,
      );
    }
    return { kind: "duration", value: d };
  }
  if (tp === MysqlType.Enum) {
    const elems = col.type.Elems ?? [];
    if (v.t === "int") {
      if (v.v < 1n || v.v > BigInt(elems.length)) throw truncated(col, v.v.toString());
      return { kind: "uint", value: v.v };
    }
    const text = valueText(v);
    const i = elems.findIndex((e) => e.toLowerCase() === text.toLowerCase());
    if (i < 0) {
      throw new SqlError(1265, "01000", `Data truncated for column '${col.name.O}' at row 1`);
    }
    return { kind: "uint", value: BigInt(i + 1) };
  }
  if (tp === MysqlType.Set) {
    const elems = col.type.Elems ?? [];
    if (v.t === "int") return { kind: "uint", value: v.v };
    let mask = 0n;
    const text = valueText(v);
    for (const part of text === "" ? [] : text.split(",")) {
      const i = elems.findIndex((e) => e.toLowerCase() === part.toLowerCase());
      if (i < 0) {
        throw new SqlError(1265, "01000", `Data truncated for column '${col.name.O}' at row 1`);
      }
      mask |= 1n << BigInt(i);
    }
    return { kind: "uint", value: mask };
  }
  if (tp === MysqlType.Bit) {
    let n: bigint;
    if (v.t === "bytes") n = v.v.reduce((a, b) => (a << 8n) | BigInt(b), 0n);
    else if (v.t === "int") n = v.v;
    else n = utf8.encode(valueText(v)).reduce((a, b) => (a << 8n) | BigInt(b), 0n);
    if (n < 0n || n >= 1n << BigInt(col.type.Flen)) throw outOfRange(col);
    return { kind: "uint", value: n };
  }
  if (tp === MysqlType.JSON) {
    const text = v.t === "bytes" ? utf8d.decode(v.v) : valueText(v);
    try {
      return { kind: "bytes", value: encodeJson(text) };
    } catch (err) {
      throw new SqlError(3140, "22032", `${(err as Error).message} for column '${col.name.O}'`);
    }
  }
  if (isStringCol(col)) {
    const bytes = v.t === "bytes" ? v.v : utf8.encode(valueText(v));
    const binary = col.type.Charset === "binary";
    const len = binary ? bytes.length : [...utf8d.decode(bytes)].length;
    if (col.type.Flen >= 0 && len > col.type.Flen) {
      throw new SqlError(1406, "22001", `Data too long for column '${col.name.O}' at row 1`);
    }
    if (binary) {
      let b = bytes;
      if (tp === MysqlType.String && b.length < col.type.Flen) {
        // BINARY(n) pads with zero bytes.
        b = new Uint8Array(col.type.Flen);
        b.set(bytes);
      }
      return { kind: "bytes", value: b };
    }
    return { kind: "string", value: bytes, collation: col.type.Collate };
  }
  throw notSupported(`values of column type ${tp}`);
}

/** The text of a datum of column `col` as the MySQL text protocol sends it (null for NULL). */
export function datumToText(col: ColumnInfo, d: Datum): string | null {
  switch (d.kind) {
    case "null":
      return null;
    case "int":
      return d.value.toString();
    case "uint": {
      const tp = col.type.Tp;
      if (tp === MysqlType.Enum) return col.type.Elems?.[Number(d.value) - 1] ?? "";
      if (tp === MysqlType.Set) {
        return (col.type.Elems ?? []).filter((_, i) => (d.value >> BigInt(i)) & 1n).join(",");
      }
      if (tp === MysqlType.Bit) {
        const n = Math.max(1, Math.ceil(col.type.Flen / 8));
        let s = "";
        for (let i = n - 1; i >= 0; i--) {
          s += String.fromCharCode(Number((d.value >> BigInt(8 * i)) & 0xffn));
        }
        return s;
      }
      return d.value.toString();
    }
    case "float":
      return String(d.value);
    case "decimal":
      return d.value;
    case "time":
      return formatTime(col, d.value);
    case "duration":
      return formatDuration(col, d.value);
    case "string":
    case "bytes":
      if (col.type.Tp === MysqlType.JSON) return decodeJson(d.value);
      return utf8d.decode(d.value);
  }
}

/** Decodes a row-format v2 column value of `col` into a datum. */
export function decodeColumn(col: ColumnInfo, b: Uint8Array | null): Datum {
  if (b === null) return NULL_DATUM;
  const tp = col.type.Tp;
  const unsigned = (col.type.Flag & ColumnFlag.Unsigned) !== 0;
  if (INT_RANGE[tp]) {
    return unsigned
      ? { kind: "uint", value: decodeUintColumn(b) }
      : { kind: "int", value: decodeIntColumn(b) };
  }
  switch (tp) {
    case MysqlType.Year:
      return { kind: "int", value: decodeIntColumn(b) };
    case MysqlType.Float:
    case MysqlType.Double:
      return { kind: "float", value: decodeFloat(b, 0) };
    case MysqlType.NewDecimal: {
      const value = binToDecimal(b, 2, b[0]!, b[1]!).value;
      return { kind: "decimal", value, precision: col.type.Flen, frac: col.type.Decimal };
    }
    case MysqlType.Date:
    case MysqlType.Datetime:
    case MysqlType.Timestamp:
      return { kind: "time", value: decodeUintColumn(b) };
    case MysqlType.Duration:
      return { kind: "duration", value: decodeIntColumn(b) };
    case MysqlType.Enum:
    case MysqlType.Set:
    case MysqlType.Bit:
      return { kind: "uint", value: decodeUintColumn(b) };
  }
  if (col.type.Charset === "binary") return { kind: "bytes", value: b.slice() };
  return { kind: "string", value: b.slice(), collation: col.type.Collate };
}

/** The value of a datum, to evaluate expressions over stored rows. */
export function datumValue(col: ColumnInfo, d: Datum): Value {
  switch (d.kind) {
    case "null":
      return null;
    case "int":
      return { t: "int", v: d.value };
    case "uint":
      if (col.type.Tp === MysqlType.Enum || col.type.Tp === MysqlType.Set) {
        return { t: "str", v: datumToText(col, d)! };
      }
      return { t: "int", v: d.value };
    case "float":
      return { t: "float", v: d.value };
    case "decimal":
      return { t: "dec", v: d.value };
    case "bytes":
      return { t: "bytes", v: d.value };
    default:
      return { t: "str", v: datumToText(col, d)! };
  }
}

function nowText(col: ColumnInfo, now: Date): string {
  const t = partsOf(now);
  const fsp = Math.max(0, col.type.Decimal);
  const scale = 10 ** (6 - fsp);
  t.microsecond = Math.floor(t.microsecond / scale) * scale;
  return formatTime(col, packTime(t));
}

/** The datum of `CURRENT_TIMESTAMP` for a time column. */
export function nowDatum(col: ColumnInfo, now: Date): Datum {
  const t = partsOf(now);
  const fsp = Math.max(0, col.type.Decimal);
  const scale = 10 ** (6 - fsp);
  t.microsecond = Math.floor(t.microsecond / scale) * scale;
  if (col.type.Tp === MysqlType.Date) {
    t.hour =
      t.minute =
      t.second =
      t.microsecond =
        0;
  }
  return { kind: "time", value: packTime(t) };
}

/** The text TiDB stores as a column's DEFAULT (`default`), and whether it is an expression. */
export function defaultValueText(
  col: ColumnInfo,
  e: Expr,
): { value: string | null; isExpr: boolean; bit?: string } {
  if (e.k === "func" && ["current_timestamp", "localtime", "localtimestamp"].includes(e.name)) {
    const tp = col.type.Tp;
    if (tp !== MysqlType.Datetime && tp !== MysqlType.Timestamp) {
      throw new SqlError(1067, "42000", `Invalid default value for '${col.name.O}'`);
    }
    const fsp = e.args.length ? Number((e.args[0] as { text?: string }).text ?? 0) : 0;
    if (fsp !== Math.max(0, col.type.Decimal)) {
      throw new SqlError(1067, "42000", `Invalid default value for '${col.name.O}'`);
    }
    return { value: "CURRENT_TIMESTAMP", isExpr: false };
  }
  if (e.k === "func" || e.k === "binary" || e.k === "col") {
    throw notSupported(`DEFAULT expression on column '${col.name.O}'`);
  }
  const v = evalExpr(e);
  if (v === null) return { value: null, isExpr: false };
  let d: Datum;
  try {
    d = toDatum(col, v);
  } catch {
    throw new SqlError(1067, "42000", `Invalid default value for '${col.name.O}'`);
  }
  if (col.type.Tp === MysqlType.Bit && d.kind === "uint") {
    // TiDB keeps a BIT default as the literal's bytes: in `default` as a string (JSON turns
    // bytes >= 0x80 into U+FFFD) and exactly in `default_bit` (base64).
    const bytes = bitBytes(d.value, col.type.Flen);
    let text = "";
    for (const b of bytes) text += b < 0x80 ? String.fromCharCode(b) : "\ufffd";
    return { value: text, isExpr: false, bit: btoa(String.fromCharCode(...bytes)) };
  }
  return { value: datumToText(col, d), isExpr: false };
}

/** The zero value TiDB reads for a NOT NULL column without a default (or `now` for a time default). */
export function zeroValueText(col: ColumnInfo, now?: Date): string {
  const tp = col.type.Tp;
  if (now && (tp === MysqlType.Datetime || tp === MysqlType.Timestamp)) return nowText(col, now);
  switch (tp) {
    case MysqlType.Date:
      return "0000-00-00";
    case MysqlType.Datetime:
    case MysqlType.Timestamp:
      return "0000-00-00 00:00:00" +
        (col.type.Decimal > 0 ? "." + "0".repeat(col.type.Decimal) : "");
    case MysqlType.Duration:
      return "00:00:00";
    case MysqlType.NewDecimal:
      return roundDecimal("0", col.type.Decimal)!;
    case MysqlType.Enum:
      return col.type.Elems?.[0] ?? "";
  }
  return isStringCol(col) || tp === MysqlType.Set ? "" : "0";
}

function bitBytes(v: bigint, flen: number): Uint8Array {
  const n = Math.max(1, Math.ceil(flen / 8));
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The datum a stored default text stands for (`now` for CURRENT_TIMESTAMP). */
export function defaultDatum(col: ColumnInfo, text: unknown, now: Date): Datum {
  if (text === null || text === undefined) return NULL_DATUM;
  if (col.type.Tp === MysqlType.Bit && col.default_bit && text === col.default) {
    const raw = atob(col.default_bit);
    let v = 0n;
    for (let i = 0; i < raw.length; i++) v = (v << 8n) | BigInt(raw.charCodeAt(i));
    return { kind: "uint", value: v };
  }
  const s = String(text);
  if (s.toUpperCase().startsWith("CURRENT_TIMESTAMP")) return nowDatum(col, now);
  if (col.type.Tp === MysqlType.Date && s === "0000-00-00") return { kind: "time", value: 0n };
  if (s.startsWith("0000-00-00")) return { kind: "time", value: 0n };
  return toDatum({ ...col, type: { ...col.type, Flag: col.type.Flag & ~ColumnFlag.NotNull } }, {
    t: "str",
    v: s,
  });
}
