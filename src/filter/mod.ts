/**
 * TiDB/BR table filters and the schemas a backup skips.
 *
 * ```ts
 * import { backsUpSchema, DEFAULT_FILTER_RULES, parseFilter } from "./mod.ts";
 * const f = parseFilter(DEFAULT_FILTER_RULES);
 * backsUpSchema(f, "INFORMATION_SCHEMA"); // false
 * backsUpSchema(f, "mysql"); // true
 * f.matchTable("shop", "orders"); // true
 * ```
 * @module
 */
export * from "./table_filter.ts";
export * from "./system.ts";
