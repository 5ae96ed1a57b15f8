/**
 * The schemas a BR backup never takes, whatever the filter says, and the default filter.
 *
 * BR skips TiDB's memory schemas (`INFORMATION_SCHEMA`, `PERFORMANCE_SCHEMA`, `METRICS_SCHEMA`;
 * `INSPECTION_SCHEMA` is virtual too and listed here for completeness) and the temporary schemas
 * its own restore creates (`__TiDB_BR_Temporary_mysql`, ...). The `mysql` schema is NOT skipped:
 * a full backup (default filter `*.*`) takes its tables (users, privileges, bindings, ...), and
 * BR's restore loads them through a temporary schema.
 * @module
 */
import type { TableFilter } from "./table_filter.ts";

/** The filter BR's `full` backup uses when no `-f` is given. */
export const DEFAULT_FILTER_RULES: readonly string[] = ["*.*"];

/** TiDB's schemas that exist only in memory, lower-cased. */
export const MEMORY_SCHEMAS: readonly string[] = [
  "information_schema",
  "performance_schema",
  "metrics_schema",
  "inspection_schema",
];

/** TiDB's system schema; backed up by a full backup like any other. */
export const SYSTEM_SCHEMA = "mysql";

/** Prefix of the schemas BR's restore creates to stage system tables. */
export const BR_TEMPORARY_SCHEMA_PREFIX = "__TiDB_BR_Temporary_";

/** Whether `schema` is one of TiDB's memory schemas (any case). */
export function isMemorySchema(schema: string): boolean {
  return MEMORY_SCHEMAS.includes(schema.toLowerCase());
}

/** Whether a backup skips `schema` regardless of the filter. */
export function isSkippedByBackup(schema: string): boolean {
  return isMemorySchema(schema) || schema.startsWith(BR_TEMPORARY_SCHEMA_PREFIX);
}

/** Whether a backup with `filter` takes (some tables of) `schema`, as BR decides it. */
export function backsUpSchema(filter: TableFilter, schema: string): boolean {
  return !isSkippedByBackup(schema) && filter.matchSchema(schema);
}
