/**
 * The SQL tokenizer of the playground's TiDB, following TiDB's lexer (`pkg/parser/lexer.go`):
 * backquoted identifiers, single- and double-quoted strings with backslash escapes, numbers,
 * hex and bit literals, `@var` and `@@var`, and comments. Executable comments are code, as TiDB
 * reads them: `/*! ... *\/` and `/*!50100 ... *\/` always, `/*T![feature] ... *\/` when TiDB
 * knows the feature and `/*T! ... *\/` without one; any other comment is skipped.
 * @module
 */
import { syntaxError } from "./errors.ts";

/** Kinds of token. */
export type TokenKind =
  | "ident"
  | "qident"
  | "string"
  | "number"
  | "hex"
  | "bit"
  | "op"
  | "var"
  | "sysvar"
  | "eof";

/** One token; `text` is the identifier, string value, number text or operator. */
export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset in the statement text (for error messages). */
  pos: number;
  /** For hex and bit literals: the bytes. */
  bytes?: Uint8Array;
}

/** Features TiDB's lexer runs in `/*T![feature] ... *\/` (`parser.SpecialCommentsController`). */
export const TIDB_FEATURES: ReadonlySet<string> = new Set([
  "auto_rand",
  "auto_id_cache",
  "auto_rand_base",
  "clustered_index",
  "force_inc",
  "placement",
  "ttl",
  "global_index",
  "ddl_dist_fast_reorg",
]);

const OPERATORS = [
  "<=>",
  ":=",
  "<=",
  ">=",
  "<>",
  "!=",
  "||",
  "&&",
  "<<",
  ">>",
  "(",
  ")",
  ",",
  ";",
  ".",
  "=",
  "<",
  ">",
  "+",
  "-",
  "*",
  "/",
  "%",
  "!",
  "~",
  "&",
  "|",
  "^",
];

function isIdentStart(c: string): boolean {
  const n = c.charCodeAt(0);
  return (n >= 65 && n <= 90) || (n >= 97 && n <= 122) || c === "_" || c === "$" || n >= 0x80;
}

function isIdentChar(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

function isHexDigit(c: string | undefined): boolean {
  return c !== undefined && (isDigit(c) || (c >= "a" && c <= "f") || (c >= "A" && c <= "F"));
}

function isSpace(c: string): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

const ESCAPES: Record<string, string> = {
  "0": "\0",
  "'": "'",
  '"': '"',
  b: "\b",
  n: "\n",
  r: "\r",
  t: "\t",
  Z: "\x1a",
  "\\": "\\",
  "%": "\\%",
  _: "\\_",
};

function hexBytes(h: string): Uint8Array {
  const s = h.length % 2 ? "0" + h : h;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bitBytes(b: string): Uint8Array {
  if (b === "") return new Uint8Array(0);
  let v = BigInt("0b" + b);
  const n = Math.ceil(b.length / 8);
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Line and column (1-based) of an offset, as TiDB reports syntax errors. */
export function lineColumn(sql: string, pos: number): { line: number; column: number } {
  let line = 1;
  let col = 0;
  for (let i = 0; i < pos && i < sql.length; i++) {
    if (sql[i] === "\n") {
      line++;
      col = 0;
    } else col++;
  }
  return { line, column: col };
}

/** A syntax error at `pos` of `sql`. */
export function syntaxErrorAt(sql: string, pos: number) {
  const { line, column } = lineColumn(sql, pos);
  return syntaxError(line, column, sql.slice(pos, pos + 80));
}

/** Splits `sql` into tokens, ending with an `eof` token. Throws a 1064 SqlError on bad input. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let inExecutable = false;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === "#" || (c === "-" && sql[i + 1] === "-" && isSpace(sql[i + 2] ?? " "))) {
      while (i < n && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "*" && sql[i + 1] === "/" && inExecutable) {
      inExecutable = false;
      i += 2;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end < 0) throw syntaxErrorAt(sql, i);
      if (sql[i + 2] === "!") {
        // MySQL's version comment: an optional 5-digit version, then code.
        let j = i + 3;
        while (isDigit(sql[j])) j++;
        inExecutable = true;
        i = j;
        continue;
      }
      if (sql[i + 2] === "T" && sql[i + 3] === "!") {
        let j = i + 4;
        if (sql[j] === "[") {
          const close = sql.indexOf("]", j);
          if (close < 0 || close > end) throw syntaxErrorAt(sql, i);
          const features = sql.slice(j + 1, close).split(",").map((f) => f.trim());
          if (!features.every((f) => TIDB_FEATURES.has(f))) {
            i = end + 2; // a feature TiDB does not know: the comment is only a comment
            continue;
          }
          j = close + 1;
        }
        inExecutable = true;
        i = j;
        continue;
      }
      i = end + 2;
      continue;
    }
    const start = i;
    if (c === "`") {
      let s = "";
      i++;
      for (;;) {
        if (i >= n) throw syntaxErrorAt(sql, start);
        if (sql[i] === "`") {
          if (sql[i + 1] === "`") {
            s += "`";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += sql[i++];
      }
      out.push({ kind: "qident", text: s, pos: start });
      continue;
    }
    if (c === "'" || c === '"') {
      let s = "";
      i++;
      for (;;) {
        if (i >= n) throw syntaxErrorAt(sql, start);
        const d = sql[i]!;
        if (d === "\\") {
          const e = sql[i + 1];
          if (e === undefined) throw syntaxErrorAt(sql, start);
          s += ESCAPES[e] ?? e;
          i += 2;
          continue;
        }
        if (d === c) {
          if (sql[i + 1] === c) {
            s += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += d;
        i++;
      }
      out.push({ kind: "string", text: s, pos: start });
      continue;
    }
    if ((c === "x" || c === "X") && sql[i + 1] === "'") {
      const end = sql.indexOf("'", i + 2);
      if (end < 0) throw syntaxErrorAt(sql, start);
      const h = sql.slice(i + 2, end);
      if (![...h].every(isHexDigit) || h.length % 2) throw syntaxErrorAt(sql, start);
      out.push({ kind: "hex", text: sql.slice(i, end + 1), pos: start, bytes: hexBytes(h) });
      i = end + 1;
      continue;
    }
    if ((c === "b" || c === "B") && sql[i + 1] === "'") {
      const end = sql.indexOf("'", i + 2);
      if (end < 0) throw syntaxErrorAt(sql, start);
      const b = sql.slice(i + 2, end);
      if (![...b].every((x) => x === "0" || x === "1")) throw syntaxErrorAt(sql, start);
      out.push({ kind: "bit", text: sql.slice(i, end + 1), pos: start, bytes: bitBytes(b) });
      i = end + 1;
      continue;
    }
    if (c === "0" && sql[i + 1] === "x" && isHexDigit(sql[i + 2])) {
      let j = i + 2;
      while (isHexDigit(sql[j])) j++;
      if (!isIdentChar(sql[j] ?? " ")) {
        out.push({
          kind: "hex",
          text: sql.slice(i, j),
          pos: start,
          bytes: hexBytes(sql.slice(i + 2, j)),
        });
        i = j;
        continue;
      }
    }
    if (c === "0" && sql[i + 1] === "b" && (sql[i + 2] === "0" || sql[i + 2] === "1")) {
      let j = i + 2;
      while (sql[j] === "0" || sql[j] === "1") j++;
      if (!isIdentChar(sql[j] ?? " ")) {
        out.push({
          kind: "bit",
          text: sql.slice(i, j),
          pos: start,
          bytes: bitBytes(sql.slice(i + 2, j)),
        });
        i = j;
        continue;
      }
    }
    if (isDigit(c) || (c === "." && isDigit(sql[i + 1]))) {
      let j = i;
      while (isDigit(sql[j])) j++;
      if (sql[j] === "." && !(j === i && !isDigit(sql[j + 1]))) {
        j++;
        while (isDigit(sql[j])) j++;
      }
      if (
        (sql[j] === "e" || sql[j] === "E") &&
        (sql[j + 1] === "-" || sql[j + 1] === "+" || isDigit(sql[j + 1]))
      ) {
        let k = j + 1;
        if (sql[k] === "+" || sql[k] === "-") k++;
        if (isDigit(sql[k])) {
          while (isDigit(sql[k])) k++;
          j = k;
        }
      }
      if (isIdentChar(sql[j] ?? " ")) {
        // An identifier that starts with digits, like 1_x, 9e or 0x7fz3 (TiDB's lexer rule).
        j = i;
        while (isIdentChar(sql[j] ?? " ")) j++;
        out.push({ kind: "ident", text: sql.slice(i, j), pos: start });
        i = j;
        continue;
      }
      out.push({ kind: "number", text: sql.slice(i, j), pos: start });
      i = j;
      continue;
    }
    if (c === "@") {
      const sys = sql[i + 1] === "@";
      let j = i + (sys ? 2 : 1);
      if (sql[j] === "`") {
        const end = sql.indexOf("`", j + 1);
        if (end < 0) throw syntaxErrorAt(sql, start);
        out.push({ kind: sys ? "sysvar" : "var", text: sql.slice(j + 1, end), pos: start });
        i = end + 1;
        continue;
      }
      const k = j;
      while (isIdentChar(sql[j] ?? " ") || sql[j] === ".") j++;
      if (j === k) throw syntaxErrorAt(sql, start);
      out.push({ kind: sys ? "sysvar" : "var", text: sql.slice(k, j), pos: start });
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i;
      while (isIdentChar(sql[j] ?? " ")) j++;
      out.push({ kind: "ident", text: sql.slice(i, j), pos: start });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => sql.startsWith(o, i));
    if (!op) throw syntaxErrorAt(sql, i);
    out.push({ kind: "op", text: op, pos: start });
    i += op.length;
  }
  out.push({ kind: "eof", text: "", pos: n });
  return out;
}
