/**
 * Parses TiDB/BR table-filter rules into matchers. Wildcard patterns are translated into RE2
 * regular expressions exactly as TiDB's `table-filter` package builds them (`*` → `.*`, `?` → `.`,
 * `[!..]` → `[^..]`) and run by re2js, so `/regex/` rules accept exactly Go's RE2 syntax (and
 * reject what Go rejects, such as look-ahead) with the same case folding.
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { RE2JS } from "re2js";

/** Matches one name (a schema or a table). */
export interface Matcher {
  match(name: string): boolean;
  /** True only for the lone `*` pattern: a negative `db.*` rule then excludes the whole schema. */
  readonly matchesAll: boolean;
  /** The same matcher for lower-cased input, ignoring case. */
  lower(): Matcher;
}

/** One parsed rule. */
export interface Rule {
  schema: Matcher;
  table: Matcher;
  positive: boolean;
}

/** Where a rule came from: a command-line argument or a line of a rules file. */
export interface RuleSource {
  /** The file the rule was read from; undefined for a command-line rule. */
  file?: string;
  /** 1-based line number within `file`. */
  line?: number;
}

/** A malformed rule, or a rules file that cannot be read. */
export class FilterError extends Error {
  override name = "FilterError";
  /** The rule text as given. */
  readonly rule: string;
  /** Where the rule came from. */
  readonly source: RuleSource;

  constructor(rule: string, source: RuleSource, problem: string, cause?: unknown) {
    const at = source.file === undefined ? "" : ` at ${source.file}:${source.line}`;
    super(
      `invalid table filter rule "${rule}"${at}: ${problem}`,
      cause === undefined ? undefined : { cause },
    );
    this.rule = rule;
    this.source = source;
  }
}

/**
 * Lower-cases like Go's `strings.ToLower`: one code point for one, so `İ` becomes `i` (JavaScript
 * gives `i̇`) and a final `Σ` becomes `σ`, never `ς`.
 */
export function goLower(s: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = "";
  for (const ch of s) {
    if (ch === "\u0130") {
      out += "i";
      continue;
    }
    const l = ch.toLowerCase();
    out += [...l].length === 1 ? l : ch;
  }
  return out;
}

class LiteralMatcher implements Matcher {
  readonly matchesAll = false;
  constructor(readonly text: string) {}
  match(name: string): boolean {
    return name === this.text;
  }
  lower(): Matcher {
    return new LiteralMatcher(goLower(this.text));
  }
}

class AnyMatcher implements Matcher {
  readonly matchesAll = true;
  match(): boolean {
    return true;
  }
  lower(): Matcher {
    return this;
  }
}

class RegexMatcher implements Matcher {
  readonly matchesAll = false;
  readonly #re: RE2JS;
  constructor(readonly pattern: string) {
    this.#re = RE2JS.compile(pattern);
  }
  /** Unanchored search, like Go's `MatchString`; wildcard patterns carry their own anchors. */
  match(name: string): boolean {
    return this.#re.test(name);
  }
  lower(): Matcher {
    return new RegexMatcher(`(?i)${this.pattern}`);
  }
}

const ANY = new AnyMatcher();
const REGEX_RULE = /^\/(?:\\.|[^/])+\//;
const DOUBLE_QUOTED = /^"(?:""|[^"])+"/;
const BACK_QUOTED = /^`(?:``|[^`])+`/;
const CHAR_CLASS = /^\[!?(?:\\[^0-9a-zA-Z]|[^\\\]])+\]/;

function isAsciiAlnum(c: string): boolean {
  return /^[0-9A-Za-z]$/.test(c);
}

/** Parses rules (command-line arguments, and lines of `@file`s) in order. */
export class RuleParser {
  readonly rules: Rule[] = [];
  #rule = "";
  #source: RuleSource = {};

  constructor(readonly cwd: string) {}

  #fail(problem: string, cause?: unknown): FilterError {
    return new FilterError(this.#rule, this.#source, problem, cause);
  }

  /** Parses one command-line argument. */
  parseArgument(arg: string): void {
    this.#rule = arg;
    this.#source = {};
    this.#parse(arg, true);
  }

  #parse(text: string, canImport: boolean): void {
    let line = text.replace(/^[ \t]+|[ \t]+$/g, "");
    if (line === "" || line.startsWith("#")) return;
    let positive = true;
    if (line.startsWith("!")) {
      positive = false;
      line = line.slice(1);
    } else if (line.startsWith("@")) {
      if (!canImport) {
        throw this.#fail("a rules file cannot import another (@file); list its rules instead");
      }
      this.#importFile(line.slice(1));
      return;
    }
    const [schema, afterSchema] = this.#pattern(line);
    if (afterSchema === "") {
      throw this.#fail("a rule needs a schema and a table pattern, like db.table or db.*");
    }
    if (!afterSchema.startsWith(".")) {
      throw this.#fail("missing '.' between the schema and table patterns");
    }
    const [table, rest] = this.#pattern(afterSchema.slice(1));
    if (rest !== "") {
      throw this.#fail(
        `unexpected '${rest}' after the table pattern; quote names that contain ` +
          "'.' with backticks",
      );
    }
    this.rules.push({ schema, table, positive });
  }

  #importFile(name: string): void {
    const path = resolve(this.cwd, name);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      const why = (err as { code?: string }).code ?? (err as Error).message;
      throw this.#fail(`cannot read the rules file ${path} (${why}); check the path`, err);
    }
    const outer = { rule: this.#rule, source: this.#source };
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (const [i, raw] of lines.entries()) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      this.#rule = line;
      this.#source = { file: name, line: i + 1 };
      this.#parse(line, false);
    }
    this.#rule = outer.rule;
    this.#source = outer.source;
  }

  /** One schema or table pattern at the start of `s`, and what follows it. */
  #pattern(s: string): [Matcher, string] {
    if (s === "") throw this.#fail("a schema or table pattern is missing");
    switch (s[0]) {
      case "/": {
        const m = REGEX_RULE.exec(s);
        if (!m) throw this.#fail("a /regular expression/ is not closed with '/'");
        return [this.#regex(m[0].slice(1, -1), m[0]), s.slice(m[0].length)];
      }
      case '"': {
        const m = DOUBLE_QUOTED.exec(s);
        if (!m) throw this.#fail('a "quoted name" is not closed (write "" for a quote inside it)');
        return [new LiteralMatcher(m[0].slice(1, -1).replaceAll('""', '"')), s.slice(m[0].length)];
      }
      case "`": {
        const m = BACK_QUOTED.exec(s);
        if (!m) {
          throw this.#fail("a `quoted name` is not closed (write `` for a backtick inside it)");
        }
        return [new LiteralMatcher(m[0].slice(1, -1).replaceAll("``", "`")), s.slice(m[0].length)];
      }
      default:
        return this.#wildcard(s);
    }
  }

  #regex(pattern: string, shown: string): Matcher {
    try {
      return new RegexMatcher(pattern);
    } catch (err) {
      throw this.#fail(
        `${shown} is not a valid RE2 regular expression (${(err as Error).message})`,
        err,
      );
    }
  }

  /** A wildcard or plain name up to the first `.` (or the end). */
  #wildcard(s: string): [Matcher, string] {
    let literal = "";
    let re = "(?s)^";
    let isLiteral = true;
    let i = 0;
    scan: while (i < s.length) {
      const c = s[i]!;
      switch (c) {
        case "\\": {
          const esc = s.codePointAt(i + 1);
          if (esc === undefined) throw this.#fail("a '\\' cannot end the rule");
          const ch = String.fromCodePoint(esc);
          if (isAsciiAlnum(ch)) {
            throw this.#fail(`cannot escape a letter or digit (\\${ch}); write it without '\\'`);
          }
          literal += ch;
          re += esc < 0x80 ? `\\${ch}` : ch;
          i += 1 + ch.length;
          break;
        }
        case ".":
          break scan;
        case "*":
          isLiteral = false;
          re += ".*";
          i++;
          break;
        case "?":
          isLiteral = false;
          re += ".";
          i++;
          break;
        case "[": {
          isLiteral = false;
          const m = CHAR_CLASS.exec(s.slice(i));
          if (!m) {
            throw this.#fail(
              "a character class like [a-z] or [!0-9] is empty, not closed with ']', or escapes " +
                "a letter or digit",
            );
          }
          const cls = m[0];
          // `[!` negates as in shells; `[^` is not special in a glob, so its '^' is literal.
          re += cls[1] === "!" ? `[^${cls.slice(2)}` : cls[1] === "^" ? `[\\^${cls.slice(2)}` : cls;
          i += cls.length;
          break;
        }
        default: {
          const code = c.charCodeAt(0);
          if (!(code >= 0x80 || c === "_" || c === "$" || isAsciiAlnum(c))) {
            throw this.#fail(
              `unexpected special character '${c}'; escape it with '\\' or quote the name with ` +
                "backticks",
            );
          }
          literal += c;
          // TiDB writes '$' into the regex unescaped, making it an anchor inside a wildcard
          // (`a$*` then never matches `a$b`); here it is the literal identifier character.
          re += c === "$" ? "\\$" : c;
          i++;
        }
      }
    }
    const rest = s.slice(i);
    if (isLiteral) return [new LiteralMatcher(literal), rest];
    if (re === "(?s)^.*") return [ANY, rest];
    return [this.#regex(`${re}$`, s.slice(0, i)), rest];
  }
}
