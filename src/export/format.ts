/**
 * How exported values are written, byte for byte as Dumpling writes them
 * (pingcap/tidb dumpling/export/sql_type.go, writer_util.go):
 *
 * - SQL: numbers bare; strings, dates, times, YEAR, ENUM, SET and JSON in single quotes with
 *   MySQL backslash escapes (`\0 \n \r \\ \' \" \Z`); binary strings and BIT as `x'hex'`;
 *   NULL as `NULL`.
 * - CSV: fields split by the separator (`,`), strings and binary bytes wrapped in the delimiter
 *   (`"`); with backslash escaping (Dumpling's default) `\0 \r \n \\` and the delimiter get a
 *   backslash, without it the delimiter is doubled (RFC 4180); numbers bare; NULL as the null
 *   value (`\N`).
 * @module
 */
import type { SqlValue, ValueClass } from "../tidb/row_decode.ts";

/** How Dumpling classes a column: bare number, quoted string, or binary. */
export type ColumnKind = "number" | "string" | "bytes";

/** The Dumpling class of a column from its value class. */
export function columnKind(cls: ValueClass): ColumnKind {
  switch (cls) {
    case "int":
    case "uint":
    case "float32":
    case "float64":
    case "decimal":
      return "number";
    case "binary":
    case "bit":
      return "bytes";
    default:
      return "string";
  }
}

/** CSV options, as Dumpling's `--csv-*` flags. */
export interface CsvOptions {
  separator: string;
  delimiter: string;
  nullValue: string;
  /** Backslash escapes (Dumpling's `--escape-backslash`, default true); false = RFC 4180. */
  escapeBackslash: boolean;
  lineTerminator: string;
}

/** Dumpling's CSV defaults. */
export const DEFAULT_CSV: CsvOptions = {
  separator: ",",
  delimiter: '"',
  nullValue: "\\N",
  escapeBackslash: true,
  lineTerminator: "\r\n",
};

const FLT_MAX = 3.4028234663852886e38;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A number as MySQL would print it: FLOAT with float32's shortest digits. */
export function formatNumber(v: bigint | number | string, float32 = false): string {
  if (typeof v !== "number") return String(v);
  if (float32) {
    for (let p = 1; p <= 9; p++) {
      const s = v.toPrecision(p);
      const n = Number(s);
      // Shortest digits may overshoot FLT_MAX, which a server refuses: keep the exact value.
      if (Math.fround(n) === v && Math.abs(n) <= FLT_MAX) return String(n);
    }
  }
  return String(v);
}

/** Appends text and bytes to a growing buffer, UTF-8 encoding text in place. */
export class OutBuffer {
  buf: Uint8Array;
  len = 0;
  readonly #enc = new TextEncoder();

  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
  }

  #reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Appends `s` as UTF-8. */
  text(s: string): void {
    this.#reserve(s.length * 3);
    this.len += this.#enc.encodeInto(s, this.buf.subarray(this.len)).written;
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Appends one byte. */
  byte(b: number): void {
    this.#reserve(1);
    this.buf[this.len++] = b;
  }

  /** The bytes so far (a view, valid until the next append or `reset`). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Empties the buffer. */
  reset(): void {
    this.len = 0;
  }
}

// deno-lint-ignore no-control-regex -- NUL and ^Z are exactly what must be escaped
const SQL_SPECIAL = /[\0\n\r\\'"\x1a]/;
// deno-lint-ignore no-control-regex -- as above
const SQL_SPECIAL_G = /[\0\n\r\\'"\x1a]/g;
const SQL_ESCAPES: Record<string, string> = {
  "\0": "\\0",
  "\n": "\\n",
  "\r": "\\r",
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
  "\x1a": "\\Z",
};

/** A string escaped for a single-quoted MySQL literal (Dumpling's `escapeBackslashSQL`). */
export function escapeSql(s: string): string {
  return SQL_SPECIAL.test(s) ? s.replace(SQL_SPECIAL_G, (c) => SQL_ESCAPES[c]!) : s;
}

/** Appends one SQL value of a column of `kind`. */
export function writeSqlValue(out: OutBuffer, v: SqlValue, kind: ColumnKind, float32: boolean) {
  if (v === null) {
    out.text("NULL");
  } else if (v instanceof Uint8Array) {
    out.text("x'");
    let s = "";
    for (let i = 0; i < v.length; i++) s += HEX[v[i]!];
    out.text(s);
    out.text("'");
  } else if (kind === "number") {
    out.text(formatNumber(v, float32));
  } else {
    out.text("'");
    out.text(escapeSql(String(v)));
    out.text("'");
  }
}

/** Writes CSV fields with fixed options; build one per export. */
export class CsvEncoder {
  readonly opts: CsvOptions;
  readonly #sep: Uint8Array;
  readonly #delim: Uint8Array;
  readonly #null: string;
  readonly #spec: number;
  readonly #special: RegExp;
  readonly #enc = new TextEncoder();

  constructor(opts: CsvOptions) {
    this.opts = opts;
    this.#sep = this.#enc.encode(opts.separator);
    this.#delim = this.#enc.encode(opts.delimiter);
    this.#null = opts.nullValue;
    // Dumpling escapes the first byte of the delimiter, or of the separator without one.
    this.#spec = this.#delim[0] ?? this.#sep[0] ?? -1;
    const specChar = this.#spec >= 0 ? `\\x${this.#spec.toString(16).padStart(2, "0")}` : "";
    this.#special = new RegExp(`[\\0\\r\\n\\\\${specChar}]`);
  }

  /** Appends the separator between fields. */
  separator(out: OutBuffer): void {
    out.bytes(this.#sep);
  }

  /** Appends one field. */
  value(out: OutBuffer, v: SqlValue, kind: ColumnKind, float32: boolean): void {
    if (v === null) {
      out.text(this.#null);
      return;
    }
    if (kind === "number" && !(v instanceof Uint8Array)) {
      out.text(formatNumber(v, float32));
      return;
    }
    out.bytes(this.#delim);
    if (v instanceof Uint8Array) this.#escapeBytes(out, v);
    else this.#escapeText(out, String(v));
    out.bytes(this.#delim);
  }

  /** Appends a quoted header name. */
  header(out: OutBuffer, name: string): void {
    out.bytes(this.#delim);
    this.#escapeText(out, name);
    out.bytes(this.#delim);
  }

  #escapeText(out: OutBuffer, s: string): void {
    if (this.opts.escapeBackslash) {
      if (!this.#special.test(s)) out.text(s);
      else this.#escapeBytes(out, this.#enc.encode(s));
    } else if (this.#delim.length > 0 && s.includes(this.opts.delimiter)) {
      out.text(s.replaceAll(this.opts.delimiter, this.opts.delimiter + this.opts.delimiter));
    } else {
      out.text(s);
    }
  }

  #escapeBytes(out: OutBuffer, b: Uint8Array): void {
    if (!this.opts.escapeBackslash) {
      if (this.#delim.length === 0) {
        out.bytes(b);
        return;
      }
      const d = this.#delim;
      for (let i = 0; i < b.length; i++) {
        if (b[i] === d[0] && _at(b, i, d)) {
          out.bytes(d);
          out.bytes(d);
          i += d.length - 1;
        } else {
          out.byte(b[i]!);
        }
      }
      return;
    }
    let last = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      let e = 0;
      if (c === 0) e = 0x30; // '0'
      else if (c === 0x0d) e = 0x72; // 'r'
      else if (c === 0x0a) e = 0x6e; // 'n'
      else if (c === 0x5c) e = 0x5c;
      else if (c === this.#spec) e = c;
      if (e !== 0) {
        out.bytes(b.subarray(last, i));
        out.byte(0x5c);
        out.byte(e);
        last = i + 1;
      }
    }
    out.bytes(b.subarray(last));
  }
}

function _at(b: Uint8Array, i: number, d: Uint8Array): boolean {
  for (let j = 0; j < d.length; j++) if (b[i + j] !== d[j]) return false;
  return true;
}

/** A name in backquotes, backquotes doubled. */
export function quoteIdent(name: string): string {
  return "`" + name.replaceAll("`", "``") + "`";
}
