/**
 * TiDB/BR table filters (`-f/--filter`): which schemas and tables a backup takes.
 *
 * Each rule is `schema.table`; a pattern is a plain name, a wildcard (`*` any run of characters,
 * `?` one character, `[a-z]` a class, `[!a-z]` a negated class, `\` escaping one special
 * character), a quoted name (`` `my.db` `` or `"my.db"`, with `` `` `` or `""` inside for the
 * quote itself), or an RE2 `/regular expression/`. A rule starting with `!` excludes what it
 * matches; the LAST rule that matches a table decides. `@path` reads more rules from a file, one
 * per line, with `#` comments and blank lines ignored (files cannot import files). Matching
 * ignores case unless `caseSensitive` is set, as BR's `--case-sensitive=false` default does.
 *
 * ```ts
 * import { parseFilter } from "./table_filter.ts";
 * const f = parseFilter(["*.*", "!test.*", "test.keep_me"]);
 * f.matchTable("shop", "orders"); // true
 * f.matchTable("TEST", "x"); // false: excluded, any case
 * f.matchSchema("test"); // true: test.keep_me may still be taken
 * ```
 * @module
 */
import process from "node:process";
import { goLower, type Rule, RuleParser } from "./_parser.ts";

export { FilterError, type RuleSource } from "./_parser.ts";

/** Decides which schemas and tables are processed. */
export interface TableFilter {
  /** Whether table `table` of schema `schema` is selected. */
  matchTable(schema: string, table: string): boolean;
  /**
   * Whether any table of `schema` may be selected: false only when no positive rule can match it
   * or a later negative `schema.*` rule excludes it whole.
   */
  matchSchema(schema: string): boolean;
}

/** Options of `parseFilter` and the list filters. */
export interface FilterOptions {
  /** Match names exactly as written (BR's `--case-sensitive`); default false. */
  caseSensitive?: boolean;
  /** Directory that relative `@file` paths are read from; default the current directory. */
  cwd?: string;
}

class RuleFilter implements TableFilter {
  // Newest rule first: the first match decides.
  readonly #rules: Rule[];
  readonly #fold: (s: string) => string;

  constructor(rules: Rule[], caseSensitive: boolean) {
    this.#rules = rules.slice().reverse().map((r) =>
      caseSensitive ? r : { schema: r.schema.lower(), table: r.table.lower(), positive: r.positive }
    );
    this.#fold = caseSensitive ? (s) => s : goLower;
  }

  matchTable(schema: string, table: string): boolean {
    const s = this.#fold(schema);
    const t = this.#fold(table);
    for (const r of this.#rules) {
      if (r.schema.match(s) && r.table.match(t)) return r.positive;
    }
    return false;
  }

  matchSchema(schema: string): boolean {
    const s = this.#fold(schema);
    for (const r of this.#rules) {
      if (r.schema.match(s) && (r.positive || r.table.matchesAll)) return r.positive;
    }
    return false;
  }
}

/**
 * Parses filter rules (each a command-line `-f` value). Throws `FilterError` naming the rule,
 * its file and line when it came from `@file`, and what is wrong. No rules select nothing.
 */
export function parseFilter(rules: readonly string[], opts: FilterOptions = {}): TableFilter {
  const parser = new RuleParser(opts.cwd ?? process.cwd());
  for (const rule of rules) parser.parseArgument(rule);
  return new RuleFilter(parser.rules, opts.caseSensitive ?? false);
}

/** Selects every schema and table. */
export function allFilter(): TableFilter {
  return { matchTable: () => true, matchSchema: () => true };
}

/** Selects every table of the named schemas (BR's `db --db NAME`). */
export function schemasFilter(schemas: readonly string[], opts: FilterOptions = {}): TableFilter {
  const fold = opts.caseSensitive ? (s: string) => s : goLower;
  const set = new Set(schemas.map(fold));
  return {
    matchTable: (schema) => set.has(fold(schema)),
    matchSchema: (schema) => set.has(fold(schema)),
  };
}

/** Selects exactly the named tables (BR's `table --db D --table T`). */
export function tablesFilter(
  tables: readonly { schema: string; table: string }[],
  opts: FilterOptions = {},
): TableFilter {
  const fold = opts.caseSensitive ? (s: string) => s : goLower;
  const bySchema = new Map<string, Set<string>>();
  for (const t of tables) {
    const s = fold(t.schema);
    let set = bySchema.get(s);
    if (!set) bySchema.set(s, set = new Set());
    set.add(fold(t.table));
  }
  return {
    matchTable: (schema, table) => bySchema.get(fold(schema))?.has(fold(table)) ?? false,
    matchSchema: (schema) => bySchema.has(fold(schema)),
  };
}
